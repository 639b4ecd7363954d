"""The simulated graph of a build: the ``step_hw_codegen`` model with FINN's width converters
and FIFOs inserted (as FINN's stitched IP has them) and their RTL generated, prepared once per
build in ``<build>/finn/rtlsim/``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hyq.dataflow import finn_env
from hyq.dataflow.build import add_codegen
from hyq.dataflow.folding_check import FIFO_DEPTHS, load_fifo_depths
from hyq.errors import HyqError
from hyq.sim.fifos import DEPTHS_FILE, fifo_nodes, keep_out_of_uram


def _codegen_model(build_dir: Path, part: str, clock_ns: float) -> Path:
    """The build's ``step_hw_codegen`` model; an estimate-only build gets its RTL generated first."""
    found = sorted((build_dir / "finn" / "intermediate_models").glob("*_step_hw_codegen.onnx"))
    return found[-1] if found else add_codegen(build_dir / "finn", part, clock_ns)


def size_fork_fifos(model: ModelWrapper) -> ModelWrapper:
    """Give every output of a stream fork (DuplicateStreams) a FIFO that holds one whole
    sample of its tensor, so that no fork-join (residual add, attention's Q/K/V, concat)
    can deadlock however long its other branches take.

    FINN sizes FIFOs by simulating with Vivado's simulator; a full-sample skip buffer is
    the safe bound without it (an upper bound on the FIFO memory a sized design needs).
    Sets ``outFIFODepths``, which ``InsertFIFO`` turns into FIFO depths.
    """
    for node in model.graph.node:
        if "DuplicateStreams" not in node.op_type:
            continue
        inst = getCustomOp(node)
        beats = int(np.prod(inst.get_folded_output_shape(0)[:-1]))
        inst.set_nodeattr("outFIFODepths", [beats + 2] * len(node.output))
    return model


#: bump when sim_model's preparation changes, so saved simulation graphs are rebuilt
SIM_MODEL_VERSION = "4"


def _digest(build_dir: Path, src: Path) -> str:
    """What the simulated graph is made from: the codegen model and the build's FIFO depths."""
    depths = build_dir / DEPTHS_FILE
    extra = depths.read_bytes() if depths.is_file() else b""
    return hashlib.sha256(src.read_bytes() + SIM_MODEL_VERSION.encode() + extra).hexdigest()[:20]


def mark_current(build_dir: Path) -> None:
    """Record the saved simulated graph as the one the build's codegen model and FIFO-depth
    file make (after ``--size-fifos`` saved its sized graph and wrote the file)."""
    src = _codegen_model(build_dir, "", 0.0)
    (build_dir / "finn" / "rtlsim" / "sim_model.hash").write_text(_digest(build_dir, src))


def apply_depths_file(model: ModelWrapper, path: Path) -> ModelWrapper:
    """The FIFO depths of a FIFO-depth file set by FINN's ``ApplyFIFODepthsFromFile``, after
    checking that the file names exactly this graph's FIFOs."""
    from finn.transformation.fpgadataflow.set_fifo_depths import ApplyFIFODepthsFromFile

    conf = load_fifo_depths(path)
    have = {n.name for n in model.graph.node if n.op_type.startswith("StreamingFIFO")}
    missing, unknown = sorted(have - set(conf[FIFO_DEPTHS])), sorted(set(conf[FIFO_DEPTHS]) - have)
    if missing or unknown:
        raise HyqError(f"{path} does not fit this build's {len(have)} FIFOs ("
                       + "; ".join(filter(None, [missing and f"missing {', '.join(missing[:4])}",
                                                  unknown and f"unknown {', '.join(unknown[:4])}"]))
                       + "): it was sized on another build; rebuild without --fifo-depths or size this one "
                         "(`hyq sim BUILD --size-fifos`)")
    return model.transform(ApplyFIFODepthsFromFile(Path(path)))


def sim_model(build_dir: Path, part: str, clock_ns: float) -> ModelWrapper:
    """The codegen model with FINN's DWCs and FIFOs inserted (shallow ones, and a one-sample
    FIFO on every fork output, :func:`size_fork_fifos`) and their RTL generated. A build's
    ``fifo_depths.json`` (``hyq build --fifo-depths``, ``hyq sim --size-fifos``) sets the FIFO
    depths instead (:func:`apply_depths_file`).

    Saved as ``<build>/finn/rtlsim/sim_model.onnx`` and reused while the codegen model and
    the depths file are unchanged.
    """
    src = _codegen_model(build_dir, part, clock_ns)
    out = build_dir / "finn" / "rtlsim"
    out.mkdir(parents=True, exist_ok=True)
    digest = _digest(build_dir, src)
    saved, stamp = out / "sim_model.onnx", out / "sim_model.hash"
    finn_env.use_build_dir(out / "finn_gen")
    from hyq.dataflow.ops import register

    register()  # hyq's HW layers must be registered
    if saved.is_file() and stamp.is_file() and stamp.read_text() == digest:
        return ModelWrapper(str(saved))
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.transformation.general import GiveUniqueNodeNames

    model = ModelWrapper(str(src))
    model = model.transform(InsertDWC())
    model = size_fork_fifos(model)
    model = model.transform(InsertFIFO(create_shallow_fifos=True))
    for node in model.graph.node:
        if node.op_type == "StreamingFIFO":
            keep_out_of_uram(getCustomOp(node))
    model = model.transform(SpecializeLayers(part))
    model = model.transform(GiveUniqueNodeNames())
    if (build_dir / DEPTHS_FILE).is_file():
        model = apply_depths_file(model, build_dir / DEPTHS_FILE)
        for node in fifo_nodes(model):
            keep_out_of_uram(getCustomOp(node))
    model = model.transform(PrepareIP(part, clock_ns))
    model.save(str(saved))
    stamp.write_text(digest)
    return model

