"""IntSoftmax: a Brevitas-compatible integer softmax whose integers are the reference's.

The forward pass calls :func:`hyq.integer.softmax_with_params` on the input integers, so
the layer equals the NumPy reference by construction (one source of integer truth). The
backward pass is straight-through: the gradient of float softmax of the dequantized input,
so the layer trains in QAT like a float softmax. In a TorchScript ONNX export the layer
becomes one ``IntSoftmax`` node of the ``hyq.export.ops`` domain carrying every integer
constant as an attribute, followed by a QONNX ``Quant`` node that states the output grid.
"""

from __future__ import annotations

import numpy as np
import torch
from brevitas.quant_tensor import IntQuantTensor, QuantTensor
from torch import nn

from hyq.integer import softmax_schema
from hyq.integer.softmax import EXP_BITS, SoftmaxParams, decode_log2, softmax_params, softmax_with_params

ONNX_DOMAIN = "hyq.export.ops"
QONNX_DOMAIN = "qonnx.custom_op.general"


def out_quant_bits(params: SoftmaxParams) -> int:
    """Bit-width of the linear output integers (log2 codes decode to 2^k - 1 bits)."""
    return params.out_bits if params.out_format == "uint" else 2**params.out_bits - 1


def output_integers(value_int: np.ndarray, params: SoftmaxParams, axis: int) -> np.ndarray:
    """Reference output as linear integers on the ``params.out_scale`` grid."""
    out = softmax_with_params(value_int, params, axis)
    return out if params.out_format == "uint" else decode_log2(out, params.out_bits)


def node_attributes(params: SoftmaxParams, axis: int) -> dict:
    """Attributes of the exported IntSoftmax node: method, format and all integer constants."""
    return {**softmax_schema.onnx_kwargs(params), "axis_i": axis}


class IntSoftmaxFn(torch.autograd.Function):
    """Integer softmax on dequantized values with a float-softmax (straight-through) gradient."""

    @staticmethod
    def forward(ctx, x, method, scale, in_bits, out_bits, out_format, exp_bits, dim):
        params = softmax_params(scale, method, out_bits, out_format, in_bits, exp_bits)
        x_int = np.rint(x.detach().cpu().double().numpy() / scale).astype(np.int64)
        out = output_integers(x_int, params, dim)
        y = torch.from_numpy(out.astype(np.float64) * params.out_scale).to(device=x.device, dtype=x.dtype)
        ctx.save_for_backward(torch.softmax(x.detach(), dim=dim))
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, grad):
        (p,) = ctx.saved_tensors
        grad_x = p * (grad - (grad * p).sum(dim=ctx.dim, keepdim=True))
        return grad_x, None, None, None, None, None, None, None

    @staticmethod
    def symbolic(g, x, method, scale, in_bits, out_bits, out_format, exp_bits, dim):
        params = softmax_params(scale, method, out_bits, out_format, in_bits, exp_bits)
        y = g.op(f"{ONNX_DOMAIN}::IntSoftmax", x, **node_attributes(params, dim))
        y.setType(x.type())

        def const(v):
            return g.op("Constant", value_t=torch.tensor(v, dtype=torch.float32))

        q = g.op(f"{QONNX_DOMAIN}::Quant", y, const(params.out_scale), const(0.0),
                 const(float(out_quant_bits(params))), rounding_mode_s="ROUND", signed_i=0, narrow_i=0)
        q.setType(x.type())
        return q


class IntSoftmax(nn.Module):
    """Integer-only softmax over ``dim`` of a per-tensor quantized input.

    ``method``: ``linmax`` | ``ibert`` | ``shiftmax``; ``out_format``: ``uint`` (k-bit,
    scale 2^-k) or ``log2`` (k-bit log2 codes, returned decoded: values 2^-c or 0 on the
    grid 2^-(2^k - 2)). ``out_bits`` defaults to 8 (uint) / 4 (log2). The input must be a
    Brevitas QuantTensor with one scale (e.g. from a QuantIdentity with
    ``return_quant_tensor=True``); its bit-width sets ``in_bits``. Returns an
    IntQuantTensor, unsigned, zero point 0.
    """

    def __init__(self, method: str = "linmax", out_bits: int | None = None, out_format: str = "uint",
                 dim: int = -1, exp_bits: int = EXP_BITS) -> None:
        super().__init__()
        probe = softmax_params(1.0 / 16, method, out_bits, out_format, exp_bits=exp_bits)  # validates
        self.method, self.out_format, self.out_bits = method, out_format, probe.out_bits
        self.dim, self.exp_bits = dim, exp_bits

    def params(self, scale: float, in_bits: int) -> SoftmaxParams:
        """The integer constants used for an input of this scale and bit-width."""
        return softmax_params(scale, self.method, self.out_bits, self.out_format, in_bits, self.exp_bits)

    def forward(self, x: QuantTensor) -> IntQuantTensor:
        scale, in_bits = self._input_grid(x)
        params = self.params(scale, in_bits)
        y = IntSoftmaxFn.apply(x.value, self.method, scale, in_bits, self.out_bits, self.out_format,
                               self.exp_bits, self.dim)
        like = dict(dtype=y.dtype, device=y.device)
        return IntQuantTensor(
            y, scale=torch.tensor(params.out_scale, **like), zero_point=torch.tensor(0.0, **like),
            bit_width=torch.tensor(float(out_quant_bits(params)), **like), signed=False,
            training=self.training)

    def _input_grid(self, x) -> tuple[float, int]:
        if not isinstance(x, QuantTensor):
            raise ValueError(
                f"IntSoftmax needs a Brevitas QuantTensor input (a quantizer with return_quant_tensor=True "
                f"in front of it); got {type(x).__name__}")
        if x.scale.numel() != 1:
            raise ValueError(f"IntSoftmax needs a per-tensor input scale; got {x.scale.numel()} scales")
        return float(x.scale.detach().reshape(())), int(round(float(x.bit_width)))

    def extra_repr(self) -> str:
        return f"method={self.method}, out_bits={self.out_bits}, out_format={self.out_format}, dim={self.dim}"
