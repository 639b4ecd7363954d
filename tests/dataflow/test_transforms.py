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

from hyq.dataflow.transforms import AbsorbScaleIntoIntSoftmax, MoveTransposesPastConcat, RemoveIdentityMultiThreshold
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


def threshold_graph(thresholds: np.ndarray, in_dt: str = "UINT4", out_dt: str = "UINT4") -> ModelWrapper:
    """x -> MultiThreshold(thresholds) -> Relu (a consumer, so the threshold is not the output)."""
    nodes = [helper.make_node("MultiThreshold", ["x", "t"], ["y"], domain="qonnx.custom_op.general",
                              out_dtype=out_dt),
             helper.make_node("Relu", ["y"], ["z"])]
    shape = (1, 3, 4)
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, shape)])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("t", thresholds.astype(np.float32))
    model.set_tensor_datatype("x", DataType[in_dt])
    model.set_tensor_datatype("y", DataType[out_dt])
    # give x a producer, as inside a real graph
    model.graph.node.insert(0, helper.make_node("Identity", ["x_in"], ["x"]))
    model.graph.input[0].name = "x_in"
    model.set_tensor_datatype("x_in", DataType[in_dt])
    return model.transform(InferShapes())


@pytest.mark.parametrize("thresholds", [np.arange(1, 16)[None], np.arange(0.5, 15)[None],
                                        np.tile(np.arange(1, 16), (4, 1))])
def test_remove_identity_multithreshold_keeps_execution(thresholds):
    model = threshold_graph(thresholds)
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 4) % 16
    before = execute_onnx(model, {"x_in": x})["z"]
    after = model.transform(RemoveIdentityMultiThreshold())
    assert [n.op_type for n in after.graph.node] == ["Identity", "Relu"]
    assert np.array_equal(execute_onnx(after, {"x_in": x})["z"], before)


@pytest.mark.parametrize("thresholds, in_dt", [(np.arange(2, 17)[None], "UINT4"), (np.arange(1, 8)[None], "UINT4"),
                                               (np.arange(1, 16)[None], "INT4")])
def test_remove_identity_multithreshold_keeps_real_thresholds(thresholds, in_dt):
    model = threshold_graph(thresholds, in_dt)
    assert "MultiThreshold" in [n.op_type for n in model.transform(RemoveIdentityMultiThreshold()).graph.node]


def concat_graph(perms: list[list[int]], axis: int = 1, widths=(3, 5)) -> ModelWrapper:
    """NHWC inputs -> Transpose(perm_i) each -> Concat(axis) -> Relu (a consumer of the concat)."""
    names = [f"x{i}" for i in range(len(widths))]
    nodes = [helper.make_node("Transpose", [x], [f"{x}t"], perm=p) for x, p in zip(names, perms)]
    nodes += [helper.make_node("Concat", [f"{x}t" for x in names], ["c"], axis=axis),
              helper.make_node("Relu", ["c"], ["y"])]
    inputs = [helper.make_tensor_value_info(x, TensorProto.FLOAT, (1, 4, 2, w)) for x, w in zip(names, widths)]
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = ModelWrapper(qonnx_make_model(graph))
    for x in names:
        model.set_tensor_datatype(x, DataType["INT8"])
    return model.transform(InferShapes())


def concat_feed(model: ModelWrapper) -> dict:
    rng = np.random.default_rng(0)
    return {i.name: rng.integers(-128, 128, model.get_tensor_shape(i.name)).astype(np.float32)
            for i in model.graph.input}


@pytest.mark.parametrize("axis", [1, -3])
def test_transposes_move_past_concat_with_execution_unchanged(axis):
    model = concat_graph([[0, 3, 1, 2]] * 2, axis)
    feed = concat_feed(model)
    want = execute_onnx(model, feed)["y"]
    moved = model.transform(MoveTransposesPastConcat())
    assert [n.op_type for n in moved.graph.node] == ["Concat", "Transpose", "Relu"]
    concat = moved.graph.node[0]
    assert list(concat.input) == ["x0", "x1"] and concat.attribute[0].i == 3  # channels last
    assert moved.get_tensor_shape(concat.output[0]) == [1, 4, 2, 8]
    assert moved.get_tensor_datatype(concat.output[0]) == DataType["INT8"]
    assert np.array_equal(execute_onnx(moved, feed)["y"], want)


def test_transposes_past_concat_need_equal_permutations_and_no_other_consumer():
    unlike = concat_graph([[0, 3, 1, 2], [0, 3, 2, 1]], widths=(3, 3))
    assert [n.op_type for n in unlike.transform(MoveTransposesPastConcat()).graph.node][-2] == "Concat"
    shared = concat_graph([[0, 3, 1, 2]] * 2)
    shared.graph.node.append(helper.make_node("Identity", ["x0t"], ["z"]))
    shared.graph.output.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, None))
    assert [n.op_type for n in shared.transform(MoveTransposesPastConcat()).graph.node][:3] == \
        ["Transpose", "Transpose", "Concat"]
