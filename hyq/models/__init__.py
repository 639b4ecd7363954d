"""Model zoo: ``build_model(name, ...)`` builds a Brevitas model by name."""

from __future__ import annotations

from typing import Any

from torch import nn

from hyq.nn.quant import BitSpec

from hyq.models.checkpoint import load_checkpoint
from hyq.models.cnn import MV2CNN
from hyq.models.mobilevit import PRESETS, MobileViT, make

_ZOO = {"mv2-cnn": MV2CNN, "mobilevit": MobileViT, **{name: make(name) for name in PRESETS}}


__all__ = ["available", "build_model", "export_untrained", "load_checkpoint"]


def available() -> list[str]:
    return sorted(_ZOO)


def build_model(name: str, bits: BitSpec, in_channels: int, num_classes: int, **kwargs: Any) -> nn.Module:
    """Build zoo model ``name`` with bit-widths ``bits``; kwargs are the model's own options."""
    if name not in _ZOO:
        raise ValueError(f"unknown model '{name}'; available: {', '.join(available())}")
    try:
        return _ZOO[name](in_channels=in_channels, num_classes=num_classes, bits=bits, **kwargs)
    except TypeError as exc:
        raise ValueError(f"invalid options for model '{name}': {exc}") from None


def export_untrained(name: str, path, in_channels: int = 3, num_classes: int = 1000, size: int = 256,
                     bits: BitSpec | None = None, samples: int = 2, seed: int = 0, **options: Any):
    """Export zoo model ``name`` with random weights to a QONNX file for hardware builds.

    BatchNorm statistics and activation ranges are collected on ``samples`` random 8-bit
    images, so every quantizer has a realistic scale; the accuracy is meaningless, the
    graph, bit-widths and parameter counts are those of the trained model. Returns the path.
    """
    import torch

    from hyq.dataflow import fast_cleanup
    from hyq.export import export
    from hyq.quantize import calibrate

    fast_cleanup.install()  # qonnx's cleanup of a large export is quadratic without it

    torch.manual_seed(seed)
    model = build_model(name, bits or BitSpec(), in_channels, num_classes, **options)
    x = torch.round(torch.rand(samples, in_channels, size, size) * 255) / 255
    model.train()
    with torch.no_grad():
        model(x)  # BatchNorm running statistics
    calibrate(model, x)
    model.eval()
    return export(model, x[:1], path, input_scale=float(model.input_q.act_quant.scale()))
