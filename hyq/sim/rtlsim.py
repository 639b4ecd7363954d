"""Verilator simulation of a FINN dataflow build: every ``_rtl`` layer alone, then the whole
accelerator stitched (``hyq sim BUILD_DIR``).

The reference is FINN's own Python execution of the HW graph (each specialised layer run
through its generic op's ``execute_node``), which yields every intermediate tensor; a layer
is fed the tensor its producer computed in Python and must reproduce its output bit for
bit. The whole accelerator runs a batch back to back; its output, finished by the host
nodes outside the dataflow partition, is compared with the QONNX execution of the exported
model. Cycle counts come from the harness: latency = first input beat to last output beat
of the first inference, initiation interval = spacing of the last output beats of
consecutive inferences.

The simulated graph is the ``step_hw_codegen`` model with FINN's width converters and
shallow FIFOs inserted (``InsertDWC``, ``InsertFIFO``), as FINN's stitched IP has them;
it is prepared once per build in ``<build>/finn/rtlsim/``.

This module runs it end to end (:func:`simulate_build`); the parts live below it:
:mod:`~hyq.sim.harness` (the Verilator harness), :mod:`~hyq.sim.packing` (tensors to beats),
:mod:`~hyq.sim.reference` (FINN's Python execution), :mod:`~hyq.sim.prepare` (the simulated
graph), :mod:`~hyq.sim.inputs` (network inputs), :mod:`~hyq.sim.layers` and
:mod:`~hyq.sim.network` (the two comparisons), :mod:`~hyq.sim.results` (results, table). Their
public names are re-exported here for the layer tests and ``hyq sim``.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hyq.errors import HyqError
from hyq.progress import info
from hyq.sim import fifos
from hyq.sim.harness import TRACE_FORMATS, Run, SimTimeout, cycle_budget, run, timing
from hyq.sim.inputs import checked_inputs, network_inputs
from hyq.sim.layers import simulate_layers
from hyq.sim.network import FLOAT_RTOL, simulate_network
from hyq.sim.packing import beats_per_sample, pack, unpack
from hyq.sim.prepare import SIM_MODEL_VERSION, mark_current, sim_model, size_fork_fifos
from hyq.sim.reference import generic_model, host_tail, python_exec, reference_contexts, stream_order, upstream
from hyq.sim.results import LayerResult, SimResult, table
from hyq.tools import verilator

#: relative growth of the initiation interval that FIFO sizing accepts (the II is a mean over
#: a few samples: one cycle of jitter must not reject the sizing)
II_TOLERANCE = 0.001

__all__ = [
    "FLOAT_RTOL", "SIM_MODEL_VERSION", "TRACE_FORMATS", "LayerResult", "Run", "SimResult", "beats_per_sample",
    "checked_inputs", "cycle_budget", "generic_model", "host_tail", "network_inputs", "pack", "python_exec",
    "reference_contexts", "run", "sim_model", "simulate_build", "simulate_layers", "simulate_network",
    "size_fork_fifos", "stream_order", "table", "timing", "unpack", "upstream",
]


def simulate_build(build_dir: Path, inputs: np.ndarray | None = None, count: int = 4,
                   trace: Path | None = None, layers: bool = True,
                   tool: verilator.Verilator | None = None, stall: float = 0.0,
                   trace_depth: int = 0, size_fifos: bool = False, verify_stall: float = 0.3) -> SimResult:
    """Simulate every RTL layer and, when all layers have RTL, the whole accelerator.

    ``inputs``: network inputs, batch first (default: ``count`` test samples of the flow's
    dataset); ``trace``: .vcd/.fst waveform of the whole-network run, ``trace_depth`` its
    hierarchy levels (0: everything, 2: the streams between layers); ``stall``: random
    backpressure on the whole network's input and output streams (0: full rate);
    ``size_fifos``: size every FIFO from the whole-network run (:func:`size_build_fifos`).
    """
    if trace is not None and Path(trace).suffix not in TRACE_FORMATS:
        raise HyqError(f"trace file must end in .vcd or .fst, got {trace}")
    build_dir = Path(build_dir).resolve()
    case = _Case.of(build_dir, inputs, count, tool)
    report, model, parent, xs, ctxs, want_net, work = (case.report, case.model, case.parent, case.xs, case.ctxs,
                                                       case.want_net, case.work)
    results: list[LayerResult] = []
    notes: list[str] = []
    if layers:
        t1 = time.perf_counter()
        info(f"layer by layer: {len(model.graph.node)} layers side by side in one simulator ...")
        results = simulate_layers(model, list(model.graph.node), ctxs, work / "layers", tool)
        for k, r in enumerate(results):
            if r.simulated:
                info(f"layer {k + 1}/{len(results)} {r.name}: "
                     f"{'bit-exact' if r.bit_exact else f'{r.mismatches} MISMATCHES'}, "
                     f"II {r.initiation_interval if r.initiation_interval is not None else '-'} cycles "
                     f"(FINN estimate {r.estimate_cycles}), latency {r.latency_cycles}")
            else:
                info(f"layer {k + 1}/{len(results)} {r.name}: not simulated: {r.reason}")
        cached = any(r.cached for r in results if r.simulated)
        info(f"layer by layer done ({'cached simulator' if cached else 'compiled'}, {time.perf_counter() - t1:.1f} s)")
    network = None
    estimate = case.estimate
    tail = host_tail(model)
    for r in results:
        if any(r.name == n.name for n in tail) and not r.simulated:
            r.reason = "float op kept on the host (executed in Python by FINN's generic op)"
    if tail:
        notes.append(f"on the host, after the accelerator: {', '.join(n.name for n in tail)} (float output)")
    accel = [n for n in model.graph.node if n not in tail]
    missing = [n.name for n in accel if not n.op_type.endswith("_rtl")]
    if missing:
        notes.append(f"whole-network simulation skipped: no RTL for {', '.join(missing)}")
        info(notes[-1] + ("; no waveform written" if trace is not None else ""))
    else:
        t1 = time.perf_counter()
        network = simulate_network(model, accel, tail, parent, xs, ctxs, want_net, work / "network", trace, tool,
                                    stall, trace_depth, estimate)
        network["estimate_cycles"] = estimate
        info(f"whole network ({len(accel)} layers in RTL, {len(tail)} on the host, {len(xs)} inputs): "
             f"{'bit-exact' if network['bit_exact'] else 'MISMATCH'} vs QONNX, "
             f"{network['latency_cycles']} cycles per inference, II {network['initiation_interval']} cycles; "
             f"FINN estimate {report.get('critical_path_cycles')} / {report.get('max_cycles')} "
             f"({time.perf_counter() - t1:.1f} s)")
    sizing = None
    if size_fifos:
        if network is None:
            raise HyqError("--size-fifos needs the whole-network simulation, which was skipped: " + notes[-1])
        sizing = size_build_fifos(build_dir, report, model, network, case.real_fifos, verify_stall)
        network = sizing.pop("network")
        network["estimate_cycles"] = estimate
    exact = bool(all(r.bit_exact for r in results if r.simulated) and network is not None and network["bit_exact"])
    return SimResult(results, network, len(xs), exact, notes, estimate, sizing)


@dataclass
class _Case:
    """A build's simulated graph and the samples it runs, with their QONNX and FINN references."""

    build_dir: Path
    report: dict
    model: ModelWrapper
    parent: ModelWrapper
    xs: np.ndarray
    ctxs: list[dict]
    want_net: list[np.ndarray]
    tool: verilator.Verilator | None

    @classmethod
    def of(cls, build_dir: Path, inputs: np.ndarray | None, count: int, tool) -> _Case:
        from qonnx.core.onnx_exec import execute_onnx

        if count < 1:
            raise HyqError(f"--count must be >= 1, got {count}")
        rep_path = build_dir / "report.json"
        report = json.loads(rep_path.read_text()) if rep_path.is_file() else {}
        if not report:
            raise HyqError(f"{build_dir} is not a hyq build folder (no report.json); run `hyq run` or `hyq build` first")
        xs = network_inputs(build_dir, report, inputs, count)  # bad inputs fail before any work
        t0 = time.perf_counter()
        model = sim_model(build_dir, report["part"], report["clock_ns"])
        info(f"simulation graph: {len(model.graph.node)} layers incl. FIFOs/DWCs ({time.perf_counter() - t0:.1f} s)")
        parent = ModelWrapper(str(build_dir / "finn" / "intermediate_models" / "dataflow_parent.onnx"))
        qonnx = ModelWrapper(str(build_dir / "model.onnx"))
        qname = qonnx.graph.input[0].name
        qshape = qonnx.get_tensor_shape(qname)
        if xs.ndim != len(qshape) or list(xs.shape[1:]) != list(qshape[1:]):
            raise HyqError(f"inputs must have shape (N, {', '.join(map(str, qshape[1:]))}); got {xs.shape}")
        want_net = [execute_onnx(qonnx, {qname: x[None]})[qonnx.graph.output[0].name] for x in xs]
        return cls(build_dir, report, model, parent, xs, reference_contexts(model, parent, xs), want_net, tool)

    @property
    def work(self) -> Path:
        return self.build_dir / "finn" / "rtlsim" / "work"

    @property
    def estimate(self) -> dict:
        return {"critical_path_cycles": self.report.get("critical_path_cycles"),
                "max_cycles": self.report.get("max_cycles")}

    def real_fifos(self, model: ModelWrapper, stall: float, limits: dict[str, int] | None = None,
                   max_cycles: int | None = None) -> dict:
        """The whole network of ``model`` on FINN's ``fifo.sv`` at its depths (``limits``: run-time
        depth limits, :func:`hyq.sim.harness.run`)."""
        return simulate_network(model, accel_of(model), host_tail(model), self.parent, self.xs, self.ctxs,
                                self.want_net, self.work / "network", None, self.tool, stall, 0, self.estimate,
                                real_fifos=True, fifo_limits=limits, max_cycles=max_cycles)


def simulate_depths(build_dir: Path, depths: dict[str, int], count: int = 2,
                    tool: verilator.Verilator | None = None, max_cycles: int | None = None) -> dict:
    """The whole network of a build at full rate on FINN's ``fifo.sv``, the FIFOs named in
    ``depths`` at those depths (e.g. to see what a shallower FIFO costs); the build's
    simulated graph and its FIFO RTL are left as they were. SimTimeout when it runs out of
    ``max_cycles`` (default: a margin over FINN's estimate)."""
    case = _Case.of(Path(build_dir).resolve(), None, count, tool)
    part, clock = case.report["part"], case.report["clock_ns"]
    old = {n.name: int(getCustomOp(n).get_nodeattr("depth")) for n in fifos.fifo_nodes(case.model)}
    unknown = sorted(set(depths) - set(old))
    if unknown:
        raise HyqError(f"no FIFO named {', '.join(unknown)} in {build_dir}; its FIFOs are {', '.join(old)}")
    changed = fifos.apply_depths(ModelWrapper(copy.deepcopy(case.model.model)), depths, part, clock)
    try:
        return case.real_fifos(changed, 0.0, max_cycles=max_cycles)
    finally:
        fifos.regenerate(case.model, depths, part, clock)


def accel_of(model: ModelWrapper) -> list:
    """The graph's layers run in RTL (all but the host tail)."""
    tail = host_tail(model)
    return [n for n in model.graph.node if n not in tail]


def _throughput_kept(before: dict, after: dict) -> bool:
    """``after`` is bit-exact and no slower than ``before``: the same initiation interval within
    :data:`II_TOLERANCE` (with a single sample, which has none, the same total cycles)."""
    if not after["bit_exact"]:
        return False
    key = "initiation_interval" if before["initiation_interval"] is not None else "total_cycles"
    return after[key] is not None and after[key] <= before[key] * (1 + II_TOLERANCE)


def size_build_fifos(build_dir: Path, report: dict, model: ModelWrapper, network: dict, simulate,
                     verify_stall: float) -> dict:
    """Size every FIFO from runs of the build's FIFOs as they are (FINN's ``fifo.sv`` at their
    depths, full rate), then check the sized graph and make it the build's.

    1. Each FIFO gets its peak plus :data:`fifos.MARGIN` (:func:`fifos.sized_depths`): with
       that much room no ready signal falls where it did not before.
    2. Each FIFO deeper than :data:`fifos.SEARCH_ABOVE` is cut to the smallest depth that keeps
       the initiation interval (:func:`fifos.minimal_depths`). The trial runs reuse the
       simulator of step 1: ``hyq_top`` holds a FIFO's input at a run-time limit
       (:data:`stitch.FIFO_LIMIT`), so a trial is a run, not a compile; a trial that takes
       twice the cycles of step 1 counts as deadlocked.
    3. The chosen depths are checked on real ``fifo.sv`` at those depths: at full rate the same
       initiation interval and bit-exact; with random backpressure ``verify_stall`` bit-exact
       and no deadlock. Should that fail, the depths of step 1 are checked instead.

    The checked graph replaces the build's simulated one; its depths go to
    ``fifo_depths.json``. ``network`` is the run with unbounded FIFOs (its peaks are kept for
    comparison); ``simulate(model, stall, limits=None, max_cycles=None)`` runs the whole
    network on real FIFOs.
    """
    part, clock = report["part"], report["clock_ns"]
    before = fifos.memory(model, part)
    old = {n.name: int(getCustomOp(n).get_nodeattr("depth")) for n in fifos.fifo_nodes(model)}
    base = simulate(model, 0.0)
    peak = {k: min(old[k], v) for k, v in fifos.sized_depths(base["fifo_peaks"]).items()}
    info(f"FIFO sizing: {len(peak)} FIFOs; at their depths II {base['initiation_interval']}, "
         f"{sum(old[k] != v for k, v in peak.items())} FIFOs shrink to peak + {fifos.MARGIN}")
    budget = 2 * base["total_cycles"] + 10_000
    trials = []

    def keeps(depths: dict[str, int]) -> bool:
        limits = {k: v for k, v in depths.items() if v < old[k]}
        try:
            r = simulate(model, 0.0, limits, budget)
        except SimTimeout:
            trials.append({"limits": limits, "deadlock": True})
            return False
        trials.append({"limits": limits, "initiation_interval": r["initiation_interval"]})
        return _throughput_kept(base, r)

    t0 = time.perf_counter()
    if keeps(peak):
        searched = fifos.minimal_depths(peak, keeps, info)
    else:
        searched = peak
        info(f"FIFO sizing: peak + {fifos.MARGIN} under the run-time limit loses the II; depths not searched")
    search_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for depths in ([searched, peak] if searched != peak else [peak]):
        sized = fifos.apply_depths(ModelWrapper(copy.deepcopy(model.model)), depths, part, clock)
        full = simulate(sized, 0.0)
        try:
            stalled = simulate(sized, verify_stall)
        except SimTimeout as exc:
            info(f"FIFO sizing: deadlock with random backpressure {verify_stall}: {exc}")
            stalled = {"bit_exact": False, "initiation_interval": None}
        ok = _throughput_kept(base, full) and stalled["bit_exact"]
        if ok or depths is peak:
            break
        info(f"FIFO sizing: the searched depths fail on real FIFOs (II {full['initiation_interval']}, "
             f"stalled {'bit-exact' if stalled['bit_exact'] else 'MISMATCH or deadlock'}); checking peak + margin")
    after = fifos.memory(sized, part)
    ii0, ii1 = base["initiation_interval"], full["initiation_interval"]
    if ok:  # the sized graph becomes the build's simulated one
        sized.save(str(Path(build_dir) / "finn" / "rtlsim" / "sim_model.onnx"))
        fifos.write_depths(Path(build_dir) / fifos.DEPTHS_FILE, sized)
        mark_current(build_dir)  # the saved graph has the file's depths: no preparation next time
    else:  # the FIFO RTL on disk must match the saved graph again
        fifos.regenerate(model, old, part, clock)
    info(f"FIFO sizing: {before['bits']} -> {after['bits']} bits, BRAM_18K {before['bram_18k']:g} -> "
         f"{after['bram_18k']:g}; II {ii0} -> {ii1} (stall {verify_stall}: "
         f"{'bit-exact' if stalled['bit_exact'] else 'MISMATCH'}) ({time.perf_counter() - t0:.1f} s)")
    return {
        "applied": ok, "depths_file": str(Path(build_dir) / fifos.DEPTHS_FILE) if ok else None,
        "margin_words": fifos.MARGIN, "peaks": base["fifo_peaks"], "unbounded_peaks": network["fifo_peaks"],
        "initiation_interval_unbounded": network["initiation_interval"],
        "depths": {k: {"before": old.get(k), "peak_margin": peak[k], "after": v} for k, v in depths.items()},
        "searched": depths is searched and searched != peak, "search_above_words": fifos.SEARCH_ABOVE,
        "search_runs": len(trials), "search_seconds": round(search_s, 1),
        "before": before, "after": after, "initiation_interval_before": ii0, "initiation_interval_after": ii1,
        "latency_cycles_after": full["latency_cycles"], "verify_stall": verify_stall,
        "stalled_bit_exact": stalled["bit_exact"], "stalled_initiation_interval": stalled["initiation_interval"],
        "network": full if ok else base,
    }
