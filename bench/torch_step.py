#!/usr/bin/python3
"""The PyTorch side of the step benchmark, with Debian's python3-torch (the same LibTorch build
as mdlab): the supervised step (torchvision ResNet-18 with a 10-class head, cross-entropy) or
the SimCLR step (ResNet-18 features, projector Linear-BN-ReLU-Linear 2048-2048-128, NT-Xent at
temperature 0.2 over the 2N views, both views through the backbone as one batch), SGD
momentum 0.9, weight decay 1e-4."""
import argparse
import time

import torch
import torch.nn.functional as F
import torchvision


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--method", choices=["supervised", "simclr"], default="supervised")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    if args.method == "simclr":
        model.fc = torch.nn.Sequential(torch.nn.Linear(512, 2048), torch.nn.BatchNorm1d(2048),
                                       torch.nn.ReLU(), torch.nn.Linear(2048, 128))
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(args.batch, 3, args.size, args.size)
    x2 = torch.randn(args.batch, 3, args.size, args.size)
    y = torch.randint(0, 10, (args.batch,))

    def nt_xent(z0, z1, t=0.2):
        z = F.normalize(torch.cat([z0, z1]), dim=1)
        n = z0.shape[0]
        logits = z @ z.t() / t
        logits.fill_diagonal_(float("-inf"))
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
        return F.cross_entropy(logits, target)

    def step():
        opt.zero_grad()
        if args.method == "simclr":
            z = model(torch.cat([x, x2]))
            loss = nt_xent(z[: args.batch], z[args.batch :])
        else:
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    ms = 1000 * (time.perf_counter() - start) / args.steps
    print(f"pytorch {args.method} step: {ms:.2f} ms")


if __name__ == "__main__":
    main()
