// Registers the FID / diversity evaluator as the plugin "fid".
#include "fid_evaluator.h"

#include <mdlab/plugin.h>

MDLAB_PLUGIN(mdlab::fid::FidEvaluator, mdlab::Evaluator, "fid", "1.0.0",
             "FID (pytorch-fid's Inception pool3) and mean pairwise cosine diversity of a "
             "synthetic split against a real one")
