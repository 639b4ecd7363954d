"""Make a user's own Brevitas model hardware-ready: one call swaps its float parts for hyq's integer layers.

A model written with Brevitas layers (QuantConv2d, QuantLinear, QuantIdentity,
``brevitas.nn.QuantMultiheadAttention``) still holds float operators FINN cannot map: the
softmax inside the attention, a ``torch.nn.Softmax``, SiLU / GELU between unquantized
tensors. :func:`integerize` replaces, in place,

- each ``QuantMultiheadAttention`` (self-attention; packed or separate in-projection) by
  :class:`IntegerAttention`: hyq's :class:`~hyq.nn.attention.QuantMultiheadSelfAttention`
  with the same float weights (the packed ``(3 E, E)`` in-projection split into Q, K and V
  rows) and an integer softmax, called like the Brevitas module;
- each ``nn.Softmax`` by :class:`IntegerSoftmax` (a quantizer, then
  :class:`~hyq.nn.softmax.IntSoftmax`);
- each ``nn.SiLU`` / ``nn.GELU`` by :class:`TableActivation` (the function between two
  quantizers of at most 8 bits, which the export turns into a table, :mod:`hyq.integer.table`);
- each ``nn.LayerNorm`` over the last axis by :class:`IntegerLayerNorm` (a quantizer, hyq's
  integer :class:`~hyq.nn.layernorm.IntLayerNorm` with the same gamma, beta and eps, and a
  quantizer for its affine output, which the build folds into thresholds);

then calibrates every activation quantizer on ``calib`` (Brevitas' calibration mode) and
reports how much the model's output changed. BatchNorm is left as it is (it folds into
thresholds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from brevitas import nn as qnn
from brevitas.graph.calibrate import calibration_mode
from brevitas.quant import Int8ActPerTensorFloat
from brevitas.quant_tensor import QuantTensor
from torch import nn

from hyq.nn.attention import QuantMultiheadSelfAttention, _value
from hyq.nn.layernorm import IntLayerNorm
from hyq.nn.softmax import IntSoftmax

#: float activations replaced by a table (the name is the hyq.integer.table function)
TABLE_ACTIVATIONS = {nn.SiLU: "silu", nn.GELU: "gelu"}


def _quant(bits: int) -> qnn.QuantIdentity:
    return qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=bits, return_quant_tensor=True)


class IntegerSoftmax(nn.Module):
    """``nn.Softmax(dim)`` on integers: a ``bits``-wide quantizer, then IntSoftmax.

    Returns a plain tensor (the IntSoftmax output values) like the softmax it replaces;
    with quantization off (calibration) it is float softmax.
    """

    def __init__(self, dim: int, method: str = "linmax", bits: int = 8):
        super().__init__()
        self.dim = dim
        self.in_q = _quant(bits)
        self.softmax = IntSoftmax(method, dim=dim)

    def forward(self, x):
        x = self.in_q(x)
        if isinstance(x, QuantTensor):
            return self.softmax(x).value
        return torch.softmax(x, dim=self.dim)


class TableActivation(nn.Module):
    """A pointwise activation between two ``bits``-wide quantizers (a table in hardware)."""

    def __init__(self, act: nn.Module, bits: int = 8):
        super().__init__()
        self.in_q, self.act, self.out_q = _quant(bits), act, _quant(bits)

    def forward(self, x):
        return _value(self.out_q(self.act(_value(self.in_q(x)))))


class IntegerLayerNorm(nn.Module):
    """``nn.LayerNorm(dim)`` on integers: a ``bits``-wide quantizer, hyq's IntLayerNorm with
    the float layer's gamma, beta and eps, then a ``bits``-wide quantizer of its output.
    With quantization off (calibration) it is float LayerNorm."""

    def __init__(self, norm: nn.LayerNorm, bits: int = 8):
        super().__init__()
        (dim,) = norm.normalized_shape
        affine = norm.weight is not None
        self.in_q, self.out_q = _quant(bits), _quant(bits)
        self.norm = IntLayerNorm(dim, eps=norm.eps, elementwise_affine=affine)
        if affine:
            with torch.no_grad():
                self.norm.weight.copy_(norm.weight)
                self.norm.bias.copy_(norm.bias if norm.bias is not None else torch.zeros(dim))

    def forward(self, x):
        return _value(self.out_q(self.norm(self.in_q(x))))


class IntegerAttention(nn.Module):
    """hyq's integer self-attention behind the call signature of ``brevitas.nn.QuantMultiheadAttention``.

    ``forward(query, key, value, ...)`` returns ``(output, None)``; only self-attention
    (``query``, ``key`` and ``value`` the same tensor) without masks is hardware-mapped.
    """

    def __init__(self, block: QuantMultiheadSelfAttention, batch_first: bool):
        super().__init__()
        self.block, self.batch_first = block, batch_first

    def forward(self, query, key=None, value=None, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True):
        if (key is not None and key is not query) or (value is not None and value is not query):
            raise ValueError("integerized attention is self-attention: pass the same tensor as query, key and value")
        if key_padding_mask is not None or attn_mask is not None:
            raise ValueError("integerized attention takes no key_padding_mask or attn_mask")
        x = _value(query)
        if x.dim() != 3:
            raise ValueError(f"integerized attention needs batched (3-D) tokens; got {x.dim()}-D")
        if not self.batch_first:
            x = x.transpose(0, 1)
        y = self.block(x)
        y = _value(y)
        return (y if self.batch_first else y.transpose(0, 1)), None


def _attention(m: qnn.QuantMultiheadAttention, method: str, bits: int) -> IntegerAttention:
    """An IntegerAttention with ``m``'s float weights (packed in-projection split as Q, K, V)."""
    if m.bias_k is not None or m.add_zero_attn or not m._qkv_same_embed_dim:
        raise ValueError("integerize supports QuantMultiheadAttention without bias_kv, add_zero_attn or kdim/vdim")
    bias = m.out_proj.bias is not None
    block = QuantMultiheadSelfAttention(m.embed_dim, m.num_heads, softmax=method, weight_bits=bits,
                                        act_bits=bits, bias=bias)
    with torch.no_grad():
        if m.in_proj is not None:
            ws = m.in_proj.weight.chunk(3, dim=0)
            bs = m.in_proj.bias.chunk(3) if m.in_proj.bias is not None else (None,) * 3
        else:
            projs = (m.q_proj, m.k_proj, m.v_proj)
            ws, bs = [p.weight for p in projs], [p.bias for p in projs]
        for dst, w, b in zip((block.q_proj, block.k_proj, block.v_proj), ws, bs):
            dst.weight.copy_(w)
            if dst.bias is not None:
                if b is None:
                    dst.bias.zero_()
                else:
                    dst.bias.copy_(b)
        block.out_proj.weight.copy_(m.out_proj.weight)
        if bias:
            block.out_proj.bias.copy_(m.out_proj.bias)
    return IntegerAttention(block, m.batch_first)


def _replacement(child: nn.Module, softmax: str, bits: int) -> tuple[str, nn.Module] | None:
    if isinstance(child, qnn.QuantMultiheadAttention):
        return "attention", _attention(child, softmax, bits)
    if type(child) is nn.Softmax:
        return "softmax", IntegerSoftmax(child.dim if child.dim is not None else -1, softmax, bits)
    for cls, name in TABLE_ACTIVATIONS.items():
        if type(child) is cls:
            return name, TableActivation(child, bits)
    if type(child) is nn.LayerNorm:
        if len(child.normalized_shape) != 1:
            raise ValueError(f"integerize: LayerNorm over {tuple(child.normalized_shape)} - hyq's integer "
                             "LayerNorm normalises the last axis only")
        return "layernorm", IntegerLayerNorm(child, bits)
    return None


def _swap(module: nn.Module, prefix: str, softmax: str, bits: int, swapped: dict[str, str]) -> None:
    for name, child in list(module.named_children()):
        path = f"{prefix}{name}"
        found = _replacement(child, softmax, bits)
        if found is None:
            _swap(child, path + ".", softmax, bits, swapped)
        else:
            swapped[path], new = found
            setattr(module, name, new)


@dataclass(frozen=True)
class IntegerizeReport:
    """What :func:`integerize` swapped and how the output on ``calib`` changed.

    ``max_abs_change``: largest |after - before|; ``rel_change``: RMS of the change over the
    RMS of the output before; ``argmax_agreement``: fraction of samples whose arg-max over
    the last axis stayed the same.
    """

    swapped: dict[str, str] = field(default_factory=dict)
    max_abs_change: float = 0.0
    rel_change: float = 0.0
    argmax_agreement: float = 1.0

    def __str__(self) -> str:
        kinds = ", ".join(f"{k} ({v})" for k, v in self.swapped.items()) or "nothing"
        return (f"integerized {kinds}; output change on calibration data: max abs {self.max_abs_change:.4g}, "
                f"relative RMS {self.rel_change:.3%}, arg-max agreement {self.argmax_agreement:.1%}")


def _output(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    return _value(out[0] if isinstance(out, tuple) else out).detach().float()


@torch.no_grad()
def integerize(model: nn.Module, softmax: str = "linmax", calib: torch.Tensor | None = None, bits: int = 8,
               batch: int = 64) -> IntegerizeReport:
    """Swap ``model``'s float softmax, attention, LayerNorm and SiLU/GELU for hyq's integer layers, in place.

    ``softmax``: the integer softmax method (``linmax`` | ``ibert`` | ``shiftmax``);
    ``bits``: width of the quantizers the swap adds (at most 8 where a table follows);
    ``calib``: input samples; every activation quantizer is calibrated on them and the
    output change is measured on them. Returns an :class:`IntegerizeReport`.
    """
    if calib is None or len(calib) == 0:
        raise ValueError("integerize needs calib: a batch of input samples to calibrate on")
    model.eval()
    before = torch.cat([_output(model, calib[i:i + batch]) for i in range(0, len(calib), batch)])
    swapped: dict[str, str] = {}
    _swap(model, "", softmax, bits, swapped)
    with calibration_mode(model):
        for i in range(0, len(calib), batch):
            model(calib[i:i + batch])
    model.eval()
    after = torch.cat([_output(model, calib[i:i + batch]) for i in range(0, len(calib), batch)])
    diff = after - before
    rms = float(before.pow(2).mean().sqrt())
    agree = float((after.argmax(-1) == before.argmax(-1)).float().mean())
    return IntegerizeReport(swapped, float(diff.abs().max()), float(diff.pow(2).mean().sqrt()) / max(rms, 1e-12),
                            agree)
