"""Post-training quantization: distribution scaling -> calibration -> bias correction.

Every step keeps the exported hardware graph as it is: scaling is folded into weights and
BatchNorms (:mod:`hyq.quantize.scaling`), and bias corrections of bias-free convs are
folded into the BatchNorm that follows them (its running mean), so FINN absorbs them into
thresholds like any BatchNorm. A correction with nowhere free to go is dropped and listed.

:func:`quantize`: float model (trained once, cached, :func:`float_state`) -> model at the
requested widths -> PTQ -> optional QAT. It takes the model as a :class:`FloatModel` (a
builder and what identifies it), not a flow file: :mod:`hyq.jobs.quantize` reads the flow.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from brevitas.graph.calibrate import _BiasCorrection, bias_correction_mode
from torch import nn

from hyq import cache
from hyq.config import PtqConfig, TrainConfig
from hyq.data import Dataset
from hyq.errors import HyqError
from hyq.nn.quant import BitSpec
from hyq.progress import info
from hyq.quantize import regions as _regions
from hyq.quantize.scaling import ScalingOptions, ScalingResult, scale
from hyq.quantize.synthetic import calibration_images
from hyq.quantize.train import accuracy, calibrate, float_mode, run_epochs

_WEIGHT_LAYERS = (nn.Conv2d, nn.Linear)


@dataclass
class PtqResult:
    scaling: ScalingResult
    bias_corrected: list[str] = field(default_factory=list)
    bias_dropped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"scaling": self.scaling.as_dict(), "bias_corrected": self.bias_corrected,
                "bias_dropped": self.bias_dropped}


# ---------------------------------------------------------------- bias correction

def _bn_successors(model: nn.Module) -> dict[str, str]:
    """conv/linear name -> name of the BatchNorm that is its only consumer."""
    gm = _regions.trace(model)
    modules = dict(model.named_modules())
    out = {}
    for node in gm.graph.nodes:
        if node.op == "call_module" and isinstance(modules.get(node.target), _WEIGHT_LAYERS):
            users = list(node.users)
            if len(users) == 1 and users[0].op == "call_module" and isinstance(
                    modules.get(users[0].target), nn.modules.batchnorm._BatchNorm):
                out[node.target] = users[0].target
    return out


class _SelectedBiasCorrection(_BiasCorrection):
    """Brevitas' bias correction, hooked on the named layers only."""

    def __init__(self, names: set[str]):
        super().__init__(skip_if_no_bias=False)
        self.names = names

    def register_hook_to_wbiol(self, model, hooks):
        for name, module in model.named_modules():
            if name in self.names and isinstance(module, self.layers):
                self.iterations[name] = 0
                hooks.append(module.register_forward_hook(partial(self.forward_hook_wbiol, name=name)))


def _inside_opaque(model: nn.Module) -> set[str]:
    """Names of layers inside modules torch.fx cannot trace (attention): left alone."""
    opaque = _regions._opaque_modules(model)
    inside = set()
    for name, m in model.named_modules():
        if id(m) in opaque:
            inside |= {f"{name}.{sub}" for sub, _ in m.named_modules() if sub}
    return inside


@torch.no_grad()
def bias_correct(model: nn.Module, x: torch.Tensor, batch: int = 64) -> tuple[list[str], list[str]]:
    """Brevitas' bias correction on ``x``, only where it costs no hardware.

    Returns (corrected layers, layers left uncorrected). A layer with a bias gets the
    corrected bias; a bias-free layer followed by a BatchNorm passes the correction into
    that BatchNorm (BN(y + b) is BN(y) with running mean - b). Other layers - bias-free
    with no BatchNorm after them, or inside attention (whose integer softmax needs the
    quantized operands) - are not touched.
    """
    modules = dict(model.named_modules())
    successors = _bn_successors(model)
    inside = _inside_opaque(model)
    layers = [n for n, m in modules.items() if isinstance(m, _WEIGHT_LAYERS) and hasattr(m, "quant_weight")]
    chosen = {n for n in layers if n not in inside and (modules[n].bias is not None or n in successors)}
    had_bias = {n for n in chosen if modules[n].bias is not None}
    model.eval()
    ctx = bias_correction_mode(model)
    ctx.bias_correction = _SelectedBiasCorrection(chosen)
    with ctx:
        for i in range(0, len(x), batch):
            model(x[i : i + batch])
    for name in sorted(chosen - had_bias):
        m = modules[name]
        if m.bias is None:
            continue
        bias = m.bias.detach().clone()
        m.register_parameter("bias", None)
        modules[successors[name]].running_mean.sub_(bias)
    return [n for n in layers if n in chosen], [n for n in layers if n not in chosen]


# ---------------------------------------------------------------- the PTQ pipeline

def post_training_quantize(model: nn.Module, x_calib: torch.Tensor, ptq: PtqConfig,
                           options: ScalingOptions | None = None) -> PtqResult:
    """Scale (method ``ptq.method``), calibrate activation ranges, correct biases, in place."""
    opts = options or ScalingOptions(qads_iters=ptq.qads_iters, qads_lr=ptq.qads_lr)
    res = scale(model, ptq.method, x_calib[: ptq.scale_samples], layers=ptq.layers, options=opts)
    calibrate(model, x_calib)
    corrected, dropped = bias_correct(model, x_calib) if ptq.bias_correction else ([], [])
    return PtqResult(res, corrected, dropped)


def layer_widths(model: nn.Module) -> list[dict[str, Any]]:
    """Every conv / linear layer with its weight width and the width of its input activations."""
    abits = _regions.input_act_bits(model)
    return [{"name": n, "wbits": int(round(float(m.quant_weight().bit_width))), "abits": abits.get(n)}
            for n, m in model.named_modules() if isinstance(m, _WEIGHT_LAYERS) and hasattr(m, "quant_weight")]


# ---------------------------------------------------------------- float model, cached

@dataclass(frozen=True)
class FloatModel:
    """The model quantization starts from, in plain terms.

    ``build(bits)`` makes a fresh, seeded model at widths ``bits``; ``identity`` (JSON)
    names the model and its data in cache keys; ``train`` holds the float training, the
    calibration sample count and the QAT schedule; with ``checkpoint`` the float weights are
    the checkpoint's (no training); ``name`` is the model's name in reports.
    """

    build: Callable[[BitSpec], nn.Module]
    identity: Mapping[str, Any]
    train: TrainConfig
    checkpoint: str | None = None
    name: str = ""


def float_state(fm: FloatModel, ds: Dataset) -> tuple[dict[str, torch.Tensor], float]:
    """(state dict after float training, float test accuracy): hyq's one float-training cache,
    trained once per model, data and training settings.

    With ``fm.checkpoint`` the float weights are the checkpoint's (no training).
    """
    t = fm.train
    if fm.checkpoint:
        from hyq.models import load_checkpoint

        model = fm.build(BitSpec())
        load_checkpoint(model, fm.checkpoint)
        acc = accuracy(model, ds.x_test, ds.y_test, quantized=False)
        info(f"float weights from {fm.checkpoint}: float accuracy {acc:.4f} (float training skipped)")
        return model.state_dict(), acc
    payload = {**fm.identity, "train": {"epochs": t.epochs, "lr": t.lr, "batch_size": t.batch_size, "seed": t.seed}}
    files = cache.module_files("hyq.models", "hyq.nn", "hyq.integer", "hyq.data", "hyq.quantize.train")

    @_regions.one_thread()
    def make(folder: Path) -> None:
        model = fm.build(BitSpec())
        torch.manual_seed(t.seed)
        with float_mode(model, training=True):
            run_epochs(model, ds, t.epochs, t.lr, t.batch_size, t.seed, "float")
        acc = accuracy(model, ds.x_test, ds.y_test, quantized=False)
        torch.save(model.state_dict(), folder / "model.pt")
        (folder / "meta.json").write_text(json.dumps({"flow": payload, "float_accuracy": acc}, indent=1))

    folder = cache.entry("float", cache.key(payload, files), make)
    state = torch.load(folder / "model.pt", weights_only=True)
    return state, json.loads((folder / "meta.json").read_text())["float_accuracy"]


def load_float_state(model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Load float weights into a model of any widths; activation scales stay to be calibrated."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    bad = [k for k in list(missing) + list(unexpected) if "scaling_impl" not in k]
    if bad:
        raise HyqError(f"float checkpoint does not fit the model ({bad[0]}); clear the hyq cache")


@dataclass
class QuantizeResult:
    model: nn.Module
    report: dict[str, Any]


@_regions.one_thread()
def quantize(fm: FloatModel, ds: Dataset, bits: BitSpec, ptq: PtqConfig, qat_epochs: int | None = None,
             options: ScalingOptions | None = None) -> QuantizeResult:
    """Float model -> widths ``bits`` -> PTQ (``ptq``) -> QAT (``qat_epochs``, default ``fm.train``'s)."""
    t = fm.train
    qat_epochs = t.qat_epochs if qat_epochs is None else qat_epochs
    wbits, abits = bits.weight, bits.act
    state, acc_float = float_state(fm, ds)
    model = fm.build(bits)
    load_float_state(model, state)
    x_calib = calibration_images(model, ds.x_train, min(t.calib_samples, len(ds.x_train)), ptq.calibration, t.seed)
    res = post_training_quantize(model, x_calib, ptq, options)
    acc_ptq = accuracy(model, ds.x_test, ds.y_test)
    info(f"{ptq.method} W{wbits}A{abits}: float {acc_float:.4f}, PTQ {acc_ptq:.4f}")
    acc_q = acc_ptq
    if qat_epochs:
        torch.manual_seed(t.seed + 1)
        run_epochs(model, ds, qat_epochs, t.lr * 0.1, t.batch_size, t.seed + 1, "QAT")
        acc_q = accuracy(model, ds.x_test, ds.y_test)
        info(f"{ptq.method} W{wbits}A{abits}: QAT ({qat_epochs} epochs) {acc_q:.4f}")
    model.eval()
    report = {
        "method": ptq.method, "wbits": wbits, "abits": abits, "bias_correction": ptq.bias_correction,
        "accuracy_float": acc_float, "accuracy_ptq": acc_ptq, "accuracy_quantized": acc_q,
        "qat_epochs": qat_epochs, "calib_samples": len(x_calib), "calibration": ptq.calibration, "dataset": ds.name,
        "test_samples": len(ds.x_test), "model": fm.name, "layers": layer_widths(model),
        "overrides": dict(bits.overrides), **res.as_dict(),
    }
    return QuantizeResult(model, report)
