"""Datapath estimates for finn-plus compute layers whose own estimate ignores the arithmetic.

finn-plus estimates only the parameter memory of its elementwise binary operators
(residual adds, dequantizing multiplies) and nothing for GlobalAccPool, so a hybrid
model's adds, scales and pooling cost 0 LUT in its reports. Its :func:`register` puts
subclasses of those ``_hls`` layers, under the same names, that add an analytical model
of the datapath to finn-plus' own figure (which they keep):

- integer add / subtract (and GlobalAccPool's accumulator): a ripple-carry adder of the
  output width per PE lane; on 7-series and UltraScale+ one LUT6 per bit feeds the carry
  chain, so ``LUT = PE * out_bits``;
- integer multiply: per lane, one multiplier of :mod:`hyq.costs.multiplier` on the part's
  family (DSP tiles when Yosys would use DSPs, else ``a * b`` LUTs);
- a multiply with a FLOAT32 operand (the output dequantization): the integer times the
  24-bit significand on DSPs (tiled as above), plus a barrel shifter that normalises the
  24-bit result, ``24 * ceil(log2 24)`` LUTs per lane.

Control logic and stream registers are not counted: the figures are lower bounds on the
arithmetic, made to be compared across layers and variants, like FINN's own estimates.
"""

from __future__ import annotations

import math

from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import add_op_to_domain

from hyq.costs import multiplier
from hyq.dataflow.finn_env import finn_steps as _finn_steps

_finn_steps()
import finn.custom_op.fpgadataflow.hls as _hls  # noqa: E402

#: significand bits of an IEEE single (FLOAT32) including the hidden one
FLOAT_SIGNIFICAND = 24


def adder_luts(pe: int, out_bits: int) -> int:
    """LUTs of ``pe`` parallel ripple-carry adders producing ``out_bits`` each."""
    return pe * out_bits


def multiplier_cost(pe: int, a_bits: int, b_bits: int, fam: str = "xc7") -> tuple[int, int]:
    """(LUT, DSP) of ``pe`` parallel a x b integer multipliers on family ``fam``."""
    lut, dsp = multiplier.cost(a_bits, b_bits, fam)
    return pe * lut, pe * dsp


def float_scale_cost(pe: int, int_bits: int, fam: str = "xc7") -> tuple[int, int]:
    """(LUT, DSP) of ``pe`` lanes multiplying an integer by a FLOAT32 value."""
    _, dsp = multiplier_cost(pe, int_bits, FLOAT_SIGNIFICAND, fam)
    return pe * FLOAT_SIGNIFICAND * math.ceil(math.log2(FLOAT_SIGNIFICAND)), dsp


def _bits(dt: DataType) -> int:
    return FLOAT_SIGNIFICAND if dt == DataType["FLOAT32"] else dt.bitwidth()


def elementwise_cost(op: str, pe: int, lhs: DataType, rhs: DataType, out: DataType,
                     fam: str = "xc7") -> tuple[int, int]:
    """(LUT, DSP) of the datapath of an elementwise ``op`` (Add, Sub, Mul) on family ``fam``."""
    if op in ("Add", "Sub"):
        return adder_luts(pe, _bits(out)), 0
    floats = [d for d in (lhs, rhs) if d == DataType["FLOAT32"]]
    if len(floats) == 1:
        other = rhs if lhs == DataType["FLOAT32"] else lhs
        return float_scale_cost(pe, other.bitwidth(), fam)
    return multiplier_cost(pe, _bits(lhs), _bits(rhs), fam)


def _costed_elementwise(base: type, op: str) -> type:
    class Costed(base):
        __doc__ = f"{base.__name__} with the {op} datapath in its estimates (see hyq.dataflow.ops.datapath_costs)."

        def _datapath(self, fpgapart) -> tuple[int, int]:
            return elementwise_cost(op, int(self.pe), self.lhs_dtype, self.rhs_dtype, self.out_dtype,
                                    multiplier.family(fpgapart))

        def lut_estimation(self, fpgapart):
            return int(super().lut_estimation(fpgapart)) + self._datapath(fpgapart)[0]

        def dsp_estimation(self, fpgapart):
            return int(super().dsp_estimation(fpgapart)) + self._datapath(fpgapart)[1]

    Costed.__name__ = Costed.__qualname__ = base.__name__
    return Costed


def _costed_global_acc_pool(base: type) -> type:
    class Costed(base):
        __doc__ = f"{base.__name__} with its accumulators in the LUT estimate."

        def lut_estimation(self, fpgapart):
            acc = self.get_output_datatype().bitwidth()
            return int(super().lut_estimation(fpgapart)) + adder_luts(int(self.get_nodeattr("PE")), acc)

    Costed.__name__ = Costed.__qualname__ = base.__name__
    return Costed


def _replace(name: str, make) -> None:
    """Put the costed class in finn-plus' table and in qonnx's lookup cache."""
    base = _hls.custom_op[name]
    if getattr(base, "_hyq_costed", False):
        return
    cls = type(name, (make(base),), {"_hyq_costed": True, "__module__": __name__})
    _hls.custom_op[name] = cls
    add_op_to_domain(_hls.__name__, cls)


def register() -> None:
    """Put the costed layers into finn-plus' op table (idempotent). Called by
    :mod:`hyq.dataflow.ops` when hyq's layers are registered, not on import of this module."""
    for op in ("Add", "Sub", "Mul"):
        _replace(f"Elementwise{op}_hls", lambda base, op=op: _costed_elementwise(base, op))
    _replace("GlobalAccPool_hls", _costed_global_acc_pool)
