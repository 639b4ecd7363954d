"""hyq's RTL stand-ins for FINN's HLS-only OuterShuffle and StreamingConcat layers:
replacement, read-order model, bit-exact Verilator simulation through hyq's generic layer
path (back to back samples, random backpressure), cycles and Yosys-checked estimates."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

import hyq.dataflow.ops
from hyq.dataflow import finn_env
from hyq.dataflow.ops.shuffle import _packed, read_loops, read_order
from hyq.dataflow.transforms import UseHyqRTL
from hyq.sim import rtlsim, stitch
from hyq.tools import yosys

from tests.dataflow import rtl_layers

hyq.dataflow.ops.register()  # hyq's HW layers into finn-plus' tables

PART = rtl_layers.PART
SAMPLES = 3

# (name, transpose_in_shape, perm, in_shape, out_shape, data type, SIMD)
SHUFFLES = [
    # hybrid-tiny's (step_hw_codegen of the hybrid-tiny build): OuterShuffle_hls_0, _4, _13, _7
    ("sh_hyb0", [1, 8, 32, 8], [0, 2, 1, 3], [1, 8, 32, 8], [1, 32, 4, 2, 4, 2], "INT8", 1),
    ("sh_hyb4", [1, 4, 16, 2, 16], [0, 1, 3, 2, 4], [1, 64, 32], [1, 8, 16, 16], "INT8", 1),
    ("sh_hyb13", [1, 2, 2, 4, 32, 4], [0, 4, 2, 3, 1, 5], [1, 2, 2, 4, 32, 4], [1, 32, 2, 4, 2, 4], "INT8", 1),
    ("sh_hyb7", [1, 4, 2, 16, 16], [0, 1, 3, 2, 4], [1, 8, 16, 16], [1, 64, 32], "INT20", 1),
    # SIMD > 1, unsigned, small (distributed RAM)
    ("sh_simd4", [1, 8, 32, 8], [0, 2, 1, 3], [1, 8, 32, 8], [1, 32, 8, 8], "UINT4", 4),
    ("sh_small", [1, 3, 5, 6], [0, 2, 1, 3], [1, 3, 5, 6], [1, 5, 3, 6], "INT3", 2),
    ("sh_simd16", [1, 4, 16, 2, 16], [0, 1, 3, 2, 4], [1, 64, 32], [1, 4, 2, 16, 16], "UINT8", 16),
]

# (name, ChannelsPerStream, inputDataTypes, numInputVectors, SIMD)
CONCATS = [
    ("cat_hyb", [32, 32], ["INT8", "INT8"], [1, 8, 8], 1),  # hybrid-tiny's StreamingConcat_hls_0
    ("cat_mixed", [6, 10], ["UINT4", "INT6"], [1, 3, 3], 2),  # -> INT7: zero- and sign-extension
    ("cat_three", [4, 8, 4], ["UINT3", "UINT5", "UINT2"], [1, 2, 2], 4),  # -> UINT5, folds 1, 2, 1
    ("cat_signed", [2, 3], ["INT4", "INT2"], [5], 1),
]


def shuffle_node(name, tin, perm, in_shape, out_shape, dt, simd):
    from finn.transformation.fpgadataflow.transpose_decomposition import shuffle_perfect_loopnest_coeffs

    return helper.make_node(
        "OuterShuffle_hls", [f"{name}_x"], [f"{name}_y"], domain="finn.custom_op.fpgadataflow.hls",
        backend="fpgadataflow", name=name, data_type=dt, transpose_in_shape=tin, in_shape=in_shape,
        transpose_out_shape=[tin[p] for p in perm], out_shape=out_shape, perm=perm, SIMD=simd,
        NumChannels=tin[-1], loop_coeffs=shuffle_perfect_loopnest_coeffs(shape=tin, perm=perm),
        cpp_interface="hls_vector", hls_style="freerunning")


def concat_node(name, chans, dts, vecs, simd):
    return helper.make_node(
        "StreamingConcat_hls", [f"{name}_x{i}" for i in range(len(chans))], [f"{name}_y"],
        domain="finn.custom_op.fpgadataflow.hls", backend="fpgadataflow", name=name, SIMD=simd,
        ChannelsPerStream=chans, inputDataTypes=dts, numInputVectors=vecs, cpp_interface="hls_vector",
        hls_style="freerunning")


def hls_graph(shuffles=(), concats=()) -> ModelWrapper:
    """Independent FINN OuterShuffle_hls / StreamingConcat_hls nodes side by side, each on
    its own graph inputs (as finn-plus' step_transpose_decomposition / convert_to_hw make them)."""
    nodes, ins, outs, dtypes = [], [], [], {}
    for name, tin, perm, in_shape, out_shape, dt, simd in shuffles:
        nodes.append(shuffle_node(name, tin, perm, in_shape, out_shape, dt, simd))
        ins.append(helper.make_tensor_value_info(f"{name}_x", TensorProto.FLOAT, in_shape))
        outs.append(helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, out_shape))
        dtypes[f"{name}_x"] = dtypes[f"{name}_y"] = dt
    for name, chans, dts, vecs, simd in concats:
        nodes.append(concat_node(name, chans, dts, vecs, simd))
        for i, (c, dt) in enumerate(zip(chans, dts)):
            ins.append(helper.make_tensor_value_info(f"{name}_x{i}", TensorProto.FLOAT, [*vecs, c]))
            dtypes[f"{name}_x{i}"] = dt
        outs.append(helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, [*vecs, sum(chans)]))
    model = ModelWrapper(qonnx_make_model(helper.make_graph(nodes, "g", ins, outs)))
    for t, dt in dtypes.items():
        model.set_tensor_datatype(t, DataType[dt])
    for n in model.graph.node:
        if n.op_type.startswith("StreamingConcat"):
            model.set_tensor_datatype(n.output[0], getCustomOp(n).get_output_datatype())
    return model


def random_inputs(model: ModelWrapper, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [rtl_layers.random_graph_inputs(model, rng) for _ in range(SAMPLES)]


def reference(model: ModelWrapper, samples) -> list[dict[str, np.ndarray]]:
    """FINN's Python execution (the generic ops) of every sample."""
    generic = rtlsim.generic_model(model)
    return [execute_onnx(generic, x, return_full_exec_context=True) for x in samples]


def prepared(model: ModelWrapper, tmp_path) -> ModelWrapper:
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP

    model = model.transform(UseHyqRTL(PART))
    finn_env.use_build_dir(tmp_path / "finn_gen")
    return model.transform(PrepareIP(PART, 10.0))


# ---- fast: structure ---------------------------------------------------------------------


@pytest.mark.parametrize("cfg", SHUFFLES, ids=[c[0] for c in SHUFFLES])
def test_read_order_is_the_transpose(cfg):
    _, tin, perm, _, _, _, simd = cfg
    sizes, incs = read_loops(tin, perm, simd)
    folded = list(tin)
    folded[-1] //= simd
    beats = np.arange(int(np.prod(folded))).reshape(folded)
    assert np.array_equal(read_order(sizes, incs), np.transpose(beats, perm).ravel())
    # a wrong increment gives another order
    bad = list(incs)
    bad[-1] += 1
    assert len(sizes) == 1 or not np.array_equal(read_order(sizes, bad), np.transpose(beats, perm).ravel())


def test_hls_only_layers_become_hyq_rtl_with_unchanged_execution():
    model = hls_graph(SHUFFLES[:2], CONCATS[:2])
    samples = random_inputs(model, 1)
    before = reference(model, samples)
    rtl = model.transform(UseHyqRTL(PART))
    assert [n.op_type for n in rtl.graph.node] == ["HyqOuterShuffle_rtl"] * 2 + ["HyqStreamingConcat_rtl"] * 2
    for n in rtl.graph.node:
        assert n.domain == "finn.custom_op.fpgadataflow.rtl"
        assert not any(a.name in ("cpp_interface", "hls_style") for a in n.attribute)
        inst = getCustomOp(n)
        assert inst.lut_estimation() > 0 and inst.get_exp_cycles() > 0
    after = reference(rtl, samples)
    for b, a in zip(before, after):
        for o in model.graph.output:
            assert np.array_equal(a[o.name], b[o.name])
    # cycles: one beat per cycle; FINN's own concat estimate is the output beat count
    sh = getCustomOp(rtl.graph.node[0])
    assert sh.get_exp_cycles() == 8 * 32 * 8
    cat = getCustomOp(rtl.graph.node[2])
    assert cat.get_exp_cycles() == 8 * 8 * 64


def test_layers_the_rtl_cannot_do_stay_hls():
    # an OuterShuffle whose SIMD groups would not stay whole in its output reshape; bipolar concat
    model = hls_graph([("sh_bad", [1, 4, 2, 6], [0, 2, 1, 3], [1, 4, 12], [1, 8, 3, 2], "INT8", 3)],
                      [("cat_bip", [4, 4], ["BIPOLAR", "BIPOLAR"], [2], 1)])
    model = model.transform(UseHyqRTL(PART))
    assert [n.op_type for n in model.graph.node] == ["OuterShuffle_hls", "StreamingConcat_hls"]


# ---- Verilator: bit-exact, cycles ------------------------------------------------------------


@pytest.mark.slow
def test_layers_bit_exact_back_to_back_through_the_generic_path(tmp_path):
    """All configurations in one simulator (one Verilator compile), SAMPLES tensors back to back."""
    model = prepared(hls_graph(SHUFFLES, CONCATS), tmp_path)
    samples = random_inputs(model, 2)
    ctxs = reference(model, samples)
    results = rtlsim.simulate_layers(model, list(model.graph.node), ctxs, tmp_path / "sim")
    for node, res in zip(model.graph.node, results):
        inst = getCustomOp(node)
        assert res.simulated and res.bit_exact and res.mismatches == 0, res
        beats = rtlsim.beats_per_sample(inst, 0, True)
        assert res.estimate_cycles == inst.get_exp_cycles() == beats
        # one beat per cycle once running: II equals the estimate up to the bank hand-over
        assert beats <= res.initiation_interval <= beats + 2, res
        if node.op_type == "HyqOuterShuffle_rtl":
            assert res.latency_cycles >= 2 * beats, res  # a whole tensor is buffered first
        else:
            assert res.latency_cycles <= beats + 4, res

    # a corrupted layer is caught: an off-by-one address increment in one generated wrapper
    node = model.graph.node[0]
    inst = getCustomOp(node)
    top = tmp_path / "finn_gen"
    wrapper = next(p for p in top.rglob(f"{inst.get_nodeattr('gen_top_module')}.v"))
    text = wrapper.read_text()
    inc = inst.verilog_params()["ADDR_INC"]
    incs = inst.loops()[1]
    wrapper.write_text(text.replace(inc, _packed([incs[0] + 1, *incs[1:]])))
    (bad,) = rtlsim.simulate_layers(model, [node], ctxs, tmp_path / "bad")
    assert bad.simulated and not bad.bit_exact and bad.mismatches > 0


@pytest.mark.slow
def test_layers_hold_data_under_random_backpressure(tmp_path):
    """Sources withhold TVALID and sinks TREADY at random (p = 0.5): outputs stay bit-exact."""
    cfgs_s, cfgs_c = [SHUFFLES[4], SHUFFLES[5]], [CONCATS[1], CONCATS[2]]
    model = prepared(hls_graph(cfgs_s, cfgs_c), tmp_path)
    samples = random_inputs(model, 3)
    ctxs = reference(model, samples)
    nodes = [stitch.node_rtl(n) for n in model.graph.node]
    gin = [s.tensor for n in nodes for s in n.inputs]
    gout = [s.tensor for n in nodes for s in n.outputs]
    in_beats, counts = [], []
    for node, rtl in zip(model.graph.node, nodes):
        inst = getCustomOp(node)
        for k, s in enumerate(rtl.inputs):
            in_beats.append([b for c in ctxs for b in rtlsim.pack(c[s.tensor], inst, k, s.bits)])
        counts.append(rtlsim.beats_per_sample(inst, 0, True) * SAMPLES)
    r = rtlsim.run(nodes, gin, gout, in_beats, counts, tmp_path / "stall", stall=0.5, seed=7)
    full = rtlsim.run(nodes, gin, gout, in_beats, counts, tmp_path / "full")
    for k, node in enumerate(model.graph.node):
        inst = getCustomOp(node)
        per = rtlsim.beats_per_sample(inst, 0, True)
        assert len(r.beats[k]) == per * SAMPLES
        for n, c in enumerate(ctxs):
            got = rtlsim.unpack(r.beats[k][n * per:(n + 1) * per], inst, 0)
            assert np.array_equal(got, c[node.output[0]]), (node.name, n)
        assert r.beats[k] == full.beats[k]
    assert r.cycles > 1.5 * full.cycles  # the stalls did happen


# ---- Yosys: estimates -------------------------------------------------------------------------


def _synth(node) -> dict:
    inst = getCustomOp(node)
    return yosys.synth(inst.get_nodeattr("gen_top_module"), inst.get_rtl_file_list(abspath=True), {})


@pytest.mark.slow
def test_estimates_match_yosys(tmp_path):
    """LUTs within 30 % (or 16), BRAM_18K within 1, for a distributed-RAM and a block-RAM
    shuffle and two concats."""
    cfgs_s = [SHUFFLES[5], SHUFFLES[3]]  # sh_small (distributed RAM), sh_hyb7 (5 BRAM_18K)
    cfgs_c = [CONCATS[0], CONCATS[2]]
    model = prepared(hls_graph(cfgs_s, cfgs_c), tmp_path)
    rows = []
    for node in model.graph.node:
        inst = getCustomOp(node)
        got = _synth(node)
        lut, bram = inst.lut_estimation(), inst.bram_estimation()
        rows.append((node.name, got["LUT"], lut, got["BRAM"], bram))
        assert lut > 0
        assert abs(got["LUT"] - lut) <= max(16, 0.3 * got["LUT"]), rows[-1]
        assert abs(got["BRAM"] - bram) <= 1, rows[-1]
        assert got["DSP"] == 0
    print(rows)
    # the two shuffles use the two memory styles
    assert rows[0][3] == 0 and rows[1][3] > 0, rows
