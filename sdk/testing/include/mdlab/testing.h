// The mdlab test kit, installed with the SDK (library mdlab::testing): everything a plugin's
// unit tests need besides Catch2. With find_package(mdlab), mdlab_add_plugin_test() builds a
// Catch2 test of a plugin in one line (see docs/writing-a-plugin.md).
#pragma once

#include <mdlab/testing/fake_batch.h>
#include <mdlab/testing/gradient_check.h>
#include <mdlab/testing/plugin_under_test.h>
#include <mdlab/testing/test_context.h>
#include <mdlab/testing/tiny_backbone.h>
