"""MobileViT (Mehta and Rastegari, ICLR 2022) from one configurable definition.

stem 3x3 conv -> stages -> 1x1 conv to ``head`` channels -> global average pool -> linear.
A stage is a list of MV2 blocks (``{"mv2": C, "stride": s, "repeats": r}``) or an MV2
block followed by a MobileViT block (``{"vit": C, "stride": s, "dim": d, "depth": L,
"ffn": F}``). Heads, patch size, expansion, normalisation, activation, softmax and
bit-widths are model-wide options; ``classifier_bias`` gives the final linear layer a bias
(timm's MobileViT has one: with it, norm ``layer`` and act ``silu`` a preset has exactly
timm's parameters, see :mod:`hyq.models.checkpoint`). The presets carry the published layer shapes of
MobileViT-XXS/XS/S (expansion 2 for XXS, 4 otherwise; 4 heads; 2x2 patches; FFN = 2 x dim;
head = min(960, 4 x last stage)) and, as published, LayerNorm (hyq's integer one) in the
transformer layers and SiLU throughout (``norm="batch"``, ``act="relu"`` remain options);
``hybrid-tiny`` is an FPGA-sized variant for 8x8 digits with BatchNorm and ReLU.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from hyq.nn.blocks import ConvBNAct, MV2Block
from hyq.nn.mobilevit import MobileViTBlock
from hyq.nn.quant import BitSpec, ident, input_quant, linear


def _vit(c: int, d: int, depth: int) -> dict:
    return {"vit": c, "stride": 2, "dim": d, "depth": depth, "ffn": 2 * d}


PRESETS: dict[str, dict[str, Any]] = {
    "mobilevit-xxs": dict(norm="layer", act="silu", stem=16, stem_stride=2, expand=2, head=320, stages=[
        {"mv2": 16, "stride": 1, "repeats": 1}, {"mv2": 24, "stride": 2, "repeats": 3},
        _vit(48, 64, 2), _vit(64, 80, 4), _vit(80, 96, 3)]),
    "mobilevit-xs": dict(norm="layer", act="silu", stem=16, stem_stride=2, expand=4, head=384, stages=[
        {"mv2": 32, "stride": 1, "repeats": 1}, {"mv2": 48, "stride": 2, "repeats": 3},
        _vit(64, 96, 2), _vit(80, 120, 4), _vit(96, 144, 3)]),
    "mobilevit-s": dict(norm="layer", act="silu", stem=16, stem_stride=2, expand=4, head=640, stages=[
        {"mv2": 32, "stride": 1, "repeats": 1}, {"mv2": 64, "stride": 2, "repeats": 3},
        _vit(96, 144, 2), _vit(128, 192, 4), _vit(160, 240, 3)]),
    "hybrid-tiny": dict(stem=16, stem_stride=1, expand=2, head=64, heads=2, stages=[
        {"mv2": 16, "stride": 1, "repeats": 1}, {"mv2": 24, "stride": 1, "repeats": 1},
        {"vit": 32, "stride": 1, "dim": 32, "depth": 2, "ffn": 64}]),
}

_MV2_KEYS = {"mv2", "stride", "repeats"}
_VIT_KEYS = {"vit", "stride", "dim", "depth", "ffn"}


def _check_stage(i: int, st: Mapping) -> None:
    keys = set(st)
    if keys != _MV2_KEYS and keys != _VIT_KEYS:
        raise ValueError(f"stage {i}: expected keys {sorted(_MV2_KEYS)} or {sorted(_VIT_KEYS)}, got {sorted(keys)}")
    for k, v in st.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"stage {i}: {k} must be a positive integer, got {v!r}")


class MobileViT(nn.Module):
    """Hybrid CNN-Transformer classifier; see the module docstring for ``stages``."""

    def __init__(self, in_channels: int = 3, num_classes: int = 1000, stem: int = 16, stem_stride: int = 2,
                 stages: Sequence[Mapping[str, int]] = (), expand: int = 2, head: int = 64, heads: int = 4,
                 patch: int = 2, norm: str = "batch", act: str = "relu", softmax: str = "linmax",
                 classifier_bias: bool = False, bits: BitSpec | None = None):
        super().__init__()
        bits = bits or BitSpec()
        if not stages:
            raise ValueError("MobileViT needs at least one stage")
        self.input_q = input_quant()
        self.stem = ConvBNAct("stem", bits, in_channels, stem, k=3, stride=stem_stride, act=act)
        blocks, cin = [], stem
        for i, st in enumerate(stages):
            _check_stage(i, st)
            name = f"stages.{i}"
            if "mv2" in st:
                for r in range(st["repeats"]):
                    blocks.append(MV2Block(f"{name}.{r}", bits, cin, st["mv2"], expand,
                                           st["stride"] if r == 0 else 1, act=act))
                    cin = st["mv2"]
            else:
                c = st["vit"]
                blocks.append(MV2Block(f"{name}.mv2", bits, cin, c, expand, st["stride"], act=act))
                blocks.append(MobileViTBlock(f"{name}.vit", bits, c, st["dim"], st["depth"], heads, st["ffn"],
                                             patch, norm, act, softmax))
                cin = c
        self.blocks = nn.Sequential(*blocks)
        self.head = ConvBNAct("head", bits, cin, head, k=1, act=act)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.pool_q = ident("pool_q", bits, signed=act != "relu")
        self.classifier = linear("classifier", bits, head, num_classes, bias=classifier_bias)

    def forward(self, x):
        x = self.head(self.blocks(self.stem(self.input_q(x))))
        x = self.pool_q(self.pool(x.value if hasattr(x, "value") else x))
        return self.classifier(x.flatten(1))


def preset(name: str) -> dict[str, Any]:
    """A deep copy of preset ``name``'s options."""
    return copy.deepcopy(PRESETS[name])


def make(name: str):
    """The zoo constructor of preset ``name``: preset options, overridable by keyword."""

    def build(**kwargs: Any) -> MobileViT:
        return MobileViT(**{**preset(name), **kwargs})

    build.__name__ = f"mobilevit_{name.replace('-', '_')}"
    return build
