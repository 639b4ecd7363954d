"""The cost of an integer multiplier per FPGA family: DSP tiles, or LUTs when it stays in fabric.

One model for every hyq estimate that multiplies (the softmax RTL, the dynamic MVAU RTL,
the datapath added to finn-plus' elementwise layers). It follows Yosys' ``synth_xilinx``
(``mul2dsp``): a multiplier goes to DSP slices only when both operands have at least 2 bits
and the product at least 9 bits. It is then split as mul2dsp splits it (signed ports only):
the wider operand ``a`` fits the A port (A bits) or is cut into slices of ``A' - 1`` unsigned
bits plus a signed rest, likewise ``b`` into ``B - 1``-bit slices; one DSP per pair of
slices, ``na * nb``. The ports per family (A, B, A') are those of the DSP slice: DSP48E1
25 x 18, A' 18 (7-series; Yosys ``xc7_dsp_map.v``), DSP48E2 27 x 18, A' 18 (UltraScale,
UltraScale+; ``xcu_dsp_map.v``), DSP48A1 18 x 18 (Spartan-6), DSP58 27 x 24 (Versal, which
Yosys does not map; estimate only). A multiplier kept in LUTs costs about ``a * b`` LUTs
(one partial-product bit per LUT with the carry chain); Yosys 0.23 ``synth_xilinx`` measured
5, 9, 26, 17, 8 LUTs for signed 2x2, 3x3, 4x4, 3x5, 8x1, so this is a lower bound. ``tests/costs/test_multiplier.py``
checks the DSP count against Yosys on xc7 and xcup, split products included.
"""

from __future__ import annotations

import math

from hyq.errors import HyqError

#: (A, B, A') signed multiplier port widths of each family's DSP slice; A' is the A width of
#: the slices of a split operand (Yosys' DSP_A_MAXWIDTH_PARTIAL)
DSP_PORTS = {"xc7": (25, 18, 18), "xcup": (27, 18, 18), "xc6s": (18, 18, 18), "versal": (27, 24, 24)}
#: smallest operand and product widths Yosys' mul2dsp puts on a DSP (synth_xilinx)
DSP_MIN_OPERAND, DSP_MIN_PRODUCT = 2, 9
#: part-name prefixes of each family, tried in order (xcvu is UltraScale(+), other xcv* Versal)
_PREFIXES = (("xc7", "xc7"), ("xc6s", "xc6s"),
             (("xczu", "xcu", "xcvu", "xcku", "xcau", "xck26"), "xcup"), ("xcv", "versal"))


def family(part: str | None) -> str:
    """DSP family of an AMD part name (``xc7z020clg400-1`` -> ``xc7``); None means xc7, the
    family FINN's estimates fall back to."""
    if part is None:
        return "xc7"
    p = part.strip().lower()
    for prefixes, fam in _PREFIXES:
        if p.startswith(prefixes):
            return fam
    raise HyqError(f"part {part}: no DSP family known (xc7*, xc6s*, UltraScale(+) xczu/xcu/xcvu/xcku/xcau/xck26, "
                   "Versal xcv*); choose an AMD part of one of these")


def on_dsp(a_bits: int, b_bits: int) -> bool:
    """Whether Yosys maps an a x b multiplier to DSP slices (else it stays in LUTs)."""
    return min(a_bits, b_bits) >= DSP_MIN_OPERAND and a_bits + b_bits >= DSP_MIN_PRODUCT


def dsp_tiles(a_bits: int, b_bits: int, fam: str = "xc7") -> int:
    """DSP slices of one a x b (signed-width) multiplier on family ``fam``; 0 when in LUTs."""
    if not on_dsp(a_bits, b_bits):
        return 0
    a, b = max(a_bits, b_bits), min(a_bits, b_bits)
    pa, pb, pa_split = DSP_PORTS[fam]
    na = 1 if a <= pa else 1 + math.ceil((a - pa) / (pa_split - 1))
    nb = 1 if b <= pb else 1 + math.ceil((b - pb) / (pb - 1))
    return na * nb


def lut_multiplier(a_bits: int, b_bits: int) -> int:
    """LUTs of one a x b multiplier built in fabric (no DSP)."""
    return a_bits * b_bits


def cost(a_bits: int, b_bits: int, fam: str = "xc7") -> tuple[int, int]:
    """(LUT, DSP) of one a x b multiplier: on DSPs when Yosys would put it there, else in LUTs."""
    dsp = dsp_tiles(a_bits, b_bits, fam)
    return (0, dsp) if dsp else (lut_multiplier(a_bits, b_bits), 0)
