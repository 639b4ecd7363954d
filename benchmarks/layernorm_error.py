"""Integer LayerNorm against float64 LayerNorm: how often and how far the integers differ.

For each (channels, input bits, input scale) it draws random tokens plus the edge tokens of
the tests (constant, one outlier channel, extremes) and prints, for hyq's exact
digit-by-digit square root and for I-ViT's 10 Newton steps from 2^16, the fraction of
output codes that differ from correctly rounded float LayerNorm and the largest difference
(in output steps). Usage: python benchmarks/layernorm_error.py [tokens]
"""

from __future__ import annotations

import sys

import numpy as np

from hyq.integer.layernorm import float_reference, isqrt, isqrt_newton, layernorm_params, layernorm_with_params

POINTS = [(64, 8, 0.05), (192, 8, 0.05), (640, 8, 0.02), (32, 4, 0.5), (64, 12, 0.002), (16, 16, 0.0005),
          (256, 12, 0.002)]


def tokens(c: int, bits: int, n: int, rng) -> np.ndarray:
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    rand = rng.integers(lo, hi + 1, (n, c))
    narrow = rng.integers(-3, 4, (n // 4, c))  # small variance: eps matters
    outlier = np.full((1, c), 1)
    outlier[0, c // 3] = hi
    extremes = np.r_[np.full(c // 2, lo), np.full(c - c // 2, hi)][None]
    return np.concatenate([rand, narrow, outlier, extremes, np.full((1, c), hi)])


def main(n: int = 2000) -> None:
    rng = np.random.default_rng(0)
    print(f"{'C':>5} {'bits':>4} {'scale':>8} | {'exact: differ':>13} {'max':>4} | {'newton: differ':>14} {'max':>5}")
    for c, bits, scale in POINTS:
        p = layernorm_params(c, scale, bits)
        x = tokens(c, bits, n, rng)
        f = float_reference(x, p)
        row = []
        for sqrt in (isqrt, isqrt_newton):
            o = layernorm_with_params(x, p, sqrt=sqrt)
            row += [(o != f).mean(), int(np.abs(o - f).max())]
        print(f"{c:5d} {bits:4d} {scale:8g} | {row[0]:13.5f} {row[1]:4d} | {row[2]:14.5f} {row[3]:5d}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
