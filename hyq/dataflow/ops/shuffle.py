"""hyq's RTL stand-ins for FINN's transpose layers: ``HyqOuterShuffle_rtl`` for ``OuterShuffle_hls``
and ``HyqInnerShuffle_rtl`` for ``InnerShuffle_rtl`` at SIMD 1 (which Verilator rejects).

finn-plus' ``step_transpose_decomposition`` turns a transpose into InnerShuffle and
OuterShuffle layers; an OuterShuffle reorders whole tensor positions and keeps the SIMD
lanes of the innermost dimension together. finn-plus implements it only in HLS on
non-Versal parts, so ``step_hyq_rtl_layers`` swaps in this layer
(:mod:`hyq.dataflow.ops.registry`).

- Generic op: FINN's ``OuterShuffle`` unchanged (shapes, folding, Python execution).
- RTL (``hw/rtl/hyq_outer_shuffle.v``): a two-bank (ping-pong) buffer of one tensor per
  bank, written in input order, read in the permuted order by nested counters whose
  address increments :func:`read_loops` computes here. While one tensor is read the next
  is written: one beat per cycle, II = N beats per tensor, latency about 2N.
- Cycles: :meth:`HyqOuterShuffle_rtl.get_exp_cycles` = N (the steady-state II; the
  simulation measures it equal).
- Resources: 2N x (SIMD x bits) memory, distributed RAM or 18 Kbit blocks as Yosys'
  mapper would choose (the choice is then forced with ``ram_style``), plus counter logic;
  :func:`lut_estimate` is checked against Yosys by the tests.
"""

from __future__ import annotations

import math

import numpy as np

from hyq.dataflow.finn_env import finn_steps as _finn_steps

_finn_steps()
from finn.custom_op.fpgadataflow.inner_shuffle import InnerShuffle  # noqa: E402
from finn.custom_op.fpgadataflow.outer_shuffle import OuterShuffle  # noqa: E402

from hyq.dataflow.ops.registry import declare  # noqa: E402
from hyq.dataflow.ops.rtl import HyqRTLBackend  # noqa: E402
from hyq.costs.memory import row_buffer  # noqa: E402


def read_loops(transpose_in_shape, perm, simd: int = 1) -> tuple[list[int], list[int]]:
    """Counter sizes and address increments of the read side, innermost loop first.

    The input is a row-major tensor of ``transpose_in_shape`` whose innermost dimension is
    folded by ``simd`` (one beat per SIMD group); the output visits it in the order of
    ``transpose(perm)``. Loops of size 1 are dropped and loops that stay contiguous are
    merged. Increment d is the address step when loop d advances and all inner loops wrap.
    """
    shape = [int(s) for s in transpose_in_shape]
    perm = [int(p) for p in perm]
    if sorted(perm) != list(range(len(shape))):
        raise ValueError(f"perm {perm} is no permutation of {len(shape)} axes")
    if simd > 1:
        if perm[-1] != len(shape) - 1 or shape[-1] % simd:
            raise ValueError(f"SIMD {simd} needs the innermost axis kept last and divisible by SIMD "
                             f"(shape {shape}, perm {perm})")
        shape[-1] //= simd
    strides = [int(np.prod(shape[k + 1:])) for k in range(len(shape))]
    loops = [(shape[p], strides[p]) for p in perm if shape[p] > 1]  # outermost first
    merged: list[tuple[int, int]] = []
    for n, s in loops:
        if merged and merged[-1][1] == s * n:
            merged[-1] = (merged[-1][0] * n, s)
        else:
            merged.append((n, s))
    merged.reverse()  # innermost first
    if not merged:
        return [1], [0]
    sizes = [n for n, _ in merged]
    incs = []
    for d, (n, s) in enumerate(merged):
        incs.append(s - sum((merged[j][0] - 1) * merged[j][1] for j in range(d)))
    return sizes, incs


def read_order(sizes: list[int], incs: list[int]) -> np.ndarray:
    """Beat addresses the RTL's counters visit (for checking :func:`read_loops`)."""
    total = int(np.prod(sizes))
    cnt, addr, out = [0] * len(sizes), 0, []
    for _ in range(total):
        out.append(addr)
        for d, n in enumerate(sizes):
            if cnt[d] < n - 1:
                cnt[d] += 1
                addr += incs[d]
                break
            cnt[d] = 0
    return np.asarray(out)


def _packed(values: list[int]) -> str:
    """A Verilog constant of 32-bit fields, field 0 in the least significant bits."""
    word = 0
    for k, v in enumerate(values):
        word |= (int(v) & 0xFFFFFFFF) << (32 * k)
    return f"{32 * len(values)}'h{word:0{8 * len(values)}x}"


def _counter_bits(n: int) -> int:
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


#: LUT model of the control logic (counters, read address adder and increment selection,
#: write pointer and bank compare, bank flags; Yosys also spends an INV and a CARRY4 bit on
#: most adder bits), a non-negative least-squares fit to Yosys 0.23 synth_xilinx of 11
#: configurations (2 to 5 loops, 64 to 4096 words, distributed and block RAM): within 8 %
LUT_CONST, LUT_PER_ADDR_BIT, LUT_PER_CNT_BIT, LUT_PER_LOOP, LUT_PER_LUTRAM_MUX_BIT = 29.1, 5.77, 2.22, 3.46, 1.84


def lut_estimate(n_beats: int, width: int, sizes: list[int]) -> tuple[int, int]:
    """(LUTs, BRAM_18K) of the shuffle for ``n_beats`` beats of ``width`` bits, read ``sizes`` loops.

    The 2N-word buffer is distributed RAM or 18 Kbit blocks as :func:`row_buffer` (Yosys'
    own cost comparison) says; distributed RAM deeper than 64 words adds a read multiplexer
    over its 64-word blocks.
    """
    depth = 2 * n_beats
    mem_lut, bram = row_buffer(depth, width)
    mux_bits = width * (math.ceil(depth / 64) - 1) if mem_lut else 0
    aw = max(1, math.ceil(math.log2(depth)))
    logic = (LUT_CONST + LUT_PER_ADDR_BIT * aw + LUT_PER_CNT_BIT * sum(_counter_bits(n) for n in sizes)
             + LUT_PER_LOOP * len(sizes) + LUT_PER_LUTRAM_MUX_BIT * mux_bits)
    return int(round(logic)) + mem_lut, bram


class HyqOuterShuffle(OuterShuffle):
    """FINN's OuterShuffle, unchanged: the generic op of :class:`HyqOuterShuffle_rtl`."""


class _ShuffleRTL(HyqRTLBackend):
    """hw/rtl/hyq_outer_shuffle.v for a subclass that defines :meth:`loops` and :meth:`n_beats`
    (beats per bank)."""

    CORES = ("hyq_outer_shuffle.v",)

    def verify_node(self):
        info = []
        try:
            sizes, _ = self.loops()
            info.append(f"HyqOuterShuffle: {self.n_beats()} beats, loops {sizes}")
        except Exception as exc:  # noqa: BLE001 - verify_node reports, it does not raise
            info.append(f"HyqOuterShuffle attributes invalid: {exc}")
        return info

    def block_ram(self) -> bool:
        return row_buffer(2 * self.n_beats(), self.get_instream_width())[1] > 0

    def verilog_params(self) -> dict[str, int | str]:
        sizes, incs = self.loops()
        n = self.n_beats()
        if int(np.prod(sizes)) != n:
            raise ValueError(f"{self.onnx_node.name}: loops {sizes} do not cover {n} beats")
        return {"W": self.get_instream_width(), "N": n, "ND": len(sizes),
                "CNT_LAST": _packed([s - 1 for s in sizes]), "ADDR_INC": _packed(incs),
                "BLOCK_RAM": int(self.block_ram())}

    # ---- resources ----
    def lut_estimation(self, fpgapart=None):
        return lut_estimate(self.n_beats(), self.get_instream_width(), self.loops()[0])[0]

    def bram_estimation(self, fpgapart=None):
        return lut_estimate(self.n_beats(), self.get_instream_width(), self.loops()[0])[1]

    def bram_efficiency_estimation(self, fpgapart=None):
        bram = self.bram_estimation()
        return 1.0 if bram == 0 else 2 * self.n_beats() * self.get_instream_width() / (bram * 18 * 1024)

    # ---- code generation ----
    def wrapper_notes(self) -> str:
        return (f"// transpose_in_shape {list(self.get_nodeattr('transpose_in_shape'))}, "
                f"perm {list(self.get_nodeattr('perm'))}, SIMD {self.get_nodeattr('SIMD')}\n")

    def wrapper_body(self) -> str:
        w = self.get_instream_width()
        return self.axis_core("hyq_outer_shuffle", self.verilog_params(), w, w)


class HyqOuterShuffle_rtl(_ShuffleRTL, HyqOuterShuffle):  # noqa: N801 - FINN's naming of specialisations
    """OuterShuffle by hw/rtl/hyq_outer_shuffle.v (ping-pong tensor buffer)."""

    def loops(self) -> tuple[list[int], list[int]]:
        return read_loops(self.get_nodeattr("transpose_in_shape"), self.get_nodeattr("perm"),
                          self.get_nodeattr("SIMD"))

    def n_beats(self) -> int:
        return int(np.prod(self.get_folded_input_shape()[:-1]))

    def get_exp_cycles(self):
        """Steady-state II: one beat per cycle, the next tensor written while one is read."""
        return self.n_beats()


def _possible(inst, part: str) -> bool:
    """The RTL handles every OuterShuffle whose SIMD groups stay whole (innermost axis kept)."""
    try:
        sizes, _ = read_loops(inst.get_nodeattr("transpose_in_shape"), inst.get_nodeattr("perm"),
                              inst.get_nodeattr("SIMD"))
        n = int(np.prod(inst.get_folded_input_shape()[:-1]))
        return int(np.prod(sizes)) == n and int(np.prod(inst.get_folded_output_shape()[:-1])) == n
    except (ValueError, AssertionError):
        return False


declare(HyqOuterShuffle, HyqOuterShuffle_rtl, replaces="OuterShuffle_hls", possible=_possible)


# ---- InnerShuffle with SIMD 1 ------------------------------------------------------------------
# finn-plus' InnerShuffle_rtl (finn-rtllib/inner_shuffle) transposes the last two axes in
# I x J blocks. At SIMD 1, its rotation index is 0 bits wide, which Verilator rejects
# ("static cast to logic[-1:0]"), and every InnerShuffle of hybrid-tiny has SIMD 1. A block
# transpose at SIMD 1 is the same ping-pong buffer as above with an I x J tensor per bank.


class HyqInnerShuffle(InnerShuffle):
    """FINN's InnerShuffle, unchanged: the generic op of :class:`HyqInnerShuffle_rtl`."""


class HyqInnerShuffle_rtl(_ShuffleRTL, HyqInnerShuffle):  # noqa: N801 - FINN's naming of specialisations
    """InnerShuffle at SIMD 1 by hw/rtl/hyq_outer_shuffle.v, one I x J block per bank."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs["perm"] = ("ints", False, [])  # the decomposed transpose's, recorded by finn-plus
        return attrs

    def block(self) -> list[int]:
        """[I, J]: the last two axes of the transposed view."""
        return [int(d) for d in self.get_nodeattr("transpose_in_shape")[-2:]]

    def loops(self) -> tuple[list[int], list[int]]:
        return read_loops(self.block(), [1, 0], 1)

    def n_beats(self) -> int:
        """Beats per bank: one I x J block."""
        return int(np.prod(self.block()))

    def get_exp_cycles(self):
        """Steady state: one beat per cycle over the whole tensor."""
        return int(np.prod(self.get_folded_input_shape()[:-1]))


def _inner_possible(inst, part: str) -> bool:
    """Only SIMD 1 (FINN's RTL serves the rest), on a transposed view of at least 2 axes."""
    return inst.get_nodeattr("SIMD") == 1 and len(inst.get_nodeattr("transpose_in_shape")) >= 2


declare(HyqInnerShuffle, HyqInnerShuffle_rtl, replaces="InnerShuffle_rtl", possible=_inner_possible)

__all__ = ["HyqOuterShuffle", "HyqOuterShuffle_rtl", "HyqInnerShuffle", "HyqInnerShuffle_rtl", "read_loops",
           "read_order", "lut_estimate"]
