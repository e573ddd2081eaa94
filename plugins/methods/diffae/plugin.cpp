// Registers diffusion-autoencoder training as the method plugin "diffae".
#include "diffae_method.h"

#include <mdlab/plugin.h>

MDLAB_PLUGIN(mdlab::diffae::DiffaeMethod, mdlab::Method, "diffae", "1.0.0",
             "Diffusion autoencoder: a conditional UNet denoises images given the semantic "
             "code of the backbone; exports a model for the diffae_variations generator")
