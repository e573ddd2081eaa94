// Registers the self-attention maps as the evaluator plugin "attention_maps".
#include "attention_maps.h"

#include <mdlab/plugin.h>

MDLAB_PLUGIN(mdlab::eval::AttentionMapsEvaluator, mdlab::Evaluator, "attention_maps", "1.0.0",
             "ViT CLS self-attention per head with DINO's thresholded masks, as PNG images")
