"""RTL stand-in for FINN's global sum pooling: ``HyqGlobalAccPool_rtl``.

finn-plus implements ``GlobalAccPool`` (the sum over H x W per channel before a CNN's
classifier) only in HLS on non-Versal parts; ``step_hyq_rtl_layers`` swaps this layer in.

- Generic op ``HyqGlobalAccPool``: FINN's GlobalAccPool unchanged (shapes, folding, output
  type ``get_smallest_possible(H*W*extreme input)``, Python execution).
- RTL ``hw/rtl/hyq_global_acc_pool.v``: C/PE accumulator words of PE x acc bits in
  distributed RAM (block RAM from :data:`BRAM_MIN_WORDS` words on),
  read-modify-written one beat per cycle; at the last pixel each sum goes to the output
  instead of back, so an image takes H*W*C/PE cycles, FINN's estimate minus its separate
  C/PE output phase (:meth:`HyqGlobalAccPool_rtl.get_exp_cycles`).
- Estimates: the accumulator adders, counters and handshake in LUTs, the accumulator
  memory as LUTRAM or BRAM18, checked against Yosys in tests/dataflow/test_stream_layers.py.
"""

from __future__ import annotations

import math

import numpy as np

from hyq.dataflow.finn_env import finn_steps as _finn_steps

_finn_steps()
from finn.custom_op.fpgadataflow.globalaccpool import GlobalAccPool  # noqa: E402

from hyq.dataflow.ops.registry import declare  # noqa: E402
from hyq.dataflow.ops.rtl import HyqRTLBackend  # noqa: E402

#: accumulator words from which the memory is block RAM (distributed RAM below)
BRAM_MIN_WORDS = 128
#: RAMB18 aspect ratios (depth, width) in simple dual-port mode
_BRAM18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))


def use_bram(nf: int) -> bool:
    return nf >= BRAM_MIN_WORDS


def bram18(nf: int, width: int) -> int:
    """RAMB18s for ``nf`` words of ``width`` bits (best aspect ratio)."""
    return min(math.ceil(nf / d) * math.ceil(width / w) for d, w in _BRAM18_SHAPES)


def lutram_luts(nf: int, width: int) -> int:
    """LUTs of a simple dual-port distributed RAM of ``nf`` x ``width`` (RAM32M: 6 bits x 32
    words, RAM64M: 3 bits x 64 words, 4 LUTs each; deeper memories stack 64-word blocks
    behind a read multiplexer)."""
    if nf <= 1:
        return 0
    if nf <= 32:
        return 4 * math.ceil(width / 6)
    blocks = math.ceil(nf / 64)
    mux = 0 if blocks == 1 else width * math.ceil((blocks - 1) / 3)
    return 4 * math.ceil(width / 3) * blocks + mux


def pool_luts(pe: int, acc_bits: int, nf: int, npix: int, signed: bool = False) -> int:
    """LUTs of hyq_global_acc_pool, fitted to Yosys (xc7) runs of it.

    One LUT per accumulator bit and lane (the adder with the first-pixel zeroing folded in;
    a signed input costs a second, its sign extension and the zeroing no longer fit one
    LUT6), two per bit of the fold and pixel counters (increment and end compare), 11 of
    handshake and enables, plus the accumulator memory when it is distributed RAM.
    """
    fb = math.ceil(math.log2(nf)) if nf > 1 else 0
    pb = math.ceil(math.log2(npix)) if npix > 1 else 0
    mem = 0 if use_bram(nf) else lutram_luts(nf, pe * acc_bits)
    return pe * acc_bits * (2 if signed else 1) + 2 * (fb + pb) + 11 + mem


def pool_possible(inst, part: str | None = None) -> bool:
    """An integer image (N, H, W, C) summed over H x W."""
    try:
        vecs = list(inst.get_nodeattr("numInputVectors"))
        return (len(vecs) == 3 and inst.get_input_datatype().is_integer()
                and inst.get_nodeattr("NumChannels") % inst.get_nodeattr("PE") == 0)
    except Exception:  # noqa: BLE001 - an op this cannot read stays FINN's layer
        return False


class HyqGlobalAccPool(GlobalAccPool):
    """FINN's GlobalAccPool, unchanged: the generic op of ``HyqGlobalAccPool_rtl``."""


class HyqGlobalAccPool_rtl(HyqRTLBackend, HyqGlobalAccPool):  # noqa: N801 - FINN's naming
    """GlobalAccPool implemented by hw/rtl/hyq_global_acc_pool.v."""

    CORES = ("hyq_global_acc_pool.v",)

    def folds(self) -> int:
        return self.get_nodeattr("NumChannels") // self.get_nodeattr("PE")

    def pixels(self) -> int:
        vecs = self.get_nodeattr("numInputVectors")
        return int(vecs[-1] * vecs[-2])

    def verilog_params(self) -> dict[str, int]:
        idt = self.get_input_datatype()
        return {"PE": self.get_nodeattr("PE"), "IN_BITS": idt.bitwidth(), "IN_SIGNED": int(idt.signed()),
                "ACC_BITS": self.get_output_datatype().bitwidth(), "NF": self.folds(),
                "NPIX": self.pixels(), "USE_BRAM": int(use_bram(self.folds()))}

    def wrapper_body(self) -> str:
        p = self.verilog_params()
        iw, ow = self.get_instream_width(), self.get_outstream_width()
        params = ", ".join(f".{k}({v})" for k, v in p.items())
        return (f"    wire [{ow - 1}:0] d;\n"
                f"    hyq_global_acc_pool #({params}) core (\n"
                "        .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),\n"
                f"        .s_tdata(in0_V_TDATA[{iw - 1}:0]), .s_tvalid(in0_V_TVALID), .s_tready(in0_V_TREADY),\n"
                "        .m_tdata(d), .m_tvalid(out0_V_TVALID), .m_tready(out0_V_TREADY));\n"
                + self.out0_assign(ow, "d"))

    def get_exp_cycles(self):
        """One input beat per cycle; the sums leave during the last pixel's beats."""
        return int(np.prod(self.get_folded_input_shape()[:-1]))

    def lut_estimation(self, fpgapart=None):
        return pool_luts(self.get_nodeattr("PE"), self.get_output_datatype().bitwidth(), self.folds(),
                         self.pixels(), self.get_input_datatype().signed())

    def bram_estimation(self, fpgapart=None):
        nf = self.folds()
        return bram18(nf, self.get_outstream_width()) if use_bram(nf) else 0

    def bram_efficiency_estimation(self, fpgapart=None):
        bram = self.bram_estimation()
        return 1.0 if bram == 0 else self.folds() * self.get_outstream_width() / (bram * 18 * 1024)

    def get_op_and_param_counts(self):
        return {"op_add": int(np.prod(self.get_normal_input_shape()))}


declare(HyqGlobalAccPool, HyqGlobalAccPool_rtl, replaces="GlobalAccPool_hls", possible=pool_possible)

__all__ = ["HyqGlobalAccPool", "HyqGlobalAccPool_rtl", "bram18", "lutram_luts", "pool_luts", "pool_possible",
           "use_bram"]
