// Registers BYOL as the plugin "byol".
#include "byol.h"

#include <mdlab/plugin.h>

MDLAB_PLUGIN(mdlab::byol::Byol, mdlab::Method, "byol", "1.0.0",
             "BYOL: online predictions regress a momentum target network's projections of the "
             "other view")
