"""QONNX export of a Brevitas model, cleanup, and the Brevitas == QONNX check."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.cleanup import cleanup_model
from torch import nn

from hyq.errors import HyqError


def export(model: nn.Module, sample: torch.Tensor, path: Path, input_scale: float | None = None) -> Path:
    """Export ``model`` (eval mode) to a cleaned-up QONNX file at ``path``.

    ``input_scale``: when the model's input quantizer has this constant scale for an
    unsigned 8-bit input (hyq models: 1/255), a ``Mul`` by it is placed first and the graph
    input is annotated UINT8, so the accelerator takes raw pixels ``x / input_scale``.
    """
    from brevitas.export import export_qonnx

    from hyq.export import bounded, fast_cleanup
    from hyq.export.tables import InferTableActivation, TabulatePointwise

    # qonnx's cleanup is quadratic in the node count without the fast passes; no loop may spin
    with fast_cleanup.fast_passes(), bounded.bounded_passes():
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".raw.onnx")
        model.eval()
        with torch.no_grad():
            export_qonnx(model, args=sample[:1], export_path=str(tmp), dynamo=False)
        mw = cleanup_model(ModelWrapper(str(tmp)))
        tmp.unlink()
        # SiLU & co. between quantizers -> tables; then any other pointwise function (tanh-GELU)
        mw = cleanup_model(mw.transform(InferTableActivation()).transform(TabulatePointwise()))
        if input_scale is not None:
            mw = _uint8_input(mw, input_scale)
            mw = cleanup_model(mw)
        mw.save(str(path))
        return path


def _uint8_input(mw: ModelWrapper, scale: float) -> ModelWrapper:
    """Make the graph input raw UINT8 values: insert ``Mul(scale)`` after the input."""
    inp = mw.graph.input[0].name
    scaled = mw.make_new_valueinfo_name()
    const = mw.make_new_valueinfo_name()
    for node in mw.graph.node:
        node.input[:] = [scaled if i == inp else i for i in node.input]
    mw.graph.node.insert(0, helper.make_node("Mul", [inp, const], [scaled], name="InputScale"))
    mw.set_initializer(const, np.asarray(scale, dtype=np.float32))
    mw.set_tensor_datatype(inp, DataType["UINT8"])
    return mw


def to_model_input(x: torch.Tensor, input_scale: float | None) -> np.ndarray:
    """The exported graph's input for float input ``x`` (raw integers when input_scale is set)."""
    a = x.detach().cpu().numpy().astype(np.float32)
    return np.round(a / input_scale).astype(np.float32) if input_scale is not None else a


@dataclass(frozen=True)
class ExportCheck:
    """Brevitas vs QONNX executor on a batch.

    ``samples_differing``: samples whose output differs beyond float rounding anywhere.
    """

    samples: int
    max_abs_diff: float
    argmax_agreement: float
    samples_differing: int
    passed: bool

    def as_dict(self) -> dict:
        return asdict(self)


def check(model: nn.Module, onnx_path: Path, x: torch.Tensor, input_scale: float | None = None,
          rtol: float = 1e-3, tie_fraction: float = 0.05) -> ExportCheck:
    """Run ``x`` through Brevitas and through qonnx's executor; compare the outputs.

    A sample agrees when every output is equal to float rounding,
    ``|diff| <= rtol * (1 + max|y|)``. torch and onnxruntime sum float products in
    different orders, so a value exactly on a quantizer's rounding boundary can land one
    step apart and move that one sample's output; an export error moves every sample.
    The check passes when at most ``tie_fraction`` of the samples (at least one) differ;
    how many did is recorded.
    """
    from qonnx.core.onnx_exec import execute_onnx

    model.eval()
    with torch.no_grad():
        ref = torch.as_tensor(model(x)).detach().numpy()
    mw = ModelWrapper(str(onnx_path))
    iname, oname = mw.graph.input[0].name, mw.graph.output[0].name
    xin = to_model_input(x, input_scale)
    got = np.concatenate([execute_onnx(mw, {iname: xin[i : i + 1]})[oname] for i in range(len(xin))])
    got = got.reshape(ref.shape)
    err = np.abs(got - ref).reshape(len(ref), -1)
    tol = rtol * (1.0 + float(np.abs(ref).max()))
    differing = int((err.max(axis=1) > tol).sum())
    agree = float((got.argmax(-1) == ref.argmax(-1)).mean()) if ref.ndim > 1 else 1.0
    allowed = max(1, int(tie_fraction * len(ref)))
    return ExportCheck(samples=len(x), max_abs_diff=float(err.max()), argmax_agreement=agree,
                       samples_differing=differing, passed=differing <= allowed)


def load_checked(path: Path) -> ModelWrapper:
    """Load an ONNX file for a build, with one clear error for a missing or corrupt file."""
    path = Path(path)
    if not path.is_file():
        raise HyqError(f"model file not found: {path}")
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception as exc:  # onnx raises several types for corrupt files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HyqError(f"{path}: not a valid ONNX model ({first}); re-export it (QONNX, opset >= 11)") from exc
    _check_io(proto.graph, path)
    return ModelWrapper(proto)


def _check_io(graph: onnx.GraphProto, path: Path) -> None:
    """A dataflow accelerator has one input and one output, each of a fixed shape."""
    inits = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in inits]
    for what, vis in (("input", inputs), ("output", list(graph.output))):
        if len(vis) != 1:
            raise HyqError(f"{path}: the model has {len(vis)} {what}s ({', '.join(v.name for v in vis) or 'none'}); "
                           f"hyq builds models with exactly one {what}")
    vi = inputs[0]  # output shapes follow from it (FINN infers them)
    dims = vi.type.tensor_type.shape.dim
    shown = ", ".join(str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in dims)
    if not dims or any(not d.HasField("dim_value") or d.dim_value < 1 for d in dims):
        raise HyqError(f"{path}: input '{vi.name}' has no fixed shape ({shown or 'none'}); "
                       "export with a fixed input shape, e.g. batch 1 and no dynamic axes")
