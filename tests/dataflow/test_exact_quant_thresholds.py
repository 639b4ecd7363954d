"""Quantizer thresholds recomputed exactly (hyq.dataflow.transforms.ExactQuantThresholds).

finn-plus' ConvertQONNXtoFINN stores a quantizer's thresholds ``scale * (k + 1/2)`` as
float32; divided by an accumulator scale of a few millionths (MobileViT-XXS's INT22
accumulators) that rounding moves some ceilinged thresholds by one, and the table is no
longer the affine function a multiply-shift reproduces: requant_from_thresholds refuses it.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import qonnx_make_model

from hyq.dataflow.finn_env import finn_steps
from hyq.dataflow.steps import _initializers_as, step_hyq_streamline
from hyq.dataflow.transforms import _exact_steps
from hyq.integer.requant import requant_from_thresholds

#: accumulator scale and quantizer scale (float32) whose float32 thresholds break the table at k = 233
S_ACC, S_OUT = np.float32(8.449323e-06), np.float32(0.03610897)
ACC = DataType["INT23"]


def acc_then_quant() -> ModelWrapper:
    """INT23 accumulator -> Mul(S_ACC) -> unsigned 8-bit Quant(S_OUT): what a layer's output is."""
    def init(name, v):
        return numpy_helper.from_array(np.asarray(v, dtype=np.float32), name)

    nodes = [helper.make_node("Mul", ["acc", "s_acc"], ["y"]),
             helper.make_node("Quant", ["y", "s", "z", "b"], ["q"], domain="qonnx.custom_op.general", signed=0,
                              narrow=0, rounding_mode="ROUND")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("acc", TensorProto.FLOAT, [1, 1])],
                              [helper.make_tensor_value_info("q", TensorProto.FLOAT, [1, 1])],
                              [init("s_acc", S_ACC), init("s", S_OUT), init("z", 0.0), init("b", 8.0)])
    model = ModelWrapper(qonnx_make_model(graph)).transform(InferShapes())
    model.set_tensor_datatype("acc", ACC)
    return model


def streamlined_table(exact: bool) -> np.ndarray:
    """The thresholds in accumulator units: step_hyq_streamline's, or its passes without the rewrite."""
    finn_steps()
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from finn.transformation.streamline.streamline_plus import StreamlinePlus

    model = acc_then_quant().transform(ConvertQONNXtoFINN())
    if exact:
        model = step_hyq_streamline(model, None)
    else:
        model = _initializers_as(model, np.float32, np.float64)
        model = model.transform(StreamlinePlus()).transform(RoundAndClipThresholds())
    (node,) = [n for n in model.graph.node if n.op_type == "MultiThreshold"]
    return model.get_initializer(node.input[1]).reshape(1, -1)


def test_exact_thresholds_requantize_where_float32_ones_are_refused():
    rng = (int(ACC.min()), int(ACC.max()))
    old, new = streamlined_table(False), streamlined_table(True)
    # the real boundary of code k + 1: the least integer a with a * S_ACC >= (k + 1/2) * S_OUT
    want = [int(-((-(Fraction(2 * k + 1, 2) * Fraction(float(S_OUT)))) // Fraction(float(S_ACC))))
            for k in range(255)]
    assert new[0].tolist() == want
    assert old[0].tolist() != want
    p_old, why_old = requant_from_thresholds(old, rng)
    p_new, why_new = requant_from_thresholds(new, rng)
    assert p_old is None and "no multiplier" in why_old
    assert p_new is not None and why_new == "proven equal on the input range"


@pytest.mark.parametrize("table", [np.array([[0.2, 0.9, 1.1]]),  # unevenly spaced: not a quantizer's
                                   np.array([[0.5, 2.5, 3.5]])])  # a step missing
def test_other_tables_are_left_alone(table):
    assert _exact_steps(table, np.float64(1.0)) is None


def test_quantizer_table_snaps_to_half_steps():
    s = np.float64(np.float32(0.1))
    f32 = (s * (np.arange(255) + 0.5)).astype(np.float32).astype(np.float64)[None]
    assert np.array_equal(_exact_steps(f32, s), s * (np.arange(255) + 0.5)[None])


def test_qonnx_float32_execution_at_the_boundaries():
    """Where the tables differ, QONNX's Quant (float32: acc * S_ACC / S_OUT, half to even)
    agrees with the exact table and not with the float32 one: accumulator 997,884 is code
    233 (real 233.49999 steps), the float32 thresholds give 234. QONNX's float32 is not
    exact either: with S_ACC 5.6063946e-06, S_OUT 0.048235793 the real 65.4999997 steps of
    accumulator 563,543 divide to exactly 65.5 in float32 and round to 66 (exact: 65)."""
    from qonnx.core.onnx_exec import execute_onnx

    old, new = streamlined_table(False)[0], streamlined_table(True)[0]
    (k,) = np.nonzero(old != new)[0]
    xs = np.arange(min(old[k], new[k]) - 2, max(old[k], new[k]) + 2)
    model = acc_then_quant()
    codes = [float(execute_onnx(model, {"acc": np.full((1, 1), x, np.float32)})["q"][0, 0] / S_OUT) for x in xs]
    assert np.array_equal(np.rint(codes), (xs[:, None] >= new[None]).sum(1))
    assert not np.array_equal(np.rint(codes), (xs[:, None] >= old[None]).sum(1))
    q = np.float32(np.float32(563543) * np.float32(5.6063946e-06)) / np.float32(0.048235793)
    assert q == np.float32(65.5) and np.round(q) == 66
    assert Fraction(563543) * Fraction(float(np.float32(5.6063946e-06))) < Fraction(131, 2) * Fraction(float(np.float32(0.048235793)))
