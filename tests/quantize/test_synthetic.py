"""Data-free calibration: synthetic images match the float model's BatchNorm statistics and calibrate it."""

from __future__ import annotations

import pytest
import torch

from hyq.errors import HyqError
from hyq.models import build_model
from hyq.nn.quant import BitSpec
from hyq.quantize.synthetic import bn_statistics_loss, calibration_images, synthetic_images
from hyq.quantize.train import calibrate


def _digits() -> torch.Tensor:
    from hyq.data import load

    return load("digits").x_train[:256]


def _model():
    """A model whose BatchNorm statistics are those of real images (digits), as after training."""
    from hyq.quantize.train import float_mode

    torch.manual_seed(0)
    m = build_model("mv2-cnn", BitSpec(), 1, 10, stem=8, stages=[[8, 2, 1]], expand=1)
    for bn in m.modules():
        if isinstance(bn, torch.nn.BatchNorm2d):
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the batches below
    with torch.no_grad(), float_mode(m, training=True):
        for i in range(0, 256, 64):
            m(_digits()[i:i + 64])
    return m.eval()


def test_optimised_images_match_bn_statistics_on_the_pixel_grid():
    m = _model()
    before = [p.detach().clone() for p in m.parameters()]
    noise = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    x = synthetic_images(m, 16, (1, 8, 8), iters=60)
    assert x.shape == (16, 1, 8, 8) and x.min() >= 0 and x.max() <= 1
    assert torch.equal(x * 255, torch.round(x * 255))
    assert float(bn_statistics_loss(m, x)) < 0.25 * float(bn_statistics_loss(m, noise))
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters()))  # the model is not changed
    assert torch.equal(x, synthetic_images(m, 16, (1, 8, 8), iters=60))  # seeded


def test_calibration_images_choose_the_source_and_calibrate():
    m = _model()
    data = torch.rand(40, 1, 8, 8)
    assert torch.equal(calibration_images(m, data, 16, "data"), data[:16])
    syn = calibration_images(m, data, 16, "synthetic", iters=5)
    assert syn.shape == (16, 1, 8, 8) and not torch.equal(syn, data[:16])
    calibrate(m, syn)
    assert torch.isfinite(torch.as_tensor(m(data[:4]))).all()


def test_a_model_without_batchnorm_is_one_clear_error():
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3))
    with pytest.raises(HyqError, match="needs BatchNorm"):
        synthetic_images(m, 2, (1, 8, 8), iters=1)
