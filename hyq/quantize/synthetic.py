"""Data-free calibration: images optimised to match the float model's BatchNorm statistics (ZeroQ-style).

When the user has a model but no data, the BatchNorm layers still remember the statistics
of the data the model was trained on: each BN's running mean and variance are the
per-channel mean and variance of its input. Starting from noise, ZeroQ (Cai et al., 2020)
optimises a batch of inputs so that, with quantization off, every BN input has those
statistics; the batch then stands in for real images when activation ranges are calibrated.

Images are kept in [0, 1] (a sigmoid of the optimised tensor) and rounded to the 1/255 grid
at the end: they are 8-bit pixels like every hyq data set.
"""

from __future__ import annotations

import torch
from torch import nn

from hyq.errors import HyqError
from hyq.progress import info
from hyq.quantize.train import float_mode


class _BNStatistics:
    """Forward hooks on every BatchNorm2d collecting the distance of its input statistics from its running ones."""

    def __init__(self, model: nn.Module):
        self.terms: list[torch.Tensor] = []
        bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        if not bns:
            raise HyqError("ptq.calibration synthetic needs BatchNorm layers (their statistics stand in for data); "
                           "use calibration: data")
        self.handles = [bn.register_forward_hook(self._hook) for bn in bns]

    def _hook(self, bn: nn.BatchNorm2d, inputs, _output) -> None:
        a = inputs[0]
        a = a.value if hasattr(a, "value") else a
        mean = a.mean(dim=(0, 2, 3))
        std = (a.var(dim=(0, 2, 3), unbiased=False) + bn.eps).sqrt()
        self.terms.append((mean - bn.running_mean).pow(2).mean()
                          + (std - (bn.running_var + bn.eps).sqrt()).pow(2).mean())

    def loss(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        self.terms = []
        model(x)
        return torch.stack(self.terms).sum()

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def bn_statistics_loss(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Sum over BatchNorm2d layers of the squared distance of ``x``'s per-channel input mean and
    standard deviation from the layer's running mean and sqrt(running variance); quantizers off."""
    stats = _BNStatistics(model)
    try:
        with float_mode(model, training=False):
            return stats.loss(model, x)
    finally:
        stats.close()


def synthetic_images(model: nn.Module, n: int, shape: tuple[int, ...], iters: int = 200, lr: float = 0.1,
                     seed: int = 0) -> torch.Tensor:
    """``n`` images of ``shape`` (C, H, W) in [0, 1] on the 1/255 grid whose BN statistics match ``model``'s.

    The model's parameters are not changed (only the images are optimised); it is left in eval mode.
    """
    was = [p.requires_grad for p in model.parameters()]
    model.eval()
    stats = _BNStatistics(model)
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn((n, *shape), generator=gen).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        with torch.enable_grad(), float_mode(model, training=False):
            for _ in range(iters):
                opt.zero_grad()
                stats.loss(model, torch.sigmoid(z)).backward()
                opt.step()
    finally:
        stats.close()
        for p, r in zip(model.parameters(), was):
            p.requires_grad_(r)
    return torch.round(torch.sigmoid(z.detach()) * 255) / 255


def calibration_images(model: nn.Module, x_train, n: int, how: str = "data", seed: int = 0,
                       iters: int = 200) -> torch.Tensor:
    """The calibration set of ``ptq.calibration``: the first ``n`` training images (``data``) or
    ``n`` synthetic images matching the float model's BN statistics (``synthetic``)."""
    if how == "synthetic":
        images = synthetic_images(model, n, tuple(x_train.shape[1:]), iters=iters, seed=seed)
        info(f"calibration: {n} synthetic images matched to the BatchNorm statistics (no data used)")
        return images
    return x_train[:n]
