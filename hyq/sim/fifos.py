"""FIFO depths from simulation (``hyq sim BUILD_DIR --size-fifos``).

The stitched top counts the words each StreamingFIFO holds (:mod:`hyq.sim.stitch`); a FIFO
then gets the smallest depth that held its peak, plus :data:`MARGIN`, and at least the 2
words FINN's ``fifo.sv`` requires. The sized depths replace those of the build's simulated
graph (its FIFO RTL regenerated) and are written as FINN's FIFO-depth file
(``ApplyFIFODepthsFromFile``: ``{"fifo_depths": {layer: depth}}``).
"""

from __future__ import annotations

import json
from pathlib import Path

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

#: words added to each measured peak: covers one beat in flight on each side of the FIFO
#: (a run with random backpressure then checks that the depths neither stall nor deadlock)
MARGIN = 2
#: the shallowest FIFO fifo.sv builds
MIN_DEPTH = 2
#: FINN's FIFO-depth file, next to the build's report
DEPTHS_FILE = "fifo_depths.json"
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


def write_depths(path: Path, depths: dict[str, int]) -> Path:
    """FINN's FIFO-depth file for ``depths``."""
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"fifo_depths": dict(sorted(depths.items()))}, indent=1) + "\n")
    tmp.replace(path)
    return path
