"""``hyq sim BUILD --size-fifos``: FIFO depths from the peaks of a Verilator run (hyq.sim.fifos,
hyq.sim.rtlsim.size_build_fifos), and the measured latency in the report."""

from __future__ import annotations

import json
from pathlib import Path

import finn
import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hyq.errors import HyqError
from hyq.sim import fifos
from hyq.sim.stitch import FIFO_GAUGE, FIFO_PEAK, NodeRTL, stage_sources
from hyq.sim.harness import fifo_peaks
from tests.conftest import hyq


def test_sized_depths_and_peak_lines():
    assert fifo_peaks(f"x\n{FIFO_PEAK} StreamingFIFO_rtl_3 17\n{{}}\n") == {"StreamingFIFO_rtl_3": 17}
    assert fifos.sized_depths({"a": 0, "b": 40}) == {"a": fifos.MIN_DEPTH, "b": 40 + fifos.MARGIN}


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


@pytest.mark.slow
def test_size_fifos_shrinks_the_fork_fifos_and_keeps_the_ii(default_codegen):
    proc = hyq("sim", str(default_codegen), "--no-layers", "--count", "2", "--size-fifos")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rep = json.loads((default_codegen / "report.json").read_text())
    sim, fs = rep["rtlsim"], rep["rtlsim"]["fifo_sizing"]
    assert sim["bit_exact"] and fs["applied"] and fs["stalled_bit_exact"]
    assert fs["initiation_interval_after"] == fs["initiation_interval_before"]
    assert fs["after"]["bits"] < fs["before"]["bits"]
    forks = {k: v for k, v in fs["depths"].items() if v["before"] == 1026}  # the one-sample skip FIFOs
    assert len(forks) == 2 and all(v["after"] < 700 for v in forks.values()), forks
    assert json.loads((default_codegen / fifos.DEPTHS_FILE).read_text())["fifo_depths"] == \
        {k: v["after"] for k, v in fs["depths"].items()}
    # the measured latency is the report's, FINN's estimate kept
    assert rep["latency_source"] == "verilator" and rep["latency_cycles"] == sim["network"]["latency_cycles"]
    assert rep["latency_ns_finn"] == pytest.approx(rep["critical_path_cycles"] * rep["clock_ns"])
    assert "FIFOs sized in Verilator" in (default_codegen / "report.md").read_text()
    # the sized graph is the build's now
    model = ModelWrapper(str(default_codegen / "finn" / "rtlsim" / "sim_model.onnx"))
    for name, v in forks.items():
        assert getCustomOp(model.get_node_from_name(name)).get_nodeattr("depth") == v["after"]
