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
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hyq.errors import HyqError
from hyq.progress import info
from hyq.sim import fifos
from hyq.sim.harness import TRACE_FORMATS, Run, cycle_budget, run, timing
from hyq.sim.inputs import checked_inputs, network_inputs
from hyq.sim.layers import simulate_layers
from hyq.sim.network import FLOAT_RTOL, simulate_network
from hyq.sim.packing import beats_per_sample, pack, unpack
from hyq.sim.prepare import SIM_MODEL_VERSION, sim_model, size_fork_fifos
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
    from qonnx.core.onnx_exec import execute_onnx

    if count < 1:
        raise HyqError(f"--count must be >= 1, got {count}")
    if trace is not None and Path(trace).suffix not in TRACE_FORMATS:
        raise HyqError(f"trace file must end in .vcd or .fst, got {trace}")
    build_dir = Path(build_dir).resolve()
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
    ctxs = reference_contexts(model, parent, xs)
    work = build_dir / "finn" / "rtlsim" / "work"
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
    estimate = {"critical_path_cycles": report.get("critical_path_cycles"), "max_cycles": report.get("max_cycles")}
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
        sizing = size_build_fifos(build_dir, report, model, network,
                                  lambda m, st: simulate_network(m, accel_of(m), host_tail(m), parent, xs, ctxs,
                                                                 want_net, work / "network", None, tool, st, 0,
                                                                 estimate, real_fifos=True), verify_stall)
        network = sizing.pop("network")
        network["estimate_cycles"] = estimate
    exact = bool(all(r.bit_exact for r in results if r.simulated) and network is not None and network["bit_exact"])
    return SimResult(results, network, len(xs), exact, notes, estimate, sizing)


def accel_of(model: ModelWrapper) -> list:
    """The graph's layers run in RTL (all but the host tail)."""
    tail = host_tail(model)
    return [n for n in model.graph.node if n not in tail]


def size_build_fifos(build_dir: Path, report: dict, model: ModelWrapper, network: dict, simulate,
                     verify_stall: float) -> dict:
    """Size every FIFO to the peak it reached in a run of the build's FIFOs as they are
    (FINN's ``fifo.sv`` at their depths, full rate), plus :data:`fifos.MARGIN`: with that much
    room no FIFO's ready signal falls where it did not before, so the sized graph repeats the
    same cycles. Then check the sized graph: at full rate the same initiation interval and
    bit-exact; with random backpressure ``verify_stall`` bit-exact and no deadlock (a deadlock
    runs out of cycles: HyqError). The sized graph replaces the build's simulated one; the
    depths go to ``fifo_depths.json``. ``network`` is the run with unbounded FIFOs (its peaks
    are kept for comparison); ``simulate(model, stall)`` runs the whole network on real FIFOs.
    """
    part, clock = report["part"], report["clock_ns"]
    before = fifos.memory(model, part)
    old = {n.name: int(getCustomOp(n).get_nodeattr("depth")) for n in fifos.fifo_nodes(model)}
    base = simulate(model, 0.0)
    depths = {k: min(old[k], v) for k, v in fifos.sized_depths(base["fifo_peaks"]).items()}
    info(f"FIFO sizing: {len(depths)} FIFOs; at their depths II {base['initiation_interval']}, "
         f"{sum(old[k] != v for k, v in depths.items())} FIFOs shrink")
    sized = fifos.apply_depths(ModelWrapper(copy.deepcopy(model.model)), depths, part, clock)
    t0 = time.perf_counter()
    full = simulate(sized, 0.0)
    stalled = simulate(sized, verify_stall)
    after = fifos.memory(sized, part)
    ii0, ii1 = base["initiation_interval"], full["initiation_interval"]
    kept = ii0 is None or (ii1 is not None and ii1 <= ii0 * (1 + II_TOLERANCE))
    ok = kept and full["bit_exact"] and stalled["bit_exact"]
    if ok:  # the sized graph becomes the build's simulated one
        sized.save(str(Path(build_dir) / "finn" / "rtlsim" / "sim_model.onnx"))
        fifos.write_depths(Path(build_dir) / fifos.DEPTHS_FILE, depths)
    else:  # the FIFO RTL on disk must match the saved graph again
        fifos.apply_depths(model, old, part, clock)
    info(f"FIFO sizing: {before['bits']} -> {after['bits']} bits, BRAM_18K {before['bram_18k']:g} -> "
         f"{after['bram_18k']:g}; II {ii0} -> {ii1} (stall {verify_stall}: "
         f"{'bit-exact' if stalled['bit_exact'] else 'MISMATCH'}) ({time.perf_counter() - t0:.1f} s)")
    return {
        "applied": ok, "depths_file": str(Path(build_dir) / fifos.DEPTHS_FILE) if ok else None,
        "margin_words": fifos.MARGIN, "peaks": base["fifo_peaks"], "unbounded_peaks": network["fifo_peaks"],
        "initiation_interval_unbounded": network["initiation_interval"],
        "depths": {k: {"before": old.get(k), "after": v} for k, v in depths.items()},
        "before": before, "after": after, "initiation_interval_before": ii0, "initiation_interval_after": ii1,
        "latency_cycles_after": full["latency_cycles"], "verify_stall": verify_stall,
        "stalled_bit_exact": stalled["bit_exact"], "stalled_initiation_interval": stalled["initiation_interval"],
        "network": full if ok else base,
    }
