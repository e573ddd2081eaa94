#!/usr/bin/python3
"""Writes a toy copy of every dataset configs/paper/paths.toml names, below ROOT, so each
paper experiment runs at toy size with MDLAB_DATA=ROOT.

  make_paper_data.py ROOT WNID WNID WNID

Three ImageNet classes (by WordNet id): imagenet/{train,val}/<wnid>/, the synthetic mirrors
(keys <wnid>/<name>, as `mdlab generate` writes them for a folder dataset), the shift sets in
their layouts (ImageNet-V2 by class index with a classes.txt), transfer folders of two
classes and CIFAR-10/100 binaries. Deterministic.
"""
import os
import sys

import numpy as np
from PIL import Image

root, wnids = sys.argv[1], sys.argv[2:]
rng = np.random.default_rng(0)


def write(path, c):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    base = np.zeros((40, 40, 3), np.uint8) + np.uint8(60 * c + 20)
    img = np.clip(base + rng.integers(0, 40, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path)


mirrors = ["synthetic/in100-sd-g8", "synthetic/in100-vd-g8", "synthetic/in1k-sd-g8"]
mirrors += [f"synthetic/in100-sd/g{g}" for g in (1, 2, 4, 8, 12)]
for c, w in enumerate(wnids):
    for i in range(8):  # a quarter of the 24 still fills a batch of 4
        write(f"{root}/imagenet/train/{w}/img{i}.png", c)
        for m in mirrors:
            write(f"{root}/{m}/{w}/img{i}.png", c)
    for i in range(2):
        write(f"{root}/imagenet/val/{w}/img{i}.png", c)
        write(f"{root}/imagenet-sketch/sketch/{w}/img{i}.png", c)
        for s in ("imagenet-a", "imagenet-r", "objectnet-imagenet"):
            write(f"{root}/{s}/{w}/img{i}.png", c)
        for s in ("corrupted", "clean"):
            write(f"{root}/vizwiz-classification/{s}/{w}/img{i}.png", c)
        write(f"{root}/imagenetv2-matched-frequency/{c}/img{i}.png", c)
with open(f"{root}/imagenetv2-matched-frequency/classes.txt", "w") as f:
    f.write("".join(f"{c} {w}\n" for c, w in enumerate(wnids)))

for name in ("fgvc-aircraft", "dtd", "flowers102", "food101", "oxford-pets", "stl10"):
    for split in ("train", "test"):
        for c in range(2):
            for i in range(3):
                write(f"{root}/{name}/{split}/class{c}/img{i}.png", c)


def cifar(path, labels_per_record, n):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        for i in range(n):
            f.write(bytes([i % 2] * labels_per_record))
            f.write(rng.integers(0, 256, 3072, dtype=np.uint8).tobytes())


for b in range(1, 6):
    cifar(f"{root}/cifar-10-batches-bin/data_batch_{b}.bin", 1, 4)
cifar(f"{root}/cifar-10-batches-bin/test_batch.bin", 1, 4)
cifar(f"{root}/cifar-100-binary/train.bin", 2, 8)
cifar(f"{root}/cifar-100-binary/test.bin", 2, 4)
