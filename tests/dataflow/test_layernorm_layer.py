"""Integer LayerNorm as a FINN HW layer: IntLayerNorm -> HyqLayerNorm_rtl with Python execution
unchanged, Verilator bit-exact under random backpressure, Yosys against the estimate, and an
exported Brevitas LayerNorm block built by hyq with the norm inside the dataflow."""

from __future__ import annotations

import json
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
from hyq.dataflow.ops.layernorm import AbsorbScaleIntoLayerNorm, InferIntLayerNorm
from hyq.integer.layernorm import layernorm_params, layernorm_with_params
from hyq.nn.layernorm import node_attributes
from hyq.sim import rtlsim, stitch
from hyq.tools import layernorm as ln_tools
from tests.dataflow import rtl_layers
from tests.integer.test_layernorm import edge_rows

hyq.dataflow.ops.register()  # hyq's HW layers into finn-plus' tables

PART = rtl_layers.PART


def norm_graph(c=16, bits=8, scale=0.05, tokens=6, pe=1, negate=None):
    """x (INT bits) -> Mul(scale) -> IntLayerNorm, and the same after conversion to HyqLayerNorm_rtl
    (with ``negate`` flags set on the HW layer: its Python execution then is the reference's)."""
    p = layernorm_params(c, scale, bits)
    attrs = {k.rsplit("_", 1)[0]: v for k, v in node_attributes(p).items()}
    shape = (1, tokens, c)
    nodes = [helper.make_node("Mul", ["x", "s"], ["xs"]),
             helper.make_node("IntLayerNorm", ["xs"], ["y"], domain="hyq.export.ops", name="ln", **attrs)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    model = ModelWrapper(qonnx_make_model(g))
    model.set_initializer("s", np.asarray(scale, dtype=np.float32))
    model.set_tensor_datatype("x", DataType[f"INT{bits}"])
    model = model.transform(InferShapes())
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    hw = model.transform(AbsorbScaleIntoLayerNorm()).transform(InferIntLayerNorm()).transform(SpecializeLayers(PART))
    getCustomOp(hw.graph.node[0]).set_nodeattr("PE", pe)
    if negate is not None:
        getCustomOp(hw.graph.node[0]).set_nodeattr("negate", [int(f) for f in negate])
    return p, model, hw


def token_feeds(c, bits, tokens=6):
    rows = edge_rows(c, bits)
    return [{"x": np.resize(r, (1, tokens, c)).astype(np.float32)} for r in rows.values()]


def test_int_layernorm_becomes_rtl_layer_with_unchanged_execution():
    p, model, hw = norm_graph()
    assert [n.op_type for n in hw.graph.node] == ["HyqLayerNorm_rtl", "Mul"]
    assert hw.get_tensor_datatype(hw.graph.node[0].output[0]) == DataType["INT8"]
    for feed in token_feeds(16, 8):
        got = execute_onnx(hw, feed)["y"]
        assert np.array_equal(got, execute_onnx(model, feed)["y"])
        ref = layernorm_with_params(feed["x"].astype(np.int64), p)
        assert np.array_equal(np.rint(got / p.out_scale).astype(np.int64), ref)


def test_negated_channels_execute_as_the_reference_with_their_flags():
    flags = np.arange(16) % 4 == 1
    p, model, hw = norm_graph(negate=flags)
    for feed in token_feeds(16, 8):
        got = np.rint(execute_onnx(hw, feed)["y"] / p.out_scale).astype(np.int64)
        assert np.array_equal(got, layernorm_with_params(feed["x"].astype(np.int64), p, negate=flags))


def test_layer_reports_cycles_and_nonzero_estimates():
    p, _, hw = norm_graph(c=64, pe=4)
    inst = getCustomOp(hw.graph.node[0])
    assert inst.get_exp_cycles() == 6 * ln_tools.cycles_per_token(p, 4)
    est = inst.node_res_estimation(PART)
    assert est["LUT"] > 0 and est["DSP"] > 0


def test_scale_other_than_the_recorded_one_is_left_alone():
    _, model, _ = norm_graph()
    model.set_initializer("s", np.asarray(0.07, dtype=np.float32))
    out = model.transform(AbsorbScaleIntoLayerNorm()).transform(InferIntLayerNorm())
    assert [n.op_type for n in out.graph.node] == ["Mul", "IntLayerNorm"]


CASES = [dict(c=16, pe=1), dict(c=16, pe=4, negate=[1, 0, 0] * 5 + [1]), dict(c=24, bits=4, scale=0.5, pe=2),
         dict(c=64, pe=8, negate=[0] * 63 + [1])]


@pytest.mark.slow
def test_rtl_bit_exact_under_random_backpressure(tmp_path):
    """FINN's generated wrapper around hw/rtl/hyq_layernorm.v in Verilator: equal to the
    reference on random and edge tokens (two cases with negated channels, one beyond a
    32-bit mask), initiation interval as estimated, and bit-exact with the source and the
    sink each stalling half of the time."""
    for k, case in enumerate(CASES):
        p, _, hw = norm_graph(**case)
        hw = rtl_layers.to_rtl(hw, tmp_path / f"gen{k}", "HyqLayerNorm_rtl")
        node = hw.graph.node[0]
        inst = getCustomOp(node)
        ctxs = [execute_onnx(rtlsim.generic_model(hw), f, return_full_exec_context=True)
                for f in token_feeds(case["c"], case.get("bits", 8))]
        (res,) = rtlsim.simulate_layers(hw, [node], ctxs, tmp_path / f"sim{k}")
        assert res.simulated and res.bit_exact and res.mismatches == 0, res
        assert abs(res.initiation_interval - inst.get_exp_cycles()) <= 0.02 * inst.get_exp_cycles() + 1
        rtl = [stitch.node_rtl(node)]
        x, y = node.input[0], node.output[0]
        bits = rtl[0].inputs[0].bits
        beats = [[b for c in ctxs for b in rtlsim.pack(c[x], inst, 0, bits)]]
        per = rtlsim.beats_per_sample(inst, 0, True)
        run = rtlsim.run(rtl, [x], [y], beats, [per * len(ctxs)], tmp_path / f"stall{k}", stall=0.5, seed=k)
        for s, c in enumerate(ctxs):
            got = rtlsim.unpack(run.beats[0][s * per:(s + 1) * per], inst, 0)
            assert np.array_equal(got, c[y].reshape(got.shape)), (case, s)


class NormBlock:
    """Brevitas tokens -> IntLayerNorm (gamma of both signs, every third channel negative;
    random beta) -> quantizer -> QuantLinear."""

    @staticmethod
    def make(c=16):
        import torch
        from brevitas import nn as qnn
        from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat

        from hyq.nn.layernorm import IntLayerNorm

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.q = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, return_quant_tensor=True)
                self.norm = IntLayerNorm(c)
                self.q2 = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, return_quant_tensor=True)
                self.fc = qnn.QuantLinear(c, 8, bias=False, weight_quant=Int8WeightPerTensorFloat,
                                          weight_scaling_per_output_channel=True)

            def forward(self, x):
                return self.fc(self.q2(self.norm(self.q(x))))

        torch.manual_seed(0)
        net = Net()
        with torch.no_grad():
            net.norm.weight.copy_((torch.rand(c) + 0.5) * torch.where(torch.arange(c) % 3 == 0, -1.0, 1.0))
            net.norm.bias.copy_(torch.randn(c))
        x = torch.randn(4, 6, c)
        net.train()
        for _ in range(3):
            net(x)
        return net.eval(), x


def test_exported_layernorm_block_builds_with_the_norm_in_the_dataflow(tmp_path):
    """Exported and built by hyq: the norm is a HyqLayerNorm_rtl layer inside the dataflow
    with its cycles and non-zero estimates in FINN's reports, gamma/beta went into the next
    thresholds (no float Mul/Add left; the negative gammas' signs into the layer's negate
    flags), and FINN's Python execution equals QONNX's."""
    from finn.core.onnx_exec import execute_onnx as finn_execute

    from hyq.dataflow.build import BuildSpec, build
    from hyq.export.qonnx import export

    net, x = NormBlock.make()
    onnx_path = export(net, x, tmp_path / "ln.onnx")
    res = build(onnx_path, BuildSpec(part=PART), tmp_path / "build")
    parent = ModelWrapper(str(res.parent))
    assert [n.op_type for n in parent.graph.node] == ["StreamingDataflowPartition"]  # nothing left outside
    final = ModelWrapper(str(res.model))  # the dataflow partition, specialised
    ops = [n.op_type for n in final.graph.node]
    # the quantizer after the norm: a threshold table, or its proven requantization (hardware.requant)
    assert ops[:2] == ["Thresholding_rtl", "HyqLayerNorm_rtl"] and ops[2] in ("Thresholding_rtl", "HyqRequant_rtl"), ops
    layer = final.graph.node[1]
    assert getCustomOp(layer).get_nodeattr("negate") == [int(g < 0) for g in net.norm.weight.tolist()]
    resources = json.loads((res.finn_report_dir / "estimate_layer_resources.json").read_text())
    cycles = json.loads((res.finn_report_dir / "estimate_layer_cycles.json").read_text())
    assert resources[layer.name]["LUT"] > 0 and resources[layer.name]["DSP"] > 0
    assert cycles[layer.name] == getCustomOp(layer).get_exp_cycles()
    hw = ModelWrapper(str(next(Path(res.out_dir, "intermediate_models").glob("*_step_convert_to_hw.onnx"))))
    qonnx_model = ModelWrapper(str(onnx_path))
    rng = np.random.default_rng(0)
    for scale in (1.0, 0.01):  # ordinary tokens, and nearly constant ones
        feed = (rng.standard_normal(x[:1].shape) * scale).astype(np.float32)
        want = execute_onnx(qonnx_model, {qonnx_model.graph.input[0].name: feed})[qonnx_model.graph.output[0].name]
        got = finn_execute(hw, {hw.graph.input[0].name: feed})[hw.graph.output[0].name]
        assert np.allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max())), np.abs(got - want).max()


@pytest.mark.slow
@pytest.mark.parametrize("point", [(16, 2, 8, 8, 0.05), (32, 1, 4, 6, 0.5), (48, 3, 8, 8, 0.05)])
def test_estimate_within_20_percent_of_yosys(point):
    """The fitted LUT model within 20 % of Yosys and the DSP count exact, on two points of the
    fit sweep and one it never saw (48 channels, PE 3: a constant multiplier by C)."""
    from hyq.costs import layernorm_cost

    p, pe = layernorm_cost.sweep_params(point)
    got = ln_tools.synthesize(p, pe)
    lut = layernorm_cost.lut_estimate(p, pe)
    assert abs(lut - got["LUT"]) <= 0.2 * got["LUT"], (point, lut, got["LUT"])
    assert layernorm_cost.dsp_estimate(p, pe) == got["DSP"] and got["BRAM"] == 0, (point, got)
