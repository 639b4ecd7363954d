"""LUT models of FINN's RTL layers, fitted to Yosys where finn-plus' own estimate is off.

finn-plus estimates MVAU_rtl at 0 LUT, FMPadding_rtl at 0, and Thresholding_rtl,
ConvolutionInputGenerator_rtl, StreamingFIFO_rtl and StreamingDataWidthConverter_rtl far
from what Yosys maps. Each op type here has a few structural features computed from the
layer's attributes (lanes x widths, counters, buffer LUTRAM), and its LUTs are a
non-negative least-squares combination of them. The coefficients live in
``finn_fit.json`` and come only from ``python benchmarks/estimates.py --fit``, which
synthesises a sweep of foldings and widths with Yosys and calls :func:`refit`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from hyq.costs.memory import row_buffer

COEF_FILE = Path(__file__).with_name("finn_fit.json")

#: features of each fitted op type (the keys :func:`features` returns)
FEATURES = {
    "MVAU_rtl": ("const", "lanes", "acc", "wmem"),
    "Thresholding_rtl": ("const", "compare", "tmem"),
    "ConvolutionInputGenerator_rtl": ("const", "window", "buffer", "count"),
    "FMPadding_rtl": ("const", "stream", "count"),
    "StreamingFIFO_rtl": ("const", "regs", "lutram", "count"),
    "StreamingDataWidthConverter_rtl": ("const", "up", "down"),
}


def _a(inst, name: str):
    return inst.get_nodeattr(name)


def _bits(dt: str) -> int:
    from qonnx.core.datatype import DataType

    return DataType[dt].bitwidth()


def _clog2(n: float) -> int:
    return max(1, math.ceil(math.log2(max(2, n))))


def features(op_type: str, inst) -> dict[str, float] | None:
    """Structural size measures of a specialised FINN layer (``inst``: its custom op), or
    None for an op type without a fitted model."""
    if op_type == "MVAU_rtl":
        pe, simd = _a(inst, "PE"), _a(inst, "SIMD")
        depth = _a(inst, "MW") * _a(inst, "MH") // (pe * simd)
        return {"const": 1.0, "lanes": pe * simd, "acc": pe * _bits(_a(inst, "accDataType")),
                "wmem": row_buffer(depth, pe * simd * _bits(_a(inst, "weightDataType")))[0]}
    if op_type == "Thresholding_rtl":
        pe, steps = _a(inst, "PE"), _a(inst, "numSteps")
        stages = _clog2(steps + 1)
        wb = _bits(_a(inst, "weightDataType"))
        depth = _a(inst, "NumChannels") // pe
        return {"const": 1.0, "compare": pe * stages * wb,
                "tmem": sum(row_buffer(depth * 2**s, pe * wb)[0] for s in range(stages))}
    if op_type == "ConvolutionInputGenerator_rtl":
        simd, c = _a(inst, "SIMD"), _a(inst, "IFMChannels")
        k, w = _a(inst, "ConvKernelDim")[1], _a(inst, "IFMDim")[1]
        width = simd * _bits(_a(inst, "inputDataType"))
        depth = ((k - 1) * w + k) * c // simd
        return {"const": 1.0, "window": k * k, "buffer": row_buffer(depth, width)[0],
                "count": _clog2(depth) + _clog2(c // simd) + 2 * _clog2(w)}
    if op_type == "FMPadding_rtl":
        h, w = _a(inst, "ImgDim")
        pad = _a(inst, "Padding")
        return {"const": 1.0, "stream": inst.get_instream_width(),
                "count": _clog2(h + pad[0] + pad[2]) + _clog2(w + pad[1] + pad[3])
                + _clog2(_a(inst, "NumChannels") // _a(inst, "SIMD"))}
    if op_type == "StreamingFIFO_rtl":
        depth, width = _a(inst, "depth"), inst.get_instream_width()
        lut, bram = row_buffer(depth, width)
        # shallow FIFOs are registers (depth x width flip-flops and their read multiplexer)
        return {"const": 1.0, "regs": depth * width if depth <= 32 else 0.0,
                "lutram": lut if depth > 32 and not bram else 0.0, "count": _clog2(depth)}
    if op_type == "StreamingDataWidthConverter_rtl":
        iw, ow = inst.get_instream_width(), inst.get_outstream_width()
        # widening only collects words; narrowing multiplexes the wide word down
        return {"const": 1.0, "up": ow if ow > iw else 0.0, "down": iw if iw > ow else 0.0}
    return None


def coefficients() -> dict[str, dict[str, float]]:
    """The fitted coefficients per op type (empty before the first ``--fit``)."""
    if not COEF_FILE.is_file():
        return {}
    return json.loads(COEF_FILE.read_text())["coefficients"]


def estimate(op_type: str, feats: dict[str, float] | None) -> dict[str, float]:
    """hyq's fitted LUT estimate from :func:`features` (``{}`` without a model)."""
    coef = coefficients().get(op_type)
    if coef is None or feats is None:
        return {}
    return {"LUT": float(round(sum(coef[k] * feats[k] for k in FEATURES[op_type])))}


def lut_estimate(op_type: str, inst) -> float | None:
    """Fitted LUTs of a specialised FINN layer, or None for an op type without a model."""
    return estimate(op_type, features(op_type, inst)).get("LUT")


def fit(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per op type, non-negative least squares of Yosys' LUTs on the features (relative
    error weighted, so small layers count as much as large ones)."""
    from scipy.optimize import nnls

    coef = {}
    for op, names in FEATURES.items():
        sel = [r for r in rows if r["op_type"] == op and r["yosys"]["LUT"] > 0]
        if not sel:
            continue
        a = np.array([[r["features"][k] for k in names] for r in sel], dtype=float)
        y = np.array([r["yosys"]["LUT"] for r in sel], dtype=float)
        sol, _ = nnls(a / y[:, None], np.ones_like(y))
        coef[op] = dict(zip(names, map(float, sol)))
    return coef


def refit(rows: list[dict], about: dict) -> Path:
    """Fit on ``rows`` (benchmarks/estimates.py's measurements) and rewrite finn_fit.json."""
    COEF_FILE.write_text(json.dumps({"about": about, "coefficients": fit(rows), "measurements": rows},
                                    indent=1) + "\n")
    return COEF_FILE


def lut_correction(model, finn_layers: dict) -> float:
    """LUTs to add to finn-plus' total (``estimate_layer_resources.json``) of ``model``
    for hyq's fitted estimates of the layers that have one."""
    from qonnx.custom_op.registry import getCustomOp

    delta = 0.0
    for node in model.graph.node:
        if node.op_type in FEATURES and node.name in finn_layers:
            lut = lut_estimate(node.op_type, getCustomOp(node))
            if lut is not None:
                delta += lut - float(finn_layers[node.name].get("LUT", 0))
    return delta
