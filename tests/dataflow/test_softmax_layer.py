"""hyq's softmax as a FINN hardware layer: inference, execution, cycles, code generation, estimates."""

from __future__ import annotations

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
from hyq.dataflow.ops.softmax import InferIntSoftmax
from hyq.dataflow.transforms import AbsorbScaleIntoIntSoftmax
from hyq.tools import softmax as hs
from hyq.costs import softmax_cost
from hyq.tools import verilator, yosys
from hyq.integer.softmax import softmax_params
from hyq.nn.softmax import node_attributes

hyq.dataflow.ops.register()  # hyq's HW layers into finn-plus' tables

PART = "xc7z020clg400-1"


def softmax_graph(method: str, scale: float, shape=(1, 2, 8, 16)) -> ModelWrapper:
    """x (INT8) -> Mul(scale) -> IntSoftmax(params of ``method`` for that scale)."""
    attrs = {k.rsplit("_", 1)[0]: v for k, v in node_attributes(softmax_params(scale, method), -1).items()}
    nodes = [helper.make_node("Mul", ["x", "c"], ["xs"]),
             helper.make_node("IntSoftmax", ["xs"], ["y"], domain="hyq.export.ops", **attrs)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("c", np.asarray(scale, dtype=np.float32))
    model.set_tensor_datatype("x", DataType["INT8"])
    return model.transform(InferShapes())


def to_hw(model: ModelWrapper) -> ModelWrapper:
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    model = model.transform(AbsorbScaleIntoIntSoftmax()).transform(InferIntSoftmax())
    return model.transform(SpecializeLayers(PART))


@pytest.fixture(scope="module")
def rows():
    return np.random.default_rng(0).integers(-128, 128, (1, 2, 8, 16)).astype(np.float32)


@pytest.mark.parametrize("method", ["linmax", "ibert", "shiftmax"])
@pytest.mark.parametrize("scale", [0.0625, 10.64], ids=["fine", "coarse"])
def test_int_softmax_becomes_rtl_layer_with_unchanged_execution(method, scale, rows):
    model = softmax_graph(method, scale)
    before = execute_onnx(model, {"x": rows})["y"]
    hw = to_hw(model)
    assert [n.op_type for n in hw.graph.node] == ["HyqSoftmax_rtl", "Mul"]
    assert hw.get_tensor_datatype(hw.graph.node[0].output[0]) == DataType["UINT8"]
    assert np.array_equal(execute_onnx(hw, {"x": rows})["y"], before)
    assert getCustomOp(hw.graph.node[0]).params().in_shift == softmax_params(scale, method).in_shift


def test_layer_reports_cycles_and_nonzero_estimates():
    hw = to_hw(softmax_graph("linmax", 0.0625))
    inst = getCustomOp(hw.graph.node[0])
    p = inst.params()
    assert inst.get_exp_cycles() == 16 * hs.cycles_per_row(16, 1, p)
    inst.set_nodeattr("SIMD", 4)
    assert inst.get_exp_cycles() == 16 * hs.cycles_per_row(16, 4, p)
    est = inst.node_res_estimation(PART)
    assert est["LUT"] > 0 and est["DSP"] == 4 and est["BRAM_18K"] == 0


def test_rtl_codegen_emits_the_hw_rtl_and_rtlsim_runs_it(tmp_path, rows):
    """Code generation writes a FINN-port wrapper around hw/rtl with the node's parameters;
    Verilator ("rtlsim") and Yosys both accept it."""
    hw = to_hw(softmax_graph("ibert", 0.0625))
    node = hw.graph.node[0]
    inst = getCustomOp(node)
    inst.set_nodeattr("SIMD", 2)
    inst.set_nodeattr("code_gen_dir_ipgen", str(tmp_path))
    inst.code_generation_ipgen(hw, PART, 10.0)
    top = inst.get_nodeattr("gen_top_module")
    files = [tmp_path / f for f in inst.get_rtl_file_list()]
    assert all(f.exists() for f in files) and (tmp_path / f"{top}.v").exists()
    assert "hyq_softmax_ibert" in (tmp_path / f"{top}.v").read_text()
    lint = verilator.lint(top, files, {})
    assert "%Warning" not in lint and "%Error" not in lint, lint

    text = (tmp_path / f"{top}.v").read_text()
    assert all(f".{k}({v})" in text for k, v in hs.verilog_params(inst.params(), 16, 2, True).items())
    synth = yosys.synth(top, files, {})
    direct = hs.synthesize(inst.params(), 16, 2, in_signed=True)
    # same RTL and parameters; ABC's mapping differs a little with the extra hierarchy level
    assert synth["DSP"] == direct["DSP"] and abs(synth["LUT"] - direct["LUT"]) <= 0.05 * direct["LUT"]

    ref = execute_onnx(hw, {"x": rows})["y"]
    inst.set_nodeattr("exec_mode", "rtlsim")
    assert np.array_equal(execute_onnx(hw, {"x": rows})["y"], ref)


@pytest.mark.parametrize("method", ["linmax", "ibert", "shiftmax"])
def test_lut_estimate_within_20_percent_of_yosys(method):
    """Off the fit sweep (N=16): estimate vs a fresh Yosys run of the same RTL."""
    p = softmax_params(0.01, method)
    measured = hs.synthesize(p, 16, 1)
    assert abs(softmax_cost.lut_estimate(p, 16, 1) - measured["LUT"]) <= 0.2 * measured["LUT"]
    assert softmax_cost.dsp_estimate(p, 1) == measured["DSP"]
    assert softmax_cost.bram_estimate(p, 16, 1) == measured["BRAM"]


CHECK_SWEEP = [
    ("linmax", "uint", 8, 8, 0.05, 128, 2),
    ("ibert", "uint", 6, 10, 2**-6, 48, 3),
    ("shiftmax", "uint", 8, 16, 2**-10, 32, 8),
    ("linmax", "log2", 4, 12, 2**-7, 96, 1),
    ("ibert", "log2", 4, 8, 0.1, 64, 4),
    ("shiftmax", "log2", 5, 8, 0.02, 197, 1),
    ("ibert", "uint", 8, 16, 2**-12, 256, 1),
]


@pytest.mark.slow
@pytest.mark.parametrize("point", CHECK_SWEEP, ids=["-".join(map(str, pt)) for pt in CHECK_SWEEP])
def test_lut_estimate_within_20_percent_across_sweep(point):
    m, fmt, k, ib, s, n, pe = point
    p = softmax_params(s, m, k, fmt, ib)
    measured = hs.synthesize(p, n, pe)
    est = softmax_cost.lut_estimate(p, n, pe)
    assert abs(est - measured["LUT"]) <= 0.2 * measured["LUT"], (est, measured["LUT"])
    assert softmax_cost.dsp_estimate(p, pe) == measured["DSP"]
    assert softmax_cost.bram_estimate(p, n, pe) == measured["BRAM"]


def test_fit_file_matches_its_own_measurements():
    """The shipped coefficients reproduce the Yosys measurements they were fitted to (within 20 %)."""
    import json

    data = json.loads(softmax_cost.COEF_FILE.read_text())
    assert len(data["measurements"]) == len(softmax_cost.FIT_SWEEP)
    for r in data["measurements"]:
        m, fmt, k, ib, s, n, pe = r["point"]
        assert softmax_cost.features(softmax_params(s, m, k, fmt, ib), n, pe) == r["features"]
        est = softmax_cost.lut_estimate(softmax_params(s, m, k, fmt, ib), n, pe)
        assert abs(est - r["LUT"]) <= 0.2 * r["LUT"], (r["point"], est, r["LUT"])


@pytest.mark.slow
def test_exported_attention_block_gets_the_softmax_layer(tmp_path):
    """A Brevitas attention block with LinMax, exported and built: its softmax is a
    HyqSoftmax_rtl layer inside the dataflow, with cycles and non-zero estimates in FINN's reports."""
    import json

    import torch

    from hyq.dataflow.build import BuildSpec, build
    from hyq.export.qonnx import export
    from hyq.nn.attention import QuantMultiheadSelfAttention

    torch.manual_seed(0)
    block = QuantMultiheadSelfAttention(16, 2, softmax="linmax")
    x = torch.randn(4, 8, 16)
    block.train()
    for _ in range(3):
        block(x)
    onnx_path = export(block, x, tmp_path / "attn.onnx")
    res = build(onnx_path, BuildSpec(part=PART), tmp_path / "build")

    final = ModelWrapper(str(res.model))
    layers = [n for n in final.graph.node if n.op_type == "HyqSoftmax_rtl"]
    if not layers:  # the dataflow partition holds the HW layers
        parent_nodes = [getCustomOp(n) for n in final.graph.node if n.op_type == "StreamingDataflowPartition"]
        for sdp in parent_nodes:
            child = ModelWrapper(sdp.get_nodeattr("model"))
            layers += [n for n in child.graph.node if n.op_type == "HyqSoftmax_rtl"]
    assert len(layers) == 1
    name = layers[0].name
    resources = json.loads((res.finn_report_dir / "estimate_layer_resources.json").read_text())
    cycles = json.loads((res.finn_report_dir / "estimate_layer_cycles.json").read_text())
    assert resources[name]["LUT"] > 0
    assert cycles[name] == getCustomOp(layers[0]).get_exp_cycles()
