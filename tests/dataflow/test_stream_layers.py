"""hyq's RTL stand-ins for FINN's HLS-only DuplicateStreams, ElementwiseAdd/Sub (stream +
stream) and GlobalAccPool: swapped in by UseHyqRTL, simulated in Verilator bit-exact
against FINN's Python execution (with and without random backpressure), cycles and LUT
estimates checked against the simulation and Yosys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.general import GiveUniqueNodeNames
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import qonnx_make_model

import hyq.dataflow.ops
from hyq.dataflow import finn_env
from hyq.dataflow.ops.datapath_costs import UseCostedLayers
from hyq.dataflow.transforms import UseHyqRTL
from hyq.sim import rtlsim, stitch
from hyq.tools import yosys

from tests.dataflow import rtl_layers

hyq.dataflow.ops.register()  # hyq's HW layers into finn-plus' tables

PART = rtl_layers.PART
HLS = "finn.custom_op.fpgadataflow.hls"

# (channels, PE, input type, outputs, numInputVectors)
DUPS = [(16, 1, "INT8", 2, [1, 4, 4]), (12, 4, "UINT4", 3, [1, 3, 3]), (6, 6, "INT3", 2, [1, 2, 2])]
# (op, shape, PE, lhs, rhs): the default CNN's residual add first
ADDS = [("Add", [1, 8, 8, 16], 1, "INT8", "INT8"), ("Add", [1, 4, 4, 12], 4, "UINT4", "INT4"),
        ("Add", [1, 2, 3, 8], 8, "UINT5", "UINT5"), ("Sub", [1, 2, 2, 8], 2, "UINT8", "UINT8")]
# (channels, PE, input type, numInputVectors): the default CNN's pool first; NF=1; BRAM
POOLS = [(24, 1, "UINT8", [1, 4, 4]), (16, 4, "INT4", [1, 7, 7]), (8, 8, "UINT8", [1, 2, 2]),
         (256, 2, "INT8", [1, 2, 2])]


def _tensor(name: str, shape) -> TensorProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def _out_dtype(op: str, lhs: DataType, rhs: DataType) -> DataType:
    """FINN's ElementwiseAdd/Sub output type rule (``_derive_out_dtype``)."""
    from finn.custom_op.fpgadataflow.elementwise_binary import ElementwiseAdd, ElementwiseSub

    node = helper.make_node(f"Elementwise{op}", ["a", "b"], ["y"], lhs_dtype=lhs.name, rhs_dtype=rhs.name,
                            out_dtype="INT32")
    return (ElementwiseAdd if op == "Add" else ElementwiseSub)(node)._derive_out_dtype(None)


def hls_graph(dups=DUPS, adds=ADDS, pools=POOLS, extra=()) -> ModelWrapper:
    """Independent FINN ``_hls`` layers, one per config, each with its own graph inputs."""
    nodes, ins, outs, dts = [], [], [], {}
    for k, (ch, pe, dt, n, vecs) in enumerate(dups):
        x, ys = f"d{k}_x", [f"d{k}_y{j}" for j in range(n)]
        nodes.append(helper.make_node("DuplicateStreams_hls", [x], ys, domain=HLS, backend="fpgadataflow",
                                      NumChannels=ch, PE=pe, NumOutputStreams=n, inputDataType=dt,
                                      numInputVectors=vecs))
        ins.append(_tensor(x, vecs + [ch]))
        outs += [_tensor(y, vecs + [ch]) for y in ys]
        dts.update({x: dt, **{y: dt for y in ys}})
    for k, (op, shape, pe, lhs, rhs) in enumerate(adds):
        a, b, y = f"e{k}_a", f"e{k}_b", f"e{k}_y"
        odt = _out_dtype(op, DataType[lhs], DataType[rhs])
        nodes.append(helper.make_node(f"Elementwise{op}_hls", [a, b], [y], domain=HLS, backend="fpgadataflow",
                                      lhs_dtype=lhs, rhs_dtype=rhs, out_dtype=odt.name, lhs_shape=shape,
                                      rhs_shape=shape, out_shape=shape, lhs_style="input", rhs_style="input",
                                      PE=pe))
        ins += [_tensor(a, shape), _tensor(b, shape)]
        outs.append(_tensor(y, shape))
        dts.update({a: lhs, b: rhs, y: odt.name})
    for k, (ch, pe, dt, vecs) in enumerate(pools):
        x, y = f"p{k}_x", f"p{k}_y"
        nodes.append(helper.make_node("GlobalAccPool_hls", [x], [y], domain=HLS, backend="fpgadataflow",
                                      NumChannels=ch, PE=pe, inputDataType=dt, numInputVectors=vecs))
        ins.append(_tensor(x, vecs + [ch]))
        outs.append(_tensor(y, [vecs[0], 1, 1, ch]))
        dts[x] = dt
    for node in extra:  # further [1, 4] layers: inputs become graph inputs, outputs graph outputs
        ins += [_tensor(t, [1, 4]) for t in node.input]
        outs += [_tensor(t, [1, 4]) for t in node.output]
        dts.update({t: getCustomOp(node).get_input_datatype(k).name for k, t in enumerate(node.input)})
        nodes.append(node)
    model = ModelWrapper(qonnx_make_model(helper.make_graph(nodes, "layers", ins, outs)))
    for t, dt in dts.items():
        model.set_tensor_datatype(t, DataType[dt])
    model = model.transform(InferShapes())
    for n in model.graph.node:
        if n.op_type.startswith("GlobalAccPool"):
            model.set_tensor_datatype(n.output[0], getCustomOp(n).get_output_datatype())
    return model


def rtl_model(tmp_path: Path, **kw) -> ModelWrapper:
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP

    finn_env.use_build_dir(tmp_path / "finn_gen")
    model = hls_graph(**kw).transform(UseHyqRTL(PART)).transform(GiveUniqueNodeNames())
    return model.transform(PrepareIP(PART, 10.0))


def contexts(model: ModelWrapper, n: int, seed: int = 0) -> list[dict]:
    """FINN's Python execution (generic ops) on ``n`` random samples: every tensor."""
    rng = np.random.default_rng(seed)
    generic = rtlsim.generic_model(model)
    ctxs = []
    for _ in range(n):
        feed = rtl_layers.random_graph_inputs(model, rng)
        ctxs.append(execute_onnx(generic, feed, return_full_exec_context=True))
    return ctxs


def test_use_hyq_rtl_swaps_the_three_layers_and_keeps_finns_where_not_possible():
    # an add with a constant operand and one on floats have no stand-in: FINN's layer stays
    const_add = helper.make_node("ElementwiseAdd_hls", ["c_a", "c_w"], ["c_y"], domain=HLS, backend="fpgadataflow",
                                 lhs_dtype="INT8", rhs_dtype="INT8", out_dtype="INT9", lhs_shape=[1, 4],
                                 rhs_shape=[1, 4], out_shape=[1, 4], lhs_style="input", rhs_style="const", PE=1)
    float_add = helper.make_node("ElementwiseAdd_hls", ["f_a", "f_b"], ["f_y"], domain=HLS,
                                 backend="fpgadataflow", lhs_dtype="FLOAT32", rhs_dtype="FLOAT32",
                                 out_dtype="FLOAT32", lhs_shape=[1, 4], rhs_shape=[1, 4], out_shape=[1, 4],
                                 lhs_style="input", rhs_style="input", PE=1)
    model = hls_graph(dups=DUPS[:2], adds=ADDS[:1] + ADDS[-1:], pools=POOLS[:1], extra=[const_add, float_add])
    before = [n.op_type for n in model.graph.node]
    assert before[:5] == ["DuplicateStreams_hls"] * 2 + ["ElementwiseAdd_hls", "ElementwiseSub_hls",
                                                         "GlobalAccPool_hls"]
    out = model.transform(UseHyqRTL(PART))
    assert [n.op_type for n in out.graph.node] == [
        "HyqDuplicateStreams_rtl", "HyqDuplicateStreams_rtl", "HyqElementwiseAdd_rtl", "HyqElementwiseSub_rtl",
        "HyqGlobalAccPool_rtl", "ElementwiseAdd_hls", "ElementwiseAdd_hls"]
    # FINN's layers that stay HLS become hyq's costed ones: same domain, datapath in the estimate
    finn_luts = [getCustomOp(n).lut_estimation(PART) for n in out.graph.node[5:]]
    out = out.transform(UseCostedLayers())
    assert [n.op_type for n in out.graph.node[5:]] == ["ElementwiseAddHyq_hls"] * 2
    assert all(n.domain == HLS for n in out.graph.node[5:])
    costed = [getCustomOp(n).lut_estimation(PART) for n in out.graph.node[5:]]
    assert costed == [finn_luts[0] + 9, finn_luts[1] + 24]  # INT9 adder; FLOAT32 as 24 significand bits
    swapped = out.graph.node[:5]
    assert all(n.domain == "finn.custom_op.fpgadataflow.rtl" for n in swapped)
    # folding and types carried over; the elementwise layer has no parameter memory mode
    assert getCustomOp(swapped[1]).get_nodeattr("PE") == 4
    assert getCustomOp(swapped[1]).get_nodeattr("NumOutputStreams") == 3
    add = getCustomOp(swapped[2])
    assert add.out_dtype == DataType["INT9"] and "mem_mode" not in add.get_nodeattr_types()
    assert getCustomOp(swapped[4]).get_output_datatype() == DataType["UINT12"]
    for n in swapped:
        inst = getCustomOp(n)
        est = inst.node_res_estimation(PART)
        assert est["LUT"] > 0 and est["BRAM_18K"] == 0 and est["DSP"] == 0, (n.op_type, est)
        assert inst.get_exp_cycles() > 0
    # exact cycles: one beat per cycle; the pool's outputs overlap its last pixel
    assert getCustomOp(swapped[2]).get_exp_cycles() == 8 * 8 * 16
    assert getCustomOp(swapped[4]).get_exp_cycles() == 4 * 4 * 24
    # nothing else to swap
    assert not UseHyqRTL(PART).apply(out)[1]


def test_large_pool_accumulator_is_block_ram():
    model = hls_graph(dups=[], adds=[], pools=POOLS[-1:]).transform(UseHyqRTL(PART))
    inst = getCustomOp(model.graph.node[0])
    assert inst.verilog_params()["USE_BRAM"] == 1 and inst.bram_estimation(PART) == 1
    assert 0 < inst.bram_efficiency_estimation(PART) <= 1


def _check_layers(results, model):
    by_name = {n.name: n for n in model.graph.node}
    for r in results:
        assert r.simulated and r.bit_exact and r.mismatches == 0, r
        inst = getCustomOp(by_name[r.name])
        # the simulated steady state matches the cycle estimate (one beat per cycle)
        assert r.estimate_cycles == inst.get_exp_cycles()
        assert abs(r.initiation_interval - r.estimate_cycles) <= 0.02 * r.estimate_cycles + 1, r
        assert r.latency_cycles >= r.initiation_interval


@pytest.mark.slow
def test_layers_bit_exact_against_finn_python_execution(tmp_path):
    model = rtl_model(tmp_path)
    assert {n.op_type for n in model.graph.node} == {"HyqDuplicateStreams_rtl", "HyqElementwiseAdd_rtl",
                                                     "HyqElementwiseSub_rtl", "HyqGlobalAccPool_rtl"}
    ctxs = contexts(model, 3)
    results = rtlsim.simulate_layers(model, list(model.graph.node), ctxs, tmp_path / "sim")
    assert len(results) == len(DUPS) + len(ADDS) + len(POOLS)
    _check_layers(results, model)

    # a wrong expectation is caught: the same simulator, one reference element changed
    bad = [dict(c) for c in ctxs]
    y = model.graph.node[len(DUPS)].output[0]
    bad[1][y] = bad[1][y].copy()
    bad[1][y].flat[5] += 1
    (r,) = rtlsim.simulate_layers(model, [model.graph.node[len(DUPS)]], bad, tmp_path / "bad")
    assert r.simulated and not r.bit_exact and r.mismatches == 1


@pytest.mark.slow
def test_layers_bit_exact_under_random_backpressure(tmp_path):
    """Every input withholds TVALID and every output TREADY at random, independently: the
    duplicate's consumers stall independently, the add's operands arrive apart."""
    model = rtl_model(tmp_path, pools=POOLS[:2])
    ctxs = contexts(model, 2, seed=1)
    nodes = list(model.graph.node)
    rtl = [stitch.node_rtl(n) for n in nodes]
    gin = [s.tensor for r in rtl for s in r.inputs]
    gout = [s.tensor for r in rtl for s in r.outputs]
    insts = {t: (getCustomOp(n), k) for n in nodes for k, t in enumerate(n.input)}
    outs = {t: (getCustomOp(n), k) for n in nodes for k, t in enumerate(n.output)}
    bits = {s.tensor: s.bits for r in rtl for s in r.inputs}
    beats = [[b for c in ctxs for b in rtlsim.pack(c[t], *insts[t], bits[t])] for t in gin]
    per = [rtlsim.beats_per_sample(*outs[t], True) for t in gout]
    run = rtlsim.run(rtl, gin, gout, beats, [p * len(ctxs) for p in per], tmp_path / "stall", stall=0.5, seed=3)
    for k, t in enumerate(gout):
        inst, j = outs[t]
        assert len(run.beats[k]) == per[k] * len(ctxs), t
        for s, c in enumerate(ctxs):
            got = rtlsim.unpack(run.beats[k][s * per[k]:(s + 1) * per[k]], inst, j)
            assert np.array_equal(got, c[t].reshape(got.shape)), (t, s)
    # backpressure costs cycles: the run took far longer than at full rate
    assert run.cycles > 2 * max(p * len(ctxs) for p in per)


# two configurations per layer: (index into DUPS/ADDS/POOLS)
SYNTH = [("dup", 0), ("dup", 1), ("add", 0), ("add", 1), ("pool", 0), ("pool", 1), ("pool", 3)]


@pytest.mark.slow
def test_lut_estimates_against_yosys(tmp_path):
    """The generated layer (wrapper + core) synthesised by Yosys for xc7: LUT estimate within
    30 % or 16 LUTs, BRAM estimate equal."""
    picks = {"dup": [], "add": [], "pool": []}
    for kind, k in SYNTH:
        picks[kind].append({"dup": DUPS, "add": ADDS, "pool": POOLS}[kind][k])
    model = rtl_model(tmp_path, dups=picks["dup"], adds=picks["add"], pools=picks["pool"])
    report = []
    for n in model.graph.node:
        inst = getCustomOp(n)
        files = [Path(f) for f in inst.get_rtl_file_list(abspath=True)]
        got = yosys.synth(inst.get_nodeattr("gen_top_module"), files, {})
        est = inst.node_res_estimation(PART)
        report.append((n.name, est["LUT"], got["LUT"], got["FF"], est["BRAM_18K"], got["BRAM"]))
        assert abs(est["LUT"] - got["LUT"]) <= max(0.3 * got["LUT"], 16), report[-1]
        assert est["BRAM_18K"] == got["BRAM"] and got["DSP"] == 0, report[-1]
    print("\n".join(map(str, report)))
