"""timm MobileViT checkpoints load into hyq's Brevitas MobileViT with the same float function.

The timm models are random-initialised (``pretrained=False``: nothing is downloaded) and
saved to tmp_path, the way a user brings a file.
"""

import pytest
import torch

from hyq.errors import HyqError
from hyq.models import build_model
from hyq.models.checkpoint import TIMM_OPTIONS, load_checkpoint
from hyq.nn.quant import BitSpec
from hyq.quantize import float_mode

timm = pytest.importorskip("timm")

PAIRS = {"mobilevit-xxs": "mobilevit_xxs", "mobilevit-xs": "mobilevit_xs", "mobilevit-s": "mobilevit_s"}


def float_params(model):
    return sum(p.numel() for name, p in model.named_parameters() if "quant" not in name)


def timm_model(name, num_classes=10, seed=0):
    torch.manual_seed(seed)
    t = timm.create_model(name, pretrained=False, num_classes=num_classes).eval()
    g = torch.Generator().manual_seed(seed)
    for m in t.modules():  # non-trivial BatchNorm statistics, so a mis-mapped buffer shows
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return t


@pytest.mark.parametrize("preset", sorted(PAIRS))
def test_float_function_equals_timm(preset, tmp_path):
    t = timm_model(PAIRS[preset])
    path = tmp_path / "ck.pth"
    torch.save(t.state_dict(), path)
    model = build_model(preset, BitSpec(), 3, 10, **TIMM_OPTIONS)
    assert load_checkpoint(model, path)["format"] == "timm"
    model.eval()
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), float_mode(model, training=False):
        ours = torch.as_tensor(model(x))
        ref = t(x)
    assert ours.shape == ref.shape
    assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-6 * float(ref.abs().max())), (ours - ref).abs().max()


@pytest.mark.parametrize("preset", sorted(PAIRS))
def test_presets_with_timm_options_have_timm_parameter_count(preset):
    t = timm.create_model(PAIRS[preset], pretrained=False)
    ours = build_model(preset, BitSpec(), 3, 1000, **TIMM_OPTIONS)
    assert float_params(ours) == sum(p.numel() for p in t.parameters())
    # the only difference of the default preset: timm's classifier has a bias
    assert float_params(build_model(preset, BitSpec(), 3, 1000)) == float_params(ours) - 1000


def test_safetensors_and_wrapped_checkpoints_load(tmp_path):
    from safetensors.torch import save_file

    t = timm_model("mobilevit_xxs", seed=3)
    sd = t.state_dict()
    save_file({k: v.contiguous() for k, v in sd.items()}, str(tmp_path / "ck.safetensors"))
    torch.save({"state_dict": sd, "epoch": 3}, tmp_path / "wrapped.pt")
    torch.save({"model": sd}, tmp_path / "model.pth")
    ref = None
    for name in ("ck.safetensors", "wrapped.pt", "model.pth"):
        model = build_model("mobilevit-xxs", BitSpec(), 3, 10, **TIMM_OPTIONS)
        load_checkpoint(model, tmp_path / name)
        w = model.blocks[5].layers[1].attn.k_proj.weight.detach()
        assert torch.equal(w, sd["stages.2.1.transformer.1.attn.qkv.weight"][64:128])
        ref = w if ref is None else ref


def test_hyq_named_checkpoint_round_trips(tmp_path):
    a = build_model("hybrid-tiny", BitSpec(), 1, 10)
    torch.save(a.state_dict(), tmp_path / "own.pt")
    torch.manual_seed(5)
    b = build_model("hybrid-tiny", BitSpec(), 1, 10)
    assert load_checkpoint(b, tmp_path / "own.pt")["format"] == "hyq"
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.fixture(scope="module")
def xxs_state():
    return timm_model("mobilevit_xxs").state_dict()


@pytest.mark.parametrize("edit, preset, options, message", [
    (lambda sd: sd.pop("stages.3.1.norm.weight"), "mobilevit-xxs", TIMM_OPTIONS,
     "missing blocks.7.norm.weight"),
    (lambda sd: sd.__setitem__("stages.4.1.extra.weight", torch.zeros(3)), "mobilevit-xxs", TIMM_OPTIONS,
     "unexpected stages.4.1.extra.weight"),
    (None, "mobilevit-xs", TIMM_OPTIONS, "shape mismatch blocks.0.depthwise.bn.bias (32,) vs (64,)"),
    (None, "mobilevit-xxs", {"norm": "batch"}, "missing blocks.5.layers.0.norm1.num_batches_tracked"),
])
def test_wrong_checkpoint_is_one_error_line_naming_keys(xxs_state, tmp_path, edit, preset, options, message):
    sd = dict(xxs_state)
    if edit:
        edit(sd)
    torch.save(sd, tmp_path / "ck.pth")
    model = build_model(preset, BitSpec(), 3, 10, **options)
    with pytest.raises(HyqError) as exc:
        load_checkpoint(model, tmp_path / "ck.pth")
    text = str(exc.value)
    assert message in text and "\n" not in text, text


def test_unreadable_or_missing_file_is_one_error_line(tmp_path):
    model = build_model("hybrid-tiny", BitSpec(), 1, 10)
    (tmp_path / "bad.pth").write_bytes(b"not a checkpoint")
    for path, message in ((tmp_path / "bad.pth", "not a readable checkpoint"),
                          (tmp_path / "none.pth", "checkpoint not found")):
        with pytest.raises(HyqError, match=message) as exc:
            load_checkpoint(model, path)
        assert "\n" not in str(exc.value)
