// Registers the transfer suite as the evaluator plugin "transfer".
#include "transfer.h"

#include <mdlab/plugin.h>

MDLAB_PLUGIN(mdlab::eval::TransferEvaluator, mdlab::Evaluator, "transfer", "1.0.0",
             "Linear probes on frozen features of transfer datasets over a learning-rate "
             "grid, accuracy checked every K steps, the best kept")
