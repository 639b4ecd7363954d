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

import hyq.dataflow.ops  # noqa: F401 - registers hyq's HW layers with finn-plus
from hyq.dataflow.ops.layernorm import AbsorbScaleIntoLayerNorm, InferIntLayerNorm
from hyq.integer.layernorm import layernorm_params, layernorm_with_params
from hyq.nn.layernorm import node_attributes
from hyq.sim import rtlsim, stitch
from hyq.tools import layernorm as ln_tools
from tests.dataflow import rtl_layers
from tests.integer.test_layernorm import edge_rows

PART = rtl_layers.PART


def norm_graph(c=16, bits=8, scale=0.05, tokens=6, pe=1):
    """x (INT bits) -> Mul(scale) -> IntLayerNorm, and the same after conversion to HyqLayerNorm_rtl."""
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


CASES = [dict(c=16, pe=1), dict(c=16, pe=4), dict(c=24, bits=4, scale=0.5, pe=2), dict(c=64, pe=8)]


@pytest.mark.slow
def test_rtl_bit_exact_under_random_backpressure(tmp_path):
    """FINN's generated wrapper around hw/rtl/hyq_layernorm.v in Verilator: equal to the
    reference on random and edge tokens, initiation interval as estimated, and bit-exact
    with the source and the sink each stalling half of the time."""
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
