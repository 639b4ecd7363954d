"""FIFO depths from simulation (``hyq sim BUILD_DIR --size-fifos``).

The stitched top counts the words each StreamingFIFO holds (:mod:`hyq.sim.stitch`); a FIFO
first gets the smallest depth that held its peak, plus :data:`MARGIN`, and at least the 2
words FINN's ``fifo.sv`` requires (:func:`sized_depths`). Those depths are sufficient, not
minimal: a FIFO that filled up only because its reader was slow holds more than the
throughput needs. :func:`minimal_depths` then searches each FIFO deeper than
:data:`SEARCH_ABOVE` words for the smallest depth that keeps the throughput. The sized depths
replace those of the build's simulated graph (its FIFO RTL regenerated) and are written as
FINN's FIFO-depth file (``ApplyFIFODepthsFromFile``: ``{"fifo_depths": {layer: depth}}``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hyq.dataflow.folding_check import DEPTHS_FILE, FIFO_DEPTHS, write_conf  # the file is a build input

#: words added to each measured peak: covers one beat in flight on each side of the FIFO
#: (a run with random backpressure then checks that the depths neither stall nor deadlock)
MARGIN = 2
#: the shallowest FIFO fifo.sv builds
MIN_DEPTH = 2
#: FIFOs at most this deep are not searched: fifo.sv builds them as one SRL shift register
#: (up to 33 words, 1 LUT per bit), so fewer words save next to nothing
SEARCH_ABOVE = 32
#: fifo.sv picks UltraRAM above this many words (a part's URAM is not checked, Zynq-7000 has
#: none), and Verilator 5.38 cannot elaborate that branch
URAM_ABOVE = 2028


def keep_out_of_uram(fifo) -> None:
    """Put a FIFO deeper than :data:`URAM_ABOVE` words in block RAM (its ``ram_style``)."""
    if fifo.get_nodeattr("depth") > URAM_ABOVE:
        fifo.set_nodeattr("ram_style", "block")


def fifo_nodes(model: ModelWrapper) -> list:
    return [n for n in model.graph.node if n.op_type.startswith("StreamingFIFO")]


def sized_depths(peaks: dict[str, int]) -> dict[str, int]:
    """The depth per FIFO layer for its measured peak occupancy."""
    return {name: max(MIN_DEPTH, int(p) + MARGIN) for name, p in peaks.items()}


def minimal_depths(depths: dict[str, int], keeps: Callable[[dict[str, int]], bool],
                   report: Callable[[str], None] = lambda line: None) -> dict[str, int]:
    """The smallest depth per FIFO deeper than :data:`SEARCH_ABOVE` that still ``keeps`` the
    design's throughput, found by bisection between :data:`MIN_DEPTH` and its depth in
    ``depths`` (which must keep it), one FIFO at a time, deepest first, the others at their
    depths so far. ``keeps(depths)`` runs the design at those depths (False: slower, wrong or
    deadlocked). Bisection assumes a deeper FIFO never lowers the throughput. One ``report``
    line per FIFO searched."""
    chosen = dict(depths)
    order = sorted((k for k, d in depths.items() if d > SEARCH_ABOVE), key=lambda k: (-depths[k], k))
    for i, name in enumerate(order):
        lo, hi, runs = MIN_DEPTH, chosen[name], 0
        while lo < hi:
            mid = (lo + hi) // 2
            runs += 1
            if keeps({**chosen, name: mid}):
                hi = mid
            else:
                lo = mid + 1
        chosen[name] = hi
        report(f"FIFO depth search {i + 1}/{len(order)} {name}: {depths[name]} -> {hi} words ({runs} runs)")
    return chosen


def memory(model: ModelWrapper, part: str) -> dict:
    """FIFO storage of a graph: bits (depth x padded width) and FINN's BRAM_18K/LUT cost of fifo.sv."""
    bits = bram = lut = 0
    for n in fifo_nodes(model):
        inst = getCustomOp(n)
        bits += int(inst.get_nodeattr("depth")) * int(inst.get_instream_width_padded())
        bram += float(inst.bram_estimation(part))
        lut += float(inst.lut_estimation(part))
    return {"fifos": len(fifo_nodes(model)), "bits": bits, "bram_18k": bram, "lut": lut, "source": "finn"}


def apply_depths(model: ModelWrapper, depths: dict[str, int], part: str, clock_ns: float) -> ModelWrapper:
    """Set each named FIFO's depth and regenerate its RTL (in its own code generation folder)."""
    for n in fifo_nodes(model):
        if n.name in depths:
            inst = getCustomOp(n)
            inst.set_nodeattr("depth", int(depths[n.name]))
            inst.set_nodeattr("ram_style", "auto")
            keep_out_of_uram(inst)
            inst.generate_hdl(model, part, clock_ns)
    return model


def regenerate(model: ModelWrapper, names, part: str, clock_ns: float) -> None:
    """Generate the named FIFOs' RTL again from ``model`` as it is (after a trial changed it on disk)."""
    names = set(names)
    for n in fifo_nodes(model):
        if n.name in names:
            getCustomOp(n).generate_hdl(model, part, clock_ns)


def write_depths(path: Path, model: ModelWrapper) -> Path:
    """FINN's FIFO-depth file of ``model``'s FIFOs (depth, impl_style, ram_style per layer, as
    ``ApplyFIFODepthsFromFile`` reads it and ``hyq build --fifo-depths`` takes it)."""
    path = Path(path)
    insts = {n.name: getCustomOp(n) for n in fifo_nodes(model)}
    conf = {FIFO_DEPTHS: {k: int(i.get_nodeattr("depth")) for k, i in sorted(insts.items())}}
    for key in ("impl_style", "ram_style"):
        conf[key] = {k: i.get_nodeattr(key) for k, i in sorted(insts.items())}
    return write_conf(path, conf)
