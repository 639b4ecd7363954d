"""Quantized multi-head self-attention with an integer softmax, built for FINN to map.

Layout (the pattern FINN's inference passes match, see the finn-plus notes): separate
QuantLinear Q/K/V/out projections, a QuantIdentity on every matmul operand (Q, K, V, the
scores, the attention weights), heads split by reshape/transpose, no packed in-projection
and no LayerNorm. The softmax is :class:`hyq.nn.softmax.IntSoftmax` (LinMax by default);
``softmax="float"`` keeps float softmax followed by an unsigned quantizer as the baseline.
"""

from __future__ import annotations

import math

import torch
from brevitas import nn as qnn
from brevitas.quant_tensor import QuantTensor
from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat, Uint8ActPerTensorFloat
from torch import nn

from hyq.integer.softmax import METHODS
from hyq.nn.softmax import IntSoftmax

SOFTMAX_CHOICES = (*METHODS, "float")


def _value(x):
    return x.value if isinstance(x, QuantTensor) else x


def _act(bits: int, signed: bool = True) -> qnn.QuantIdentity:
    quant = Int8ActPerTensorFloat if signed else Uint8ActPerTensorFloat
    return qnn.QuantIdentity(act_quant=quant, bit_width=bits, return_quant_tensor=True)


def _proj(fin: int, fout: int, bits: int, bias: bool) -> qnn.QuantLinear:
    return qnn.QuantLinear(fin, fout, bias=bias, weight_quant=Int8WeightPerTensorFloat,
                           weight_bit_width=bits, weight_scaling_per_output_channel=True)


class QuantMultiheadSelfAttention(nn.Module):
    """Self-attention over tokens ``(batch, tokens, dim)`` with quantized operands.

    ``groups``: the tokens form that many equal, independent groups (``tokens = groups * n``,
    group-major); attention mixes tokens only within a group. MobileViT's unfolded patches
    are such groups (one per pixel position inside a patch). Heads and groups share one
    matmul batch axis, so the graph keeps 3-D token tensors and 4-D matmul operands.

    ``softmax``: ``linmax`` | ``ibert`` | ``shiftmax`` (IntSoftmax) or ``float``;
    ``softmax_bits`` / ``softmax_format``: IntSoftmax output width and format (``uint`` or
    ``log2``); ``weight_bits`` / ``act_bits``: projections and activation quantizers.
    Returns a plain tensor of the input's shape (the out projection's float output).
    """

    def __init__(self, dim: int, heads: int, softmax: str = "linmax", softmax_bits: int | None = None,
                 softmax_format: str = "uint", weight_bits: int = 8, act_bits: int = 8, bias: bool = True,
                 groups: int = 1):
        super().__init__()
        if not isinstance(dim, int) or not isinstance(heads, int) or dim < 1 or heads < 1 or dim % heads:
            raise ValueError(f"attention dim must be a positive multiple of heads; got dim={dim!r}, heads={heads!r}")
        if softmax not in SOFTMAX_CHOICES:
            raise ValueError(f"attention softmax must be one of {', '.join(SOFTMAX_CHOICES)}; got {softmax!r}")
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"attention groups must be a positive integer; got {groups!r}")
        self.dim, self.heads, self.head_dim, self.groups = dim, heads, dim // heads, groups
        self.in_q = _act(act_bits)
        self.q_proj, self.k_proj, self.v_proj = (_proj(dim, dim, weight_bits, bias) for _ in range(3))
        self.q_q, self.k_q, self.v_q = _act(act_bits), _act(act_bits), _act(act_bits)
        self.score_q = _act(act_bits)  # the integer softmax input
        if softmax == "float":
            self.softmax = nn.Softmax(dim=-1)
            self.attn_q = _act(softmax_bits or act_bits, signed=False)
        else:
            self.softmax = IntSoftmax(softmax, softmax_bits, softmax_format, dim=-1)
            self.attn_q = nn.Identity()  # IntSoftmax already returns quantized weights
        self.av_q = _act(act_bits)
        self.out_proj = _proj(dim, dim, weight_bits, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        if t % self.groups:
            raise ValueError(f"attention over {t} tokens cannot form {self.groups} equal groups")
        n = t // self.groups
        x = self.in_q(x)
        q = self._heads(_value(self.q_q(self.q_proj(x))), b, n)
        k = self._heads(_value(self.k_q(self.k_proj(x))), b, n, keys=True)
        v = self._heads(_value(self.v_q(self.v_proj(x))), b, n)
        scores = self.score_q(torch.matmul(q, k) * (1.0 / math.sqrt(self.head_dim)))
        out = torch.matmul(_value(self.attn_q(self._softmax(scores))), v)
        out = out.reshape(b, self.groups, self.heads, n, self.head_dim).permute(0, 1, 3, 2, 4)
        return self.out_proj(self.av_q(out.reshape(b, t, self.dim)))

    def _softmax(self, scores):
        """IntSoftmax on quantized scores; float softmax when quantization is off (float
        training, calibration), where the quantizers return plain tensors."""
        if isinstance(self.softmax, IntSoftmax) and isinstance(scores, QuantTensor):
            return self.softmax(scores)
        return torch.softmax(_value(scores), dim=-1)

    def _heads(self, t: torch.Tensor, b: int, n: int, keys: bool = False) -> torch.Tensor:
        """(b, groups * n, dim) -> (b, groups * heads, n, head_dim), or ``(..., head_dim, n)`` for keys.

        Keys are transposed in the same single permutation (one layout shuffle per operand).
        """
        t = t.reshape(b, self.groups, n, self.heads, self.head_dim)
        t = t.permute(0, 1, 3, 4, 2) if keys else t.permute(0, 1, 3, 2, 4)
        return t.reshape(b, self.groups * self.heads, *((self.head_dim, n) if keys else (n, self.head_dim)))
