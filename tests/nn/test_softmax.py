"""IntSoftmax (Brevitas layer) against the hyq.integer reference, gradients, and errors."""

import numpy as np
import pytest
import torch
from brevitas import nn as qnn
from brevitas.quant import Int8ActPerTensorFloat
from brevitas.quant_tensor import IntQuantTensor

from hyq.integer import METHODS, OUT_FORMATS, decode_log2, softmax
from hyq.nn.softmax import IntSoftmax


def quant_tensor(ints, scale, bits=8):
    """An IntQuantTensor holding exactly the given integers."""
    t = torch.as_tensor(np.asarray(ints), dtype=torch.float32)
    s = torch.tensor(scale, dtype=torch.float32)
    return IntQuantTensor(t * s, s, torch.tensor(0.0), torch.tensor(float(bits)), signed=True, training=False)


def reference_ints(x_int, scale, method, out_format, out_bits=None, axis=-1, in_bits=8):
    out = softmax(x_int, scale, method, out_bits, out_format, axis, in_bits)
    return out if out_format == "uint" else decode_log2(out, 4 if out_bits is None else out_bits)


def edge_cases(rng):
    return {
        "equal197": np.full((2, 197), 5), "equal256": np.full((1, 256), -128),
        "dominant": np.r_[127, np.full(196, -128)][None], "very_negative": np.r_[np.full(255, -128), -127][None],
        "random256": rng.integers(-128, 128, (3, 256)), "single": np.array([[17]]),
    }


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("out_format", OUT_FORMATS)
def test_layer_equals_reference_on_edge_cases(method, out_format):
    rng = np.random.default_rng(1)
    scale = float(np.float32(0.0625 * 1.3))
    layer = IntSoftmax(method=method, out_format=out_format)
    for name, ints in edge_cases(rng).items():
        y = layer(quant_tensor(ints, scale))
        got = y.int().numpy()
        assert np.array_equal(got, reference_ints(ints, scale, method, out_format)), name
        assert float(y.scale) == layer.params(scale, 8).out_scale and not y.signed


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("out_bits", (3, 8, 12))
def test_layer_after_quant_identity_equals_reference(method, out_bits):
    torch.manual_seed(0)
    q = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, return_quant_tensor=True)
    layer = IntSoftmax(method=method, out_bits=out_bits, dim=1)
    x = torch.randn(4, 197, 3) * 4
    xq = q(x)
    y = layer(xq)
    scale = float(xq.scale)
    want = softmax(xq.int().numpy(), scale, method, out_bits, axis=1)
    assert np.array_equal(y.int().numpy(), want)
    assert y.value.shape == x.shape and int(y.bit_width) == out_bits


@pytest.mark.parametrize("method", METHODS)
def test_gradients_flow_straight_through(method):
    torch.manual_seed(1)
    q = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, scaling_impl_type="parameter", scaling_init=12.0,
                          return_quant_tensor=True)  # a learned scale, as in QAT
    layer = IntSoftmax(method=method)
    x = (torch.randn(3, 16) * 3).requires_grad_()
    w = torch.randn(3, 16)
    xq = q(x)
    (layer(xq).value * w).sum().backward()
    # straight-through: the gradient w.r.t. the quantized value is float softmax's
    v = xq.value.detach().requires_grad_()
    (torch.softmax(v, -1) * w).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert (x.detach().abs() < 12.0).all()  # no clipping, so the quantizer passes gradients 1:1
    assert torch.allclose(x.grad, v.grad, atol=1e-6)
    learned = [p for p in q.parameters() if p.requires_grad]
    assert learned and all(p.grad is not None and p.grad.abs().sum() > 0 for p in learned)


def test_output_composes_with_brevitas_layers():
    layer = IntSoftmax()
    y = layer(quant_tensor(np.arange(-8, 8)[None], 0.1))
    lin = qnn.QuantLinear(16, 4, bias=True, return_quant_tensor=True)
    out = lin(y)
    assert isinstance(out, IntQuantTensor)
    assert torch.allclose(out.scale, (y.scale * lin.quant_weight().scale).reshape(out.scale.shape))


@pytest.mark.parametrize("kwargs, message", [
    (dict(out_bits=1), "out_bits"), (dict(out_bits=0, out_format="log2"), "out_bits"),
    (dict(method="softermax"), "method"), (dict(out_format="int8"), "out_format"),
])
def test_invalid_parameters_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        IntSoftmax(**kwargs)


def test_invalid_inputs_raise_value_error():
    layer = IntSoftmax()
    with pytest.raises(ValueError, match="QuantTensor"):
        layer(torch.randn(2, 4))
    with pytest.raises(ValueError, match="scale must be a positive"):
        layer(quant_tensor(np.zeros((1, 4)), 0.0))
    with pytest.raises(ValueError, match="scale must be a positive"):
        layer(quant_tensor(np.zeros((1, 4)), -0.5))
