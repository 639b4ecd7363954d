"""The transformer half of the hybrid models: token norm, transformer layer, MobileViT block.

Hardware-friendly by construction (see the finn-plus notes): separate Q/K/V projections,
a quantizer on every matmul operand and on both operands of every residual add (one
shared quantizer, so the add is an integer add), BatchNorm over the token channels by
default (an affine map that FINN folds into the next thresholds) or the integer LayerNorm
(:class:`hyq.nn.layernorm.IntLayerNorm`, its affine folded the same way), and token tensors
kept 3-D ``(batch, tokens, channels)`` so that channels are last everywhere. Every norm
reads a quantized tensor and is followed by a quantizer.

Unfold: a ``(B, C, H, W)`` map becomes ``(B, P * N, C)`` tokens, group-major: the P = ph*pw
pixel positions inside a patch are the groups, the N = (H/ph)(W/pw) patches the tokens of
a group. Attention mixes the N tokens of one group (MobileViT's patch-wise attention).
"""

from __future__ import annotations

import torch
from brevitas.quant_tensor import IntQuantTensor, QuantTensor
from torch import nn

from hyq.nn.attention import QuantMultiheadSelfAttention
from hyq.nn.blocks import ConvBNAct, activation
from hyq.nn.layernorm import IntLayerNorm
from hyq.nn.quant import BitSpec, conv, ident, linear

#: token normalisation choices: ``batch`` (folds into thresholds) or ``layer`` (integer LayerNorm)
NORMS = ("batch", "layer")


class TokenBatchNorm(nn.BatchNorm1d):
    """BatchNorm over the last (channel) axis of ``(..., C)`` tokens.

    In eval mode it is the per-channel affine map ``x * s + t`` of the running statistics,
    which exports as one Mul and one Add on the channel axis (no layout change).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return super().forward(x.reshape(-1, x.shape[-1])).reshape(x.shape)
        s = self.weight / torch.sqrt(self.running_var + self.eps)
        return x * s + (self.bias - self.running_mean * s)


def token_norm(kind: str, dim: int) -> nn.Module:
    if kind not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}; got {kind!r}")
    return TokenBatchNorm(dim) if kind == "batch" else IntLayerNorm(dim)


class _Norms:
    """Holds :meth:`apply`, a method rather than a module-level function: distribution scaling
    (hyq.quantize.regions) records hyq.nn's plain functions as opaque calls, and must see
    through the norm to the projection behind it."""

    @staticmethod
    def apply(norm: nn.Module, x):
        """``norm`` of tokens ``x``: the integer LayerNorm reads the QuantTensor (its integers),
        BatchNorm the float value."""
        return norm(x) if isinstance(norm, IntLayerNorm) else norm(_value(x))



def _like(t: torch.Tensor, q):
    """``t`` (a reshaped ``q.value``) as a QuantTensor on ``q``'s grid; ``t`` if ``q`` is not quantized."""
    if not isinstance(q, QuantTensor):
        return t
    return IntQuantTensor(t, q.scale, q.zero_point, q.bit_width, q.signed, q.training)


def unfold(x: torch.Tensor, ph: int, pw: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, ph * pw * N, C) tokens, grouped by position inside the patch."""
    b, c, h, w = x.shape
    if h % ph or w % pw:
        raise ValueError(f"a {h}x{w} feature map does not split into {ph}x{pw} patches")
    x = x.reshape(b, c, h // ph, ph, w // pw, pw).permute(0, 3, 5, 2, 4, 1)
    return x.reshape(b, ph * pw * (h // ph) * (w // pw), c)


def fold(t: torch.Tensor, ph: int, pw: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`unfold`: (B, ph * pw * N, C) -> (B, C, H, W)."""
    b, _, c = t.shape
    t = t.reshape(b, ph, pw, h // ph, w // pw, c).permute(0, 5, 3, 1, 4, 2)
    return t.reshape(b, c, h, w)


def _value(x):
    return x.value if hasattr(x, "value") else x


class TransformerLayer(nn.Module):
    """Pre-norm transformer layer: x + attn(norm(x)), then x + ffn(norm(x)).

    Each residual sum is requantized; both of its operands pass one shared quantizer.
    """

    def __init__(self, name: str, bits: BitSpec, dim: int, heads: int, ffn: int, groups: int = 1,
                 norm: str = "batch", act: str = "relu", softmax: str = "linmax"):
        super().__init__()
        self.norm1 = token_norm(norm, dim)
        self.attn = QuantMultiheadSelfAttention(
            dim, heads, softmax=softmax, weight_bits=bits.w(f"{name}.attn"), act_bits=bits.a(f"{name}.attn"),
            groups=groups)
        self.add1_q = ident(f"{name}.add1", bits)
        self.res1_q = ident(f"{name}.res1", bits)
        self.norm2 = token_norm(norm, dim)
        self.ffn_in_q = ident(f"{name}.ffn.in", bits)
        self.fc1 = linear(f"{name}.ffn.fc1", bits, dim, ffn, bias=True)
        self.act = activation(f"{name}.ffn.act", bits, act)
        self.fc2 = linear(f"{name}.ffn.fc2", bits, ffn, dim, bias=True)
        self.add2_q = ident(f"{name}.add2", bits)
        self.res2_q = ident(f"{name}.res2", bits)

    def forward(self, x):
        y = self.attn(_Norms.apply(self.norm1, x))
        x = self.res1_q(self.add1_q(x) + self.add1_q(y))
        y = self.fc2(self.act(self.fc1(self.ffn_in_q(_Norms.apply(self.norm2, x)))))
        return self.res2_q(self.add2_q(x) + self.add2_q(y))


class MobileViTBlock(nn.Module):
    """MobileViT block: local 3x3 conv, 1x1 to ``dim``, unfold, transformer layers, norm,
    fold, 1x1 back to ``channels``, 3x3 fusion of (input, result) concatenated."""

    def __init__(self, name: str, bits: BitSpec, channels: int, dim: int, depth: int, heads: int, ffn: int,
                 patch: int = 2, norm: str = "batch", act: str = "relu", softmax: str = "linmax"):
        super().__init__()
        self.patch = patch
        self.local = ConvBNAct(f"{name}.local", bits, channels, channels, k=3, act=act)
        self.to_tokens = conv(f"{name}.to_tokens", bits, channels, dim, 1)
        self.tokens_q = ident(f"{name}.tokens_q", bits)
        self.layers = nn.Sequential(*[
            TransformerLayer(f"{name}.layers.{i}", bits, dim, heads, ffn, patch * patch, norm, act, softmax)
            for i in range(depth)])
        self.norm = token_norm(norm, dim)
        self.proj_in_q = ident(f"{name}.proj_in", bits)
        self.proj = ConvBNAct(f"{name}.proj", bits, dim, channels, k=1, act=act)
        self.fuse_q = ident(f"{name}.fuse_in", bits)  # one scale for both halves of the concat
        self.fusion = ConvBNAct(f"{name}.fusion", bits, 2 * channels, channels, k=3, act=act)

    def forward(self, x):
        h, w = x.shape[-2:]
        y = self.tokens_q(self.to_tokens(self.local(x)))
        t = unfold(_value(y), self.patch, self.patch)
        if isinstance(self.norm, IntLayerNorm):  # the integer LayerNorm reads the tokens' grid
            t = _like(t, y)
        t = self.layers(t)
        t = self.proj_in_q(_Norms.apply(self.norm, t))
        y = self.proj(fold(_value(t), self.patch, self.patch, h, w))
        return self.fusion(torch.cat([_value(self.fuse_q(_value(x))), _value(self.fuse_q(_value(y)))], dim=1))
