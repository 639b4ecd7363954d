"""Verilator rtlsim of FINN builds: layers against FINN's Python execution, the whole
accelerator against QONNX, cycles against FINN's estimates (hyq.sim.rtlsim, ``hyq sim``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hyq.sim import rtlsim
from hyq.sim.waveform import stream_activity
from hyq.jobs.flow import build_onnx
from tests.conftest import hyq
from tests.sim.all_rtl import export_tiny_conv, export_tiny_mlp

PART = "xc7z020clg400-1"


@pytest.fixture(scope="module")
def mlp_build(tmp_path_factory) -> Path:
    """hyq build with RTL code generation of a small MLP whose every layer has RTL."""
    out = tmp_path_factory.mktemp("mlp-build")
    src = export_tiny_mlp(out / "src.onnx")
    build_onnx(src, PART, out / "build", target_fps=100000, steps="codegen")
    return out / "build"


@pytest.fixture(scope="module")
def conv_build(tmp_path_factory) -> Path:
    """`hyq build --steps codegen` of a small conv net whose every layer has RTL: a user's model,
    no flow file, ready for `hyq sim`."""
    out = tmp_path_factory.mktemp("conv-build")
    src = export_tiny_conv(out / "src.onnx")
    proc = hyq("build", str(src), "--part", PART, "--target-fps", "20000", "--steps", "codegen",
               "--out", str(out / "build"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out / "build"


def _reference(build: Path, n: int = 2):
    model = rtlsim.sim_model(build, PART, 10.0)
    parent = ModelWrapper(str(build / "finn" / "intermediate_models" / "dataflow_parent.onnx"))
    rep = json.loads((build / "report.json").read_text())
    xs = rtlsim.network_inputs(build, rep, None, n)
    return model, rtlsim.reference_contexts(model, parent, xs)


def test_mvau_layer_is_bit_exact_and_a_changed_weight_is_caught(mlp_build, tmp_path):
    model, ctxs = _reference(mlp_build)
    node = next(n for n in model.graph.node if n.op_type == "MVAU_rtl")
    (res,) = rtlsim.simulate_layers(model, [node], ctxs, tmp_path / "ok")
    assert res.simulated and res.bit_exact and res.mismatches == 0, res
    # the RTL MVU computes one SIMD x PE block per cycle: II equals FINN's estimate
    assert res.initiation_interval == res.estimate_cycles
    assert res.latency_cycles > res.initiation_interval
    # flip one bit of one weight word in the generated memory file: the comparison must fail
    mem = Path(getCustomOp(node).get_nodeattr("code_gen_dir_ipgen")) / "memblock.dat"
    lines = mem.read_text().split()
    original = mem.read_text()
    lines[0] = format(int(lines[0], 16) ^ 1, "0" + str(len(lines[0])) + "x")
    try:
        mem.write_text("\n".join(lines) + "\n")
        (bad,) = rtlsim.simulate_layers(model, [node], ctxs, tmp_path / "bad")
    finally:
        mem.write_text(original)
    assert bad.cached, "weights are read at run time: the compiled simulator is reused"
    assert bad.simulated and not bad.bit_exact and bad.mismatches > 0


def test_sim_cli_errors(tmp_path, default_run_copy):
    proc = hyq("sim", str(tmp_path))
    assert proc.returncode == 2 and "not a hyq build folder" in proc.stderr
    # a folder whose estimate build did not finish has nothing to generate RTL from
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    shutil.copy(default_run_copy / "report.json", unfinished / "report.json")
    shutil.copy(default_run_copy / "model.onnx", unfinished / "model.onnx")
    proc = hyq("sim", str(unfinished))
    assert proc.returncode == 2 and "no finished estimate build" in proc.stderr, proc.stderr
    proc = hyq("sim", str(default_run_copy), "--trace", str(tmp_path / "w.txt"))
    assert proc.returncode == 2 and ".vcd or .fst" in proc.stderr
    # the softmax target still parses as before
    proc = hyq("sim", "softmax", "--help")
    assert proc.returncode == 0 and "--method" in proc.stdout


@pytest.mark.slow
def test_hyq_sim_of_an_estimate_build_generates_its_rtl(default_run_copy):
    """What `make run` leaves (estimate steps only) simulates: the RTL is generated from the
    build's last saved model first, once."""
    inter = default_run_copy / "finn" / "intermediate_models"
    assert not list(inter.glob("*_step_hw_codegen.onnx"))
    proc = hyq("sim", str(default_run_copy), "--count", "1", "--no-layers")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "generating the RTL of this estimate build" in proc.stdout
    assert len(list(inter.glob("*_step_hw_codegen.onnx"))) == 1
    sim = json.loads((default_run_copy / "report.json").read_text())["rtlsim"]
    assert sim["bit_exact"] is True and sim["network"]["bit_exact"] is True
    proc = hyq("sim", str(default_run_copy), "--count", "1", "--no-layers")
    assert proc.returncode == 0 and "generating the RTL" not in proc.stdout


@pytest.mark.slow
def test_hyq_sim_whole_conv_net_bit_exact_with_cycles_and_trace(conv_build, tmp_path):
    """FMPadding, SWG, MVAU, Thresholding, DWC and FIFOs stitched: bit-exact vs QONNX."""
    build = tmp_path / "build"
    shutil.copytree(conv_build, build)
    trace = tmp_path / "wave.vcd"
    proc = hyq("sim", str(build), "--trace", str(trace), "--trace-depth", "2", "--count", "3")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rep = json.loads((build / "report.json").read_text())
    sim = rep["rtlsim"]
    assert sim["bit_exact"] is True and sim["samples"] == 3
    assert {"cycles_per_inference", "initiation_interval", "estimate_cycles", "layers"} <= set(sim)
    hw = [layer for layer in sim["layers"] if layer["op_type"].endswith("_rtl")]
    assert hw and all(layer["simulated"] and layer["bit_exact"] for layer in hw)
    # the float classifier scale stays on the host and is said so
    host = [layer for layer in sim["layers"] if not layer["simulated"]]
    assert [h["op_type"] for h in host] == ["ElementwiseMulHyq_hls"] and "host" in host[0]["reason"]
    net = sim["network"]
    assert net["accelerator_mismatches"] == 0 and net["argmax_equal"]
    assert net["max_rel_diff_vs_qonnx"] <= rtlsim.FLOAT_RTOL
    # measured steady state = FINN's bottleneck estimate; layers overlap, so one inference
    # takes longer than the bottleneck but less than FINN's sum over layers
    assert sim["initiation_interval"] == rep["max_cycles"]
    assert rep["max_cycles"] < sim["cycles_per_inference"] <= rep["critical_path_cycles"]
    assert {"FMPadding_rtl", "ConvolutionInputGenerator_rtl", "MVAU_rtl"} <= {x["op_type"] for x in hw}
    assert "network" in proc.stdout and "MVAU_rtl_0" in proc.stdout
    head = trace.read_text(errors="replace")[:2000]
    assert "$timescale" in head and "$var" in head
    # the stream-level waveform read back from the VCD agrees with the harness' own counts
    act = stream_activity(trace)
    assert len(act.streams["in0"]) == 3 * 64 and len(act.streams["out0"]) == 3 * 10
    assert act.streams["out0"][9] - act.streams["in0"][0] + 1 == sim["cycles_per_inference"]
    mvau = [n for n in act.streams if n.startswith("MVAU_rtl")]
    assert mvau and all(len(act.streams[n]) for n in mvau)
    assert sim["network"]["activity_plot"] == str(tmp_path / "wave_activity.png")
    assert (tmp_path / "wave_activity.png").stat().st_size > 0 and (tmp_path / "wave_activity.svg").is_file()
    # second run: simulators come from the content-hashed cache
    proc = hyq("sim", str(build), "--trace", str(trace), "--trace-depth", "2", "--count", "3")
    assert proc.returncode == 0 and "cached simulator" in proc.stdout
    assert json.loads((build / "report.json").read_text())["rtlsim"]["network"]["cached"] is True
    # random backpressure on the accelerator's input and output: still bit-exact
    proc = hyq("sim", str(build), "--no-layers", "--stall", "0.5", "--trace", str(trace), "--trace-depth", "2")
    net = json.loads((build / "report.json").read_text())["rtlsim"]["network"]
    assert proc.returncode == 0 and net["bit_exact"] and net["stall"] == 0.5 and net["cached"]


@pytest.mark.slow
def test_rtlsim_inputs_file_and_mismatch_is_reported(mlp_build, tmp_path):
    """--inputs feeds given samples; random 8-bit images are simulated bit-exactly too."""
    build = tmp_path / "build"
    shutil.copytree(mlp_build, build)
    x = np.random.default_rng(1).integers(0, 256, size=(2, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    proc = hyq("sim", str(build), "--inputs", str(tmp_path / "x.npy"), "--no-layers")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    sim = json.loads((build / "report.json").read_text())["rtlsim"]
    assert sim["samples"] == 2 and sim["bit_exact"] and sim["layers"] == []
    np.save(tmp_path / "bad.npy", x[:, :, :4])
    proc = hyq("sim", str(build), "--inputs", str(tmp_path / "bad.npy"))
    assert proc.returncode == 2 and "the model takes shape (N, 1, 8, 8)" in proc.stderr
    assert "(2, 1, 4, 8)" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


#: hyq's RTL stand-ins for the layers finn-plus builds only in HLS on Zynq parts
STAND_INS = {"HyqVVAU_rtl", "HyqDuplicateStreams_rtl", "HyqElementwiseAdd_rtl", "HyqGlobalAccPool_rtl"}


@pytest.mark.slow
def test_hyq_sim_default_cnn_whole_network_bit_exact(default_codegen, tmp_path):
    """Every layer of the default CNN is RTL (FINN's, and hyq's stand-ins for its HLS-only
    layers); each matches FINN's Python execution, and the stitched accelerator with its
    residual fork/join matches QONNX, its steady state at FINN's bottleneck estimate."""
    wave = tmp_path / "wave.vcd"
    proc = hyq("sim", str(default_codegen), "--count", "2", "--trace", str(wave), "--trace-depth", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sim = json.loads((default_codegen / "report.json").read_text())["rtlsim"]
    rtl = [x for x in sim["layers"] if x["op_type"].endswith("_rtl")]
    assert {x["op_type"] for x in rtl} >= {"Thresholding_rtl", "FMPadding_rtl", "ConvolutionInputGenerator_rtl",
                                           "MVAU_rtl", "StreamingFIFO_rtl"} | STAND_INS
    bad = [x["name"] for x in rtl if not (x["simulated"] and x["bit_exact"])]
    assert not bad, bad
    for x in rtl:
        if x["op_type"] in ("MVAU_rtl", "Thresholding_rtl", "FMPadding_rtl", "HyqVVAU_rtl", "HyqRequant_rtl"):
            assert x["initiation_interval"] == x["estimate_cycles"], x
    # only the float classifier scale is left to the host
    assert [x["op_type"] for x in sim["layers"] if not x["simulated"]] == ["ElementwiseMulHyq_hls"]
    net = sim["network"]
    assert sim["bit_exact"] and net["bit_exact"] and net["accelerator_mismatches"] == 0 and net["argmax_equal"]
    est = sim["estimate_cycles"]
    # steady state: the slowest layer (a sliding window, measured 8 cycles under FINN's estimate)
    assert net["initiation_interval"] == pytest.approx(est["max_cycles"], rel=0.02)
    assert est["max_cycles"] < sim["cycles_per_inference"] <= est["critical_path_cycles"]
    act = stream_activity(wave)
    adds = [n for n in act.streams if n.startswith("HyqElementwiseAdd_rtl")]
    assert adds and all(len(act.streams[n]) == 2 * 8 * 8 * 16 for n in adds)  # two 8x8x16 residual sums, PE 1


def test_hyq_softmax_layer_rtlsim_through_the_generic_path(tmp_path):
    """hyq's own HW layer (HyqSoftmax_rtl) goes through the same layer rtlsim as FINN's."""
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.basic import qonnx_make_model

    from hyq.dataflow import finn_env
    from hyq.dataflow.ops.softmax import InferIntSoftmax
    from hyq.dataflow.transforms import AbsorbScaleIntoIntSoftmax
    from hyq.integer.softmax import softmax_params
    from hyq.nn.softmax import node_attributes

    shape, scale = (1, 2, 4, 16), 0.0625
    attrs = {k.rsplit("_", 1)[0]: v for k, v in node_attributes(softmax_params(scale, "linmax"), -1).items()}
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "c"], ["xs"]),
         helper.make_node("IntSoftmax", ["xs"], ["y"], domain="hyq.export.ops", **attrs)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("c", np.asarray(scale, dtype=np.float32))
    model.set_tensor_datatype("x", DataType["INT8"])
    model = model.transform(InferShapes()).transform(AbsorbScaleIntoIntSoftmax()).transform(InferIntSoftmax())
    finn_env.use_build_dir(tmp_path / "finn_gen")
    model = model.transform(SpecializeLayers(PART)).transform(GiveUniqueNodeNames())
    model = model.transform(PrepareIP(PART, 10.0))
    node = model.graph.node[0]
    assert node.op_type == "HyqSoftmax_rtl"
    xs = np.random.default_rng(0).integers(-128, 128, (2, *shape[1:])).astype(np.float32)
    ctxs = [rtlsim.python_exec(model, x[None]) for x in xs]
    (res,) = rtlsim.simulate_layers(model, [node], ctxs, tmp_path / "sim")
    assert res.simulated and res.bit_exact, res
    assert res.estimate_cycles and res.initiation_interval >= res.estimate_cycles * 0.5


@pytest.mark.slow
def test_hyq_sim_hybrid_tiny_whole_network_bit_exact(hybrid_codegen):
    """The hybrid CNN-Transformer as published (LayerNorm, SiLU) simulates whole: MV2 blocks, the
    MobileViT block's unfold/fold shuffles, attention's dynamic matrix products, hyq's integer
    softmax, LayerNorm, the SiLU tables and the fuse concat, every layer bit-exact against FINN's
    Python execution and the network against QONNX."""
    proc = hyq("sim", str(hybrid_codegen), "--count", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sim = json.loads((hybrid_codegen / "report.json").read_text())["rtlsim"]
    ops = {x["op_type"] for x in sim["layers"] if x["simulated"]}
    assert {"HyqSoftmax_rtl", "HyqMVAU_rtl", "HyqOuterShuffle_rtl", "HyqStreamingConcat_rtl",
            "HyqLayerNorm_rtl", "HyqLookup_rtl"} | STAND_INS <= ops
    bad = [x["name"] for x in sim["layers"] if x["simulated"] and not x["bit_exact"]]
    assert not bad, bad
    assert [x["op_type"] for x in sim["layers"] if not x["simulated"]] == ["ElementwiseMulHyq_hls"]
    net = sim["network"]
    assert sim["bit_exact"] and net["accelerator_mismatches"] == 0 and net["argmax_equal"]
    assert net["initiation_interval"] == pytest.approx(sim["estimate_cycles"]["max_cycles"], rel=0.05)


@pytest.mark.slow
def test_sim_killed_at_a_random_point_resumes(mlp_build, tmp_path):
    """``hyq sim`` killed (SIGKILL) while it compiles or simulates: the report stays without
    ``rtlsim``, a simulator build cut short is never taken as built; a rerun simulates and records it."""
    import os
    import random
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT

    build = tmp_path / "build"
    shutil.copytree(mlp_build, build)
    np.save(tmp_path / "x.npy", np.random.default_rng(2).integers(0, 256, size=(2, 1, 8, 8)).astype(np.float32))
    at = random.Random(os.environ.get("HYQ_FAULT_SEED", "17")).choice(["simulation graph:", "layer by layer:"])
    env = {**os.environ, "HYQ_CACHE": str(tmp_path / "cache")}  # no compiled simulator cached yet
    args = [sys.executable, "-m", "hyq.cli", "sim", str(build), "--inputs", str(tmp_path / "x.npy")]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if at in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=900)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)[-2000:]
    assert "rtlsim" not in json.loads((build / "report.json").read_text())
    for d in (tmp_path / "cache" / "verilator").glob("*"):  # a killed build stays in its temporary folder
        assert "." in d.name or (d / "sim").is_file()
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env, timeout=1800)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert json.loads((build / "report.json").read_text())["rtlsim"]["bit_exact"] is True
