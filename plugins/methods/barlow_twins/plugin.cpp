// Registers Barlow Twins as the plugin "barlow_twins".
#include "barlow_twins.h"

#include <mdlab/plugin.h>

MDLAB_PLUGIN(mdlab::barlow_twins::BarlowTwins, mdlab::Method, "barlow_twins", "1.0.0",
             "Barlow Twins: cross-correlation of the two branches' batch-normalised "
             "embeddings pushed to the identity, summed over ranks")
