"""Thresholds must be exact integers of the exported model's real arithmetic.

Found on MobileViT-XXS (tests/dataflow/test_hybrid.py): after streamlining, a MultiThreshold
whose exact threshold is -2635.99994 (acc units) holds -2636, because FINN's absorb passes
compute thresholds in float32 (ulp 2.4e-4 at 2636) before RoundAndClipThresholds takes the
ceiling. The accumulator -2636 then reached code 2 where QONNX (and the real value
1.49999984 output steps) gives 1. This is that one neuron, with XXS's own scales; it failed
before step_hyq_streamline widened the constants to float64.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx as qonnx_execute
from qonnx.transformation.infer_shapes import InferShapes

from hyq.dataflow.build import BuildSpec, build

# input, weight, bias and output scales of XXS's MultiThreshold_53 channel 104 (Quant_142/28/143)
S_IN, S_W, BIAS, S_OUT = 0.040279388427734375, 0.0009674240718595684, 0.12323474884033203, 0.013678053393959999
ACC = [-127] * 20 + [-96]  # input integers; with unit weights the accumulator is -2636


def one_neuron() -> ModelWrapper:
    """Quant -> MatMul (unit weights of scale S_W) -> Add bias -> Quant: out = round(1.49999984) = 1."""
    k = len(ACC)

    def init(name, v):
        return numpy_helper.from_array(np.asarray(v, dtype=np.float32), name)

    def quant(i, s, o, narrow=0):
        return helper.make_node("Quant", [i, s, "z", "b8"], [o], domain="qonnx.custom_op.general", signed=1,
                                narrow=narrow, rounding_mode="ROUND")

    nodes = [quant("x", "s_in", "xq"), quant("w", "s_w", "wq", narrow=1), helper.make_node("MatMul", ["xq", "wq"], ["acc"]),
             helper.make_node("Add", ["acc", "bias"], ["y"]), quant("y", "s_out", "out")]
    inits = [init("s_in", S_IN), init("z", 0.0), init("b8", 8.0), init("w", np.full((k, 1), S_W)),
             init("s_w", np.full((1, 1), S_W)), init("bias", [BIAS]), init("s_out", S_OUT)]
    graph = helper.make_graph(nodes, "one_neuron", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 1])], inits)
    return ModelWrapper(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("qonnx.custom_op.general", 1)])).transform(InferShapes())


def test_threshold_on_float32_boundary_stays_exact(tmp_path):
    from finn.core.onnx_exec import execute_onnx as finn_execute

    model = one_neuron()
    model.save(str(tmp_path / "one.onnx"))
    x = (np.asarray([ACC]) * S_IN).astype(np.float32)
    want = qonnx_execute(model, {"x": x})["out"]
    assert np.array_equal(np.rint(want / S_OUT), [[1.0]])  # the real value is 1.49999984 steps
    result = build(tmp_path / "one.onnx", BuildSpec(part="xczu3eg-sbva484-1-e", target_fps=100), tmp_path / "build")
    hw = ModelWrapper(str(next((result.out_dir / "intermediate_models").glob("*_step_convert_to_hw.onnx"))))
    got = finn_execute(hw, {hw.graph.input[0].name: x})[hw.graph.output[0].name]
    assert np.array_equal(np.rint(got / S_OUT), np.rint(want / S_OUT))
