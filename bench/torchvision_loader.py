#!/usr/bin/python3
"""The torchvision side of the data-loading benchmark (Debian's python3-torchvision).

Same pipelines as mdlab's benchmark, the reference implementations' way: ImageFolder (PIL
decode), torchvision transforms, a DataLoader with `--workers` worker processes. Prints
one line: `<mode> <images per second>`.
"""
import argparse
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms as T

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def simclr_view():
    return T.Compose([
        T.RandomResizedCrop(224, scale=(0.08, 1.0)),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([T.GaussianBlur(23, sigma=(0.1, 2.0))], p=0.5),
        T.ToTensor(),
        T.Normalize(MEAN, STD),
    ])


def dino_crop(size, scale, blur_p, solarize_p):
    ops = [
        T.RandomResizedCrop(size, scale=scale, interpolation=T.InterpolationMode.BILINEAR),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        # 10% of the side, odd (23 at 224 px, 9 at 96 px), as on the mdlab side.
        T.RandomApply([T.GaussianBlur(2 * (int(0.1 * size) // 2) + 1, sigma=(0.1, 2.0))],
                      p=blur_p),
    ]
    if solarize_p > 0:
        ops.append(T.RandomSolarize(128, p=solarize_p))
    return T.Compose(ops + [T.ToTensor(), T.Normalize(MEAN, STD)])


class MultiView:
    def __init__(self, views):
        self.views = views

    def __call__(self, img):
        return [v(img) for v in self.views]


def decode_only(img):
    img.load()
    return torch.empty(0)  # decoded pixels are dropped: measures decode + RGB conversion


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root")
    parser.add_argument("mode", choices=["decode", "simclr", "dino"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--images", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.mode == "decode":
        transform = decode_only
    elif args.mode == "simclr":
        transform = MultiView([simclr_view(), simclr_view()])
    else:
        g1 = dino_crop(224, (0.4, 1.0), 1.0, 0.0)
        g2 = dino_crop(224, (0.4, 1.0), 0.1, 0.2)
        local = dino_crop(96, (0.05, 0.4), 0.5, 0.0)
        transform = MultiView([g1, g2] + [local] * 8)
    data = datasets.ImageFolder(f"{args.root}/train", transform=transform)
    loader = DataLoader(data, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                        drop_last=True, persistent_workers=args.workers > 0)
    # One warm-up epoch fragment (worker start-up, page cache), then the timed pass.
    it = iter(loader)
    next(it)
    seen, start = 0, time.perf_counter()
    while seen < args.images:  # as many epochs as it takes, as on the mdlab side
        for batch in loader:
            seen += len(batch[1])
            if seen >= args.images:
                break
    elapsed = time.perf_counter() - start
    print(f"{args.mode} {seen / elapsed:.1f}")


if __name__ == "__main__":
    main()
