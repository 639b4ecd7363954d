"""The Verilator harness: stitch RTL layers, build (or reuse) the simulator, drive input
streams and collect output beats with the cycle each was taken (:func:`run`), and turn those
cycles into latency and initiation interval (:func:`timing`).

Streams are raw beats here; packing tensors into beats is :mod:`hyq.sim.packing`.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hyq import cache
from hyq.errors import HyqError
from hyq.resources import TB_DIR
from hyq.sim import stitch
from hyq.tools import verilator

HARNESS = TB_DIR / "axis_dut_tb.cpp"
HEADER = TB_DIR / "hyq_axis.h"
TRACE_FORMATS = {".vcd": ("--trace", 1), ".fst": ("--trace-fst", 2)}


class SimTimeout(HyqError):
    """A run that did not finish within its cycle budget: the design hangs (deadlock) or is
    far slower than the budget assumed."""


@dataclass
class Run:
    """One harness run: output beats per output stream and the cycle each was taken."""

    beats: list[list[int]]
    beat_cycles: list[np.ndarray]
    cycles: int
    in_first: list[int]
    compile_seconds: float
    cached: bool
    fifo_peaks: dict[str, int]  # StreamingFIFO layer -> most words it held at once


def _beats_to_bytes(beats: list[int], bits: int) -> bytes:
    n = (bits + 31) // 32 * 4
    return b"".join(int(b).to_bytes(n, "little") for b in beats)


def _bytes_to_beats(data: bytes, bits: int) -> list[int]:
    n = (bits + 31) // 32 * 4
    mask = (1 << bits) - 1
    return [int.from_bytes(data[k:k + n], "little") & mask for k in range(0, len(data), n)]


def cycle_budget(estimate_cycles: float, beats: int) -> int:
    """Cycles a simulation may take before it counts as hung: a margin over FINN's estimate
    of the work and over the beats to move (stream layers FINN estimates at 0)."""
    return int(200_000 + 4 * estimate_cycles + 2_000 * beats)


def run(nodes: list[stitch.NodeRTL], graph_inputs: list[str], graph_outputs: list[str],
        in_beats: list[list[int]], out_counts: list[int], work: Path, trace: Path | None = None,
        max_cycles: int | None = None, tool: verilator.Verilator | None = None, stall: float = 0.0,
        seed: int = 0, trace_depth: int = 0, real_fifos: bool = False,
        fifo_limits: dict[str, int] | None = None) -> Run:
    """Stitch ``nodes``, build (or reuse) the simulator, drive ``in_beats``, collect outputs.

    ``stall``: probability per cycle that a source withholds TVALID and, independently, that
    a sink withholds TREADY (random backpressure, seeded by ``seed``). ``trace_depth``:
    hierarchy levels in the waveform (0: all; 2: ``hyq_top``'s streams between layers).
    ``real_fifos``: FIFOs are FINN's ``fifo.sv`` at their depths; otherwise FINN's unbounded
    ``fifo_gauge`` (what FINN's own FIFO sizing simulates), so peaks show what each FIFO needs.
    ``fifo_limits``: FIFO layer -> most words it may hold in this run (``hyq_top``'s run-time
    limit, :data:`stitch.FIFO_LIMIT`; the simulator is not rebuilt). Running out of
    ``max_cycles`` raises :class:`SimTimeout`.
    """
    if not 0 <= stall < 1:
        raise HyqError(f"stall probability must lie in [0, 1), got {stall}")
    work = Path(work)
    src, data = work / "src", work / "run"
    sources = stitch.stage_sources(nodes, src, data)
    top, in_bits, out_bits = stitch.top_verilog(nodes, graph_inputs, graph_outputs)
    (src / f"{stitch.TOP}.v").write_text(top)
    (src / "hyq_glue.cpp").write_text(stitch.glue_cpp(in_bits, out_bits))
    args = ["+define+FINN_SIMULATION", f"+define+{stitch.FIFO_MONITOR}", "--no-timing", "-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN", "--x-initial", "0"]
    defines = {}
    if not real_fifos:
        args.append(f"+define+{stitch.FIFO_GAUGE}")
    if trace is not None:
        fmt = TRACE_FORMATS.get(Path(trace).suffix)
        if fmt is None:
            raise HyqError(f"trace file must end in .vcd or .fst, got {trace}")
        args.append(fmt[0])
        if trace_depth > 0:
            args += ["--trace-depth", str(int(trace_depth))]
        defines["HYQ_TRACE"] = fmt[1]
    tool = tool or verilator.find_verilator()
    t0 = time.perf_counter()
    before = set((cache.root() / "verilator").glob(f"{stitch.TOP}-*"))
    exe = verilator.build(stitch.TOP, [*sources, src / f"{stitch.TOP}.v", src / "hyq_glue.cpp"], HARNESS, {},
                          defines, tool, extra_args=args, headers=[HEADER])
    cached = exe.parent in before
    compile_s = time.perf_counter() - t0
    data.mkdir(parents=True, exist_ok=True)
    lines = []
    total_in = sum(len(b) for b in in_beats)
    if max_cycles is None:
        max_cycles = cycle_budget(0, total_in + sum(out_counts)) / (1 - stall) ** 2
    lines.append(f"{int(max_cycles)} {int(seed)} {1 - stall!r} {1 - stall!r}")
    for k, (beats, bits) in enumerate(zip(in_beats, in_bits)):
        f = data / f"in{k}.bin"
        f.write_bytes(_beats_to_bytes(beats, bits))
        lines.append(f"{len(beats)} {f}")
    for k, n in enumerate(out_counts):
        lines.append(f"{n} {data / f'out{k}.bin'} {data / f'out{k}.cyc'}")
    lines.append(str(Path(trace).resolve()) if trace is not None else "-")
    (data / "control.txt").write_text("\n".join(lines) + "\n")
    plus = [f"+{stitch.FIFO_LIMIT}_{k}={int(v)}" for k, v in sorted((fifo_limits or {}).items())]
    proc = subprocess.run([str(exe), str(data / "control.txt"), *plus], cwd=data, capture_output=True, text=True)
    if proc.returncode == 1 and "timeout after" in proc.stderr:
        raise SimTimeout(f"simulation ran out of its {int(max_cycles)} cycles (deadlock?): "
                         f"{' '.join(proc.stderr.split())[-300:]}")
    if proc.returncode != 0:
        raise HyqError(f"simulation of {', '.join(n.name for n in nodes)[:200]} failed: "
                       f"{' '.join((proc.stderr or proc.stdout).split())[-500:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    beats = [_bytes_to_beats((data / f"out{k}.bin").read_bytes(), b) for k, b in enumerate(out_bits)]
    cyc = [np.fromfile(data / f"out{k}.cyc", dtype=np.int64) for k in range(len(out_bits))]
    return Run(beats, cyc, int(res["cycles"]), list(res["in_first"]), compile_s, cached, fifo_peaks(proc.stdout))


def fifo_peaks(stdout: str) -> dict[str, int]:
    """The peak occupancy ``hyq_top`` printed per FIFO (:data:`stitch.FIFO_PEAK` lines)."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == stitch.FIFO_PEAK:
            out[parts[1]] = int(parts[2])
    return out


def timing(cycles: np.ndarray, per_sample: int, first_in: int) -> dict:
    """Latency of the first inference and steady-state initiation interval, in cycles."""
    n = len(cycles) // per_sample
    last = cycles[per_sample - 1::per_sample][:n]
    latency = int(last[0] - first_in + 1)
    ii = float(np.mean(np.diff(last))) if n > 1 else None
    return {"latency_cycles": latency, "initiation_interval": ii}

