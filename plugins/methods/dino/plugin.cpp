// Registers DINO as the plugin "dino".
#include "dino.h"

#include <mdlab/plugin.h>

MDLAB_PLUGIN(mdlab::dino::Dino, mdlab::Method, "dino", "1.0.0",
             "DINO self-distillation: multi-crop student, EMA teacher on global crops, centred "
             "and sharpened cross-entropy")
