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
from hyq.errors import HyqError
from hyq.sim.fifos import keep_out_of_uram


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
SIM_MODEL_VERSION = "3"


def sim_model(build_dir: Path, part: str, clock_ns: float) -> ModelWrapper:
    """The codegen model with FINN's DWCs and FIFOs inserted (shallow ones, and a one-sample
    FIFO on every fork output, :func:`size_fork_fifos`) and their RTL generated.

    Saved as ``<build>/finn/rtlsim/sim_model.onnx`` and reused while the codegen model is
    unchanged.
    """
    src = _codegen_model(build_dir, part, clock_ns)
    out = build_dir / "finn" / "rtlsim"
    out.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(src.read_bytes() + SIM_MODEL_VERSION.encode()).hexdigest()[:20]
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
    model = model.transform(PrepareIP(part, clock_ns))
    model.save(str(saved))
    stamp.write_text(digest)
    return model

