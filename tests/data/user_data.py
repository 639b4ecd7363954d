"""Small data sets in the three on-disk formats users bring, written for tests."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np


def image(label: int, i: int, side: int = 12) -> np.ndarray:
    """A (side, side, 3) uint8 image whose brightness pattern depends on the label."""
    rng = np.random.default_rng(100 * label + i)
    img = rng.integers(0, 60, (side, side, 3), dtype=np.uint8)
    img[:, label * side // 4:(label + 1) * side // 4] += 180  # a bright band at the class's place
    return img


def image_folder(root: Path, classes: int = 3, per_class: int = 8, side: int = 12) -> Path:
    """root/<class>/<i>.png|jpg, PNG and JPEG mixed."""
    from PIL import Image

    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            ext = "png" if i % 2 else "jpg"
            Image.fromarray(image(c, i, side)).save(root / f"class{c}" / f"{i}.{ext}")
    return root


def cifar_batches(root: Path, n: int = 60, test: int = 20) -> Path:
    """data_batch_1 and test_batch in CIFAR-10's python format (N x 3072 uint8, labels)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, count, seed in (("data_batch_1", n, 0), ("test_batch", test, 1)):
        labels = [i % 4 for i in range(count)]
        data = np.stack([np.resize(image(lab, seed * 1000 + i, 32).transpose(2, 0, 1), (3, 32, 32)).reshape(-1)
                         for i, lab in enumerate(labels)])
        with open(root / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels}, f)
    return root


def npz_file(path: Path, n: int = 60) -> Path:
    """x: (N, 12, 12, 3) uint8, y: int labels."""
    y = np.arange(n) % 3
    x = np.stack([image(int(lab), i) for i, lab in enumerate(y)])
    np.savez(path, x=x, y=y)
    return path
