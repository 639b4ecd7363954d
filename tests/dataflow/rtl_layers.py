"""Shared by the tests of hyq's RTL layers: swap in the RTL, generate it, random inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from hyq.dataflow import finn_env
from hyq.dataflow.transforms import UseHyqRTL

PART = "xc7z020clg400-1"


def to_rtl(model: ModelWrapper, build: Path, op_type: str) -> ModelWrapper:
    """``model``'s first node swapped to hyq's ``op_type`` RTL layer and its Verilog generated under ``build``."""
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP

    finn_env.use_build_dir(build)
    model = model.transform(UseHyqRTL(PART))
    assert model.graph.node[0].op_type == op_type
    return model.transform(PrepareIP(PART, 10.0))


def random_graph_inputs(model: ModelWrapper, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One sample: every graph input drawn uniformly from its annotated integer range."""
    feed = {}
    for vi in model.graph.input:
        dt = model.get_tensor_datatype(vi.name)
        feed[vi.name] = rng.integers(dt.min(), dt.max() + 1, model.get_tensor_shape(vi.name)).astype(np.float32)
    return feed
