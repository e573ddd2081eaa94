#!/usr/bin/python3
"""Writes a tiny image-folder dataset with a synthetic mirror for the integration tests.

  make_folder_data.py ROOT [PER_CLASS]

ROOT/real/train/<class>/imgNN.{png,jpg} (PER_CLASS per class, 3 classes), ROOT/real/val/...
(4 per class), and ROOT/syn/<class>/imgNN_v0.png, _v1.png: two "variations" per training
image (inverted colours, so a test can tell real from synthetic pixels). Deterministic.
"""
import os
import sys

import numpy as np
from PIL import Image

root = sys.argv[1]
per_class = int(sys.argv[2]) if len(sys.argv) > 2 else 12
rng = np.random.default_rng(0)
for split, n in (("train", per_class), ("val", 4)):
    for c, name in enumerate(("n01", "n02", "n03")):
        for i in range(n):
            # Class-dependent colour so a few steps can learn something.
            base = np.zeros((20 + i % 3, 24, 3), np.uint8) + np.uint8(60 * c + 20)
            img = np.clip(base + rng.integers(0, 40, base.shape), 0, 255).astype(np.uint8)
            d = os.path.join(root, "real", split, name)
            os.makedirs(d, exist_ok=True)
            ext = "png" if i % 2 else "jpg"
            Image.fromarray(img).save(os.path.join(d, f"img{i:02d}.{ext}"))
            if split == "train":
                s = os.path.join(root, "syn", name)
                os.makedirs(s, exist_ok=True)
                for v in range(2):
                    Image.fromarray(255 - img).save(os.path.join(s, f"img{i:02d}_v{v}.png"))
