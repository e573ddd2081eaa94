// Registers SimCLR as the plugin "simclr".
#include "simclr.h"

#include <mdlab/plugin.h>

MDLAB_PLUGIN(mdlab::simclr::SimClr, mdlab::Method, "simclr", "1.0.0",
             "SimCLR: MLP projector and NT-Xent over the 2N views of the batch, negatives "
             "gathered from every rank")
