"""InferTableActivation: hyq.nn's exported table activations (SiLU, GELU, Hardswish) between
quantizers become a TableActivation node that qonnx executes, equal to Brevitas; hand-built
Quant -> HardSwish/Gelu -> Quant graphs too."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import qonnx_make_model
from torch import nn

from hyq.export.qonnx import export
from hyq.export.tables import InferTableActivation
from hyq.integer.table import FUNCTIONS
from hyq.nn.blocks import ConvBNAct
from hyq.nn.quant import BitSpec, input_quant


@pytest.mark.parametrize("act", ["silu", "gelu", "hardswish"])
def test_exported_table_activation_is_a_table_node_equal_to_brevitas(tmp_path, act):
    torch.manual_seed(0)
    m = nn.Sequential(input_quant(), ConvBNAct("c", BitSpec(), 3, 4, act=act))
    x = torch.rand(8, 3, 6, 6)
    m.train()
    for _ in range(3):
        m(x)
    path = export(m, x, tmp_path / f"{act}.onnx", input_scale=1 / 255)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert "TableActivation" in ops and ops.count("Quant") == 3, ops
    mw = ModelWrapper(str(path))
    assert getCustomOp(mw.get_nodes_by_op_type("TableActivation")[0]).get_nodeattr("function") == act
    m.eval()
    xs = torch.round(torch.rand(4, 3, 6, 6) * 255) / 255
    with torch.no_grad():
        ref = m(xs).value.numpy()
    for i in range(len(xs)):
        got = execute_onnx(mw, {mw.graph.input[0].name: np.round(xs[i:i + 1].numpy() * 255)})[mw.graph.output[0].name]
        assert np.array_equal(got, ref[i:i + 1])


def _quant(name, x, y, scale, bits, signed):
    return helper.make_node("Quant", [x, f"{name}_s", f"{name}_z", f"{name}_b"], [y], domain="qonnx.custom_op.general",
                            name=name, signed=int(signed), narrow=0, rounding_mode="ROUND")


def _graph(op: str, opset: int) -> ModelWrapper:
    nodes = [_quant("qa", "x", "a", 0.05, 8, True), helper.make_node(op, ["a"], ["f"]),
             _quant("qb", "f", "y", 0.03, 6, True)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 64])])
    mw = ModelWrapper(qonnx_make_model(g, opset_imports=[helper.make_opsetid("", opset)]))
    for q, s, b in (("qa", 0.05, 8), ("qb", 0.03, 6)):
        mw.set_initializer(f"{q}_s", np.float32(s))
        mw.set_initializer(f"{q}_z", np.float32(0))
        mw.set_initializer(f"{q}_b", np.float32(b))
    return mw.transform(InferShapes())


FUNC = {"HardSwish": "hardswish", "Gelu": "gelu"}


@pytest.mark.parametrize("op, opset", [("HardSwish", 14), ("Gelu", 20)])
def test_single_node_functions_become_tables_with_unchanged_execution(op, opset):
    mw = _graph(op, opset)
    feeds = [{"x": np.arange(-128, 0, dtype=np.float32).reshape(2, 64) * 0.05},
             {"x": np.arange(0, 128, dtype=np.float32).reshape(2, 64) * 0.05},
             {"x": np.linspace(-30, 30, 128, dtype=np.float32).reshape(2, 64)}]
    before = [execute_onnx(mw, f, return_full_exec_context=True) for f in feeds]
    out = mw.transform(InferTableActivation())
    assert [n.op_type for n in out.graph.node] == ["Quant", "TableActivation"]
    ties = 0
    for f, b in zip(feeds, before):
        got = execute_onnx(out, f)["y"]
        diff = got != b["y"]
        # the float32 graph and the float64 table may only disagree where f(x) / s_out is
        # a half-integer (0.375 / 0.03 = 12.5): one step apart, each rounding half to even
        a = b["a"][diff].astype(np.float64)
        fx = FUNCTIONS[FUNC[op]](a) / 0.03
        assert np.allclose(np.abs(fx - np.floor(fx)), 0.5, atol=1e-6), (a, fx)
        assert np.allclose(np.abs(got[diff] - b["y"][diff]), 0.03)
        ties += int(diff.sum())
    assert ties <= 8


def test_wide_input_or_missing_output_quant_is_left_alone():
    mw = _graph("HardSwish", 14)
    mw.set_initializer("qa_b", np.float32(9))  # 9-bit input: 512 entries, not a table here
    assert not InferTableActivation().apply(mw)[1]
    mw = _graph("HardSwish", 14)
    mw.graph.node.remove(mw.graph.node[2])
    mw.graph.node[1].output[0] = "y"
    assert not InferTableActivation().apply(mw)[1]


def _user_export(tmp_path, act: str, opset: int) -> ModelWrapper:
    """A user's own Brevitas model, QuantIdentity -> torch activation -> QuantIdentity, exported
    by Brevitas itself (not by hyq) at ``opset`` and cleaned up as the build does."""
    from brevitas import nn as qnn
    from brevitas.export import export_qonnx
    from brevitas.quant import Int8ActPerTensorFloat
    from qonnx.util.cleanup import cleanup_model

    from hyq.export import fast_cleanup

    acts = {"gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"), "silu": nn.SiLU(),
            "hardswish": nn.Hardswish()}
    torch.manual_seed(0)
    m = nn.Sequential(qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat), acts[act],
                      qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=6))
    x = torch.randn(16, 2, 64) * 2
    m.train()
    for _ in range(3):
        m(x)
    path = tmp_path / f"{act}_{opset}.onnx"
    export_qonnx(m.eval(), args=x[:1], export_path=str(path), dynamo=False, opset_version=opset)
    with fast_cleanup.fast_passes():  # qonnx's own renaming drops the second x of Mul(x, x)
        return cleanup_model(ModelWrapper(str(path)))


@pytest.mark.parametrize("act, opset, exported", [
    ("gelu", 17, {"Erf", "Div"}), ("gelu_tanh", 17, {"Tanh", "Mul"}), ("gelu_tanh", 20, {"Gelu"}),
    ("silu", 13, {"Sigmoid", "Mul"}), ("hardswish", 13, {"HardSigmoid", "Mul"})])
def test_user_activation_exports_are_tabulated_equal_to_qonnx(tmp_path, act, opset, exported):
    """Torch's own export of a user's activation (GELU as Erf or tanh pattern, SiLU, Hardswish
    as HardSigmoid * x) becomes one TableActivation, equal to QONNX on every input code."""
    from hyq.export.tables import TabulatePointwise

    mw = _user_export(tmp_path, act, opset)
    assert exported <= {n.op_type for n in mw.graph.node}
    if act == "gelu_tanh":  # the named-function rewrite takes erf-GELU only; tanh-GELU is a subgraph's table
        assert not InferTableActivation().apply(ModelWrapper(mw.model))[1]
    out = mw.transform(TabulatePointwise())  # what `hyq build` runs on a user's export
    assert [n.op_type for n in out.graph.node] == ["Quant", "TableActivation"]
    assert getCustomOp(out.graph.node[1]).get_nodeattr("function") == "graph"
    scale = float(mw.get_initializer(mw.graph.node[0].input[1]))
    codes = np.arange(-128, 128, dtype=np.float32) * scale  # every input code, in two feeds
    for x in (codes[:128], codes[128:], np.linspace(-40, 40, 128, dtype=np.float32)):
        feed = {"global_in": x.reshape(1, 2, 64)}
        assert np.array_equal(execute_onnx(out, feed)["global_out"], execute_onnx(mw, feed)["global_out"])


def _pointwise_graph(nodes, extra_out=None) -> ModelWrapper:
    """x -> Quant(8 bits) -> ``nodes`` (reading 'a', writing 'f') -> Quant(6 bits) -> y."""
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 64])]
    if extra_out:
        outs.append(helper.make_tensor_value_info(extra_out, TensorProto.FLOAT, [2, 64]))
    g = helper.make_graph([_quant("qa", "x", "a", 0.05, 8, True), *nodes, _quant("qb", "f", "y", 0.03, 6, True)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64])], outs)
    mw = ModelWrapper(qonnx_make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    for q, s, b in (("qa", 0.05, 8), ("qb", 0.03, 6)):
        mw.set_initializer(f"{q}_s", np.float32(s))
        mw.set_initializer(f"{q}_z", np.float32(0))
        mw.set_initializer(f"{q}_b", np.float32(b))
    mw.set_initializer("c", np.float32(0.7))
    mw.set_initializer("per_channel", np.linspace(0.5, 2, 64, dtype=np.float32))
    return mw.transform(InferShapes())


def test_subgraphs_that_are_not_pointwise_tables_are_left_alone():
    """Not a table: an op that mixes elements (Softmax), a per-channel constant, a tensor that
    also leaves the subgraph elsewhere, or only ops FINN streamlines into thresholds (ReLU)."""
    from hyq.export.tables import TabulatePointwise

    cases = {
        "softmax": [helper.make_node("Softmax", ["a"], ["f"], axis=-1)],
        "per-channel": [helper.make_node("Mul", ["a", "per_channel"], ["m"]), helper.make_node("Tanh", ["m"], ["f"])],
        "second exit": [helper.make_node("Tanh", ["a"], ["t"]), helper.make_node("Mul", ["t", "c"], ["f"])],
        "relu": [helper.make_node("Relu", ["a"], ["r"]), helper.make_node("Mul", ["r", "c"], ["f"])],
    }
    for name, nodes in cases.items():
        mw = _pointwise_graph(nodes, extra_out="t" if name == "second exit" else None)
        assert not TabulatePointwise().apply(mw)[1], name
    mw = _pointwise_graph([helper.make_node("Tanh", ["a"], ["f"])])
    assert TabulatePointwise().apply(mw)[1]  # the same graph with a pointwise function is a table
    mw = _pointwise_graph([helper.make_node("Tanh", ["a"], ["f"])])
    mw.set_initializer("qa_b", np.float32(9))  # 9-bit input: 512 entries, not a table here
    assert not TabulatePointwise().apply(mw)[1]
