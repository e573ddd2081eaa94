// Registers the ResNet backbone as the plugin "resnet".
#include "resnet.h"

#include <mdlab/plugin.h>

MDLAB_PLUGIN(mdlab::resnet::ResNet, mdlab::Backbone, "resnet", "1.0.0",
             "torchvision ResNet-18/34/50/101 (v1.5) returning pooled features, no classifier")
