"""Model zoo: ``build_model(name, ...)`` builds a Brevitas model by name.

Layer: above :mod:`hyq.nn` (the blocks it assembles), below :mod:`hyq.quantize`; the zoo
only: exporting an untrained model for a hardware build is a job (:mod:`hyq.jobs.untrained`).
"""

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
