"""MobileViT presets: published parameter counts and shapes, options, errors."""

import pytest
import torch

from hyq.models import available, build_model
from hyq.models.mobilevit import PRESETS
from hyq.nn.mobilevit import MobileViTBlock, fold, unfold
from hyq.nn.quant import BitSpec

#: published parameter counts (Mehta and Rastegari, ICLR 2022), 1000 classes
PUBLISHED = {"mobilevit-xxs": 1.27e6, "mobilevit-xs": 2.3e6, "mobilevit-s": 5.6e6}


def float_params(model: torch.nn.Module) -> int:
    """Parameters of the float network (Brevitas quantizer scales excluded)."""
    return sum(p.numel() for name, p in model.named_parameters() if "quant" not in name)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_count_within_two_percent_of_published(name):
    model = build_model(name, BitSpec(), 3, 1000)
    n = float_params(model)
    assert abs(n - PUBLISHED[name]) <= 0.02 * PUBLISHED[name], n


def test_xxs_shapes_at_256():
    model = build_model("mobilevit-xxs", BitSpec(), 3, 1000).eval()
    seen = []
    for m in model.modules():
        if isinstance(m, MobileViTBlock):
            m.register_forward_hook(lambda mod, a, out: seen.append((tuple(a[0].shape), mod.layers[0].attn.dim,
                                                                     len(mod.layers))))
    with torch.no_grad():
        out = model(torch.rand(1, 3, 256, 256))
    assert tuple(torch.as_tensor(out).shape) == (1, 1000)
    assert seen == [((1, 48, 32, 32), 64, 2), ((1, 64, 16, 16), 80, 4), ((1, 80, 8, 8), 96, 3)]


def test_unfold_groups_pixels_by_position_in_patch_and_fold_inverts():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    t = unfold(x, 2, 2)
    assert t.shape == (2, 4 * 6, 3)
    # group 1 = pixel (0, 1) of each patch; its token 2 = patch (row 0, col 2): pixel (0, 5)
    assert torch.equal(t[:, 1 * 6 + 2], x[:, :, 0, 5])
    assert torch.equal(fold(t, 2, 2, 4, 6), x)


def test_hybrid_tiny_options_and_forward():
    assert {"hybrid-tiny", "mobilevit-xxs", "mobilevit-xs", "mobilevit-s", "mobilevit"} <= set(available())
    for opts in ({}, {"norm": "layer", "act": "silu", "softmax": "float"}, {"act": "gelu"}, {"act": "hardswish"},
                 {"heads": 4, "patch": 4}):
        model = build_model("hybrid-tiny", BitSpec(), 1, 10, **opts).eval()
        with torch.no_grad():
            assert tuple(torch.as_tensor(model(torch.rand(2, 1, 8, 8))).shape) == (2, 10)
    assert PRESETS["hybrid-tiny"]["stages"][-1]["dim"] == 32


@pytest.mark.parametrize("opts, message", [
    ({"norm": "group"}, "norm must be one of"), ({"act": "tanh"}, "activation must be one of"),
    ({"stages": [{"mv2": 16}]}, "expected keys"), ({"heads": 3}, "multiple of heads"),
])
def test_invalid_options_raise(opts, message):
    with pytest.raises(ValueError, match=message):
        build_model("hybrid-tiny", BitSpec(), 1, 10, **opts)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_presets_are_as_published_layernorm_and_silu_with_batch_relu_as_options(name):
    from hyq.nn.blocks import QuantSiLU
    from hyq.nn.layernorm import IntLayerNorm
    from hyq.nn.mobilevit import TokenBatchNorm

    def kinds(model):
        return {type(m) for m in model.modules()}

    published = kinds(build_model(name, BitSpec(), 3, 1000))
    assert IntLayerNorm in published and QuantSiLU in published and TokenBatchNorm not in published
    other = kinds(build_model(name, BitSpec(), 3, 1000, norm="batch", act="relu"))
    assert TokenBatchNorm in other and IntLayerNorm not in other and QuantSiLU not in other
