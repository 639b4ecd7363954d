"""``hyq sim BUILD --size-fifos``: FIFO depths from the peaks of a Verilator run (hyq.sim.fifos,
hyq.sim.rtlsim.size_build_fifos), and the measured latency in the report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import finn
import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hyq.dataflow import folding_check
from hyq.errors import HyqError
from hyq.sim import fifos
from hyq.sim.stitch import FIFO_GAUGE, FIFO_PEAK, NodeRTL, stage_sources
from hyq.sim.harness import SimTimeout, fifo_peaks
from hyq.sim.prepare import sim_model
from hyq.sim.rtlsim import II_TOLERANCE, simulate_depths
from tests.conftest import hyq


def test_sized_depths_and_peak_lines():
    assert fifo_peaks(f"x\n{FIFO_PEAK} StreamingFIFO_rtl_3 17\n{{}}\n") == {"StreamingFIFO_rtl_3": 17}
    assert fifos.sized_depths({"a": 0, "b": 40}) == {"a": fifos.MIN_DEPTH, "b": 40 + fifos.MARGIN}


def test_minimal_depths_bisects_each_deep_fifo():
    """Each FIFO deeper than SEARCH_ABOVE drops to the least depth its trial accepts, deepest
    first with the others at their depths so far; shallow FIFOs stay."""
    need = {"a": 100, "b": 37, "c": 5}   # a trial keeps the throughput iff a >= 100 and b >= 37 - (a > 150)
    seen, lines = [], []

    def keeps(d):
        seen.append(dict(d))
        return d["a"] >= need["a"] and d["b"] >= need["b"] - (d["a"] > 150)

    got = fifos.minimal_depths({"a": 300, "b": 60, "c": 30}, keeps, lines.append)
    assert got == {"a": 100, "b": 37, "c": 30}
    assert len(lines) == 2 and "300 -> 100" in lines[0] and "60 -> 37" in lines[1]
    runs_a = int(re.search(r"\((\d+) runs\)", lines[0]).group(1))
    assert all(d["b"] == 60 for d in seen[:runs_a]) and all(d["a"] == 100 for d in seen[runs_a:])


def test_real_fifos_need_finns_wrapper_text(tmp_path):
    """The staged FIFO wrapper selects its gauge by hyq's define; a wrapper whose text no longer
    matches is an error, not a silent run of the unbounded gauge."""
    template = Path(finn.__file__).parent / "finn-rtllib" / "fifo" / "hdl" / "fifo_template.v"

    def staged(text: str) -> str:
        cgd = tmp_path / "cgd"
        cgd.mkdir(exist_ok=True)
        (cgd / "StreamingFIFO_rtl_0.v").write_text(text)
        node = NodeRTL("StreamingFIFO_rtl_0", "StreamingFIFO_rtl_0", [], [cgd / "StreamingFIFO_rtl_0.v"], cgd, [], [],
                       fifo=True)
        (src,) = stage_sources([node], tmp_path / "src", None)
        return src.read_text()

    text = staged(template.read_text())
    assert f"`ifdef {FIFO_GAUGE}\n\tfifo_gauge" in text and "FINN_SIMULATION" not in text
    with pytest.raises(HyqError, match="FIFO wrapper changed"):
        staged(template.read_text().replace("`ifdef FINN_SIMULATION\n\t", "`ifdef FINN_SIMULATION\n  "))


def test_fifo_depth_files_and_folding_files_are_told_apart(tmp_path):
    depths = tmp_path / "fifo_depths.json"
    depths.write_text(json.dumps({"fifo_depths": {"StreamingFIFO_rtl_0": 2, "StreamingFIFO_rtl_1": 40},
                                  "ram_style": {"StreamingFIFO_rtl_1": "block"}}))
    conf = folding_check.load_fifo_depths(depths)   # FINN's format, the styles FINN needs filled in
    assert conf["impl_style"] == {"StreamingFIFO_rtl_0": "rtl", "StreamingFIFO_rtl_1": "rtl"}
    assert conf["ram_style"] == {"StreamingFIFO_rtl_0": "auto", "StreamingFIFO_rtl_1": "block"}
    with pytest.raises(HyqError, match="is a FIFO-depth file .* --fifo-depths"):
        folding_check.load(depths)
    folding = tmp_path / "folding.json"
    folding.write_text(json.dumps({"MVAU_rtl_0": {"PE": 2}}))
    with pytest.raises(HyqError, match="not a FIFO-depth file .* --folding"):
        folding_check.load_fifo_depths(folding)
    depths.write_text(json.dumps({"fifo_depths": {"StreamingFIFO_rtl_0": 1}}))
    with pytest.raises(HyqError, match="StreamingFIFO_rtl_0 must be an integer depth of at least 2"):
        folding_check.load_fifo_depths(depths)
    # the command line says so in one line, before any work
    proc = hyq("build", str(tmp_path / "any.onnx"), "--part", "xc7z020clg400-1", "--fifo-depths", str(folding),
               "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "not a FIFO-depth file" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.slow
def test_size_fifos_shrinks_the_fork_fifos_and_keeps_the_ii(default_codegen, tmp_path):
    proc = hyq("sim", str(default_codegen), "--no-layers", "--count", "2", "--size-fifos")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rep = json.loads((default_codegen / "report.json").read_text())
    sim, fs = rep["rtlsim"], rep["rtlsim"]["fifo_sizing"]
    assert sim["bit_exact"] and fs["applied"] and fs["stalled_bit_exact"]
    assert fs["initiation_interval_after"] == fs["initiation_interval_before"]
    assert fs["after"]["bits"] < fs["before"]["bits"]
    forks = {k: v for k, v in fs["depths"].items() if v["before"] == 1026}  # the one-sample skip FIFOs
    assert len(forks) == 2 and all(v["after"] < 700 for v in forks.values()), forks
    # minimal, not just peak + margin: searched below the peak, and tight: half the deepest
    # fork FIFO's depth, on real fifo.sv, costs throughput or deadlocks
    assert fs["searched"] and all(v["after"] <= v["peak_margin"] for v in fs["depths"].values())
    deepest = max(forks, key=lambda k: forks[k]["after"])
    half = forks[deepest]["after"] // 2
    try:
        r = simulate_depths(default_codegen, {deepest: half}, count=2, max_cycles=2 * sim["network"]["total_cycles"])
        assert r["initiation_interval"] > fs["initiation_interval_after"] * (1 + II_TOLERANCE), (deepest, half, r)
    except SimTimeout:
        pass  # deadlocked
    written = json.loads((default_codegen / fifos.DEPTHS_FILE).read_text())["fifo_depths"]  # + the host tail's FIFO
    assert {k: written[k] for k in fs["depths"]} == {k: v["after"] for k, v in fs["depths"].items()}
    # the measured latency is the report's, FINN's estimate kept
    assert rep["latency_source"] == "verilator" and rep["latency_cycles"] == sim["network"]["latency_cycles"]
    assert rep["latency_ns_finn"] == pytest.approx(rep["critical_path_cycles"] * rep["clock_ns"])
    assert "FIFOs sized in Verilator" in (default_codegen / "report.md").read_text()
    # the sized graph is the build's now
    model = ModelWrapper(str(default_codegen / "finn" / "rtlsim" / "sim_model.onnx"))
    for name, v in forks.items():
        assert getCustomOp(model.get_node_from_name(name)).get_nodeattr("depth") == v["after"]
    # a rebuild with the depths file gets those depths
    out = tmp_path / "rebuilt"
    proc = hyq("build", str(default_codegen / "model.onnx"), "--part", rep["part"], "--target-fps", "10000",
               "--steps", "codegen", "--fifo-depths", str(default_codegen / fifos.DEPTHS_FILE), "--out", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads((out / "report.json").read_text())["fifo_depths"]["fifos"] == len(written)
    rebuilt = sim_model(out, rep["part"], rep["clock_ns"])
    assert {n.name: getCustomOp(n).get_nodeattr("depth") for n in fifos.fifo_nodes(rebuilt)} == written
