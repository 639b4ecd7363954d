"""Table activations as a FINN HW layer: TableActivation -> HyqLookup_rtl, Python execution
unchanged, Verilator bit-exact (with random backpressure), Yosys against the estimate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import qonnx_make_model

import hyq.dataflow.ops
from hyq.dataflow.ops.lookup import AbsorbScaleIntoTable, InferTableLookup
from hyq.sim import rtlsim, stitch
from hyq.tools import yosys
from hyq.integer.table import TableSpec, build_table

from tests.dataflow import rtl_layers

hyq.dataflow.ops.register()  # hyq's HW layers into finn-plus' tables

PART = rtl_layers.PART


def table_graph(function="silu", in_bits=8, signed=True, out_bits=8, shape=(1, 4, 4, 8), s_in=0.05, s_out=0.03,
                ram_style="auto", pe=1) -> ModelWrapper:
    """x (INT/UINT in_bits) -> Mul(s_in) -> TableActivation -> HyqLookup_rtl after to_hw."""
    spec = TableSpec(function, in_bits, signed, s_in, out_bits, True, s_out)
    attrs = dict(function=function, table=[int(t) for t in build_table(spec)], in_bits=in_bits,
                 in_signed=int(signed), in_narrow=0, in_zero=0, in_scale=s_in, out_bits=out_bits, out_signed=1,
                 out_narrow=0, out_zero=0, out_scale=s_out)
    nodes = [helper.make_node("Mul", ["x", "c"], ["xs"]),
             helper.make_node("TableActivation", ["xs"], ["y"], domain="hyq.export.ops", name="t", **attrs)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    model = ModelWrapper(qonnx_make_model(g))
    model.set_initializer("c", np.asarray(s_in, dtype=np.float32))
    model.set_tensor_datatype("x", DataType[f"{'INT' if signed else 'UINT'}{in_bits}"])
    model = model.transform(InferShapes())
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    hw = model.transform(AbsorbScaleIntoTable()).transform(InferTableLookup()).transform(SpecializeLayers(PART))
    inst = getCustomOp(hw.graph.node[0])
    inst.set_nodeattr("PE", pe)
    inst.set_nodeattr("ram_style", ram_style)
    return model, hw


def every_code(model, shape=(1, 4, 4, 8)) -> dict:
    dt = model.get_tensor_datatype("x")
    n = int(np.prod(shape))
    return {"x": (np.arange(n) % (dt.max() - dt.min() + 1) + dt.min()).reshape(shape).astype(np.float32)}


@pytest.mark.parametrize("function", ["silu", "gelu", "hardswish"])
def test_table_becomes_rtl_layer_with_unchanged_execution(function):
    model, hw = table_graph(function)
    assert [n.op_type for n in hw.graph.node] == ["HyqLookup_rtl", "Mul"]
    assert hw.get_tensor_datatype(hw.graph.node[0].output[0]) == DataType["INT8"]
    feed = every_code(model)  # 128 elements: half the codes; the other half next
    feed2 = {"x": (feed["x"] + 128 - (feed["x"] >= 0) * 256).astype(np.float32)}
    for f in (feed, feed2):
        assert np.array_equal(execute_onnx(hw, f)["y"], execute_onnx(model, f)["y"])
    inst = getCustomOp(hw.graph.node[0])
    est = inst.node_res_estimation(PART)
    assert est["LUT"] > 0 and est["DSP"] == 0 and inst.get_exp_cycles() == 128


def test_ram_style_auto_picks_block_ram_for_large_tables():
    _, hw = table_graph(out_bits=20)
    assert getCustomOp(hw.graph.node[0]).use_bram() and getCustomOp(hw.graph.node[0]).bram_estimation() == 1
    _, hw = table_graph(out_bits=8)
    assert not getCustomOp(hw.graph.node[0]).use_bram()


CASES = [dict(function="silu", pe=1), dict(function="gelu", in_bits=4, out_bits=6, pe=2),
         dict(function="hardswish", signed=False, pe=4), dict(function="silu", ram_style="block", pe=2)]


def _rtl(tmp_path: Path, case: dict):
    model, hw = table_graph(**case)
    hw = rtl_layers.to_rtl(hw, tmp_path / "gen", "HyqLookup_rtl")
    return model, hw


@pytest.mark.slow
def test_rtl_bit_exact_under_random_backpressure(tmp_path):
    rng = np.random.default_rng(0)
    for k, case in enumerate(CASES):
        model, hw = _rtl(tmp_path / str(k), case)
        node = hw.graph.node[0]
        inst = getCustomOp(node)
        ctxs = []
        for _ in range(3):
            feed = rtl_layers.random_graph_inputs(hw, rng)
            ctxs.append(execute_onnx(rtlsim.generic_model(hw), feed, return_full_exec_context=True))
        (res,) = rtlsim.simulate_layers(hw, [node], ctxs, tmp_path / f"sim{k}")
        assert res.simulated and res.bit_exact and res.mismatches == 0, res
        assert abs(res.initiation_interval - inst.get_exp_cycles()) <= 0.02 * inst.get_exp_cycles() + 1
        # random stalls on both sides
        rtl = [stitch.node_rtl(node)]
        x, y = node.input[0], node.output[0]
        bits = rtl[0].inputs[0].bits
        beats = [[b for c in ctxs for b in rtlsim.pack(c[x], inst, 0, bits)]]
        per = rtlsim.beats_per_sample(inst, 0, True)
        run = rtlsim.run(rtl, [x], [y], beats, [per * len(ctxs)], tmp_path / f"stall{k}", stall=0.5, seed=k)
        for s, c in enumerate(ctxs):
            got = rtlsim.unpack(run.beats[0][s * per:(s + 1) * per], inst, 0)
            assert np.array_equal(got, c[y].reshape(got.shape)), (case, s)
        assert run.cycles > 2 * per * len(ctxs)


SYNTH = CASES + [dict(function="gelu", pe=1), dict(function="hardswish", in_bits=6, out_bits=4, pe=3),
                 dict(function="silu", in_bits=8, out_bits=12, pe=1)]


@pytest.mark.slow
def test_estimates_within_20_percent_of_yosys(tmp_path):
    report = []
    for k, case in enumerate(SYNTH):
        _, hw = _rtl(tmp_path / str(k), case)
        inst = getCustomOp(hw.graph.node[0])
        files = [Path(f) for f in inst.get_rtl_file_list(abspath=True)]
        got = yosys.synth(inst.get_nodeattr("gen_top_module"), files, {})
        est = inst.node_res_estimation(PART)
        report.append((case, est["LUT"], got["LUT"], est["BRAM_18K"], got["BRAM"]))
        assert abs(est["LUT"] - got["LUT"]) <= max(0.2 * got["LUT"], 2), report[-1]
        assert est["BRAM_18K"] == got["BRAM"] and got["DSP"] == 0, report[-1]
    print("\n".join(map(str, report)))


def test_exported_silu_behind_a_signed_quantizer_becomes_hyqlookup(tmp_path):
    """Brevitas' signed quantizer becomes MultiThreshold -> Add(-128) -> Mul(s) in FINN; the
    table step absorbs the Add into the thresholds so the table reads integers, and every
    exported SiLU becomes a HyqLookup with execution unchanged."""
    import torch
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN

    from hyq.dataflow.steps import step_hyq_convert_tables
    from hyq.export.qonnx import export
    from hyq.nn.blocks import QuantSiLU
    from hyq.nn.quant import BitSpec

    torch.manual_seed(0)
    net = QuantSiLU("a", BitSpec())
    x = torch.randn(8, 4, 16) * 3
    net.train()
    net(x)
    path = export(net.eval(), x, tmp_path / "silu.onnx")
    finn = ModelWrapper(str(path)).transform(ConvertQONNXtoFINN())
    hw = step_hyq_convert_tables(finn, None)
    ops = [n.op_type for n in hw.graph.node]
    assert "HyqLookup" in ops and "TableActivation" not in ops, ops
    feed = {finn.graph.input[0].name: (np.random.default_rng(1).standard_normal((1, 4, 16)) * 3).astype(np.float32)}
    out = finn.graph.output[0].name
    assert np.array_equal(execute_onnx(hw, feed)[out], execute_onnx(finn, feed)[out])


def test_transpose_moves_past_a_table_with_execution_unchanged():
    from hyq.dataflow.ops.lookup import MoveTransposePastLookup

    table = [int(t) for t in build_table(TableSpec("silu", 8, True, 0.05, 8, True, 0.03))]
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 3, 1], name="T"),
             helper.make_node("HyqLookup", ["xt"], ["y"], domain="finn.custom_op.fpgadataflow", backend="fpgadataflow",
                              name="L", table=table, input_data_type="INT8", output_data_type="INT8",
                              ifm_dim=[1, 4, 4, 8], PE=1)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 8, 4, 4))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 4, 4, 8))])
    model = ModelWrapper(qonnx_make_model(g))
    model.set_tensor_datatype("x", DataType["INT8"])
    model = model.transform(InferShapes())
    feed = {"x": np.random.default_rng(0).integers(-128, 128, (1, 8, 4, 4)).astype(np.float32)}
    want = execute_onnx(model, feed)["y"]
    moved = model.transform(MoveTransposePastLookup())
    assert [n.op_type for n in moved.graph.node] == ["HyqLookup", "Transpose"]
    assert list(getCustomOp(moved.graph.node[0]).get_nodeattr("ifm_dim")) == [1, 8, 4, 4]
    assert np.array_equal(execute_onnx(moved, feed)["y"], want)


@pytest.mark.parametrize("act, opset, part", [("gelu", 17, PART), ("gelu_tanh", 20, "xczu3eg-sbva484-1-e")])
def test_user_activation_export_builds_completely_with_finn_equal_to_qonnx(tmp_path, act, opset, part):
    """A user's Brevitas model with a plain ``nn.GELU`` (erf, exported as Div/Erf/Add/Mul at
    opset 17; tanh, a Gelu node at opset 20) between quantizers, exported by Brevitas itself:
    ``hyq build`` maps it completely, the activation a HyqLookup_rtl layer with a cost, and
    FINN's Python execution equals QONNX's."""
    import torch
    from brevitas import nn as qnn
    from brevitas.export import export_qonnx
    from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat
    from finn.core.onnx_exec import execute_onnx as finn_execute
    from qonnx.util.cleanup import cleanup_model

    from hyq.export import fast_cleanup
    from hyq.jobs.flow import build_onnx

    def quant():
        return qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, return_quant_tensor=True)

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        quant(), qnn.QuantLinear(16, 16, bias=True, weight_quant=Int8WeightPerTensorFloat),
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat), torch.nn.GELU(approximate="tanh" if "tanh" in act else "none"),
        quant(), qnn.QuantLinear(16, 8, bias=False, weight_quant=Int8WeightPerTensorFloat))
    x = torch.randn(16, 4, 16)
    net.train()
    for _ in range(3):
        net(x)
    path = tmp_path / "user.onnx"
    export_qonnx(net.eval(), args=x[:1], export_path=str(path), dynamo=False, opset_version=opset)
    rep = build_onnx(path, part, tmp_path / "out", target_fps=1000)
    assert rep["complete"] and rep["unmapped_nodes"] == []
    (table,) = [layer for layer in rep["layers"] if layer["op_type"] == "HyqLookup_rtl"]
    assert table["LUT"] > 0
    hw = ModelWrapper(str(next(Path(rep["build_dir"], "intermediate_models").glob("*_step_convert_to_hw.onnx"))))
    with fast_cleanup.fast_passes():  # shapes for qonnx's executor (qonnx's own renaming drops Mul(x, x)'s second x)
        qonnx_model = cleanup_model(ModelWrapper(str(path)))
    rng = np.random.default_rng(0)
    for scale in (0.3, 1.0, 4.0):
        feed = (rng.standard_normal((1, 4, 16)) * scale).astype(np.float32)
        want = execute_onnx(qonnx_model, {qonnx_model.graph.input[0].name: feed})[qonnx_model.graph.output[0].name]
        got = finn_execute(hw, {hw.graph.input[0].name: feed})[hw.graph.output[0].name]
        assert np.allclose(got, want, rtol=1e-5, atol=1e-6 * float(np.abs(want).max())), np.abs(got - want).max()
