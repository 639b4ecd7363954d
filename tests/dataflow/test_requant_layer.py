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


def _wide_table(rng, channels: int, n: int, shift: int, idt: DataType) -> np.ndarray:
    """Thresholds of a requantization at ``shift`` whose ``n`` steps span ``idt``'s range, with
    multipliers of ``shift - log2(range / n)`` bits (24 for INT24, 255 steps, shift 40)."""
    m_hi = 2.0 ** shift * n / 2 ** idt.bitwidth()
    m = rng.integers(int(m_hi / 1.3), int(m_hi), channels).astype(np.float64)
    b = np.rint(n / 2 * 2.0 ** shift - rng.uniform(-0.1, 0.1, channels) * 2 ** idt.bitwidth() * m)
    k = np.arange(1, n + 1)
    return np.ceil((k[None, :] * 2.0 ** shift - b[:, None]) / m[:, None]).astype(np.float32)


def threshold_graph(cfgs=CFGS, uneven: bool = False, seed: int = 0, tables=None) -> ModelWrapper:
    """Independent Thresholding_rtl layers, one per config (or per ``(config, table)`` of
    ``tables``); ``uneven`` adds one whose table no multiply-shift reproduces (steps 1, 1,
    18, 1, 1, 1 apart)."""
    rng = np.random.default_rng(seed)
    nodes, ins, outs, inits, dts = [], [], [], {}, {}
    if tables is None:
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


def test_parameters_wider_than_float32_are_stored_exactly():
    """A table far out on a 32-bit accumulator needs |B| >= 2^27, which float32 would round:
    M and B are int64 initializers, so it is requantized and FINN's execution stays exact."""
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
    xs = [{"x": np.array([2 ** 27 + d for d in (-1, 0, 2 ** 20 - 1, 2 ** 20, 2 ** 21, 3 * 2 ** 20 - 1,
                                                    3 * 2 ** 20, -2 ** 31)], dtype=np.float64)[:8].reshape(1, 4, 2)}]
    want = [run(model, f)["y"] for f in xs]
    out = model.transform(rewrite)
    assert [n.op_type for n in out.graph.node] == ["HyqRequant_rtl"], rewrite.decisions
    node = out.graph.node[0]
    B = out.get_initializer(node.input[2])
    assert B.dtype == np.int64 and int(np.abs(B).max()) > 1 << 24
    for w, f in zip(want, xs):
        assert np.array_equal(w, run(out, f)["y"])


def test_proofs_are_remembered_per_table_range_and_offset():
    """--fit rewrites the same tables once per candidate: the proof is made once per table,
    and a different range or offset is a different proof."""
    from hyq.dataflow.ops.requant import prove
    from hyq.integer.requant import requant_from_thresholds

    t = _table(np.random.default_rng(3), 8, 15, DataType["INT12"])
    p, why = prove(t, (-2048, 2047), 0)
    assert p is not None and prove(t.copy(), (-2048, 2047), 0)[0] is p
    ref = requant_from_thresholds(t, (-2048, 2047), 0)[0]
    assert (p.shift, p.M.tolist(), p.B.tolist()) == (ref.shift, ref.M.tolist(), ref.B.tolist())
    for rng, off in (((-2048, 1000), 0), ((-2048, 2047), -8)):
        got, want = prove(t, rng, off)[0], requant_from_thresholds(t, rng, off)[0]
        assert got is not p and (got.shift, got.M.tolist(), got.B.tolist()) == (want.shift, want.M.tolist(), want.B.tolist())


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


def _equal_under_backpressure(model: ModelWrapper, ctxs: list[dict], work: Path) -> None:
    """Every layer of ``model`` stitched side by side in Verilator with random input stalls and
    output backpressure: each output beat equals ``ctxs`` (FINN's execution, i.e. hyq.integer)."""
    nodes = list(model.graph.node)
    rtl = [stitch.node_rtl(n) for n in nodes]
    gin = [s.tensor for r in rtl for s in r.inputs]
    gout = [s.tensor for r in rtl for s in r.outputs]
    insts = {n.input[0]: getCustomOp(n) for n in nodes}
    outs = {n.output[0]: getCustomOp(n) for n in nodes}
    bits = {s.tensor: s.bits for r in rtl for s in r.inputs}
    beats = [[b for c in ctxs for b in rtlsim.pack(c[t], insts[t], 0, bits[t])] for t in gin]
    per = [rtlsim.beats_per_sample(outs[t], 0, True) for t in gout]
    res = rtlsim.run(rtl, gin, gout, beats, [p * len(ctxs) for p in per], work, stall=0.5, seed=7)
    for k, t in enumerate(gout):
        assert len(res.beats[k]) == per[k] * len(ctxs), t
        for s, c in enumerate(ctxs):
            got = rtlsim.unpack(res.beats[k][s * per[k]:(s + 1) * per[k]], outs[t], 0)
            assert np.array_equal(got, c[t].reshape(got.shape)), (t, s)
    assert res.cycles > 2 * max(p * len(ctxs) for p in per)  # the stalls did happen


@pytest.mark.slow
def test_rtl_bit_exact_under_random_backpressure(rtl_model, tmp_path):
    _equal_under_backpressure(rtl_model, [run(rtl_model, f) for f in feeds(rtl_model, 2, seed=4)], tmp_path / "stall")


@pytest.mark.slow
def test_wide_multiplier_and_bias_rtl_bit_exact_under_backpressure(tmp_path):
    """An INT24 accumulator to 255 steps at shift 40: M of 24 bits, B of 48, x * M + B of 49
    (float32 would round M and B; DSP cascades in hardware). Requantized, FINN's execution of it
    (hyq.integer.requant) equals the thresholds on inputs at every step, and Verilator equals it
    under backpressure."""
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP

    cfg = (4, 2, "INT24", "UINT8", [1, 6])
    tables = [(cfg, _wide_table(np.random.default_rng(5), 4, 255, 40, DataType["INT24"]))]
    model = threshold_graph(tables=tables)
    rewrite = ThresholdsToRequant("always", PART)
    out = model.transform(rewrite)
    d = rewrite.decisions[0]
    assert d["choice"] == "requant" and d["m_bits"] >= 24 and d["b_bits"] >= 32, d
    # inputs at the steps (t - 1, t) of every channel, and the range ends
    t = tables[0][1].astype(np.int64)
    lo, hi = int(DataType["INT24"].min()), int(DataType["INT24"].max())
    rows = [t[:, j] + e for j in (0, 20, 100, 128, 254) for e in (-1, 0)] + [np.full(4, lo), np.full(4, hi)]
    feed = [{"x0": v.astype(np.float32)} for v in np.clip(np.stack(rows), lo, hi).reshape(2, 1, 6, 4)]
    for f in feed:
        assert np.array_equal(run(model, f)["y0"], run(out, f)["y0"])
    finn_env.use_build_dir(tmp_path / "finn_gen")
    out = out.transform(PrepareIP(PART, 10.0))
    _equal_under_backpressure(out, [run(out, f) for f in feed], tmp_path / "stall")


@pytest.mark.slow
def test_ties_to_even_rtl_bit_exact_on_every_input(tmp_path):
    """A table rounded half to even at exact ties (slopes 11..17 / 200, four channels) gets the tie
    term; FINN's execution equals the thresholds and Verilator equals it, under backpressure,
    on every input of INT12."""
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP

    from tests.integer.test_requant import half_even_table

    lo, hi = -2048, 2047
    slopes = ((13, 4100), (13, 3300), (17, 4500), (11, 1234))  # a / 200 and offsets b: ties in every channel
    t = np.concatenate([half_even_table(a, b, 200, 255, lo, hi) for a, b in slopes]).astype(np.float32)
    model = threshold_graph(tables=[((4, 2, "INT12", "UINT8", [1, 4096]), t)])  # PE 2, two folds
    rewrite = ThresholdsToRequant("always", PART)
    out = model.transform(rewrite)
    d = rewrite.decisions[0]
    assert d["choice"] == "requant" and d["w_bits"] > 0 and "ties to even" in d["reason"], d
    node = out.graph.node[0]
    assert len(node.input) == 4 and d["requant_bits"] == 4 * (d["m_bits"] + max(d["b_bits"], 2) + d["w_bits"])
    feed = {"x0": np.repeat(np.arange(lo, hi + 1, dtype=np.float32)[:, None], 4, 1)[None]}
    want = run(model, feed)
    assert np.array_equal(want["y0"], run(out, feed)["y0"])
    finn_env.use_build_dir(tmp_path / "finn_gen")
    out = out.transform(PrepareIP(PART, 10.0))
    _equal_under_backpressure(out, [run(out, feed)], tmp_path / "stall")


def test_refused_where_x_times_m_plus_b_exceeds_int64():
    """An INT48 input whose 255 steps lie within 2^17 of zero needs a 21-bit M at the smallest
    exact shift (30): x * M + B would need 69 bits. The table is kept, with the reason."""
    m = np.random.default_rng(2).integers(2 ** 20, 2 ** 21, 2).astype(np.float64)
    k = np.arange(1, 256)
    t = np.ceil((k[None, :] * 2.0 ** 30 - np.rint(127.5 * 2.0 ** 30)) / m[:, None]).astype(np.float32)
    model = threshold_graph(tables=[((2, 1, "INT48", "UINT8", [1, 3]), t)])
    rewrite = ThresholdsToRequant("always", PART)
    out = model.transform(rewrite)
    assert [n.op_type for n in out.graph.node] == ["Thresholding_rtl"]
    d = rewrite.decisions[0]
    assert d["choice"] == "thresholds" and "needs 69 bits" in d["reason"] and "63" in d["reason"], d
    assert np.array_equal(out.get_initializer("t0"), t)


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
