"""Dataset loading with a fixed, seeded train/test split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hyq.errors import HyqError


@dataclass(frozen=True)
class Dataset:
    """Images as float32 NCHW in [0, 1] (8-bit pixels / 255) and int64 labels, split into train and test."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])


def _digits(test_fraction: float, seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    # 0..16 grey levels mapped onto 8-bit pixels, then to [0, 1] on the 1/255 grid
    pixels = np.round(d.images * (255.0 / 16.0))
    x = (pixels.astype(np.float32) / 255.0)[:, None, :, :]
    y = d.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(len(y) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return Dataset(
        name="digits",
        x_train=torch.from_numpy(x[train]),
        y_train=torch.from_numpy(y[train]),
        x_test=torch.from_numpy(x[test]),
        y_test=torch.from_numpy(y[test]),
        num_classes=10,
    )


_LOADERS = {"digits": _digits}


def load(name: str, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Load dataset ``name`` with a seeded split (the same split on every machine)."""
    if name not in _LOADERS:
        raise HyqError(f"unknown dataset '{name}'; available: {', '.join(sorted(_LOADERS))}")
    if not 0.0 < test_fraction < 1.0:
        raise HyqError(f"data.test_fraction must be in (0, 1), got {test_fraction}")
    return _LOADERS[name](test_fraction, seed)
