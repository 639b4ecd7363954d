"""Threshold bit-width minimisation in array time.

finn-plus' ``Thresholding.minimize_weight_bit_width`` checks that every threshold fits the
chosen datatype with ``np.vectorize(DataType.allowed)``: one Python call per threshold,
14.8 M calls and most of ``step_minimize_bit_width`` on MobileViT-XXS. qonnx's
``DataType.allowed`` already takes arrays, elementwise, with the same comparisons, so
:func:`minimize_threshold_width` makes FINN's choice (the base class's, then the RTL or
HLS variant's adjustment) with one array check per table. :class:`MinimizeWeightBitWidth`
uses it for those layers and FINN's own method for every other layer; the steps
:func:`step_hyq_minimize_bit_width_initial` and :func:`step_hyq_minimize_bit_width` are
FINN's two bit-width steps with it in place of FINN's transformation. The graph they leave
is the one FINN's steps leave (a test compares the two on a real build).
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from hyq.dataflow.finn_env import finn_steps


def _finn():
    finn_steps()  # import finn only through finn_env
    from finn.custom_op.fpgadataflow.hls.thresholding_hls import Thresholding_hls
    from finn.custom_op.fpgadataflow.rtl.thresholding_rtl import Thresholding_rtl
    from finn.custom_op.fpgadataflow.thresholding import Thresholding

    return Thresholding, Thresholding_rtl, Thresholding_hls


def _smallest(lo: float, hi: float, signed: bool):
    """FINN's rule: the narrowest datatype holding [lo, hi] (signed if the input is)."""
    if lo < 0:
        return DataType.get_smallest_possible(lo) if abs(lo) > hi else DataType.get_smallest_possible(-hi - 1)
    return DataType.get_smallest_possible(-hi - 1) if signed else DataType.get_smallest_possible(hi)


def _set(inst, model: ModelWrapper, tensor: np.ndarray, tdt, what: str):
    if not np.all(tdt.allowed(tensor)):
        raise ValueError(f"{inst.onnx_node.name}: thresholds can't be expressed with type {tdt} ({what})")
    inst.set_nodeattr("weightDataType", tdt.name)
    model.set_tensor_datatype(inst.onnx_node.input[1], tdt)
    return tdt


def _base(inst, model: ModelWrapper):
    """``Thresholding.minimize_weight_bit_width`` with one array check (finn-plus 1.6.1)."""
    if inst.get_nodeattr("runtime_writeable_weights") or inst.get_nodeattr("mlo_max_iter"):
        return DataType[inst.get_nodeattr("weightDataType")]
    thresholds = model.get_initializer(inst.onnx_node.input[1])
    tensor = inst.get_hw_compatible_threshold_tensor(thresholds)
    idt = inst.get_input_datatype(0)
    if idt.is_integer() and inst.get_input_datatype(1).is_integer():
        lo, hi = np.float64(thresholds.min()), np.float64(thresholds.max())
        if lo == hi == 0:
            tdt = DataType["INT2"] if idt.signed() else DataType["UINT1"]
        else:
            tdt = _smallest(lo, hi, idt.signed())
    else:
        tdt = inst.get_input_datatype(1)  # float input: thresholds kept as they are
    return _set(inst, model, tensor, tdt, "minimised")


def _rtl(inst, model: ModelWrapper, tdt):
    """Thresholding_rtl's adjustment: a narrower table must also hold min - 1 (the RTL
    saturates its input to the threshold range)."""
    idt = inst.get_input_datatype(0)
    if not idt.is_integer() or not tdt.is_integer() or tdt.bitwidth() >= idt.bitwidth():
        return tdt
    thresholds = model.get_initializer(inst.onnx_node.input[1])
    new = _smallest(np.float64(thresholds.min()) - 1, np.float64(thresholds.max()), idt.signed())
    if new.bitwidth() <= tdt.bitwidth():
        return tdt
    return _set(inst, model, inst.get_hw_compatible_threshold_tensor(thresholds), new, "RTL saturation")


def _hls(inst, model: ModelWrapper, tdt):
    """Thresholding_hls's adjustment: the table is at least as wide as the input."""
    idt = inst.get_input_datatype(0)
    if not idt.is_integer() or not tdt.is_integer() or tdt.bitwidth() >= idt.bitwidth():
        return tdt
    thresholds = model.get_initializer(inst.onnx_node.input[1])
    return _set(inst, model, inst.get_hw_compatible_threshold_tensor(thresholds), idt, "HLS input width")


def minimize_threshold_width(inst, model: ModelWrapper):
    """Set a Thresholding layer's table datatype as its own ``minimize_weight_bit_width``
    would, or return None for a layer whose method is not one of FINN's three known ones."""
    Thresholding, Thresholding_rtl, Thresholding_hls = _finn()
    method = type(inst).minimize_weight_bit_width
    if method is Thresholding.minimize_weight_bit_width:
        return _base(inst, model)
    if method is Thresholding_rtl.minimize_weight_bit_width:
        return _rtl(inst, model, _base(inst, model))
    if method is Thresholding_hls.minimize_weight_bit_width:
        return _hls(inst, model, _base(inst, model))
    return None


def minimize_weight_width(inst, model: ModelWrapper) -> None:
    """A HW layer's ``minimize_weight_bit_width``, threshold tables in array time
    (:func:`minimize_threshold_width`), every other layer by its own method."""
    if isinstance(inst, _finn()[0]) and minimize_threshold_width(inst, model) is not None:
        return
    if hasattr(inst, "minimize_weight_bit_width"):
        inst.minimize_weight_bit_width(model)


class MinimizeWeightBitWidth(Transformation):
    """finn-plus' ``MinimizeWeightBitWidth`` (value-based), with threshold tables checked in
    array time (:func:`minimize_weight_width`)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        finn_steps()
        from finn.util.basic import getHWCustomOp
        from finn.util.fpgadataflow import is_fpgadataflow_node

        for node in model.graph.node:
            if is_fpgadataflow_node(node):
                minimize_weight_width(getHWCustomOp(node), model)
        return model, False


def _minimize_bit_width(model: ModelWrapper, cfg) -> ModelWrapper:
    """finn-plus' ``_minimize_bit_width`` (finn-plus 1.6.1) with hyq's weight pass."""
    finn_steps()
    from finn.transformation.fpgadataflow.minimize_accumulator_width import MinimizeAccumulatorWidth
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.transformation.infer_datatypes import InferDataTypes

    if cfg.minimize_bit_width:
        model = model.transform(MinimizeWeightBitWidth(), apply_to_subgraphs=True)
        model = model.transform(MinimizeAccumulatorWidth(), apply_to_subgraphs=True)
        model = model.transform(InferDataTypes(), apply_to_subgraphs=True)
    model = model.transform(RoundAndClipThresholds(), apply_to_subgraphs=True)
    model = model.transform(InferDataTypes(), apply_to_subgraphs=True)
    if cfg.minimize_bit_width:
        model = model.transform(MinimizeWeightBitWidth(), apply_to_subgraphs=True)
        model = model.transform(InferDataTypes(), apply_to_subgraphs=True)
    return model


def step_hyq_minimize_bit_width_initial(model: ModelWrapper, cfg) -> ModelWrapper:
    """FINN's ``step_minimize_bit_width_initial`` (right after the HW conversion), fast."""
    return _minimize_bit_width(model, cfg)


def step_hyq_minimize_bit_width(model: ModelWrapper, cfg) -> ModelWrapper:
    """FINN's ``step_minimize_bit_width`` (after specialisation and folding), fast. FINN's
    step would also prepare C++ simulation when asked to verify it; hyq's builds never do."""
    return _minimize_bit_width(model, cfg)
