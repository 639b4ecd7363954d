"""Dataset loading with a fixed, seeded train/test split.

Every data set arrives as 8-bit pixels divided by 255 (float32 NCHW in [0, 1] on the
1/255 grid), so hyq's input quantizer (scale 1/255) turns each image back into exactly
the UINT8 pixels the accelerator receives. Sources:

- ``digits``: scikit-learn's 8x8 digits (shipped with scikit-learn).
- ``imagefolder``: ``path`` holds one subfolder per class of PNG/JPEG files (or ``train/``
  and ``val/`` folders of class subfolders); images are resized (shorter side to ``size``)
  and centre-cropped to ``size`` x ``size`` RGB by Pillow/torchvision. A folder larger than
  :data:`MEMORY_LIMIT` bytes of pixels is read lazily (:class:`ImageFiles`), not loaded whole.
- ``cifar10``: the CIFAR-10 python batches on disk (``data_batch_*``, ``test_batch``); never
  downloaded.
- ``npz``: a NumPy ``.npz`` with uint8 images ``x`` (N, H, W[, C] or N, C, H, W) and integer
  labels ``y`` (optionally ``x_test`` / ``y_test``).

The training images are in a seeded random order, so the first ``train.calib_samples``
of them are a calibration subset drawn from every class.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.utils.data

from hyq.errors import HyqError

#: image folders whose decoded pixels exceed this many bytes are streamed from disk
MEMORY_LIMIT = 512 * 2**20

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class Dataset:
    """Images as float32 NCHW in [0, 1] (8-bit pixels / 255) and int64 labels, split into train and test.

    ``x_train`` / ``x_test`` are tensors or :class:`ImageFiles` (indexable the same way).
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])


def _split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices in seeded random order, test indices)."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    if n_test < 1 or n_test >= n:
        raise HyqError(f"data: {n} samples cannot be split with test_fraction {test_fraction}; "
                       "give more samples or another test_fraction")
    return order[n_test:], order[:n_test]


def _pixels(x: np.ndarray) -> torch.Tensor:
    """uint8 NCHW -> float32 in [0, 1] on the 1/255 grid."""
    return torch.from_numpy(np.ascontiguousarray(x).astype(np.float32) / 255.0)


def _digits(test_fraction: float, seed: int, path=None, size=None) -> Dataset:
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


# ---------------------------------------------------------------- image folders

def _resize_crop(img, size: int):
    """PIL image -> RGB, shorter side resized to ``size`` (bilinear), centre crop size x size."""
    from torchvision.transforms import functional as F

    img = img.convert("RGB")
    return F.center_crop(F.resize(img, size), [size, size])


def read_image(path: Path, size: int) -> np.ndarray:
    """One image file as uint8 (3, size, size), or one HyqError naming the file."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return np.asarray(_resize_crop(img, size), dtype=np.uint8).transpose(2, 0, 1)
    except (OSError, ValueError, SyntaxError) as exc:
        raise HyqError(f"{path}: unreadable image ({type(exc).__name__}: {exc}); "
                       "remove or replace the file") from None


class ImageFiles(torch.utils.data.Dataset):
    """Images read from disk on access: ``x[i]`` is one (3, S, S) image, ``x[a:b]`` or
    ``x[index_tensor]`` a batch; pixels as in :class:`Dataset`."""

    def __init__(self, files: list[Path], size: int):
        self.files, self.size = list(files), size

    def __len__(self) -> int:
        return len(self.files)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.files), 3, self.size, self.size)

    def __getitem__(self, index):
        if isinstance(index, slice):
            picks = range(*index.indices(len(self.files)))
        elif isinstance(index, (int, np.integer)) or (torch.is_tensor(index) and index.ndim == 0):
            return _pixels(read_image(self.files[int(index)], self.size)[None])[0]
        else:
            picks = [int(i) for i in index]
        if not picks:
            return torch.zeros((0, 3, self.size, self.size))
        return _pixels(np.stack([read_image(self.files[i], self.size) for i in picks]))


def _class_files(root: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise HyqError(f"{root}: no class subfolders; put the images of each class in a folder of its own")
    items = []
    for label, name in enumerate(classes):
        files = sorted(f for f in (root / name).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise HyqError(f"{root / name}: empty class (no .png/.jpg/.jpeg files); add images or remove the folder")
        items += [(f, label) for f in files]
    return classes, items


def _check_headers(files) -> None:
    """Open every file's header (cheap): an unreadable file fails now, not mid-training."""
    from PIL import Image

    for f in files:
        try:
            with Image.open(f) as img:
                img.size  # noqa: B018 - the header is parsed by open
        except (OSError, ValueError, SyntaxError) as exc:
            raise HyqError(f"{f}: unreadable image ({type(exc).__name__}); remove or replace the file") from None


def _images(files: list[Path], size: int, lazy: bool):
    if lazy:
        _check_headers(files)
        return ImageFiles(files, size)
    return _pixels(np.stack([read_image(f, size) for f in files]))


def _imagefolder(test_fraction: float, seed: int, path=None, size=None, memory_limit: int | None = None) -> Dataset:
    if path is None or size is None:
        raise HyqError("data: dataset imagefolder needs path (a folder of class subfolders) and size (pixels)")
    root = Path(path)
    if not root.is_dir():
        raise HyqError(f"data.path: folder not found: {root}")
    if (root / "train").is_dir() and (root / "val").is_dir():
        classes, train_items = _class_files(root / "train")
        val_classes, test_items = _class_files(root / "val")
        if val_classes != classes:
            raise HyqError(f"{root}: train/ and val/ have different classes ({', '.join(sorted(set(classes) ^ set(val_classes)))})")
        order = np.random.default_rng(seed).permutation(len(train_items))
        train_items = [train_items[i] for i in order]
    else:
        classes, items = _class_files(root)
        train, test = _split(len(items), test_fraction, seed)
        train_items, test_items = [items[i] for i in train], [items[i] for i in test]
    n = len(train_items) + len(test_items)
    lazy = n * 3 * size * size * 4 > (MEMORY_LIMIT if memory_limit is None else memory_limit)
    labels = lambda items: torch.tensor([lab for _, lab in items], dtype=torch.int64)  # noqa: E731
    return Dataset(name=f"imagefolder:{root.name}",
                   x_train=_images([f for f, _ in train_items], size, lazy), y_train=labels(train_items),
                   x_test=_images([f for f, _ in test_items], size, lazy), y_test=labels(test_items),
                   num_classes=len(classes))


# ---------------------------------------------------------------- arrays on disk

def _fit_size(x: np.ndarray, size: int | None) -> np.ndarray:
    """uint8 NCHW resized (shorter side) and centre-cropped to ``size``, when given."""
    if size is None or x.shape[-2:] == (size, size):
        return x
    from torchvision.transforms import functional as F

    t = F.center_crop(F.resize(torch.from_numpy(np.ascontiguousarray(x)), size, antialias=True), [size, size])
    return t.numpy()


def _arrays(name: str, x: np.ndarray, y: np.ndarray, x_test, y_test, test_fraction, seed, size) -> Dataset:
    if x_test is None:
        train, test = _split(len(y), test_fraction, seed)
        x, y, x_test, y_test = x[train], y[train], x[test], y[test]
    else:
        order = np.random.default_rng(seed).permutation(len(y))
        x, y = x[order], y[order]
    num_classes = int(max(y.max(), y_test.max())) + 1
    return Dataset(name=name, x_train=_pixels(_fit_size(x, size)), y_train=torch.from_numpy(y.astype(np.int64)),
                   x_test=_pixels(_fit_size(x_test, size)), y_test=torch.from_numpy(y_test.astype(np.int64)),
                   num_classes=num_classes)


def _cifar_batch(f: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(f, "rb") as fh:
            d = pickle.load(fh, encoding="bytes")
        x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        y = np.asarray(d[b"labels"], dtype=np.int64)
    except Exception as exc:  # a corrupt pickle raises many types
        raise HyqError(f"{f}: not a CIFAR-10 python batch ({type(exc).__name__}); "
                       "use the files of cifar-10-python.tar.gz") from None
    if len(x) != len(y):
        raise HyqError(f"{f}: {len(x)} images but {len(y)} labels")
    return x, y


def _cifar10(test_fraction: float, seed: int, path=None, size=None) -> Dataset:
    if path is None:
        raise HyqError("data: dataset cifar10 needs path (the folder of data_batch_* and test_batch)")
    root = Path(path)
    if (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    if not root.is_dir():
        raise HyqError(f"data.path: folder not found: {root}")
    batches = sorted(root.glob("data_batch_*"))
    if not batches:
        raise HyqError(f"{root}: no data_batch_* files; unpack cifar-10-python.tar.gz there (hyq never downloads)")
    parts = [_cifar_batch(f) for f in batches]
    x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    xt = yt = None
    if (root / "test_batch").is_file():
        xt, yt = _cifar_batch(root / "test_batch")
    return _arrays("cifar10", x, y, xt, yt, test_fraction, seed, size)


def _nchw(x: np.ndarray, f: Path, key: str) -> np.ndarray:
    if x.dtype != np.uint8:
        raise HyqError(f"{f}: {key} must be uint8 pixels, got {x.dtype}")
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        return x.transpose(0, 3, 1, 2)
    if x.ndim == 4:
        return x
    raise HyqError(f"{f}: {key} must have shape (N, H, W), (N, H, W, C) or (N, C, H, W), got {x.shape}")


def _npz(test_fraction: float, seed: int, path=None, size=None) -> Dataset:
    if path is None:
        raise HyqError("data: dataset npz needs path (an .npz file with x and y)")
    f = Path(path)
    if not f.is_file():
        raise HyqError(f"data.path: file not found: {f}")
    try:
        z = np.load(f, allow_pickle=False)
        arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 - numpy raises many types for a bad file
        raise HyqError(f"{f}: not a readable .npz ({type(exc).__name__}); save it with numpy.savez") from None
    if "x" not in arrays or "y" not in arrays:
        raise HyqError(f"{f}: needs arrays x (uint8 images) and y (integer labels); has {', '.join(arrays) or 'none'}")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise HyqError(f"{f}: give both x_test and y_test, or neither")
    x, y = _nchw(arrays["x"], f, "x"), arrays["y"]
    xt = _nchw(arrays["x_test"], f, "x_test") if "x_test" in arrays else None
    yt = arrays.get("y_test")
    for key, lab, imgs in (("y", y, x), ("y_test", yt, xt)):
        if lab is None:
            continue
        if lab.ndim != 1 or not np.issubdtype(lab.dtype, np.integer) or len(lab) != len(imgs) or lab.min() < 0:
            raise HyqError(f"{f}: {key} must be {len(imgs)} non-negative integer labels, one per image")
    return _arrays(f"npz:{f.stem}", x, y, xt, yt, test_fraction, seed, size)


_LOADERS = {"digits": _digits, "imagefolder": _imagefolder, "cifar10": _cifar10, "npz": _npz}

#: data sets that read the user's files (``data.path``)
FILE_DATASETS = ("imagefolder", "cifar10", "npz")


def load(name: str, test_fraction: float = 0.2, seed: int = 0, path: str | Path | None = None,
         size: int | None = None) -> Dataset:
    """Load dataset ``name`` with a seeded split (the same split on every machine)."""
    if name not in _LOADERS:
        raise HyqError(f"unknown dataset '{name}'; available: {', '.join(sorted(_LOADERS))}")
    if not 0.0 < test_fraction < 1.0:
        raise HyqError(f"data.test_fraction must be in (0, 1), got {test_fraction}")
    return _LOADERS[name](test_fraction, seed, path=path, size=size)


def from_config(d) -> Dataset:
    """Load the data set of a flow file's ``data`` section (a DataConfig or its dict)."""
    get = d.get if isinstance(d, dict) else lambda k, default=None: getattr(d, k, default)
    return load(get("dataset"), get("test_fraction", 0.2), get("seed", 0), get("path"), get("size"))


def fingerprint(path: str | Path | None) -> str | None:
    """Hash of the names, sizes and modification times of a data set's files (cache keys)."""
    if path is None:
        return None
    import hashlib

    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p] if p.exists() else []
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(p) if p.is_dir() else f.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]
