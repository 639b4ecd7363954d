"""HyqVVAU_rtl, hyq's RTL stand-in for FINN's depthwise VVAU_hls: swap, bit-exact rtlsim
against FINN's Python execution, II, backpressure, weight file, resource estimates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import calculate_matvec_accumulator_range, qonnx_make_model

import hyq.dataflow.ops
from hyq.dataflow import finn_env
from hyq.dataflow.ops import vvau
from hyq.dataflow.transforms import UseHyqRTL
from hyq.sim import rtlsim, stitch
from hyq.tools import yosys

from tests.dataflow import rtl_layers

hyq.dataflow.ops.register()  # hyq's HW layers into finn-plus' tables

PART = rtl_layers.PART


@dataclass(frozen=True)
class Cfg:
    pe: int
    simd: int
    ch: int
    k: int
    dim: int
    idt: str
    wdt: str

    @property
    def name(self) -> str:
        return f"vvau_pe{self.pe}_simd{self.simd}_c{self.ch}_k{self.k}_d{self.dim}_{self.idt}_{self.wdt}".lower()


def acc_type(w: np.ndarray, idt: DataType, ch: int, kk: int) -> DataType:
    """Accumulator type as FINN's minimize_accumulator_width computes it (without rounding up)."""
    lo, hi = calculate_matvec_accumulator_range(w.reshape(ch, kk).T, idt)
    if lo >= 0:
        return DataType[f"UINT{max(1, math.ceil(math.log2(hi + 1)))}"]
    return DataType[f"INT{math.ceil(math.log2(max(-lo, 1 + hi))) + 1}"]


def vvau_model(c: Cfg, seed: int = 0, act: bool = False) -> ModelWrapper:
    """A one-layer graph: FINN's VVAU specialised as VVAU_hls, random weights of c.wdt."""
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    rng = np.random.default_rng(seed)
    idt, wdt = DataType[c.idt], DataType[c.wdt]
    kk = c.k * c.k
    w = rng.integers(wdt.min(), wdt.max() + 1, (c.ch, 1, c.k, c.k)).astype(np.float32)
    odt = acc_type(w, idt, c.ch, kk)
    node = helper.make_node(
        "VVAU", ["x", "w"], ["y"], domain="finn.custom_op.fpgadataflow", backend="fpgadataflow",
        name=c.name, PE=c.pe, SIMD=c.simd, Dim=[c.dim, c.dim], Channels=c.ch, Kernel=[c.k, c.k],
        inputDataType=idt.name, weightDataType=wdt.name, outputDataType=odt.name, accDataType=odt.name,
        noActivation=0 if act else 1, mem_mode="internal_decoupled")
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c.dim, c.dim, kk * c.ch])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c.dim, c.dim, c.ch])])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("w", w)
    model.set_tensor_datatype("x", idt)
    model.set_tensor_datatype("w", wdt)
    model.set_tensor_datatype("y", odt)
    model = model.transform(SpecializeLayers(PART))
    model.graph.node[0].name = c.name  # SpecializeLayers renames; layers simulated together need their own
    return model


def to_rtl(model: ModelWrapper, build: Path) -> ModelWrapper:
    return rtl_layers.to_rtl(model, build, "HyqVVAU_rtl")


def contexts(model: ModelWrapper, c: Cfg, n: int = 2, seed: int = 1) -> list[dict]:
    idt = DataType[c.idt]
    rng = np.random.default_rng(seed)
    shape = model.get_tensor_shape("x")
    xs = rng.integers(idt.min(), idt.max() + 1, (n, *shape[1:])).astype(np.float32)
    return [rtlsim.python_exec(model, x[None]) for x in xs]


CONFIGS = [
    Cfg(1, 1, 4, 3, 4, "UINT8", "INT8"),     # the default CNN's second VVAU, fewer channels
    Cfg(2, 3, 8, 3, 3, "INT8", "INT4"),
    Cfg(4, 9, 8, 3, 2, "UINT4", "INT8"),
    Cfg(2, 1, 4, 3, 3, "INT4", "UINT4"),
    Cfg(4, 3, 4, 3, 3, "UINT8", "INT4"),
]
#: the default CNN's first VVAU (PE 2, SIMD 1, Dim 8x8, 32 channels, 3x3, UINT8 x INT8)
DEFAULT_CNN = Cfg(2, 1, 32, 3, 8, "UINT8", "INT8")


def test_swap_only_where_the_rtl_applies():
    model = vvau_model(CONFIGS[1])
    assert model.graph.node[0].op_type == "VVAU_hls"
    inst = getCustomOp(model.graph.node[0])
    assert vvau.possible(inst, PART)
    swapped = model.transform(UseHyqRTL(PART))
    node = swapped.graph.node[0]
    rtl = getCustomOp(node)
    assert node.op_type == "HyqVVAU_rtl" and rtl.get_nodeattr("PE") == 2 and rtl.get_nodeattr("SIMD") == 3
    # weights always embedded: no mem_mode attribute left, no weight stream, FINN's cycles
    assert "mem_mode" not in [a.name for a in node.attribute] and rtl.get_nodeattr("mem_mode") == "internal_embedded"
    assert [p for p, _ in rtl.get_verilog_top_module_intf_names()["s_axis"]] == ["in0_V"]
    assert rtl.get_exp_cycles() == inst.get_exp_cycles() == 8 * 9 // 6 * 9
    with pytest.raises(ValueError):
        rtl.set_nodeattr("mem_mode", "internal_decoupled")
    # with an activation (thresholds inside), bipolar types or external weights: FINN's layer stays
    act = vvau_model(CONFIGS[1], act=True)
    assert not vvau.possible(getCustomOp(act.graph.node[0]), PART)
    assert act.transform(UseHyqRTL(PART)).graph.node[0].op_type == "VVAU_hls"
    ext = vvau_model(CONFIGS[1])
    getCustomOp(ext.graph.node[0]).set_nodeattr("mem_mode", "external")
    assert ext.transform(UseHyqRTL(PART)).graph.node[0].op_type == "VVAU_hls"
    bip = vvau_model(CONFIGS[1])
    getCustomOp(bip.graph.node[0]).set_nodeattr("weightDataType", "BIPOLAR")
    assert not vvau.possible(getCustomOp(bip.graph.node[0]), PART)
    bad = vvau_model(CONFIGS[1])
    getCustomOp(bad.graph.node[0]).set_nodeattr("SIMD", 2)   # does not divide K*K = 9
    assert not vvau.possible(getCustomOp(bad.graph.node[0]), PART)


def test_weight_rom_words_follow_finn_stream_order(tmp_path):
    """ROM word t holds the weights of input beat t: channel n*PE+p, kernel position s*SIMD+i
    in lane i*PE+p (FINN's get_hw_compatible_weight_tensor, read back independently)."""
    c = CONFIGS[1]
    model = vvau_model(c).transform(UseHyqRTL(PART))
    inst = getCustomOp(model.graph.node[0])
    w = model.get_initializer("w").reshape(c.ch, c.k * c.k)
    lines = inst.weight_lines(model.get_initializer("w"))
    nf, sf, wb = c.ch // c.pe, c.k * c.k // c.simd, 4
    assert len(lines) == nf * sf
    for t, line in enumerate(lines):
        n, s = divmod(t, sf)
        word = int(line, 16)
        for i in range(c.simd):
            for p in range(c.pe):
                v = (word >> ((i * c.pe + p) * wb)) & 0xF
                v = v - 16 if v >= 8 else v
                assert v == w[n * c.pe + p, s * c.simd + i]


def layers_side_by_side(cfgs: list[Cfg], build: Path, seed: int = 0):
    """Generated HyqVVAU_rtl nodes of ``cfgs`` and per-sample contexts (2 samples) holding
    each layer's input and FINN's Python output under the layer's own tensor names."""
    nodes, ctxs = [], [{}, {}]
    for k, c in enumerate(cfgs):
        model = to_rtl(vvau_model(c, seed=seed + k), build)
        node = model.graph.node[0]
        for ctx, one in zip(ctxs, contexts(model, c, seed=seed + 100 + k)):
            ctx[f"{c.name}/x"], ctx[f"{c.name}/y"] = one["x"], one["y"]
        node.input[0], node.output[0] = f"{c.name}/x", f"{c.name}/y"
        nodes.append(node)
    return nodes, ctxs


@pytest.mark.slow
def test_rtl_bit_exact_with_finn_python_for_several_foldings(tmp_path):
    """Every config, 2 random samples, in one simulator: bit-exact, II = FINN's estimate."""
    cfgs = CONFIGS + [DEFAULT_CNN]
    nodes, ctxs = layers_side_by_side(cfgs, tmp_path / "gen")
    res = rtlsim.simulate_layers(None, nodes, ctxs, tmp_path / "sim")
    for r, c in zip(res, cfgs):
        assert r.simulated and r.bit_exact and r.mismatches == 0, (c, r)
        assert r.initiation_interval == r.estimate_cycles, (c, r)
        assert r.latency_cycles > r.initiation_interval


def _iso(node):
    """The layer's RTL with streams named as simulate_layers names them (one compile for both)."""
    rtl = stitch.node_rtl(node)
    rtl.inputs = [stitch.Stream(s.port, s.bits, f"{node.name}/{s.tensor}") for s in rtl.inputs]
    rtl.outputs = [stitch.Stream(s.port, s.bits, f"{node.name}/{s.tensor}") for s in rtl.outputs]
    return rtl


@pytest.mark.slow
def test_backpressure_holds_data_and_a_changed_weight_is_caught(tmp_path):
    """Random TVALID/TREADY gaps (stall 0.5): still bit-exact. Then one flipped weight bit in
    the ROM file: the (cached) simulator reads it at run time and the comparison fails."""
    cfgs = [CONFIGS[1], CONFIGS[2]]
    nodes, ctxs = layers_side_by_side(cfgs, tmp_path / "gen", seed=7)
    rtls = [_iso(n) for n in nodes]
    insts = [getCustomOp(n) for n in nodes]
    in_beats = [[b for c in ctxs for b in rtlsim.pack(c[n.input[0]], inst, 0, r.inputs[0].bits)]
                for n, inst, r in zip(nodes, insts, rtls)]
    per = [rtlsim.beats_per_sample(inst, 0, True) for inst in insts]
    run = rtlsim.run(rtls, [r.inputs[0].tensor for r in rtls], [r.outputs[0].tensor for r in rtls], in_beats,
                     [p * len(ctxs) for p in per], tmp_path / "stall", stall=0.5, seed=3)
    for k, (n, inst) in enumerate(zip(nodes, insts)):
        for s, c in enumerate(ctxs):
            got = rtlsim.unpack(run.beats[k][s * per[k]:(s + 1) * per[k]], inst, 0)
            assert np.array_equal(got, c[n.output[0]].reshape(got.shape)), (cfgs[k], s)
        # under backpressure the layer is slower than FINN's full-rate estimate
        assert run.beat_cycles[k][-1] - run.in_first[k] > len(ctxs) * inst.get_exp_cycles()
    ok = rtlsim.simulate_layers(None, nodes, ctxs, tmp_path / "ok")
    assert all(r.bit_exact for r in ok), ok
    mem = Path(insts[0].get_nodeattr("code_gen_dir_ipgen")) / vvau.WEIGHT_FILE
    lines = mem.read_text().split()
    lines[0] = format(int(lines[0], 16) ^ 1, f"0{len(lines[0])}x")
    mem.write_text("\n".join(lines) + "\n")
    bad = rtlsim.simulate_layers(None, nodes, ctxs, tmp_path / "bad")
    assert bad[0].cached, "weights are read at run time: the compiled simulator is reused"
    assert bad[0].simulated and not bad[0].bit_exact and bad[0].mismatches > 0
    assert bad[1].bit_exact  # the other layer is untouched


def test_estimates_are_structural_and_never_zero_luts():
    model = vvau_model(DEFAULT_CNN).transform(UseHyqRTL(PART))
    inst = getCustomOp(model.graph.node[0])
    est = inst.node_res_estimation(PART)
    assert est["LUT"] > 0 and est["DSP"] == 2 and est["BRAM_18K"] == 0   # 144 x 16 bit ROM: logic
    assert vvau.estimate(1, 1, 128, 9, 8, 8, 19)["BRAM_18K"] == 1        # 1152 x 8 bit ROM: one RAMB18
    assert vvau.estimate(2, 1, 8, 9, 2, 2, 8)["DSP"] == 0                 # 3 x 3 bit products: LUTs
    assert vvau.estimate(4, 9, 8, 1, 8, 8, 19)["DSP"] == 36


@pytest.mark.slow
@pytest.mark.parametrize("cfg", [DEFAULT_CNN, Cfg(1, 1, 128, 3, 2, "UINT8", "INT8"), Cfg(2, 1, 16, 3, 2, "UINT2", "INT2")],
                         ids=["default-cnn", "bram-rom", "lut-multipliers"])
def test_estimates_within_30_percent_of_yosys(cfg, tmp_path):
    """The generated layer (wrapper, RTL, weight file) synthesised by Yosys for xc7."""
    model = to_rtl(vvau_model(cfg), tmp_path / "gen")
    inst = getCustomOp(model.graph.node[0])
    synth = yosys.synth(inst.get_nodeattr("gen_top_module"), [Path(f) for f in inst.get_rtl_file_list(abspath=True)], {})
    est = inst.node_res_estimation(PART)
    assert synth["DSP"] == est["DSP"] and synth["BRAM"] == est["BRAM_18K"], (synth, est)
    assert abs(est["LUT"] - synth["LUT"]) <= 0.3 * synth["LUT"], (synth, est)


@pytest.mark.slow
def test_stitched_after_a_depthwise_swg_bit_exact(tmp_path):
    """FINN's depthwise SWG (RTL) streaming into HyqVVAU_rtl (PE 2 < 8 channels): the RTL reads
    the SWG's real stream order (C/PE, K*K, PE), bit-exact with FINN's Python execution."""
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    ch, k, d, pe = 8, 3, 4, 2
    o = d - k + 1
    idt, wdt = DataType["UINT8"], DataType["INT8"]
    rng = np.random.default_rng(5)
    w = rng.integers(-128, 128, (ch, 1, k, k)).astype(np.float32)
    odt = acc_type(w, idt, ch, k * k)
    hw = "finn.custom_op.fpgadataflow"
    swg = helper.make_node("ConvolutionInputGenerator", ["x"], ["im"], domain=hw, backend="fpgadataflow",
                           ConvKernelDim=[k, k], IFMChannels=ch, IFMDim=[d, d], OFMDim=[o, o], SIMD=pe,
                           Stride=[1, 1], Dilation=[1, 1], inputDataType=idt.name, outputDataType=idt.name,
                           depthwise=1)
    vv = helper.make_node("VVAU", ["im", "w"], ["y"], domain=hw, backend="fpgadataflow", PE=pe, SIMD=1,
                          Dim=[o, o], Channels=ch, Kernel=[k, k], inputDataType=idt.name, weightDataType=wdt.name,
                          outputDataType=odt.name, accDataType=odt.name, noActivation=1,
                          mem_mode="internal_decoupled")
    graph = helper.make_graph([swg, vv], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, d, d, ch])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, o, o, ch])],
                              value_info=[helper.make_tensor_value_info("im", TensorProto.FLOAT, [1, o, o, k * k * ch])])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("w", w)
    for t, dt in (("x", idt), ("im", idt), ("w", wdt), ("y", odt)):
        model.set_tensor_datatype(t, dt)
    finn_env.use_build_dir(tmp_path / "gen")
    model = model.transform(SpecializeLayers(PART)).transform(UseHyqRTL(PART)).transform(PrepareIP(PART, 10.0))
    assert [n.op_type for n in model.graph.node] == ["ConvolutionInputGenerator_rtl", "HyqVVAU_rtl"]
    xs = rng.integers(0, 256, (2, 1, d, d, ch)).astype(np.float32)
    ctxs = [rtlsim.python_exec(model, x) for x in xs]
    nodes = [stitch.node_rtl(n) for n in model.graph.node]
    first, last = (getCustomOp(n) for n in model.graph.node)
    in_beats = [b for c in ctxs for b in rtlsim.pack(c["x"], first, 0, nodes[0].inputs[0].bits)]
    per = rtlsim.beats_per_sample(last, 0, True)
    run = rtlsim.run(nodes, ["x"], ["y"], [in_beats], [per * len(ctxs)], tmp_path / "net", stall=0.3)
    for s, c in enumerate(ctxs):
        got = rtlsim.unpack(run.beats[0][s * per:(s + 1) * per], last, 0)
        assert np.array_equal(got, c["y"].reshape(got.shape)), s
