// Registers the linear probe as the evaluator plugin "linear_probe".
#include "linear_probe.h"

#include <mdlab/plugin.h>

MDLAB_PLUGIN(mdlab::eval::LinearProbeEvaluator, mdlab::Evaluator, "linear_probe", "1.0.0",
             "Linear probe on frozen features of the real training split (AdamW 1e-4 by "
             "default); top-1/top-5 on the test split")
