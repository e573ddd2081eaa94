// Registers the Vision Transformer backbone as the plugin "vit".
#include "vit.h"

#include <mdlab/plugin.h>

MDLAB_PLUGIN(mdlab::vit::ViT, mdlab::Backbone, "vit", "1.0.0",
             "DINO's Vision Transformer (tiny/small/base, patch 16 or 8) returning the class token")
