"""Per-layer bit-widths and the Brevitas layer factories every hyq model is built from.

Layers are created through these factories so that quantizer choices that matter for
FINN (per-output-channel symmetric weights, unsigned post-ReLU activations, no biases in
front of BatchNorm) are made once, and bit-widths come from a :class:`BitSpec`.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from brevitas import nn as qnn
from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat, Uint8ActPerTensorFloat


@dataclass(frozen=True)
class BitSpec:
    """Weight and activation bit-widths, with per-layer overrides by name pattern.

    ``overrides`` maps an fnmatch pattern of a layer's qualified name (``blocks.0.expand``)
    to ``{"weight": W, "act": A}``; the last matching pattern wins.
    """

    weight: int = 8
    act: int = 8
    overrides: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for what, bits in [("weight", self.weight), ("act", self.act)] + [
            (f"{pat}.{k}", v) for pat, o in self.overrides.items() for k, v in o.items()
        ]:
            if not isinstance(bits, int) or not 2 <= bits <= 16:
                raise ValueError(f"bit-width {what} must be an integer in [2, 16], got {bits!r}")
        for pat, o in self.overrides.items():
            unknown = set(o) - {"weight", "act"}
            if unknown:
                raise ValueError(f"bit-width override '{pat}' has unknown keys {sorted(unknown)}; use weight, act")

    def _lookup(self, name: str, kind: str) -> int:
        bits = getattr(self, kind)
        for pat, o in self.overrides.items():
            if kind in o and fnmatch.fnmatchcase(name, pat):
                bits = o[kind]
        return bits

    def w(self, name: str) -> int:
        return self._lookup(name, "weight")

    def a(self, name: str) -> int:
        return self._lookup(name, "act")


def conv(name: str, bits: BitSpec, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> qnn.QuantConv2d:
    """Bias-free quantized conv with 'same' padding (a BatchNorm follows it)."""
    return qnn.QuantConv2d(
        cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False,
        weight_quant=Int8WeightPerTensorFloat, weight_bit_width=bits.w(name),
        weight_scaling_per_output_channel=True,
    )


def linear(name: str, bits: BitSpec, fin: int, fout: int, bias: bool = False) -> qnn.QuantLinear:
    return qnn.QuantLinear(
        fin, fout, bias=bias, weight_quant=Int8WeightPerTensorFloat,
        weight_bit_width=bits.w(name), weight_scaling_per_output_channel=True,
    )


def relu(name: str, bits: BitSpec) -> qnn.QuantReLU:
    return qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=bits.a(name), return_quant_tensor=True)


def ident(name: str, bits: BitSpec, signed: bool = True) -> qnn.QuantIdentity:
    quant = Int8ActPerTensorFloat if signed else Uint8ActPerTensorFloat
    return qnn.QuantIdentity(act_quant=quant, bit_width=bits.a(name), return_quant_tensor=True)


def input_quant() -> qnn.QuantIdentity:
    """Unsigned 8-bit input quantizer with the constant scale 1/255.

    Images in [0, 1] on the 1/255 grid quantize exactly to their 8-bit pixel values, so
    the exported accelerator takes raw UINT8 pixels (see :mod:`hyq.export`).
    """
    return qnn.QuantIdentity(
        act_quant=Uint8ActPerTensorFloat, bit_width=8, scaling_impl_type="const", scaling_init=1.0,
        return_quant_tensor=True,
    )
