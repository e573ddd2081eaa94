#include "probe_options.h"

namespace mdlab::eval {

void add_probe_options(OptionsSchema& s) {
  s.add_string("optimizer", "adamw", "Probe optimizer").one_of({"adamw", "sgd"});
  s.add_float("lr", 1e-4, "Probe learning rate (the paper: AdamW 1e-4)").range(0, 100);
  s.add_float("weight_decay", 0.0, "Probe weight decay").range(0, 10);
  s.add_float("momentum", 0.9, "SGD momentum").range(0, 1);
  s.add_string("schedule", "constant", "Learning rate over the steps: constant or cosine to 0")
      .one_of({"constant", "cosine"});
  s.add_int("batch_size", 256, "Samples per probe step").range(1, 1 << 20);
  s.add_string("feature_norm", "none",
               "Features before the probe: none, l2 (unit rows) or standardize (per dimension, "
               "training statistics)")
      .one_of({"none", "l2", "standardize"});
}

ProbeSettings probe_settings(const Options& o) {
  ProbeSettings p;
  p.optimizer = o.get_string("optimizer");
  p.lr = o.get_float("lr");
  p.weight_decay = o.get_float("weight_decay");
  p.momentum = o.get_float("momentum");
  p.schedule = o.get_string("schedule");
  p.batch_size = o.get_int("batch_size");
  p.feature_norm = o.get_string("feature_norm");
  return p;
}

}  // namespace mdlab::eval
