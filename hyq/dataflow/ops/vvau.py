"""hyq's RTL stand-in for FINN's depthwise-convolution layer ``VVAU_hls``: ``HyqVVAU_rtl``.

finn-plus implements the VVAU in RTL only on Versal (DSP58); elsewhere it is HLS, which
can be neither generated nor simulated here. ``step_hyq_rtl_layers`` swaps ``VVAU_hls``
for ``HyqVVAU_rtl`` where :func:`possible` holds: no activation (hyq's flows threshold in
separate ``Thresholding_rtl`` layers), integer (not bipolar) inputs and weights, weights in
the graph (not external or runtime-writeable), PE | Channels and SIMD | K*K.

- Generic op :class:`HyqVVAU` is FINN's ``VVAU`` unchanged: Python execution, shapes,
  folding, accumulator minimisation, cycles stay FINN's.
- RTL (``hw/rtl/hyq_vvau.v``): one PE x SIMD block of multiply-accumulates per cycle in
  FINN's stream order, so the initiation interval is FINN's ``get_exp_cycles``; weights are
  a ROM initialised by ``$readmemh`` from ``hyq_vvau_weights.dat`` in the code generation
  folder. The layer always embeds its weights: it declares no ``mem_mode`` attribute and
  answers ``internal_embedded`` when asked, so the simulation harness neither adds FINN's
  weight streamer nor expects an ``in1_V`` stream.
- LUT/DSP/BRAM: :func:`estimate`, an analytical model of that RTL (DSP48 multipliers that
  absorb the adds, the ROM as logic or 18 Kbit blocks as Yosys' memory mapper decides),
  checked against Yosys ``synth_xilinx`` by the tests.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
from qonnx.core.datatype import DataType

from hyq.dataflow.finn_env import finn_steps as _finn_steps

_finn_steps()
from finn.custom_op.fpgadataflow.vectorvectoractivation import VVAU  # noqa: E402

from hyq.dataflow.ops.registry import declare  # noqa: E402
from hyq.dataflow.ops.rtl import HyqRTLBackend  # noqa: E402

WEIGHT_FILE = "hyq_vvau_weights.dat"
MEM_MODE = "internal_embedded"

# ---- resource model of hw/rtl/hyq_vvau.v on 7-series with DSPs allowed, after Yosys 0.23
# synth_xilinx (measured in tests/dataflow/test_vvau_layer.py)
#: a multiplier maps to a DSP48 when both operands (incl. the sign bit the RTL adds) have at
#: least DSP_MIN_OPERAND bits and the product DSP_MIN_PRODUCT (Yosys' mul2dsp limits); the
#: DSP48's post-adder and P register then absorb the adder tree and the accumulator
DSP_MIN_OPERAND = 2
DSP_MIN_PRODUCT = 9
#: Yosys' memory_libmap weighs a ROM lowered to logic at 1/64 per bit against RAMB18_COST
#: per 18 Kbit block; a logic ROM costs ~1 LUT per bit up to 64 words, then LUT6s + muxes
ROM_LOGIC_COST_PER_BIT = 1 / 64
RAMB18_COST = 129
#: LUTs besides the ROM and LUT multipliers: handshake, counters, per PE output/accumulator glue
BASE_LUT, PE_LUT = 40, 10


def _clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


class HyqVVAU(VVAU):
    """FINN's VVAU generic op, unchanged (the generic op of hyq's RTL stand-in)."""


def possible(inst, part: str | None = None) -> bool:
    """Whether ``inst`` (a VVAU) can be ``HyqVVAU_rtl``; anything else keeps FINN's layer."""
    try:
        idt, wdt, odt = inst.get_input_datatype(0), inst.get_input_datatype(1), inst.get_output_datatype()
        k = int(np.prod(inst.get_nodeattr("Kernel")))
        ch, pe, simd = (int(inst.get_nodeattr(a)) for a in ("Channels", "PE", "SIMD"))
        return (inst.get_nodeattr("noActivation") == 1
                and len(inst.onnx_node.input) == 2
                and all(dt.is_integer() and dt.name != "BIPOLAR" for dt in (idt, wdt, odt))
                and inst.get_nodeattr("binaryXnorMode") == 0
                and inst.get_nodeattr("mem_mode") != "external"
                and inst.get_nodeattr("runtime_writeable_weights") == 0
                and pe > 0 and simd > 0 and ch % pe == 0 and k % simd == 0)
    except Exception:  # noqa: BLE001 - malformed attributes: keep FINN's layer
        return False


def acc_bits(ibits: int, wbits: int, k: int, obits: int) -> int:
    """Signed accumulator width of the RTL: every partial sum of k products fits."""
    return max(obits, ibits + wbits + 2 + _clog2(k))


def rom_blocks(depth: int, width: int) -> int:
    """18 Kbit blocks holding a depth x width ROM (widest aspect ratio the depth allows)."""
    for d, w in ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)):
        if depth <= d:
            return math.ceil(width / w)
    return math.ceil(depth / 16384) * width


def rom_logic_luts(depth: int, width: int) -> int:
    if depth <= 2:
        return 0          # each bit a constant or (inverted) address bit
    if depth <= 64:
        return width
    return width * math.ceil(1.5 * math.ceil(depth / 64))


def estimate(pe: int, simd: int, nf: int, sf: int, ibits: int, wbits: int, obits: int) -> dict[str, int]:
    """LUT/FF/DSP/BRAM_18K of hw/rtl/hyq_vvau.v (7-series) from its structure."""
    lanes, depth = pe * simd, nf * sf
    width = lanes * wbits
    acc = acc_bits(ibits, wbits, sf * simd, obits)
    xa, wa = ibits + 1, wbits + 1
    dsp_mul = min(xa, wa) >= DSP_MIN_OPERAND and xa + wa >= DSP_MIN_PRODUCT
    dsp = lanes if dsp_mul else 0
    # without DSPs: LUT multipliers (~ half the partial-product bits) and LUT adders
    arith = 0 if dsp_mul else lanes * (math.ceil(xa * wa / 2) + math.ceil(acc / 2))
    blocks = rom_blocks(depth, width)
    bram = blocks if depth * width * ROM_LOGIC_COST_PER_BIT > RAMB18_COST * blocks else 0
    rom = 0 if bram else rom_logic_luts(depth, width)
    ctrl = 2 * _clog2(depth) + _clog2(sf) + 4
    ff = ctrl + pe * (acc + obits) + lanes * ibits
    return {"LUT": BASE_LUT + PE_LUT * pe + arith + rom, "FF": ff, "DSP": dsp, "BRAM_18K": bram}


class HyqVVAU_rtl(HyqRTLBackend, HyqVVAU):  # noqa: N801 - FINN's naming of specialisations
    """HyqVVAU implemented by hw/rtl/hyq_vvau.v with the weights in a ROM."""

    CORES = ("hyq_vvau.v",)

    def get_nodeattr_types(self):
        attrs = dict(super().get_nodeattr_types())
        attrs.pop("mem_mode", None)  # weights are always embedded (see the module docstring)
        return attrs

    def get_nodeattr(self, name):
        if name == "mem_mode":
            return MEM_MODE
        return super().get_nodeattr(name)

    def set_nodeattr(self, name, value):
        if name == "mem_mode":
            if value != MEM_MODE:
                raise ValueError(f"{self.onnx_node.name}: HyqVVAU_rtl embeds its weights; "
                                 f"mem_mode {value!r} is not available")
            return
        super().set_nodeattr(name, value)

    # ---- the RTL's parameters ----
    def shape_params(self) -> dict[str, int]:
        pe, simd = self.get_nodeattr("PE"), self.get_nodeattr("SIMD")
        k = int(np.prod(self.get_nodeattr("Kernel")))
        return {"PE": pe, "SIMD": simd, "NF": self.get_nodeattr("Channels") // pe, "SF": k // simd}

    def verilog_params(self) -> dict[str, int]:
        idt, wdt, odt = self.get_input_datatype(0), self.get_input_datatype(1), self.get_output_datatype()
        p = self.shape_params()
        ib, wb, ob = idt.bitwidth(), wdt.bitwidth(), odt.bitwidth()
        return {**p, "IBITS": ib, "WBITS": wb, "ISIGNED": int(idt.signed()), "WSIGNED": int(wdt.signed()),
                "ACCW": acc_bits(ib, wb, p["SF"] * p["SIMD"], ob), "OBITS": ob}

    def weight_lines(self, weights: np.ndarray) -> list[str]:
        """ROM words (hex), word t = beat t's weights, lane i*PE+p at bits (i*PE+p)*WBITS."""
        wdt = self.get_input_datatype(1)
        wb = wdt.bitwidth()
        p = self.shape_params()
        w = np.asarray(weights)
        if not np.array_equal(w, np.round(w)) or not all(wdt.allowed(v) for v in np.unique(w)):
            raise ValueError(f"{self.onnx_node.name}: weights are not all {wdt.name}")
        hw = self.get_hw_compatible_weight_tensor(w).astype(np.int64)  # (1, PE, WMEM, SIMD)
        lanes = hw[0].transpose(1, 2, 0).reshape(p["NF"] * p["SF"], p["SIMD"] * p["PE"])  # [t, i*PE+p]
        mask = (1 << wb) - 1
        digits = (lanes.shape[1] * wb + 3) // 4
        out = []
        for row in lanes:
            word = 0
            for j, v in enumerate(row):
                word |= (int(v) & mask) << (j * wb)
            out.append(format(word, f"0{digits}x"))
        return out

    def weight_file(self) -> Path:
        return self.ipgen_dir() / WEIGHT_FILE

    def ipgen_dir(self) -> Path:
        return super().ipgen_dir().resolve()  # the wrapper names the weight file by absolute path

    def wrapper_notes(self) -> str:
        digest = hashlib.sha256(self.weight_file().read_bytes()).hexdigest()[:16]
        return f"// weights: {self.weight_file()} (sha256 {digest})\n"

    def wrapper_body(self) -> str:
        params = {**self.verilog_params(), "WFILE": f'"{self.weight_file()}"'}
        return self.axis_core("hyq_vvau", params, self.get_instream_width(), self.get_outstream_width())

    def generate_hdl(self, model, fpgapart, clk):
        """The weight ROM's contents (``hyq_vvau_weights.dat``), then the RTL and its wrapper."""
        if not possible(self):
            raise ValueError(f"{self.onnx_node.name}: this VVAU configuration has no hyq RTL")
        weights = model.get_initializer(self.onnx_node.input[1])
        if weights is None:
            raise ValueError(f"{self.onnx_node.name}: HyqVVAU_rtl needs its weights as an initializer")
        self.ipgen_dir().mkdir(parents=True, exist_ok=True)
        self.weight_file().write_text("\n".join(self.weight_lines(weights)) + "\n")
        super().generate_hdl(model, fpgapart, clk)

    # ---- resources ----
    def _estimate(self) -> dict[str, int]:
        v = self.verilog_params()
        return estimate(v["PE"], v["SIMD"], v["NF"], v["SF"], v["IBITS"], v["WBITS"], v["OBITS"])

    def lut_estimation(self, fpgapart=None):
        return self._estimate()["LUT"]

    def dsp_estimation(self, fpgapart=None):
        return self._estimate()["DSP"]

    def bram_estimation(self, fpgapart=None):
        return self._estimate()["BRAM_18K"]

    def bram_efficiency_estimation(self, fpgapart=None):
        bram = self.bram_estimation()
        if bram == 0:
            return 1.0
        wbits = self.get_input_datatype(1).bitwidth() * self.get_nodeattr("Channels") * \
            int(np.prod(self.get_nodeattr("Kernel")))
        return wbits / (bram * 18 * 1024)


declare(HyqVVAU, HyqVVAU_rtl, replaces="VVAU_hls", possible=possible)

__all__ = ["HyqVVAU", "HyqVVAU_rtl", "possible", "estimate"]
