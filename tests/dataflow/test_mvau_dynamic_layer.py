"""HyqMVAU_rtl, hyq's RTL stand-in for FINN's MVAU_hls with a streamed matrix (mem_mode
"dynamic", attention's Q.K^T and A.V): swap, bit-exact rtlsim against FINN's Python
execution, II, backpressure, resource estimates against Yosys."""

from __future__ import annotations

import math
from dataclasses import dataclass
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
from hyq.dataflow.ops import mvau_dynamic
from hyq.dataflow.transforms import UseHyqRTL
from hyq.sim import rtlsim, stitch
from hyq.tools import verilator, yosys

from tests.dataflow import rtl_layers

hyq.dataflow.ops.register()  # hyq's HW layers into finn-plus' tables

PART = rtl_layers.PART


@dataclass(frozen=True)
class Cfg:
    pe: int
    simd: int
    mw: int
    mh: int
    vecs: tuple[int, ...]
    idt: str
    wdt: str

    @property
    def name(self) -> str:
        v = "x".join(map(str, self.vecs))
        return f"mvdyn_pe{self.pe}_simd{self.simd}_{self.mw}x{self.mh}_v{v}_{self.idt}_{self.wdt}".lower()

    @property
    def odt(self) -> DataType:
        """Accumulator type as FINN's minimize_accumulator_width gives it for dynamic weights
        (worst case over the types)."""
        idt, wdt = DataType[self.idt], DataType[self.wdt]
        ends = [a * b * self.mw for a in (idt.min(), idt.max()) for b in (wdt.min(), wdt.max())]
        lo, hi = min(ends), max(ends)
        if lo >= 0:
            return DataType[f"UINT{math.ceil(math.log2(hi + 1))}"]
        return DataType[f"INT{math.ceil(math.log2(max(-lo, 1 + hi))) + 1}"]


def mvau_model(c: Cfg, mem_mode: str = "dynamic", act: bool = False) -> ModelWrapper:
    """One FINN MVAU with both operands as graph inputs (x: vectors, w: the matrices),
    specialised as MVAU_hls. Attributes as hybrid-tiny's codegen model has them."""
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    vecs = list(c.vecs)
    odt = c.odt
    x, w, y = (f"{c.name}_{t}" for t in "xwy")  # per configuration: layers are simulated side by side
    node = helper.make_node(
        "MVAU", [x, w], [y], domain="finn.custom_op.fpgadataflow", backend="fpgadataflow", name=c.name,
        PE=c.pe, SIMD=c.simd, MW=c.mw, MH=c.mh, numInputVectors=vecs, inputDataType=c.idt,
        weightDataType=c.wdt, outputDataType=odt.name, accDataType=odt.name, noActivation=0 if act else 1,
        mem_mode=mem_mode, binaryXnorMode=0, ActVal=0, resType="lut", inFIFODepths=[2, 2])
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, vecs + [c.mw]),
         helper.make_tensor_value_info(w, TensorProto.FLOAT, vecs[:2] + [c.mw, c.mh])],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, vecs + [c.mh])])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_tensor_datatype(x, DataType[c.idt])
    model.set_tensor_datatype(w, DataType[c.wdt])
    model.set_tensor_datatype(y, odt)
    model = model.transform(SpecializeLayers(PART))
    model.graph.node[0].name = c.name  # SpecializeLayers renames; layers simulated together need their own
    return model


def to_rtl(model: ModelWrapper, build: Path) -> ModelWrapper:
    return rtl_layers.to_rtl(model, build, "HyqMVAU_rtl")


def contexts(model: ModelWrapper, c: Cfg, n: int = 2, seed: int = 1, extremes: bool = True) -> list[dict]:
    """FINN's Python execution (generic ops) on ``n`` random samples; the first sample uses
    the types' extreme values, where a too-narrow datapath would wrap."""
    rng = np.random.default_rng(seed)
    idt, wdt = DataType[c.idt], DataType[c.wdt]
    generic = rtlsim.generic_model(model)
    out = []
    for k in range(n):
        x = rng.integers(idt.min(), idt.max() + 1, [*c.vecs, c.mw]).astype(np.float32)
        w = rng.integers(wdt.min(), wdt.max() + 1, [*c.vecs[:2], c.mw, c.mh]).astype(np.float32)
        if k == 0 and extremes:
            x[..., 0, :] = idt.min()
            w[..., 0] = wdt.min()
            x[..., -1, :] = idt.max() if wdt.min() >= 0 else idt.min()
            w[..., -1] = wdt.max() if wdt.min() >= 0 else wdt.min()
        node = model.graph.node[0]
        out.append(execute_onnx(generic, {node.input[0]: x, node.input[1]: w}, return_full_exec_context=True))
    return out


#: hybrid-tiny's four instances: Q.K^T (INT8 x INT8) and A.V (UINT8 softmax codes x INT8)
HYBRID_QK = Cfg(1, 1, 16, 16, (1, 8, 16), "INT8", "INT8")
HYBRID_AV = Cfg(1, 1, 16, 16, (1, 8, 16), "UINT8", "INT8")
CONFIGS = [
    HYBRID_QK,
    HYBRID_AV,
    Cfg(2, 4, 16, 8, (1, 2, 4), "INT8", "INT8"),
    Cfg(4, 2, 8, 16, (1, 3, 5), "UINT4", "UINT8"),
    Cfg(2, 8, 8, 6, (1, 2, 3), "INT4", "UINT4"),     # SIMD = MW, SIMD > NVEC: in1 sets the pace
    Cfg(1, 2, 6, 3, (1, 1, 4), "UINT8", "INT4"),     # NF odd, one matrix per sample
]


def test_swap_only_where_the_rtl_applies():
    model = mvau_model(CONFIGS[2])
    assert model.graph.node[0].op_type == "MVAU_hls"
    inst = getCustomOp(model.graph.node[0])
    assert mvau_dynamic.possible(inst, PART)
    swapped = model.transform(UseHyqRTL(PART))
    node = swapped.graph.node[0]
    rtl = getCustomOp(node)
    assert node.op_type == "HyqMVAU_rtl" and rtl.get_nodeattr("PE") == 2 and rtl.get_nodeattr("SIMD") == 4
    assert [p for p, _ in rtl.get_verilog_top_module_intf_names()["s_axis"]] == ["in0_V", "in1_V"]
    # in1 of a dynamic MVAU carries PE weights per beat, whatever SIMD is
    assert rtl.get_instream_width(1) == 2 * 8 and rtl.get_folded_input_shape(1) == (1, 2, 16, 4, 2)
    assert rtl.get_exp_cycles() == inst.get_exp_cycles() == 2 * 4 * (8 // 2) * (16 // 4)
    # SIMD > vectors per matrix: receiving the next matrix (MW x MH/PE beats) sets the pace
    slow = getCustomOp(mvau_model(CONFIGS[4]).transform(UseHyqRTL(PART)).graph.node[0])
    assert slow.get_exp_cycles() == 2 * 8 * 3 > getCustomOp(mvau_model(CONFIGS[4]).graph.node[0]).get_exp_cycles()
    # FINN's layer stays for constant weights, an activation, or bipolar operands
    for m in (mvau_model(CONFIGS[2], mem_mode="internal_decoupled"), mvau_model(CONFIGS[2], act=True)):
        assert not mvau_dynamic.possible(getCustomOp(m.graph.node[0]), PART)
        assert m.transform(UseHyqRTL(PART)).graph.node[0].op_type == "MVAU_hls"
    bip = mvau_model(CONFIGS[2])
    getCustomOp(bip.graph.node[0]).set_nodeattr("weightDataType", "BIPOLAR")
    assert bip.transform(UseHyqRTL(PART)).graph.node[0].op_type == "MVAU_hls"


def test_python_execution_accepts_the_matrix_in_any_row_major_shape():
    """FINN's InnerShuffle hands the matrix on in its transpose's shape (1, 4, 2, 16, 16); the
    layer's Python execution reads it as the (1, 8, 16, 16) it streams."""
    c = HYBRID_QK
    model = rtlsim.generic_model(mvau_model(c).transform(UseHyqRTL(PART)))
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (1, 8, 16, 16)).astype(np.float32)
    w = rng.integers(-128, 128, (1, 8, 16, 16)).astype(np.float32)
    inst = getCustomOp(model.graph.node[0])
    tx, tw, ty = model.graph.node[0].input[0], model.graph.node[0].input[1], model.graph.node[0].output[0]
    ctx = {tx: x, tw: w.reshape(1, 4, 2, 16, 16), ty: np.zeros((1, 8, 16, 16), dtype=np.float32)}
    inst.execute_node(ctx, model.graph)
    assert np.array_equal(ctx[ty], x @ w)
    assert ctx[tw].shape == (1, 4, 2, 16, 16)  # the producer's tensor is left as it was


def test_codegen_lints_clean(tmp_path):
    models = [to_rtl(mvau_model(c), tmp_path / c.name) for c in (CONFIGS[2], CONFIGS[5])]
    for m in models:
        inst = getCustomOp(m.graph.node[0])
        files = [Path(f) for f in inst.get_rtl_file_list(abspath=True)]
        assert all(f.is_file() for f in files)
        lint = verilator.lint(inst.get_nodeattr("gen_top_module"), files, {})
        assert "%Warning" not in lint and "%Error" not in lint, lint
        rtl = stitch.node_rtl(m.graph.node[0])
        assert [s.port for s in rtl.inputs] == ["in0_V", "in1_V"] and not rtl.wrapper


def _check(results, configs):
    for c, res in zip(configs, results):
        assert res.simulated and res.bit_exact and res.mismatches == 0, res


@pytest.mark.slow
def test_rtlsim_bit_exact_back_to_back_at_the_estimated_ii(tmp_path):
    """All configurations in one simulator, 3 samples back to back; II = get_exp_cycles."""
    models = [to_rtl(mvau_model(c), tmp_path / c.name) for c in CONFIGS]
    nodes, ctxs = [], [{} for _ in range(3)]
    for c, m in zip(CONFIGS, models):
        node = m.graph.node[0]
        for k, ctx in enumerate(contexts(m, c, n=3, seed=len(nodes))):
            ctxs[k].update({t: v for t, v in ctx.items() if t in (*node.input, *node.output)})
        nodes.append((node, m))
    # one model holding every node, so simulate_layers finds each node's tensors in the contexts
    graph = models[0]
    for node, m in nodes[1:]:
        graph.graph.node.append(node)
    results = rtlsim.simulate_layers(graph, [n for n, _ in nodes], ctxs, tmp_path / "sim")
    _check(results, CONFIGS)
    for c, res in zip(CONFIGS, results):
        assert res.initiation_interval == res.estimate_cycles, (c, res)


@pytest.mark.slow
def test_rtlsim_under_backpressure_is_bit_exact(tmp_path):
    """Random stalls (p = 0.5) on every source and sink: in0 and in1 arrive out of step,
    the output is held; two samples back to back, hybrid-tiny's A.V and a PE x SIMD layer."""
    cfgs = [HYBRID_AV, CONFIGS[3]]
    nodes, in_beats, gin, gout, counts, per = [], [], [], [], [], []
    for k, c in enumerate(cfgs):
        m = to_rtl(mvau_model(c), tmp_path / c.name)
        node = m.graph.node[0]
        inst = getCustomOp(node)
        ctxs = contexts(m, c, n=2, seed=10 + k)
        rtl = stitch.node_rtl(node)
        nodes.append(rtl)
        for i, s in enumerate(rtl.inputs):
            in_beats.append([b for ctx in ctxs for b in rtlsim.pack(ctx[s.tensor], inst, i, s.bits)])
            gin.append(s.tensor)
        gout.append(rtl.outputs[0].tensor)
        n = rtlsim.beats_per_sample(inst, 0, True)
        counts.append(n * len(ctxs))
        per.append((inst, n, [ctx[node.output[0]] for ctx in ctxs]))
    r = rtlsim.run(nodes, gin, gout, in_beats, counts, tmp_path / "sim", stall=0.5, seed=3)
    for j, (inst, n, refs) in enumerate(per):
        assert len(r.beats[j]) == n * len(refs)
        for k, ref in enumerate(refs):
            got = rtlsim.unpack(r.beats[j][k * n:(k + 1) * n], inst, 0)
            assert np.array_equal(got, np.asarray(ref, dtype=np.float32).reshape(got.shape)), (j, k)
        # stalls slow the layer down; they cannot speed it up past one step per cycle
        assert r.beat_cycles[j][-1] - r.beat_cycles[j][0] >= inst.get_exp_cycles()


#: Yosys check configurations, not the ones the LUT model's control term was fitted on
YOSYS_CHECK = [HYBRID_QK, Cfg(2, 2, 32, 32, (1, 4, 16), "INT8", "INT8")]


@pytest.mark.slow
@pytest.mark.parametrize("c", YOSYS_CHECK, ids=[c.name for c in YOSYS_CHECK])
def test_estimates_within_30_percent_of_yosys(c, tmp_path):
    m = to_rtl(mvau_model(c), tmp_path / c.name)
    inst = getCustomOp(m.graph.node[0])
    files = [Path(f) for f in inst.get_rtl_file_list(abspath=True)]
    measured = yosys.synth(inst.get_nodeattr("gen_top_module"), files, {})
    est = inst.node_res_estimation(PART)
    assert est["LUT"] > 0 and est["DSP"] > 0
    assert abs(est["LUT"] - measured["LUT"]) <= 0.3 * measured["LUT"], (est, measured)
    assert est["DSP"] == measured["DSP"] == c.pe * c.simd, (est, measured)
    assert est["BRAM_18K"] == measured["BRAM"], (est, measured)
    # the multipliers and accumulators survived synthesis (Yosys 0.23 once lost them when
    # a product register sat between multiplier and adder)
    assert measured["FF"] >= c.pe * c.odt.bitwidth()
