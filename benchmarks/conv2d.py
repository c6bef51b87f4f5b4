"""Speed of the course's 2D convolutions against PyTorch's, on a few typical layer shapes.

    python benchmarks/conv2d.py

For each shape: helpers.conv.conv2d_unfold (im2col + one matmul) as a ratio to F.conv2d, and the
loop version helpers.conv.conv2d_naive as a ratio to conv2d_unfold, per output value (the loops
run on one 16x16 crop, where they finish in seconds, and are compared per output with the
vectorised version on the whole batch).
Best of several repeats after a warm-up, float32, on the CPU with the threads torch chooses.
Measurements, not tests.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from helpers import conv

SHAPES = {  # name: (N, C_in, H, W, C_out, k, padding)
    "edges on a 256x256 photo, 8 kernels 3x3": (1, 1, 256, 256, 8, 3, 1),
    "CIFAR-like batch 64x3x32x32, 32 kernels 3x3": (64, 3, 32, 32, 32, 3, 1),
    "middle layer 16x64x28x28, 64 kernels 3x3": (16, 64, 28, 28, 64, 3, 1),
    "LeNet conv1 64x1x32x32, 6 kernels 5x5": (64, 1, 32, 32, 6, 5, 0),
}


def best_of(fn, repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| layer | F.conv2d | conv2d_unfold | unfold / F.conv2d | naive / unfold (per output) |")
    print("|---|---|---|---|---|")
    for name, (n, c_in, h, w, c_out, k, p) in SHAPES.items():
        x, weight, bias = torch.randn(n, c_in, h, w), torch.randn(c_out, c_in, k, k), torch.randn(c_out)
        t_torch = best_of(lambda: F.conv2d(x, weight, bias, padding=p))
        t_unfold = best_of(lambda: conv.conv2d_unfold(x, weight, bias, padding=p))
        small = x[:1, :, :16, :16]
        t_naive_small = best_of(lambda: conv.conv2d_naive(small, weight, bias, padding=p), repeat=1)
        per_output_naive = t_naive_small / conv.conv2d_unfold(small, weight, bias, padding=p).numel()
        per_output_unfold = t_unfold / conv.conv2d_unfold(x, weight, bias, padding=p).numel()
        print(f"| {name} | {t_torch * 1e3:.2f} ms | {t_unfold * 1e3:.2f} ms | {t_unfold / t_torch:.1f}x "
              f"| {per_output_naive / per_output_unfold:,.0f}x |")


if __name__ == "__main__":
    main()
