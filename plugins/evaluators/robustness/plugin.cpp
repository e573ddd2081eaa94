// Registers the robustness suite as the evaluator plugin "robustness".
#include "robustness.h"

#include <mdlab/plugin.h>

MDLAB_PLUGIN(mdlab::eval::RobustnessEvaluator, mdlab::Evaluator, "robustness", "1.0.0",
             "One linear probe measured on shift sets (per-set accuracy and mean) and on "
             "corrupted test images (corrupted / clean / all)")
