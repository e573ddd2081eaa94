// The in-tree tests' Context is the installed test kit's (mdlab/testing/test_context.h).
#pragma once

#include <mdlab/testing/test_context.h>

namespace mdlab::test {

using TestContext = mdlab::testing::TestContext;

}  // namespace mdlab::test
