"""hyq's qonnx Transformations for hybrid models: each leaves execution unchanged."""

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import qonnx_make_model

from hyq.dataflow.transforms import AbsorbScaleIntoIntSoftmax
from hyq.integer.softmax import softmax_params
from hyq.nn.softmax import node_attributes


def softmax_graph(scale: float, mul: float, shape=(1, 4, 8, 8)) -> ModelWrapper:
    """x (integers) -> Mul(mul) -> IntSoftmax(params for input scale ``scale``)."""
    attrs = {k.rsplit("_", 1)[0]: v for k, v in node_attributes(softmax_params(scale, "linmax"), -1).items()}
    nodes = [helper.make_node("Mul", ["x", "c"], ["xs"]),
             helper.make_node("IntSoftmax", ["xs"], ["y"], domain="hyq.export.ops", **attrs)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("c", np.asarray(mul, dtype=np.float32))
    model.set_tensor_datatype("x", DataType["INT8"])
    return model.transform(InferShapes())


@pytest.mark.parametrize("scale", [0.0625, 0.013, 0.2])
def test_absorb_scale_into_int_softmax_keeps_execution(scale):
    model = softmax_graph(scale, scale)
    x = np.random.default_rng(0).integers(-128, 128, (1, 4, 8, 8)).astype(np.float32)
    before = execute_onnx(model, {"x": x})["y"]
    after_model = model.transform(AbsorbScaleIntoIntSoftmax())
    assert [n.op_type for n in after_model.graph.node] == ["IntSoftmax"]
    node = after_model.graph.node[0]
    assert node.input[0] == "x"
    assert getCustomOp(node).get_nodeattr("input_scale") == 1.0
    assert np.array_equal(execute_onnx(after_model, {"x": x})["y"], before)


def test_absorb_leaves_other_scales_and_shared_scales_alone():
    assert len(softmax_graph(0.05, 0.025).transform(AbsorbScaleIntoIntSoftmax()).graph.node) == 2
    model = softmax_graph(0.0625, 0.0625)
    model.graph.node.append(helper.make_node("Identity", ["xs"], ["z"]))
    model.graph.output.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, (1, 4, 8, 8)))
    assert [n.op_type for n in model.transform(AbsorbScaleIntoIntSoftmax()).graph.node] == ["Mul", "IntSoftmax", "Identity"]
