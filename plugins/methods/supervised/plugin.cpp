// Registers the supervised baseline as the plugin "supervised".
#include "supervised.h"

#include <mdlab/plugin.h>

MDLAB_PLUGIN(mdlab::supervised::Supervised, mdlab::Method, "supervised", "1.0.0",
             "Supervised baseline: linear head on the backbone, cross-entropy with optional "
             "label smoothing")
