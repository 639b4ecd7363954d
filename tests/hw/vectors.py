"""Test rows for the softmax RTL: random rows plus the edge cases of the integer datapath."""

from __future__ import annotations

import numpy as np


def softmax_rows(n: int, in_bits: int, signed: bool, rng: np.random.Generator, n_random: int = 6) -> np.ndarray:
    """Rows of ``n`` integers in the (un)signed ``in_bits`` range: edge cases then random rows.

    Edge cases: all equal (at the top and at the bottom of the range), one dominant element
    over a floor of minima (the largest spread, so the clamp and e = 0 paths), all very
    negative with one step up, two tied maxima, a ramp over the full range, and rows of
    small spread near the top (many reduction remainders, q = 0).
    """
    lo, hi = (-(2 ** (in_bits - 1)), 2 ** (in_bits - 1) - 1) if signed else (0, 2**in_bits - 1)
    rows = [np.full(n, hi), np.full(n, lo)]
    dom = np.full(n, lo)
    dom[rng.integers(n)] = hi
    rows.append(dom)
    neg = np.full(n, lo)
    neg[-1] = lo + 1
    rows.append(neg)
    tie = rng.integers(lo, hi + 1, n)
    tie[[0, n - 1]] = hi
    rows.append(tie)
    rows.append(np.linspace(lo, hi, n).round().astype(np.int64))
    for spread in (3, 40, 2 ** (in_bits - 2)):
        rows.append(hi - rng.integers(0, min(spread, hi - lo) + 1, n))
    rows += list(rng.integers(lo, hi + 1, (n_random, n)))
    return np.stack(rows).astype(np.int64)
