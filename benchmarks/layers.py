"""Where ResNet-20's evaluation time goes: its convolutions one shape at a time.

``python -m benchmarks.layers`` times every convolution shape of a CIFAR ResNet-20
as the engine runs it (channels-last, batch norm folded in; bfloat16 with oneDNN's
fused ReLU and residual addition, float32 with them in place after it) and as a bare
convolution, next to the 64 → 64 3×3 peak of :func:`benchmarks.measure.conv_peak_gflops`.
The sum over the network's layers of FLOPs ÷ each shape's throughput is the time
these kernels need: when the engine's time is close to it, what stands between the
engine and the peak is the kernels' speed on narrow layers, not the engine.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import torch
from torch import nn

from benchmarks.measure import _times, conv_peak_gflops
from landscapes.engine.fusion import fuse
from landscapes.engine.glibc_heap import kept

__all__ = ["resnet20_shapes", "layer_table"]


def resnet20_shapes() -> list[tuple[str, int, int, int, int, int, bool, bool]]:
    """(stage, c_in, c_out, kernel, stride, side_in, relu, residual) of every
    convolution of ResNet-20 on 32 × 32 images, in order."""
    out = [("stem", 3, 16, 3, 1, 32, True, False)]
    c, side = 16, 32
    for stage, width in enumerate((16, 32, 64), start=1):
        for block in range(3):
            stride = 2 if stage > 1 and block == 0 else 1
            out.append((f"stage {stage}", c, width, 3, stride, side, True, False))
            s_out = side // stride
            out.append((f"stage {stage}", width, width, 3, 1, s_out, True, True))
            if stride != 1 or c != width:
                out.append((f"stage {stage}", c, width, 1, stride, side, False, False))
            c, side = width, s_out
    return out


def _layer(c_in: int, c_out: int, k: int, stride: int, relu: bool, residual: bool) -> nn.Module:
    class One(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(c_in, c_out, k, stride, padding=k // 2, bias=False)
            self.bn = nn.BatchNorm2d(c_out)

        def forward(self, x: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
            y = self.bn(self.conv(x))
            if residual:
                y = y + other
            return torch.relu(y) if relu else y

    return One().eval()


def layer_table(batch: int = 128, repeats: int = 10, dtype: torch.dtype = torch.float32) -> list[dict]:
    """Per convolution shape: seconds as the engine runs it (fused) and bare, best of
    ``repeats``, and the throughputs."""
    rows = []
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16)
    seen: dict[tuple, dict] = {}
    for stage, c_in, c_out, k, stride, side, relu, residual in resnet20_shapes():
        key = (c_in, c_out, k, stride, side, relu, residual)
        if key not in seen:
            net = _layer(c_in, c_out, k, stride, relu, residual)
            fused, _ = fuse(net)
            x = torch.randn(batch, c_in, side, side).contiguous(memory_format=torch.channels_last)
            s_out = (side + 2 * (k // 2) - k) // stride + 1
            other = torch.randn(batch, c_out, s_out, s_out).contiguous(memory_format=torch.channels_last)
            with torch.no_grad(), autocast:
                other = other.to(torch.bfloat16) if dtype == torch.bfloat16 else other
                t_fused = min(_times(lambda: fused(x, other), repeats))
                t_conv = min(_times(lambda: net.conv(x), repeats))
            flops = 2 * c_in * k * k * c_out * s_out * s_out * batch
            seen[key] = {"fused_s": t_fused, "conv_s": t_conv, "flops": flops}
        entry = dict(seen[key])
        entry.update(stage=stage, shape=f"{c_in}→{c_out} {k}×{k}/{stride} on {side}²"
                     + (" +res" if residual else "") + (" relu" if relu else ""))
        rows.append(entry)
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.layers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    print(f"torch {torch.get_num_threads()} threads; load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}; batch {args.batch}; best of {args.repeats}")
    with kept():
        for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
            peak = conv_peak_gflops(dtype)
            rows = layer_table(args.batch, args.repeats, dtype)
            print(f"\n{name}: 64→64 3×3 peak {peak:.0f} GFLOP/s")
            print("| stage | convolution | fused GFLOP/s | bare conv GFLOP/s |\n|---|---|---|---|")
            done = set()
            for r in rows:
                if (r["stage"], r["shape"]) in done:
                    continue
                done.add((r["stage"], r["shape"]))
                print(f"| {r['stage']} | {r['shape']} | {r['flops'] / r['fused_s'] / 1e9:.0f} | "
                      f"{r['flops'] / r['conv_s'] / 1e9:.0f} |")
            flops = sum(r["flops"] for r in rows)
            fused = sum(r["fused_s"] for r in rows)
            print(f"whole network, one batch of {args.batch}: {flops / 1e9:.2f} GFLOP; at the peak "
                  f"{flops / peak / 1e9 * 1e3:.1f} ms; these fused kernels {fused * 1e3:.1f} ms "
                  f"({flops / fused / 1e9:.0f} GFLOP/s, {fused / (flops / peak / 1e9):.1f}× the peak's time)")


if __name__ == "__main__":
    main()
