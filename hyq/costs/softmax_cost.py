"""Resource model of the softmax RTL, fitted to Yosys measurements (xc7, DSPs allowed).

FINN asks every layer for LUT/BRAM/DSP estimates without running synthesis. This model
answers from the datapath widths of :class:`hyq.integer.softmax.SoftmaxParams`: LUTs are
a non-negative least-squares combination of structural features (range reduction,
exp shifter, output stage, sum and divider, row buffer, control), whose coefficients come
from synthesising a sweep of parameter sets with Yosys (``python -m hyq.costs.softmax_cost``
re-measures and rewrites ``softmax_cost.json``). DSPs and BRAMs follow the structure:
one DSP per lane for the uint output multiplier and one per lane for I-BERT's polynomial;
the row buffer becomes distributed RAM or 18 Kbit blocks by the cost comparison Yosys'
memory mapper makes (:func:`hyq.costs.memory.row_buffer`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from hyq.costs import multiplier
from hyq.costs.memory import row_buffer
from hyq.integer.softmax import SoftmaxParams, softmax_params

COEF_FILE = Path(__file__).with_name("softmax_cost.json")
CHAIN_LIMIT = 360        # hw/rtl/hyq_range_reduce.v: compare chain while Q_MAX * UW <= this
FEATURES = ("const", "lane_in", "rr_chain", "rr_div", "shift", "z", "ibert", "out_uint",
            "out_log2", "sum", "div", "mem")

# Parameter sets measured to fit the model: (method, format, out_bits, in_bits, scale, N, PE)
FIT_SWEEP = [
    (m, f, k, ib, s, n, pe)
    for m in ("linmax", "ibert", "shiftmax")
    for f, k in (("uint", 8), ("log2", 4))
    for ib, s, n, pe in ((8, 1 / 16, 64, 1), (8, 0.01, 32, 4), (16, 2**-12, 64, 2), (12, 2**-8, 197, 1),
                         (8, 1 / 16, 8, 1))
]


def _rr(p: SoftmaxParams) -> tuple[int, int, int]:
    """(UW, Q_MAX, QW) of the range reduction, as hw/rtl/hyq_exp_<method>.v computes them
    (the exp unit sees d << in_shift, in_bits + in_shift bits wide)."""
    db = p.in_bits + p.in_shift
    uw = db + (1 if p.method == "shiftmax" else 0)
    if p.method == "shiftmax":
        dmin = -(2**db - 1)
        umax = -(dmin + (dmin >> 1) - (dmin >> 4))
    else:
        umax = 2**db - 1
    q_max = min(p.n, umax // -p.x0)
    return uw, q_max, max(1, q_max.bit_length())


def features(p: SoftmaxParams, n: int, pe: int) -> dict[str, float]:
    """Structural size measures of the RTL for rows of ``n`` elements, ``pe`` lanes."""
    w = p.widths(n)
    uw, q_max, qw = _rr(p)
    sum_bits = p.exp_bits + (math.ceil(math.log2(n)) if n > 1 else 0) + 1
    chain = q_max * uw <= CHAIN_LIMIT
    uint = p.out_format == "uint"
    lsh = max(0, p.n - p.exp_shift)   # the exp shifter's left shift; the output window mux spans qa
    return {
        "const": 1.0,
        "lane_in": pe * (p.in_bits + p.in_shift),
        "rr_chain": pe * q_max * uw if chain else 0.0,
        "rr_div": 0.0 if chain else pe * qw * (uw + qw),
        "shift": pe * w["exp"] * qw,
        "z": pe * w["z"],
        "ibert": pe * w["z"] if p.method == "ibert" else 0.0,
        "out_uint": pe * (p.out_bits + 2) * max(1, min(q_max, lsh).bit_length()) if uint else 0.0,
        "out_log2": 0.0 if uint else pe * _log2_compare_bits(2**p.out_bits - 1, sum_bits + 2),
        "sum": pe * sum_bits,
        "div": sum_bits + 2 + _recip_bits(p) if uint else 0.0,
        "mem": row_buffer(n // pe, pe * p.in_bits)[0],
    }


def _recip_bits(p: SoftmaxParams) -> int:
    """Width of the reciprocal (hw/rtl/hyq_softmax_core.v RECIP_BITS): M - exp_bits + 2."""
    return p.recip_shift - p.exp_bits + 2


def _mantissa_bits(p: SoftmaxParams) -> int:
    """Width of the exp mantissa zm the uint output multiplies (core's ZMW)."""
    z_max = {"linmax": p.b, "ibert": p.c}.get(p.method, -p.x0)
    return min(z_max.bit_length(), p.exp_bits)


def _log2_compare_bits(zero_code: int, a_bits: int) -> int:
    """Bits compared by hw/rtl/hyq_out_log2.v: threshold j (3e << (j - 1)) overlaps the
    ``a_bits``-wide 2 sum + e on a_bits - j + 1 bits; beyond that only a zero test remains."""
    return sum(max(1, a_bits - j + 1) for j in range(1, zero_code + 1))


def dsp_estimate(p: SoftmaxParams, pe: int, fam: str = "xc7") -> int:
    """DSPs: the uint output multiply zm x recip, and I-BERT's rem x (b - rem), per lane
    (:func:`hyq.costs.multiplier.dsp_tiles` on family ``fam``)."""
    dsp = 0
    if p.out_format == "uint":
        dsp += multiplier.dsp_tiles(_mantissa_bits(p), _recip_bits(p), fam)
    if p.method == "ibert":
        rw = max(1, (-p.x0 - 1).bit_length())
        dsp += multiplier.dsp_tiles(rw, p.b.bit_length(), fam)
    return pe * dsp


def bram_estimate(p: SoftmaxParams, n: int, pe: int) -> int:
    """18 Kbit blocks of the row buffer (0 when it maps to distributed RAM)."""
    return row_buffer(n // pe, pe * p.in_bits)[1]


def _coefficients() -> dict[str, float]:
    return json.loads(COEF_FILE.read_text())["coefficients"]


def lut_estimate(p: SoftmaxParams, n: int, pe: int) -> int:
    """Estimated LUTs (logic + distributed RAM) of ``hyq_softmax_<method>`` on xc7."""
    coef = _coefficients()
    f = features(p, n, pe)
    return int(round(sum(coef[k] * f[k] for k in FEATURES)))


def measure(point: tuple) -> dict:
    """Synthesise one sweep point with Yosys (xc7) and return its features and counts."""
    from hyq.tools.softmax import synthesize

    m, fmt, k, ib, s, n, pe = point
    p = softmax_params(s, m, k, fmt, ib)
    r = synthesize(p, n, pe, script="xc7")
    return {"point": list(point), "features": features(p, n, pe),
            **{key: r[key] for key in ("LUT", "FF", "DSP", "BRAM", "CARRY")}, "yosys": r["yosys"]}


def fit(rows: list[dict]) -> dict[str, float]:
    """Non-negative least squares of LUT on the features, relative error weighted."""
    from scipy.optimize import nnls

    a = np.array([[r["features"][k] for k in FEATURES] for r in rows], dtype=float)
    y = np.array([r["LUT"] for r in rows], dtype=float)
    wgt = 1.0 / y  # minimise relative, not absolute, error
    sol, _ = nnls(a * wgt[:, None], y * wgt)
    return dict(zip(FEATURES, map(float, sol)))


def main(jobs: int = 2) -> None:
    """Re-measure the fit sweep with Yosys and rewrite softmax_cost.json."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(measure, FIT_SWEEP))
    coef = fit(rows)
    for r in rows:
        est = sum(coef[k] * r["features"][k] for k in FEATURES)
        r["LUT_estimate"] = round(est, 1)
    COEF_FILE.write_text(json.dumps({"coefficients": coef, "measurements": rows}, indent=1) + "\n")
    worst = max(abs(r["LUT_estimate"] - r["LUT"]) / r["LUT"] for r in rows)
    print(f"fitted {len(FEATURES)} coefficients on {len(rows)} Yosys runs; worst LUT error {worst:.1%}")


if __name__ == "__main__":
    main()
