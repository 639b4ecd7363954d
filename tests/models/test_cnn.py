import pytest
import torch

from hyq.models import available, build_model
from hyq.nn.quant import BitSpec


def test_mv2_cnn_forward_and_residual():
    m = build_model("mv2-cnn", BitSpec(), 1, 10).eval()
    out = m(torch.rand(3, 1, 8, 8))
    assert tuple(torch.as_tensor(out).shape) == (3, 10)
    assert m.blocks[0].use_residual and not m.blocks[1].use_residual


def test_per_layer_bit_widths():
    bits = BitSpec(weight=8, act=8, overrides={"blocks.1.*": {"weight": 4}, "head_act": {"act": 6}})
    m = build_model("mv2-cnn", bits, 1, 10)
    assert int(m.blocks[1].expand.conv.quant_weight().bit_width) == 4
    assert int(m.blocks[0].expand.conv.quant_weight().bit_width) == 8
    assert int(m.head_act.act_quant.bit_width()) == 6
    assert int(m.stem.act.act_quant.bit_width()) == 8


def test_bad_bits_and_names():
    with pytest.raises(ValueError, match="bit-width"):
        BitSpec(weight=1)
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet-9000", BitSpec(), 1, 10)
    with pytest.raises(ValueError, match="invalid options"):
        build_model("mv2-cnn", BitSpec(), 1, 10, width_multiplier=3)
    assert "mv2-cnn" in available()
