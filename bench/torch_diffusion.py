#!/usr/bin/python3
"""The PyTorch peer of mdlab_bench_diffusion: the same SD-1.x UNet forward and VAE decode
(networks built from bench/sd15/*.json with plain torch.nn, the layer layout of diffusers'
UNet2DConditionModel / AutoencoderKL, attention as diffusers runs it: matmul + softmax on
torch 1.x, scaled_dot_product_attention on 2.x), timed with the same shapes and thread count;
and the same sampling loop (classifier-free guidance, then the VAE decode) with --sample-steps.
--tokens sets the conditioning length (1: SD image variations; 257: Versatile Diffusion).

With --peer diffusers the networks are diffusers' own UNet2DConditionModel and AutoencoderKL,
built from the same configs with random weights, from the diffusers source tree named by
DIFFUSERS_SRC (its src/ folder; never committed here; needs only torch, numpy, safetensors,
huggingface_hub and PIL beside it).

  torch_diffusion.py [--latents 32,64] [--tokens 1,257] [--batch 2] [--repeats 3] [--threads 2]
                     [--device cpu|cuda] [--dtype fp32|fp16|bf16] [--sample-steps 0|N]
                     [--peer plain|diffusers]
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


def gn(c, eps=1e-5, groups=32):
    return nn.GroupNorm(groups, c, eps=eps)


class Resnet(nn.Module):
    def __init__(self, cin, cout, temb, groups, eps):
        super().__init__()
        self.norm1, self.conv1 = gn(cin, eps, groups), nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout) if temb else None
        self.norm2, self.conv2 = gn(cout, eps, groups), nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb=None):
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


def attend(q, k, v, heads):
    n, l, c = q.shape
    split = lambda t: t.reshape(n, t.shape[1], heads, c // heads).transpose(1, 2)
    q, k, v = split(q), split(k), split(v)
    if hasattr(F, "scaled_dot_product_attention"):  # diffusers' AttnProcessor2_0 on torch 2.x
        out = F.scaled_dot_product_attention(q, k, v)
    else:
        out = (q @ k.transpose(-1, -2) * (c // heads) ** -0.5).softmax(-1) @ v
    return out.transpose(1, 2).reshape(n, l, c)


class CrossAttention(nn.Module):
    def __init__(self, dim, ctx, heads):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(ctx, dim, bias=False)
        self.to_v = nn.Linear(ctx, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x, ctx=None):
        ctx = x if ctx is None else ctx
        return self.to_out(attend(self.to_q(x), self.to_k(ctx), self.to_v(ctx), self.heads))


class Transformer(nn.Module):
    def __init__(self, c, heads, ctx, groups):
        super().__init__()
        self.norm = gn(c, 1e-6, groups)
        self.proj_in, self.proj_out = nn.Conv2d(c, c, 1), nn.Conv2d(c, c, 1)
        self.n1, self.n2, self.n3 = nn.LayerNorm(c), nn.LayerNorm(c), nn.LayerNorm(c)
        self.a1, self.a2 = CrossAttention(c, c, heads), CrossAttention(c, ctx, heads)
        self.geglu, self.ff = nn.Linear(c, 8 * c), nn.Linear(4 * c, c)

    def forward(self, x, ctx):
        n, c, h, w = x.shape
        t = self.proj_in(self.norm(x)).permute(0, 2, 3, 1).reshape(n, h * w, c)
        t = self.a1(self.n1(t)) + t
        t = self.a2(self.n2(t), ctx) + t
        a, g = self.geglu(self.n3(t)).chunk(2, -1)
        t = self.ff(a * F.gelu(g)) + t
        return self.proj_out(t.reshape(n, h, w, c).permute(0, 3, 1, 2)) + x


class UNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, L, heads, ctx = cfg["block_out_channels"], cfg["layers_per_block"], cfg["attention_head_dim"], cfg["cross_attention_dim"]
        self.c0, temb = ch[0], ch[0] * 4
        self.conv_in = nn.Conv2d(4, ch[0], 3, padding=1)
        self.t1, self.t2 = nn.Linear(ch[0], temb), nn.Linear(temb, temb)
        self.down = nn.ModuleList()
        cin = ch[0]
        for i, (typ, c) in enumerate(zip(cfg["down_block_types"], ch)):
            blk = nn.ModuleList()
            for j in range(L):
                blk.append(Resnet(cin if j == 0 else c, c, temb, 32, 1e-5))
                blk.append(Transformer(c, heads, ctx, 32) if typ.startswith("CrossAttn") else nn.Identity())
            blk.append(nn.Conv2d(c, c, 3, stride=2, padding=1) if i + 1 < len(ch) else nn.Identity())
            self.down.append(blk)
            cin = c
        self.mid = nn.ModuleList([Resnet(cin, cin, temb, 32, 1e-5), Transformer(cin, heads, ctx, 32), Resnet(cin, cin, temb, 32, 1e-5)])
        self.up = nn.ModuleList()
        rev = ch[::-1]
        prev = rev[0]
        for i, (typ, c) in enumerate(zip(cfg["up_block_types"], rev)):
            skip_in = rev[min(i + 1, len(ch) - 1)]
            blk = nn.ModuleList()
            for j in range(L + 1):
                skip = skip_in if j == L else c
                blk.append(Resnet((prev if j == 0 else c) + skip, c, temb, 32, 1e-5))
                blk.append(Transformer(c, heads, ctx, 32) if typ.startswith("CrossAttn") else nn.Identity())
            blk.append(nn.Conv2d(c, c, 3, padding=1) if i + 1 < len(ch) else nn.Identity())
            self.up.append(blk)
            prev = c
        self.norm_out, self.conv_out = gn(ch[0]), nn.Conv2d(ch[0], 4, 3, padding=1)

    def forward(self, x, t, ctx):
        half = self.c0 // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=x.device) / half)
        ang = t[:, None].float() * freqs[None]
        temb = self.t2(F.silu(self.t1(torch.cat([ang.cos(), ang.sin()], -1).to(x.dtype))))
        x = self.conv_in(x)
        skips = [x]
        for blk in self.down:
            for j in range(0, len(blk) - 1, 2):
                x = blk[j](x, temb)
                x = blk[j + 1](x, ctx) if isinstance(blk[j + 1], Transformer) else x
                skips.append(x)
            if isinstance(blk[-1], nn.Conv2d):
                x = blk[-1](x)
                skips.append(x)
        x = self.mid[2](self.mid[1](self.mid[0](x, temb), ctx), temb)
        for blk in self.up:
            for j in range(0, len(blk) - 1, 2):
                x = blk[j](torch.cat([x, skips.pop()], 1), temb)
                x = blk[j + 1](x, ctx) if isinstance(blk[j + 1], Transformer) else x
            if isinstance(blk[-1], nn.Conv2d):
                x = blk[-1](F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(x)))


class SpatialAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = gn(c, 1e-6)
        self.q, self.k, self.v, self.o = (nn.Linear(c, c) for _ in range(4))

    def forward(self, x):
        n, c, h, w = x.shape
        t = self.norm(x).view(n, c, h * w).transpose(1, 2)
        out = self.o(attend(self.q(t), self.k(t), self.v(t), 1))
        return out.transpose(1, 2).reshape(n, c, h, w) + x


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, L = cfg["block_out_channels"], cfg["layers_per_block"]
        self.post_quant_conv = nn.Conv2d(4, 4, 1)
        self.conv_in = nn.Conv2d(4, ch[-1], 3, padding=1)
        self.mid = nn.Sequential(Resnet(ch[-1], ch[-1], 0, 32, 1e-6), SpatialAttention(ch[-1]), Resnet(ch[-1], ch[-1], 0, 32, 1e-6))
        layers, cin = [], ch[-1]
        for i, c in enumerate(ch[::-1]):
            for j in range(L + 1):
                layers.append(Resnet(cin if j == 0 else c, c, 0, 32, 1e-6))
            if i + 1 < len(ch):
                layers.append(nn.Upsample(scale_factor=2.0, mode="nearest"))
                layers.append(nn.Conv2d(c, c, 3, padding=1))
            cin = c
        self.up = nn.Sequential(*layers)
        self.norm_out, self.conv_out = gn(ch[0], 1e-6), nn.Conv2d(ch[0], 3, 3, padding=1)

    def forward(self, z):
        x = self.up(self.mid(self.conv_in(self.post_quant_conv(z))))
        return self.conv_out(F.silu(self.norm_out(x)))


def build(peer, configs):
    """(unet(x, t, ctx) -> eps, vae_decode(z) -> image, parameter count) of the chosen peer."""
    unet_cfg = json.load(open(os.path.join(configs, "unet_config.json")))
    vae_cfg = json.load(open(os.path.join(configs, "vae_config.json")))
    if peer == "plain":
        unet, vae = UNet(unet_cfg).eval(), Decoder(vae_cfg).eval()
        return unet, vae, unet, vae
    src = os.environ.get("DIFFUSERS_SRC")
    if not src:
        raise SystemExit("--peer diffusers: set DIFFUSERS_SRC to a diffusers source tree's src/ folder")
    sys.path.insert(0, src)
    import diffusers
    from diffusers import AutoencoderKL, UNet2DConditionModel
    print(f"diffusers {diffusers.__version__} from {src}")
    keep = lambda cfg: {k: v for k, v in cfg.items() if not k.startswith("_")}
    unet = UNet2DConditionModel.from_config(keep(unet_cfg)).eval()
    vae = AutoencoderKL.from_config(keep(vae_cfg)).eval()
    return unet, vae, (lambda x, t, ctx: unet(x, t, encoder_hidden_states=ctx).sample), (lambda z: vae.decode(z).sample)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latents", default="32,64")
    ap.add_argument("--tokens", default="1")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default="fp32")
    ap.add_argument("--sample-steps", type=int, default=0)
    ap.add_argument("--peer", choices=["plain", "diffusers"], default="plain")
    ap.add_argument("--configs", default=os.path.join(os.path.dirname(__file__), "sd15"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[a.dtype]
    unet_mod, vae_mod, unet, vae = build(a.peer, a.configs)
    unet_mod.to(dev, dtype)
    # SD's VAE decoder overflows in fp16; pipelines keep it in fp32 there (as mdlab does).
    vae_dtype = torch.float32 if dtype == torch.float16 else dtype
    vae_mod.to(dev, vae_dtype)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    print(f"PyTorch {torch.__version__} ({a.peer}) SD-1.x UNet "
          f"{sum(p.numel() for p in unet_mod.parameters()) / 1e6:.1f} M parameters; {a.device} {a.dtype}")
    ctx_dim = 768
    tokens = [int(n) for n in a.tokens.split(",")]

    def median_time(run):
        times = []
        for r in range(a.repeats + 1):  # the first round warms up
            sync(); t0 = time.perf_counter(); run(); sync()
            if r:
                times.append(time.perf_counter() - t0)
        return statistics.median(times)

    with torch.no_grad():
        for side in [int(s) for s in a.latents.split(",")]:
            x = torch.randn(a.batch, 4, side, side, device=dev, dtype=dtype)
            t = torch.full((a.batch,), 501.0, device=dev)
            shape = f"latent {side}x{side} (image {side * 8} px), batch {a.batch}"
            for n in tokens:
                ctx = torch.randn(a.batch, n, ctx_dim, device=dev, dtype=dtype)
                print(f"{shape}, {n} context token(s): UNet forward "
                      f"{median_time(lambda: unet(x, t, ctx)):.3f} s (median of {a.repeats})", flush=True)
            print(f"{shape}: VAE decode {median_time(lambda: vae(x.to(vae_dtype))):.3f} s "
                  f"(median of {a.repeats})", flush=True)
        if a.sample_steps > 0:
            side = int(a.latents.split(",")[-1])
            for n in tokens:
                latent = torch.randn(a.batch, 4, side, side, device=dev, dtype=dtype)
                ctx = torch.randn(2 * a.batch, n, ctx_dim, device=dev, dtype=dtype)
                sync(); t0 = time.perf_counter()
                for s in range(a.sample_steps):
                    t = torch.full((2 * a.batch,), 1000.0 - 20.0 * s, device=dev)
                    uncond, cond = unet(torch.cat([latent, latent]), t, ctx).chunk(2)
                    latent = latent - 0.01 * (uncond + 3.0 * (cond - uncond))
                vae((latent / 0.18215).to(vae_dtype))
                sync(); total = time.perf_counter() - t0
                print(f"sampling: {a.sample_steps} steps with guidance + decode, batch {a.batch} at "
                      f"{side * 8} px, {n} context token(s): {total:.2f} s, {a.batch / total:.3f} images/s",
                      flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
