// Registers weighted k-NN as the evaluator plugin "knn".
#include "knn_evaluator.h"

#include <mdlab/plugin.h>

MDLAB_PLUGIN(mdlab::eval::KnnEvaluator, mdlab::Evaluator, "knn", "1.0.0",
             "Weighted k-NN on L2-normalised frozen features (k 200, temperature 0.1)")
