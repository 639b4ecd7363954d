"""Layer by layer: each RTL layer fed the tensors its producers computed in Python, all side
by side in one simulator, its output compared bit for bit."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hyq.sim import stitch
from hyq.sim.harness import cycle_budget, run, timing
from hyq.sim.packing import beats_per_sample, pack, unpack
from hyq.sim.reference import stream_order
from hyq.sim.results import LayerResult
from hyq.tools import verilator


def _layer_estimate(inst) -> int | None:
    try:
        return int(inst.get_exp_cycles())
    except Exception:  # noqa: BLE001 - some ops have no estimate
        return None


def simulate_layers(model: ModelWrapper | None, nodes: list, ctxs: list[dict], work: Path,
                    tool: verilator.Verilator | None = None) -> list[LayerResult]:
    """Simulate ``nodes`` each on the tensors its producers computed in Python; compare outputs.

    ``model``: the graph the nodes belong to (it tells how a producer orders a stream), or
    None for layers built on their own.

    The layers run side by side in one simulator (one Verilator compile for all of them):
    each gets its own input and output streams, so they do not interact and each one's
    cycles are its own.
    """
    results, todo = [], []
    for node in nodes:
        inst = getCustomOp(node)
        res = LayerResult(node.name, node.op_type, False, estimate_cycles=_layer_estimate(inst))
        results.append(res)
        try:
            rtl = stitch.node_rtl(node)
        except stitch.NotSimulable as exc:
            res.reason = str(exc)
            continue
        iso = copy.copy(rtl)  # streams renamed per layer: nothing connects to anything else
        iso.inputs = [stitch.Stream(x.port, x.bits, f"{node.name}/{x.tensor}") for x in rtl.inputs]
        iso.outputs = [stitch.Stream(x.port, x.bits, f"{node.name}/{x.tensor}") for x in rtl.outputs]
        todo.append((node, inst, rtl, iso, res))
    if not todo:
        return results
    in_beats, counts, gin, gout = [], [], [], []
    for node, inst, rtl, iso, _ in todo:
        for x, y in zip(rtl.inputs, iso.inputs):
            i = int(x.port[2:-2])
            in_beats.append([b for c in ctxs for b in pack(stream_order(model, node, i, c[x.tensor]), inst, i, x.bits)])
            gin.append(y.tensor)
        for x, y in zip(rtl.outputs, iso.outputs):
            counts.append(beats_per_sample(inst, int(x.port[3:-2]), True) * len(ctxs))
            gout.append(y.tensor)
    # every layer runs at once: allow the slowest, by FINN's estimate, a margin over its beats
    slowest = max((res.estimate_cycles or 0) for *_, res in todo)
    r = run([t[3] for t in todo], gin, gout, in_beats, counts, work, tool=tool,
            max_cycles=cycle_budget(slowest * len(ctxs), sum(len(b) for b in in_beats) + sum(counts)))
    k_in = k_out = 0
    for node, inst, rtl, iso, res in todo:
        bad = 0
        first_in = min(r.in_first[k_in:k_in + len(rtl.inputs)])
        for m, x in enumerate(rtl.outputs):
            j = int(x.port[3:-2])
            per = beats_per_sample(inst, j, True)
            beats = r.beats[k_out + m]
            for n, c in enumerate(ctxs):
                got = unpack(beats[n * per:(n + 1) * per], inst, j)
                bad += int(np.count_nonzero(got != np.asarray(c[x.tensor], dtype=np.float32).reshape(got.shape)))
        t = timing(r.beat_cycles[k_out], beats_per_sample(inst, int(rtl.outputs[0].port[3:-2]), True), first_in)
        res.simulated, res.bit_exact, res.mismatches, res.cached = True, bad == 0, bad, r.cached
        res.latency_cycles, res.initiation_interval = t["latency_cycles"], t["initiation_interval"]
        k_in += len(rtl.inputs)
        k_out += len(rtl.outputs)
    return results

