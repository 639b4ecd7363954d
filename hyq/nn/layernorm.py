"""IntLayerNorm: a Brevitas-compatible integer LayerNorm whose integers are the reference's.

The normalisation calls :func:`hyq.integer.layernorm.layernorm_with_params` on the input
integers (one source of integer truth) and yields signed ``out_bits`` integers on the grid
2^-F; the backward pass is straight-through (the gradient of float LayerNorm of the
dequantized input). The affine part ``gamma * z + beta`` is a plain float per-channel
multiply and add after it: the quantizer that follows every LayerNorm in hyq's models
(attention input, FFN input, projection input) turns it into per-channel thresholds, so
it costs no extra layer in hardware.

In a TorchScript ONNX export the normalisation becomes one ``IntLayerNorm`` node of the
``hyq.export.ops`` domain carrying every integer constant as an attribute, followed by the
affine Mul and Add.
"""

from __future__ import annotations

import numpy as np
import torch
from brevitas.quant_tensor import QuantTensor
from torch import nn

from hyq.integer.layernorm import DEFAULT_EPS, LayerNormParams, layernorm_params, layernorm_with_params

ONNX_DOMAIN = "hyq.export.ops"


def node_attributes(p: LayerNormParams) -> dict:
    """Attributes of the exported IntLayerNorm node: every integer constant and the input scale."""
    return {"channels_i": p.channels, "in_bits_i": p.in_bits, "in_signed_i": int(p.in_signed),
            "input_scale_f": p.scale, "eps_int_i": p.eps_int, "out_bits_i": p.out_bits,
            "out_frac_i": p.out_frac, "sqrt_shift_i": p.sqrt_shift, "recip_shift_i": p.recip_shift}


class IntLayerNormFn(torch.autograd.Function):
    """Integer LayerNorm (last axis, no affine) on dequantized values; float-LayerNorm gradient."""

    @staticmethod
    def forward(ctx, x, channels, scale, in_bits, in_signed, out_bits, out_frac, eps):
        p = layernorm_params(channels, scale, in_bits, in_signed, out_bits, out_frac, eps)
        x_int = np.rint(x.detach().cpu().double().numpy() / scale).astype(np.int64)
        out = layernorm_with_params(x_int, p)
        ctx.save_for_backward(x.detach())
        ctx.eps = eps
        return torch.from_numpy(out.astype(np.float64) * p.out_scale).to(device=x.device, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        with torch.enable_grad():
            xr = x.requires_grad_()
            y = nn.functional.layer_norm(xr, (x.shape[-1],), eps=ctx.eps)
            (gx,) = torch.autograd.grad(y, xr, grad)
        return gx, None, None, None, None, None, None, None

    @staticmethod
    def symbolic(g, x, channels, scale, in_bits, in_signed, out_bits, out_frac, eps):
        p =  layernorm_params(channels, scale, in_bits, in_signed, out_bits, out_frac, eps)
        y = g.op(f"{ONNX_DOMAIN}::IntLayerNorm", x, **node_attributes(p))
        y.setType(x.type())
        return y


class IntLayerNorm(nn.Module):
    """LayerNorm over the last axis (``dim`` channels) of a per-tensor quantized input.

    The input must be a Brevitas QuantTensor with one scale (its bit-width and signedness
    set the integer input); a plain tensor (quantization off: float training, calibration)
    gets float LayerNorm. ``out_bits``/``out_frac``: the integer output grid before the
    affine (default 8 bits, 2^-5: +-4 standard deviations). Returns a float tensor
    ``gamma * z + beta`` for the quantizer that follows.
    """

    def __init__(self, dim: int, out_bits: int = 8, out_frac: int | None = None, eps: float = DEFAULT_EPS,
                 elementwise_affine: bool = True):
        super().__init__()
        probe = layernorm_params(dim, 1.0 / 16, 8, True, out_bits, out_frac, eps)  # validates
        self.dim, self.out_bits, self.out_frac, self.eps = dim, out_bits, probe.out_frac, eps
        self.weight = nn.Parameter(torch.ones(dim)) if elementwise_affine else None
        self.bias = nn.Parameter(torch.zeros(dim)) if elementwise_affine else None

    def params(self, scale: float, in_bits: int, in_signed: bool = True) -> LayerNormParams:
        """The integer constants used for an input of this scale, bit-width and sign."""
        return layernorm_params(self.dim, scale, in_bits, in_signed, self.out_bits, self.out_frac, self.eps)

    def normalize(self, x) -> torch.Tensor:
        """The normalised value z (no affine): integer for a QuantTensor, float otherwise."""
        if not isinstance(x, QuantTensor):
            return nn.functional.layer_norm(x, (self.dim,), eps=self.eps)
        if x.scale.numel() != 1:
            raise ValueError(f"IntLayerNorm needs a per-tensor input scale; got {x.scale.numel()} scales")
        if x.zero_point.numel() != 1 or float(x.zero_point) != 0.0:
            raise ValueError("IntLayerNorm needs a zero-point-free input quantizer")
        scale = float(x.scale.detach().reshape(()))
        bits = int(round(float(x.bit_width)))
        return IntLayerNormFn.apply(x.value, self.dim, scale, bits, bool(x.signed), self.out_bits, self.out_frac, self.eps)

    def forward(self, x) -> torch.Tensor:
        z = self.normalize(x)
        return z if self.weight is None else z * self.weight + self.bias

    def extra_repr(self) -> str:
        return f"{self.dim}, out_bits={self.out_bits}, out_frac={self.out_frac}, eps={self.eps}"
