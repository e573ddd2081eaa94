#!/usr/bin/python3
"""Writes an ImageNet-like JPEG folder for the data-loading benchmark.

Crops of the natural photos that Debian ships (python3-skimage's data folder, matplotlib's
sample data) are resized to ImageNet-like sizes (shorter side 300-500 px, aspect 3:4 to 4:3)
and re-encoded as baseline JPEG at quality 90, in `root/train/<class>/<n>.JPEG`, 10 classes.
Deterministic given --seed.
"""
import argparse
import glob
import os
import random

from PIL import Image

SOURCES = [
    "/usr/lib/python3/dist-packages/skimage/data/astronaut.png",
    "/usr/lib/python3/dist-packages/skimage/data/chelsea.png",
    "/usr/lib/python3/dist-packages/skimage/data/coffee.png",
    "/usr/lib/python3/dist-packages/skimage/data/rocket.jpg",
    "/usr/lib/python3/dist-packages/skimage/data/retina.jpg",
    "/usr/lib/python3/dist-packages/skimage/data/hubble_deep_field.jpg",
    "/usr/lib/python3/dist-packages/skimage/data/motorcycle_left.png",
    "/usr/lib/python3/dist-packages/skimage/data/color.png",
    "/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--photos", help="folder of source photos instead of Debian's (a machine "
                        "without python3-skimage: scripts/gpu-kit.sh copies them into KIT/photos)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    photos = []
    sources = SOURCES + sorted(glob.glob("/usr/lib/python3/dist-packages/skimage/data/*.png"))
    if args.photos:
        sources = sorted(glob.glob(os.path.join(args.photos, "*")))
    for path in sources:
        if not os.path.exists(path) or path in [p for p, _ in photos]:
            continue
        img = Image.open(path)
        if img.mode != "RGB" or min(img.size) < 256:
            continue
        photos.append((path, img.convert("RGB")))
    if not photos:
        raise SystemExit("no RGB sample photos found (install python3-skimage, or pass --photos)")
    for n in range(args.images):
        _, photo = photos[n % len(photos)]
        w, h = photo.size
        cw, ch = rng.randint(w // 2, w), rng.randint(h // 2, h)
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        crop = photo.crop((x, y, x + cw, y + ch))
        short = rng.randint(300, 500)
        aspect = rng.uniform(3 / 4, 4 / 3)
        size = (int(short * aspect), short) if aspect >= 1 else (short, int(short / aspect))
        crop = crop.resize(size, Image.BICUBIC)
        folder = os.path.join(args.root, "train", f"class{n % args.classes:02d}")
        os.makedirs(folder, exist_ok=True)
        crop.save(os.path.join(folder, f"{n:05d}.JPEG"), quality=90)
    print(f"wrote {args.images} JPEGs from {len(photos)} photos to {args.root}/train")


if __name__ == "__main__":
    main()
