"""``hyq sim BUILD_DIR``: the result of the Verilator run goes into the build's report."""

from __future__ import annotations

import json
from pathlib import Path

from hyq.report import write
from hyq.sim.results import SimResult


def update_report(build_dir: Path, res: SimResult) -> Path:
    """Add ``rtlsim`` to the build's report.json (re-written atomically through hyq.report)."""
    build_dir = Path(build_dir)
    rep = json.loads((build_dir / "report.json").read_text())
    rep["rtlsim"] = {"source": "verilator", **res.as_report()}
    measured_latency(rep)
    return write(rep, build_dir)[0]


def measured_latency(rep: dict) -> dict:
    """With a whole-network simulation, the report's latency is the measured one (source
    ``verilator``); FINN's critical-path estimate stays alongside as ``latency_ns_finn``."""
    net = (rep.get("rtlsim") or {}).get("network") or {}
    if net.get("latency_cycles") is None:
        return rep
    if rep.get("latency_source") != "verilator":  # keep FINN's figure from the first time only
        rep["latency_ns_finn"] = rep.get("latency_ns")
    rep["latency_ns"] = float(net["latency_cycles"]) * float(rep["clock_ns"])
    rep["latency_cycles"] = int(net["latency_cycles"])
    rep["latency_source"] = "verilator"
    return rep
