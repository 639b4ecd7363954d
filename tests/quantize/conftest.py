"""Small flows and models for the quantization tests (few epochs, few QADS iterations)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from hyq import config
from hyq.data import load
from hyq.models import build_model
from hyq.nn.quant import BitSpec


def write_flow(folder: Path, **sections) -> Path:
    """A flow file: the default flow with ``sections`` merged in, trained for 3 epochs."""
    raw = yaml.safe_load(config.DEFAULT_FLOW.read_text())
    raw["name"] = "quantize-test"
    raw["train"].update(epochs=3, qat_epochs=0, calib_samples=128)
    for key, value in sections.items():
        raw.setdefault(key, {}).update(value)
    path = folder / "flow.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="session")
def digits():
    return load("digits")


@pytest.fixture(scope="session")
def tiny_flow(tmp_path_factory) -> Path:
    return write_flow(tmp_path_factory.mktemp("flow"), ptq={"qads_iters": 30, "scale_samples": 64})


def randomise_bn(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every BatchNorm spread-out statistics and affine terms (an untrained net has trivial ones)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.rand(c, generator=g) * 2 - 1)
                m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(c, generator=g) * 3 + 0.05)
                m.bias.copy_(torch.rand(c, generator=g) * 2 - 1)
    return model


def mv2(bits: BitSpec | None = None, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return randomise_bn(build_model("mv2-cnn", bits or BitSpec(), 1, 10), seed).eval()
