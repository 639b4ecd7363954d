"""Resource model of the LayerNorm RTL (``hw/rtl/hyq_layernorm.v``), fitted to Yosys (xc7, DSPs allowed).

FINN asks every layer for LUT/BRAM/DSP estimates without running synthesis; this model
answers from the datapath widths of :class:`hyq.integer.layernorm.LayerNormParams`:

- LUT logic: a least-squares combination of three structural features, whose coefficients
  come from synthesising :data:`FIT_SWEEP` with Yosys (``python -m hyq.costs.layernorm_cost``
  re-measures and rewrites ``layernorm_cost.json``): the shared per-token datapath (radicand,
  digit-by-digit root, restoring reciprocal: its bits), the lanes (sum of squares and the
  output product, per lane), and the read multiplexer of the token buffer (per 64 bits);
- LUT memory: the token buffer as distributed RAM (asynchronous read, so never block RAM):
  RAM32M (32 x 6 bits) up to 32 beats deep, RAM64M (64 x 3 bits) per 64 beats beyond;
- DSP48E1: the slices of each multiplier Yosys maps to DSPs (:mod:`hyq.costs.multiplier`): S1 * S1, per lane
  d * recip and x * x (inputs over 4 bits; Yosys keeps 5 x 5 in LUTs), and, when C is not a
  power of two, C * S2 and per lane C * x (a power of two is a shift).
"""

from __future__ import annotations

import json
from pathlib import Path

from hyq.costs import multiplier
from hyq.costs.memory import lutram
from hyq.integer.layernorm import LayerNormParams, layernorm_params

COEF_FILE = Path(__file__).with_name("layernorm_cost.json")
FEATURES = ("token", "lanes", "buffer")

#: parameter sets synthesised to fit the model: (channels, PE, in_bits, out_bits, scale)
FIT_SWEEP = [(16, 1, 8, 8, 0.05), (16, 2, 8, 8, 0.05), (64, 1, 8, 8, 0.05), (64, 4, 8, 8, 0.05),
             (32, 1, 4, 6, 0.5), (96, 2, 8, 8, 0.05), (128, 1, 8, 8, 0.05), (32, 2, 6, 8, 0.5)]


def features(p: LayerNormParams, pe: int, lane_bits: int | None = None) -> dict[str, float]:
    w = p.widths()
    b = p.in_bits if lane_bits is None else lane_bits
    return {"token": w["radicand"] + w["recip"] + w["q"], "lanes": pe * (w["sum_squares"] + w["product"]),
            "buffer": p.channels * b / 64}


def _dsp(a: int, b: int) -> int:
    """DSP48E1s of an a x b signed multiplier (:func:`hyq.costs.multiplier.dsp_tiles`, xc7)."""
    return multiplier.dsp_tiles(a, b, "xc7")


def dsp_estimate(p: LayerNormParams, pe: int, lane_bits: int | None = None) -> int:
    b = p.in_bits if lane_bits is None else lane_bits
    w = p.widths()
    x, s1, s2, d, recip = b + 1, w["sum"] + 1, w["sum_squares"] + 2, w["d"] + 1, w["recip"] + 1
    n = _dsp(s1, s1) + pe * (_dsp(d, recip) + (_dsp(x, x) if b > 4 else 0))
    if p.channels & (p.channels - 1):
        c = p.channels.bit_length() + 1
        n += _dsp(c, s2) + pe * _dsp(c, x)
    return n


def coefficients() -> dict[str, float]:
    return json.loads(COEF_FILE.read_text())["coef"]


def lut_estimate(p: LayerNormParams, pe: int, lane_bits: int | None = None) -> int:
    f = features(p, pe, lane_bits)
    c = coefficients()
    b = p.in_bits if lane_bits is None else lane_bits
    logic = sum(c[k] * f[k] for k in FEATURES)
    return int(round(logic)) + lutram(p.channels // pe, pe * b)


def negate_luts(p: LayerNormParams, pe: int) -> int:
    """LUTs the NEGATE flags add: Yosys measured 0 to 3 more on (C, PE, bits) = (16, 2, 8),
    (32, 1, 4), (16, 4, 8), every other or every channel negated (ABC merges the negation
    into the clamp), so a constant 2."""
    return 2


def bram_estimate(p: LayerNormParams, pe: int, lane_bits: int | None = None) -> int:
    return 0  # the buffer is read asynchronously: distributed RAM


def sweep_params(point) -> tuple[LayerNormParams, int]:
    c, pe, b, ob, scale = point
    return layernorm_params(c, scale, b, True, ob), pe


def fit() -> dict:
    """Synthesise FIT_SWEEP with Yosys, least-squares fit the LUT-logic coefficients, write COEF_FILE."""
    import numpy as np

    from hyq.tools import layernorm as tools

    rows, x, y = [], [], []
    for point in FIT_SWEEP:
        p, pe = sweep_params(point)
        r = tools.synthesize(p, pe)
        f = features(p, pe)
        rows.append({"point": list(point), "LUT_LOGIC": r["LUT_LOGIC"], "LUT_MEM": r["LUT_MEM"], "DSP": r["DSP"],
                     "BRAM": r["BRAM"], "FF": r["FF"]})
        x.append([f[k] for k in FEATURES])
        y.append(r["LUT_LOGIC"])
    coef, *_ = np.linalg.lstsq(np.asarray(x, float), np.asarray(y, float), rcond=None)
    out = {"coef": {k: round(float(v), 4) for k, v in zip(FEATURES, coef)}, "measured": rows,
           "note": "python -m hyq.costs.layernorm_cost (Yosys xc7 synth of hw/rtl/hyq_layernorm.v)"}
    COEF_FILE.write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    res = fit()
    print(json.dumps(res["coef"]))
    print(f"{'point (C, PE, B, OB, S)':32} {'LUT est':>8} {'LUT yosys':>9} {'DSP est':>7} {'DSP yosys':>9}")
    for row in res["measured"]:
        p, pe = sweep_params(tuple(row["point"]))
        print(f"{str(tuple(row['point'])):32} {lut_estimate(p, pe):8d} {row['LUT_LOGIC'] + row['LUT_MEM']:9d} "
              f"{dsp_estimate(p, pe):7d} {row['DSP']:9d}")
