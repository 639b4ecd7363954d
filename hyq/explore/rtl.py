"""Cycle counts of the softmax RTL in Verilator against the analytic estimate, under back-pressure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hyq.tools.softmax import cycles_per_row, simulate
from hyq.integer.softmax import SoftmaxParams, softmax_with_params


def softmax_cycles(p: SoftmaxParams, n: int, pe: int = 1, p_ready: Sequence[float] = (1.0, 0.75, 0.5),
                   rows: int = 8, seed: int = 0) -> list[dict[str, Any]]:
    """Simulate ``rows`` random rows of length ``n`` once per sink-ready probability.

    Each row of the result: measured cycles per row, the no-stall estimate
    (:func:`hyq.tools.softmax.cycles_per_row`) and whether the RTL output equals the reference.
    """
    rng = np.random.default_rng(seed)
    lo, hi = -(2 ** (p.in_bits - 1)), 2 ** (p.in_bits - 1) - 1
    x = rng.integers(lo, hi + 1, (rows, n))
    ref = softmax_with_params(x, p)
    out = []
    for pr in p_ready:
        y, info = simulate(x, p, pe=pe, in_signed=True, seed=seed, p_ready=pr)
        out.append({"method": p.method, "N": n, "PE": pe, "p_ready": pr, "rows": rows,
                    "cycles": info["cycles"], "cycles_per_row": info["cycles_per_row"],
                    "estimate": cycles_per_row(n, pe, p), "equal_to_reference": bool(np.array_equal(y, ref)),
                    "tool": info["tool"]})
    return out
