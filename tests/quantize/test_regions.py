import pytest
import torch

from hyq.nn.quant import BitSpec
from hyq.quantize import float_mode
from hyq.quantize.regions import find_regions, fold, input_act_bits, unreached_pointwise

from tests.quantize.conftest import mv2


def _float_out(model, x):
    with float_mode(model, training=False):
        return torch.as_tensor(model(x)).detach()


def test_mv2_regions_and_reasons():
    m = mv2()
    regions, skipped = find_regions(m)
    by_sink = {r.sinks: r for r in regions}
    # projection convs: fed by the depthwise BN -> ReLU, scaled through the BN
    assert by_sink[("blocks.0.project",)].srcs == ("blocks.0.depthwise.bn",)
    assert by_sink[("blocks.1.project",)].srcs == ("blocks.1.depthwise.bn",)
    # the residual stream is one region: both producers of the add, both consumers
    assert set(by_sink[("blocks.0.expand.conv", "blocks.1.expand.conv")].srcs) == {"stem.bn", "blocks.0.project_bn"}
    assert by_sink[("classifier",)].srcs == ("blocks.1.project_bn",)
    # depthwise convs are not what QADS scales
    assert {s.sinks for s in skipped} == {("blocks.0.depthwise.conv",), ("blocks.1.depthwise.conv",)}
    assert all("not a pointwise" in s.reason for s in skipped)
    assert unreached_pointwise(m, regions, skipped) == []


def test_layer_selection_by_pattern():
    regions, skipped = find_regions(mv2(), patterns=("*.project",))
    assert sorted(r.sinks for r in regions) == [("blocks.0.project",), ("blocks.1.project",)]
    assert any(s.reason == "not selected" for s in skipped)


def test_fold_keeps_the_float_function():
    m = mv2()
    x = torch.rand(16, 1, 8, 8)
    before = _float_out(m, x)
    g = torch.Generator().manual_seed(1)
    regions, _ = find_regions(m)
    for r in regions:
        fold(m, r, torch.exp(torch.randn(r.channels, generator=g)))  # factors over ~e^-3 .. e^3
    after = _float_out(m, x)
    assert torch.allclose(before, after, rtol=1e-5, atol=1e-5 * float(before.abs().max()))


def test_fold_rejects_non_positive_factors():
    m = mv2()
    r = find_regions(m)[0][0]
    bad = torch.ones(r.channels)
    bad[0] = 0.0
    with pytest.raises(ValueError, match="positive"):
        fold(m, r, bad)


def test_input_act_bits_follow_the_bitspec():
    m = mv2(BitSpec(weight=8, act=8, overrides={"blocks.0.depthwise.act": {"act": 5}, "pool_q": {"act": 3}}))
    bits = input_act_bits(m)
    assert bits["blocks.0.project"] == 5
    assert bits["classifier"] == 3  # through flatten and pooling
    assert bits["blocks.1.project"] == 8


def test_hybrid_tiny_regions_reach_the_mobilevit_block():
    from hyq.models import build_model

    from tests.quantize.conftest import randomise_bn

    torch.manual_seed(0)
    m = randomise_bn(build_model("hybrid-tiny", BitSpec(), 1, 10)).eval()
    x = torch.rand(4, 1, 8, 8)
    before = _float_out(m, x)
    regions, skipped = find_regions(m, sample=x)
    sinks = {s for r in regions for s in r.sinks}
    assert {"blocks.3.to_tokens", "blocks.3.layers.0.fc1", "blocks.3.layers.0.fc2", "blocks.0.project"} <= sinks
    # attention projections sit inside a module torch.fx cannot trace: never scaled
    assert not any(".attn." in s for s in sinks)
    assert any(".attn." in s for s in unreached_pointwise(m, regions, skipped))
    g = torch.Generator().manual_seed(2)
    for r in regions:
        fold(m, r, torch.exp(torch.randn(r.channels, generator=g)))
    after = _float_out(m, x)
    assert torch.allclose(before, after, rtol=1e-4, atol=1e-4 * float(before.abs().max()))
