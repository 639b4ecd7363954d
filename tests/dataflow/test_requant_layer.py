"""HyqRequant: the rewrite from threshold tables (only where proven exact), FINN's Python
execution against the thresholds it replaces, the RTL in Verilator bit-exact with and
without random backpressure, and the LUT/DSP estimates against Yosys (xc7 and xcup)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

import hyq.dataflow.ops
from hyq.dataflow import finn_env, parts
from hyq.dataflow.ops.requant import ThresholdsToRequant, dsp_per_product, layer_cost
from hyq.sim import rtlsim, stitch
from hyq.tools import yosys

hyq.dataflow.ops.register()  # hyq's HW layers into finn-plus' tables

PART = "xc7z020clg400-1"
ZU = "xczu9eg-ffvb1156-2-e"
RTL = "finn.custom_op.fpgadataflow.rtl"
# (channels, PE, input type, output type, numInputVectors): folds 4 / 16 / 1 / 25 / 256
CFGS = [(8, 2, "INT12", "INT4", [1, 3, 3]), (16, 1, "UINT10", "UINT8", [1, 2, 2]), (6, 6, "INT20", "UINT3", [1, 4]),
        (100, 4, "INT16", "INT8", [1, 2, 2]), (256, 1, "INT24", "UINT6", [1, 1])]


def _table(rng, channels: int, n: int, idt: DataType) -> np.ndarray:
    """Thresholds of a random requantization spanning the input range (ceil of each step)."""
    lo, hi = int(idt.min()), int(idt.max())
    s = int(rng.integers(6, 14))
    m = np.maximum(np.rint(n / (hi - lo) * rng.uniform(0.8, 3.0, channels) * 2.0 ** s), 1)
    b = np.rint(n / 2 * 2.0 ** s - rng.uniform(lo, hi, channels) * 0.5 * m)
    k = np.arange(1, n + 1)
    return np.clip(np.ceil((k[None, :] * 2.0 ** s - b[:, None]) / m[:, None]), lo, hi + 1).astype(np.float32)


def threshold_graph(cfgs=CFGS, uneven: bool = False, seed: int = 0) -> ModelWrapper:
    """Independent Thresholding_rtl layers, one per config; ``uneven`` adds one whose table
    no multiply-shift reproduces (steps 1, 1, 18, 1, 1, 1 apart)."""
    rng = np.random.default_rng(seed)
    nodes, ins, outs, inits, dts = [], [], [], {}, {}
    tables = [(c, _table(rng, c[0], 2 ** DataType[c[3]].bitwidth() - 1, DataType[c[2]])) for c in cfgs]
    if uneven:
        t = np.array([[0, 1, 2, 20, 21, 22, 23], [-4, -3, -2, -1, 0, 1, 2]], dtype=np.float32)
        tables.append(((2, 1, "INT8", "UINT3", [1, 3]), t))
    for k, ((ch, pe, i, o, vecs), t) in enumerate(tables):
        idt, odt = DataType[i], DataType[o]
        tdt = DataType[f"INT{idt.bitwidth() + 1}"]
        nodes.append(helper.make_node("Thresholding_rtl", [f"x{k}", f"t{k}"], [f"y{k}"], domain=RTL,
                                      backend="fpgadataflow", name=f"Thresholding_rtl_{k}", NumChannels=ch, PE=pe,
                                      numSteps=t.shape[1], inputDataType=i, weightDataType=tdt.name,
                                      outputDataType=o, numInputVectors=vecs, ActVal=int(odt.min())))
        ins.append(helper.make_tensor_value_info(f"x{k}", TensorProto.FLOAT, vecs + [ch]))
        outs.append(helper.make_tensor_value_info(f"y{k}", TensorProto.FLOAT, vecs + [ch]))
        inits[f"t{k}"] = (t, tdt)
        dts.update({f"x{k}": idt, f"y{k}": odt})
    model = ModelWrapper(qonnx_make_model(helper.make_graph(nodes, "thresholds", ins, outs)))
    for name, (t, tdt) in inits.items():
        model.set_initializer(name, t)
        model.set_tensor_datatype(name, tdt)
    for name, dt in dts.items():
        model.set_tensor_datatype(name, dt)
    return model


def feeds(model: ModelWrapper, n: int, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        f = {}
        for vi in model.graph.input:
            dt = model.get_tensor_datatype(vi.name)
            f[vi.name] = rng.integers(dt.min(), dt.max() + 1, model.get_tensor_shape(vi.name)).astype(np.float32)
        out.append(f)
    return out


def run(model: ModelWrapper, feed: dict) -> dict:
    return execute_onnx(rtlsim.generic_model(model), feed, return_full_exec_context=True)


def test_dsp_widths_per_family():
    # a 26-bit signed input times an 11-bit multiplier: one DSP48E2 (27 x 18), two DSP48E1 (25 x 18)
    assert dsp_per_product(26, 11, PART) == 2 and dsp_per_product(26, 11, ZU) == 1
    assert dsp_per_product(17, 19, PART) == 1 and dsp_per_product(19, 19, PART) == 2  # the wider goes to A
    assert dsp_per_product(9, 1, PART) == 0  # a one-bit multiplier is not a product


def test_always_replaces_the_proven_tables_and_keeps_the_refused_one():
    model = threshold_graph(uneven=True)
    xs = feeds(model, 2)
    want = [run(model, f) for f in xs]
    rewrite = ThresholdsToRequant("always", PART)
    out = model.transform(rewrite)
    ops = [n.op_type for n in out.graph.node]
    assert ops == ["HyqRequant_rtl"] * len(CFGS) + ["Thresholding_rtl"]
    assert [d["choice"] for d in rewrite.decisions] == ["requant"] * len(CFGS) + ["thresholds"]
    assert rewrite.decisions[-1]["reason"].startswith("refused: channel 0")
    # FINN's Python execution of the requantized graph equals the threshold graph's
    for w, f in zip(want, xs):
        got = run(out, f)
        for k in range(len(CFGS) + 1):
            assert np.array_equal(w[f"y{k}"], got[f"y{k}"]), k
    # the replaced tables are gone; M and B are stored at their annotated widths
    names = {i.name for i in out.graph.initializer}
    assert not {f"t{k}" for k in range(len(CFGS))} & names and f"t{len(CFGS)}" in names
    for node, d in zip(out.graph.node, rewrite.decisions):
        if d["choice"] == "requant":
            m_dt, b_dt = out.get_tensor_datatype(node.input[1]), out.get_tensor_datatype(node.input[2])
            assert (m_dt.bitwidth(), b_dt.bitwidth()) == (d["m_bits"], max(d["b_bits"], 2))
            assert d["requant_bits"] == node_channels(node) * (m_dt.bitwidth() + b_dt.bitwidth())


def test_parameters_float32_cannot_hold_are_refused():
    """A table far out on a 32-bit accumulator needs B = -2^27: a float32 initializer would
    round it, so the table stays (XXS's wide accumulators hit this)."""
    k = np.arange(1, 4, dtype=np.float64)
    t = np.stack([2.0 ** 27 + k * 2.0 ** 20] * 2).astype(np.float32)
    node = helper.make_node("Thresholding_rtl", ["x", "t"], ["y"], domain=RTL, backend="fpgadataflow",
                            name="Thresholding_rtl_0", NumChannels=2, PE=1, numSteps=3, inputDataType="INT32",
                            weightDataType="INT33", outputDataType="UINT2", numInputVectors=[1, 4], ActVal=0)
    graph = helper.make_graph([node], "wide", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 2])])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("t", t)
    model.set_tensor_datatype("t", DataType["INT33"])
    model.set_tensor_datatype("x", DataType["INT32"])
    model.set_tensor_datatype("y", DataType["UINT2"])
    rewrite = ThresholdsToRequant("always", PART)
    out = model.transform(rewrite)
    assert [n.op_type for n in out.graph.node] == ["Thresholding_rtl"]
    assert "float32" in rewrite.decisions[0]["reason"], rewrite.decisions


def node_channels(node) -> int:
    return getCustomOp(node).get_nodeattr("NumChannels")


def test_auto_follows_the_cost_and_never_changes_nothing():
    model = threshold_graph()
    assert not ThresholdsToRequant("never", PART).apply(model)[1]
    assert [n.op_type for n in model.transform(ThresholdsToRequant("never", PART)).graph.node] == \
        ["Thresholding_rtl"] * len(CFGS)
    rewrite = ThresholdsToRequant("auto", PART)
    out = model.transform(rewrite)
    cap = parts.capacity(PART)
    for node, d in zip(out.graph.node, rewrite.decisions):
        cheaper = layer_cost(d["requant_cost"], cap, d["requant_bits"]) < \
            layer_cost(d["thresholds_cost"], cap, d["threshold_bits"])
        assert (d["choice"] == "requant") == cheaper, d
        assert node.op_type == ("HyqRequant_rtl" if cheaper else "Thresholding_rtl")
    # 63 steps of a 24-bit input cost far more than a multiply: requantized; 3 steps of 6 lanes do not
    assert rewrite.decisions[4]["choice"] == "requant" and rewrite.decisions[2]["choice"] == "thresholds"
    with pytest.raises(ValueError, match="auto"):
        ThresholdsToRequant("sometimes", PART)


@pytest.fixture(scope="module")
def rtl_model(tmp_path_factory) -> ModelWrapper:
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP

    work = tmp_path_factory.mktemp("requant_rtl")
    finn_env.use_build_dir(work / "finn_gen")
    model = threshold_graph().transform(ThresholdsToRequant("always", PART))
    return model.transform(PrepareIP(PART, 10.0))


@pytest.mark.slow
def test_rtl_bit_exact_against_the_reference(rtl_model, tmp_path):
    ctxs = [run(rtl_model, f) for f in feeds(rtl_model, 2)]
    results = rtlsim.simulate_layers(rtl_model, list(rtl_model.graph.node), ctxs, tmp_path / "sim")
    assert len(results) == len(CFGS)
    for r in results:
        assert r.simulated and r.bit_exact and r.mismatches == 0, r
        assert r.initiation_interval == r.estimate_cycles, r  # one beat per cycle


@pytest.mark.slow
def test_rtl_bit_exact_under_random_backpressure(rtl_model, tmp_path):
    ctxs = [run(rtl_model, f) for f in feeds(rtl_model, 2, seed=4)]
    nodes = list(rtl_model.graph.node)
    rtl = [stitch.node_rtl(n) for n in nodes]
    gin = [s.tensor for r in rtl for s in r.inputs]
    gout = [s.tensor for r in rtl for s in r.outputs]
    insts = {n.input[0]: getCustomOp(n) for n in nodes}
    outs = {n.output[0]: getCustomOp(n) for n in nodes}
    bits = {s.tensor: s.bits for r in rtl for s in r.inputs}
    beats = [[b for c in ctxs for b in rtlsim.pack(c[t], insts[t], 0, bits[t])] for t in gin]
    per = [rtlsim.beats_per_sample(outs[t], 0, True) for t in gout]
    res = rtlsim.run(rtl, gin, gout, beats, [p * len(ctxs) for p in per], tmp_path / "stall", stall=0.5, seed=7)
    for k, t in enumerate(gout):
        assert len(res.beats[k]) == per[k] * len(ctxs), t
        for s, c in enumerate(ctxs):
            got = rtlsim.unpack(res.beats[k][s * per[k]:(s + 1) * per[k]], outs[t], 0)
            assert np.array_equal(got, c[t].reshape(got.shape)), (t, s)
    assert res.cycles > 2 * max(p * len(ctxs) for p in per)  # the stalls did happen


@pytest.mark.slow
@pytest.mark.parametrize("family, part", [("xc7", PART), ("xcup", ZU)])
def test_estimates_against_yosys(rtl_model, family, part):
    """Each generated layer synthesised by Yosys: DSP estimate equal, LUT within 20 % (or 8 LUTs)."""
    report = []
    for node in rtl_model.graph.node:
        inst = getCustomOp(node)
        files = [Path(f) for f in inst.get_rtl_file_list(abspath=True)]
        got = yosys.synth(inst.get_nodeattr("gen_top_module"), files, {}, script=family)
        est = inst.node_res_estimation(part)
        report.append((node.name, est["LUT"], got["LUT"], est["DSP"], got["DSP"]))
        assert est["DSP"] == got["DSP"] and got["BRAM"] == 0, report[-1]
        assert abs(est["LUT"] - got["LUT"]) <= max(0.2 * got["LUT"], 8), report[-1]
    print("\n".join(map(str, report)))
