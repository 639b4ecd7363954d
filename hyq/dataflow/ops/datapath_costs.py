"""Datapath estimates for finn-plus compute layers whose own estimate ignores the arithmetic.

finn-plus estimates only the parameter memory of its elementwise binary operators
(residual adds, dequantizing multiplies) and nothing for GlobalAccPool, so a hybrid
model's adds, scales and pooling cost 0 LUT in its reports. hyq's own ``_hls`` layers
(``ElementwiseAddHyq_hls``, ..., ``GlobalAccPoolHyq_hls``: FINN's layers under hyq op types in
FINN's HLS domain) add an analytical model of the datapath to finn-plus' own figure (which
they keep); :class:`UseCostedLayers` (in ``step_hyq_rtl_layers``) puts them in place of
FINN's layers that stay HLS, so finn-plus' own op table is never changed:

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
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from hyq.costs import multiplier
from hyq.dataflow.finn_env import finn_steps as _finn_steps

_finn_steps()
import finn.custom_op.fpgadataflow.hls as _hls  # noqa: E402
from finn.custom_op.fpgadataflow.elementwise_binary import ElementwiseAdd, ElementwiseMul, ElementwiseSub  # noqa: E402
from finn.custom_op.fpgadataflow.globalaccpool import GlobalAccPool  # noqa: E402

from hyq.dataflow.ops.registry import declare_hls  # noqa: E402

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


class _CostedElementwise:
    """Mixin: the ``op`` datapath added to finn-plus' estimate of an elementwise layer."""

    op = ""

    def _datapath(self, fpgapart) -> tuple[int, int]:
        return elementwise_cost(self.op, int(self.pe), self.lhs_dtype, self.rhs_dtype, self.out_dtype,
                                multiplier.family(fpgapart))

    def lut_estimation(self, fpgapart):
        return int(super().lut_estimation(fpgapart)) + self._datapath(fpgapart)[0]

    def dsp_estimation(self, fpgapart):
        return int(super().dsp_estimation(fpgapart)) + self._datapath(fpgapart)[1]


class ElementwiseAddHyq(ElementwiseAdd):
    """FINN's ElementwiseAdd, unchanged: the generic op of ``ElementwiseAddHyq_hls``."""


class ElementwiseSubHyq(ElementwiseSub):
    """FINN's ElementwiseSub, unchanged: the generic op of ``ElementwiseSubHyq_hls``."""


class ElementwiseMulHyq(ElementwiseMul):
    """FINN's ElementwiseMul, unchanged: the generic op of ``ElementwiseMulHyq_hls``."""


class GlobalAccPoolHyq(GlobalAccPool):
    """FINN's GlobalAccPool, unchanged: the generic op of ``GlobalAccPoolHyq_hls``."""


class ElementwiseAddHyq_hls(_CostedElementwise, _hls.custom_op["ElementwiseAdd_hls"], ElementwiseAddHyq):  # noqa: N801
    """FINN's ElementwiseAdd_hls with its adders in the LUT estimate."""

    op = "Add"


class ElementwiseSubHyq_hls(_CostedElementwise, _hls.custom_op["ElementwiseSub_hls"], ElementwiseSubHyq):  # noqa: N801
    """FINN's ElementwiseSub_hls with its subtractors in the LUT estimate."""

    op = "Sub"


class ElementwiseMulHyq_hls(_CostedElementwise, _hls.custom_op["ElementwiseMul_hls"], ElementwiseMulHyq):  # noqa: N801
    """FINN's ElementwiseMul_hls with its multipliers (or float scaling) in the LUT and DSP estimates."""

    op = "Mul"


class GlobalAccPoolHyq_hls(_hls.custom_op["GlobalAccPool_hls"], GlobalAccPoolHyq):  # noqa: N801
    """FINN's GlobalAccPool_hls with its accumulators in the LUT estimate."""

    def lut_estimation(self, fpgapart):
        acc = self.get_output_datatype().bitwidth()
        return int(super().lut_estimation(fpgapart)) + adder_luts(int(self.get_nodeattr("PE")), acc)


#: (generic op, costed ``_hls`` layer) of each hyq layer; FINN's op type is the generic's name
#: without "Hyq", plus "_hls"
_LAYERS = ((ElementwiseAddHyq, ElementwiseAddHyq_hls), (ElementwiseSubHyq, ElementwiseSubHyq_hls),
           (ElementwiseMulHyq, ElementwiseMulHyq_hls), (GlobalAccPoolHyq, GlobalAccPoolHyq_hls))
#: FINN ``_hls`` op type -> hyq's costed layer of the same hardware
COSTED = {f"{generic.__name__[:-len('Hyq')]}_hls": hls for generic, hls in _LAYERS}
for _generic, _hls_cls in _LAYERS:
    declare_hls(_generic, _hls_cls, f"{_generic.__name__[:-len('Hyq')]}_hls")


class UseCostedLayers(Transformation):
    """FINN ``_hls`` layers still in the graph (after :class:`hyq.dataflow.transforms.UseHyqRTL`)
    -> hyq's costed layers of the same hardware (:data:`COSTED`): same HLS domain and
    attributes, finn-plus' estimate plus the datapath. finn-plus' own op types stay as they are."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        changed = False
        for node in model.graph.node:
            cls = COSTED.get(node.op_type)
            if cls is not None and node.domain == _hls.__name__:
                node.op_type = cls.__name__
                changed = True
        return model, changed
