"""IntLayerNorm (Brevitas layer) against the hyq.integer reference, gradients, and errors."""

import numpy as np
import pytest
import torch
from brevitas import nn as qnn
from brevitas.quant import Int8ActPerTensorFloat, Uint8ActPerTensorFloat
from brevitas.quant_tensor import IntQuantTensor

from hyq.integer.layernorm import layernorm
from hyq.nn.layernorm import IntLayerNorm
from tests.integer.test_layernorm import edge_rows


def quant_tensor(ints, scale, bits=8, signed=True):
    t = torch.as_tensor(np.asarray(ints), dtype=torch.float32)
    s = torch.tensor(scale, dtype=torch.float32)
    return IntQuantTensor(t * s, s, torch.tensor(0.0), torch.tensor(float(bits)), signed=signed, training=False)


@pytest.mark.parametrize("c,bits,signed", [(64, 8, True), (96, 8, False), (16, 4, True)])
def test_layer_equals_reference_on_edge_rows(c, bits, signed):
    scale = float(np.float32(0.0731))
    layer = IntLayerNorm(c, elementwise_affine=False)
    p = layer.params(scale, bits, signed)
    for name, ints in edge_rows(c, bits, signed).items():
        z = layer(quant_tensor(ints, scale, bits, signed))
        got = np.rint(z.detach().numpy() / p.out_scale).astype(np.int64)
        assert np.array_equal(got, layernorm(ints, scale, in_bits=bits, in_signed=signed)), name


def test_affine_follows_the_integers():
    torch.manual_seed(0)
    q = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, return_quant_tensor=True)
    layer = IntLayerNorm(48)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(48))
        layer.bias.copy_(torch.randn(48))
    xq = q(torch.randn(2, 10, 48) * 3)
    z = layer.normalize(xq)
    assert torch.equal(layer(xq), z * layer.weight + layer.bias)
    ints = layernorm(xq.int().numpy(), float(xq.scale))
    assert np.array_equal(np.rint(z.detach().numpy() * 32).astype(np.int64), ints)


def test_straight_through_gradient_is_float_layernorms():
    torch.manual_seed(1)
    q = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True)
    layer = IntLayerNorm(32)
    x = (torch.rand(3, 32) * 4).requires_grad_()
    xq = q(x)
    w = torch.randn(3, 32)
    (layer(xq) * w).sum().backward()
    g_int = x.grad.clone()
    x.grad = None
    xf = q(x).value
    ref = torch.nn.functional.layer_norm(xf, (32,), layer.weight, layer.bias, eps=layer.eps)
    (ref * w).sum().backward()
    assert torch.allclose(g_int, x.grad, atol=1e-5)
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_plain_tensor_gets_float_layernorm():
    layer = IntLayerNorm(8)
    x = torch.randn(4, 8)
    assert torch.allclose(layer(x), torch.nn.functional.layer_norm(x, (8,), eps=1e-5), atol=1e-6)


def test_per_channel_scale_and_zero_point_are_refused():
    layer = IntLayerNorm(4)
    x = torch.ones(1, 4)
    bad_scale = IntQuantTensor(x, torch.ones(4), torch.tensor(0.0), torch.tensor(8.0), signed=True, training=False)
    with pytest.raises(ValueError, match="per-tensor"):
        layer(bad_scale)
    bad_zero = IntQuantTensor(x, torch.tensor(1.0), torch.tensor(3.0), torch.tensor(8.0), signed=False,
                              training=False)
    with pytest.raises(ValueError, match="zero-point"):
        layer(bad_zero)


def test_mobilevit_block_norm_layer_reads_integers_everywhere():
    """With norm 'layer' every token norm of a MobileViT block is an IntLayerNorm fed a
    QuantTensor (the reference's integers), including the first layer after unfold."""
    from hyq.nn.mobilevit import MobileViTBlock
    from hyq.nn.quant import BitSpec

    torch.manual_seed(2)
    block = MobileViTBlock("b", BitSpec(), 8, 16, depth=2, heads=2, ffn=32, norm="layer", act="silu")
    x = torch.randn(2, 8, 4, 4)
    block.train()
    block(x)
    block.eval()
    norms = [m for m in block.modules() if isinstance(m, IntLayerNorm)]
    assert len(norms) == 5  # two per transformer layer and the block's own
    seen = []
    for m in norms:
        m.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    with torch.no_grad():
        block(x)
    assert len(seen) == 5
    for qt, norm in zip(seen, norms):
        assert isinstance(qt, IntQuantTensor)
        z = norm.normalize(qt)
        ints = layernorm(qt.int().numpy(), float(qt.scale), in_bits=int(qt.bit_width), in_signed=bool(qt.signed))
        assert np.array_equal(np.rint(z.numpy() * 2.0**norm.out_frac).astype(np.int64), ints)
