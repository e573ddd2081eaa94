#!/usr/bin/python3
"""The PyTorch side of the step benchmark, with Debian's python3-torch (the same LibTorch build
as mdlab): the supervised step (torchvision ResNet-18 with a 10-class head, cross-entropy) or
the SimCLR step (ResNet-18 features, projector Linear-BN-ReLU-Linear 2048-2048-128, NT-Xent at
temperature 0.2 over the 2N views, both views through the backbone as one batch), SGD
momentum 0.9, weight decay 1e-4. On CUDA: channels-last model and inputs, bf16 by autocast
(--precision bf16), the step timed to the device's completion, and optionally the model and
loss through torch.compile (--compile; its compilation happens in the warm-up steps)."""
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
    parser.add_argument("--depth", type=int, choices=[18, 50], default=18)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    model = getattr(torchvision.models, f"resnet{args.depth}")(num_classes=10)
    if args.method == "simclr":
        width = model.fc.in_features
        model.fc = torch.nn.Sequential(torch.nn.Linear(width, 2048), torch.nn.BatchNorm1d(2048),
                                       torch.nn.ReLU(), torch.nn.Linear(2048, 128))
    fmt = torch.channels_last if dev.type == "cuda" else torch.contiguous_format
    model = model.to(dev, memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(args.batch, 3, args.size, args.size, device=dev).to(memory_format=fmt)
    x2 = torch.randn(args.batch, 3, args.size, args.size, device=dev).to(memory_format=fmt)
    y = torch.randint(0, 10, (args.batch,), device=dev)
    autocast = lambda: torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.precision == "bf16")
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def nt_xent(z0, z1, t=0.2):
        z = F.normalize(torch.cat([z0, z1]), dim=1)
        n = z0.shape[0]
        logits = z @ z.t() / t
        logits.fill_diagonal_(float("-inf"))
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
        return F.cross_entropy(logits.float(), target)

    def forward_loss():
        with autocast():
            if args.method == "simclr":
                z = model(torch.cat([x, x2]))
                return nt_xent(z[: args.batch], z[args.batch :])
            return F.cross_entropy(model(x), y)

    if args.compile:
        forward_loss = torch.compile(forward_loss)

    def step():
        opt.zero_grad()
        forward_loss().backward()
        opt.step()

    for _ in range(3):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    seconds = time.perf_counter() - start
    ms = 1000 * seconds / args.steps
    mode = " compiled" if args.compile else ""
    print(f"pytorch {args.method} step: {ms:.2f} ms (ResNet-{args.depth}, {args.size} px, batch "
          f"{args.batch}, {args.device} {args.precision}{mode}), {args.batch * args.steps / seconds:.1f} images/s")


if __name__ == "__main__":
    main()
