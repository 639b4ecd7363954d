"""Network inputs for a simulation: the user's, checked against the model's input, or test
samples of the build's dataset (as the exported model takes them), or random integers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from hyq.errors import HyqError


def checked_inputs(inputs: np.ndarray, model: ModelWrapper) -> np.ndarray:
    """User inputs as float32, after checking their shape and values against the model's input."""
    name = model.graph.input[0].name
    shape, dt = model.get_tensor_shape(name), model.get_tensor_datatype(name)
    want = f"(N, {', '.join(map(str, shape[1:]))})"
    if inputs.dtype.kind not in "biuf":
        raise HyqError(f"--inputs: the model takes numbers of type {dt}, the file holds {inputs.dtype}")
    if inputs.ndim != len(shape) or list(inputs.shape[1:]) != list(shape[1:]) or inputs.shape[0] < 1:
        raise HyqError(f"--inputs: the model takes shape {want} (batch first), the file has {inputs.shape}")
    x = np.asarray(inputs, dtype=np.float32)
    if not np.isfinite(x).all():
        raise HyqError("--inputs: the file holds NaN or infinite values")
    if dt.is_integer() and not (np.array_equal(x, np.round(x)) and x.min() >= dt.min() and x.max() <= dt.max()):
        raise HyqError(f"--inputs: the model input is {dt} (integers in [{dt.min()}, {dt.max()}]); "
                       f"the file holds values in [{x.min():g}, {x.max():g}]")
    return x


def network_inputs(build_dir: Path, report: dict, inputs: np.ndarray | None, count: int) -> np.ndarray:
    model = ModelWrapper(str(build_dir / "model.onnx"))
    name = model.graph.input[0].name
    if inputs is not None:
        return checked_inputs(inputs, model)
    flow = report.get("flow_config")
    if flow:
        from hyq.data import from_config as load_data

        d = flow["data"]
        x = np.asarray(load_data(d).x_test[:count], dtype=np.float32)
        # hyq.export makes the input raw UINT8 pixels with a scalar Mul by the input scale first
        scale = None
        if str(model.get_tensor_datatype(name)) == "UINT8":
            scale = next((model.get_initializer(n.input[1]) for n in model.graph.node
                          if n.op_type == "Mul" and n.input[0] == name
                          and model.get_initializer(n.input[1]) is not None
                          and model.get_initializer(n.input[1]).size == 1), None)
        return x if scale is None else np.round(x / scale).astype(np.float32)
    dt = model.get_tensor_datatype(name)
    if not dt.is_integer():
        raise HyqError(f"{build_dir}: the model input is {dt}; give sample inputs with --inputs X.npy")
    shape = model.get_tensor_shape(name)
    rng = np.random.default_rng(0)
    return rng.integers(dt.min(), dt.max() + 1, size=(count, *shape[1:])).astype(np.float32)

