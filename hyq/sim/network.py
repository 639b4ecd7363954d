"""The whole accelerator: its stitched RTL run on a batch back to back, finished by the host
nodes, compared with the QONNX execution of the exported model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hyq.sim import stitch
from hyq.sim.harness import cycle_budget, run, timing
from hyq.sim.packing import beats_per_sample, pack, unpack
from hyq.sim.reference import generic_model, parent_run, upstream
from hyq.tools import verilator


#: relative tolerance for float network outputs vs QONNX (a few float32 ulps); integer
#: tensors (every layer, the accelerator's output) must be equal
FLOAT_RTOL = 1e-6


def simulate_network(model: ModelWrapper, accel: list, tail: list, parent: ModelWrapper, xs: np.ndarray,
                      ctxs: list[dict], want_net: list[np.ndarray], work: Path, trace: Path | None,
                      tool: verilator.Verilator | None, stall: float = 0.0, trace_depth: int = 0,
                      estimate: dict | None = None, real_fifos: bool = False,
                      fifo_limits: dict[str, int] | None = None, max_cycles: int | None = None) -> dict:
    """Run the stitched RTL of ``accel`` on all samples back to back, finish with ``tail`` in
    Python, pass the result through the host nodes of the parent graph, compare with QONNX.

    ``fifo_limits`` and ``max_cycles`` as :func:`hyq.sim.harness.run` takes them (default
    budget: a margin over FINN's estimate)."""
    from qonnx.core.onnx_exec import execute_onnx

    nodes = [stitch.node_rtl(n) for n in accel]
    gin = model.graph.input[0].name
    gout = tail[0].input[0] if tail else model.graph.output[0].name
    first = next(n for n in accel if gin in n.input)
    last = next(n for n in accel if gout in n.output)
    fi, li = getCustomOp(first), getCustomOp(last)
    i_idx, o_idx = list(first.input).index(gin), list(last.output).index(gout)
    in_bits = next(s.bits for s in stitch.node_rtl(first).inputs if s.tensor == gin)
    in_beats = [b for c in ctxs for b in pack(c[gin], fi, i_idx, in_bits)]
    per = beats_per_sample(li, o_idx, True)
    est = estimate or {}
    cycles = (est.get("critical_path_cycles") or 0) + len(xs) * (est.get("max_cycles") or 0)
    if max_cycles is None:
        max_cycles = cycle_budget(cycles, len(in_beats) + per * len(xs)) / (1 - stall) ** 2
    r = run(nodes, [gin], [gout], [in_beats], [per * len(xs)], work, trace=trace, tool=tool, stall=stall,
            trace_depth=trace_depth, real_fifos=real_fifos, max_cycles=max_cycles, fifo_limits=fifo_limits)
    outs = [unpack(r.beats[0][k * per:(k + 1) * per], li, o_idx) for k in range(len(xs))]
    accel_bad = sum(int(np.count_nonzero(o != np.asarray(c[gout]).reshape(o.shape))) for o, c in zip(outs, ctxs))
    generic = generic_model(model)

    def finish(ins, k):
        """The partition's output for sample k: simulated RTL output, then the host tail."""
        acc = outs[k].reshape(ctxs[k][gout].shape)
        if not tail:
            return [acc]
        # the tail reads past FIFOs (generic_model): give the output under its source's name too
        src = upstream(model, gout)
        feed = {gin: ins[0], gout: acc, **({src.output[0]: acc} if src is not None else {})}
        ret = execute_onnx(generic, feed, start_node=generic.graph.node[len(accel)])
        return [ret[model.graph.output[0].name]]

    got_net = [parent_run(parent, x[None], lambda ins, k=k: finish(ins, k)) for k, x in enumerate(xs)]
    diff = max(float(np.max(np.abs(g - w))) for g, w in zip(got_net, want_net))
    scale = max(float(np.max(np.abs(w))) for w in want_net) or 1.0
    net_exact = all(np.array_equal(g, w) for g, w in zip(got_net, want_net))
    # the float boundary: FINN's streamlined graph applies the output scales in another order
    # than the QONNX graph, so float outputs may differ in the last bits (float32 rounding)
    net_match = all(np.allclose(g, w, rtol=FLOAT_RTOL, atol=FLOAT_RTOL * scale) for g, w in zip(got_net, want_net))
    t = timing(r.beat_cycles[0], per, r.in_first[0])
    return {
        "bit_exact": accel_bad == 0 and net_match,
        "accelerator_mismatches": accel_bad,
        "network_equal_to_qonnx": net_exact,
        "network_matches_qonnx_to_float_rounding": net_match,
        "max_abs_diff_vs_qonnx": diff,
        "max_rel_diff_vs_qonnx": diff / scale,
        "argmax_equal": all(int(np.argmax(g)) == int(np.argmax(w)) for g, w in zip(got_net, want_net)),
        "layers": len(nodes),
        "host_layers": [n.name for n in tail],
        "total_cycles": r.cycles,
        "cached": r.cached,
        "trace": str(trace) if trace else None,
        "stall": stall,
        "real_fifos": real_fifos,
        "fifo_limits": dict(fifo_limits or {}),
        "fifo_peaks": r.fifo_peaks,
        **t,
    }

