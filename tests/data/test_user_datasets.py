"""imagefolder / cifar10 / npz: user data on disk, 8-bit pixels, seeded splits, one-line errors."""

import numpy as np
import pytest
import torch

from hyq.data import ImageFiles, load
from hyq.data import datasets as D
from hyq.errors import HyqError

from tests.data.user_data import cifar_batches, image, image_folder, npz_file


def on_grid(x):
    p = x.numpy() * 255
    return np.allclose(p, np.round(p), atol=1e-4) and p.min() >= 0 and p.max() <= 255


def test_imagefolder_resize_crop_pixels_and_seeded_split(tmp_path):
    root = image_folder(tmp_path / "imgs")
    a, b = load("imagefolder", 0.25, 0, path=root, size=8), load("imagefolder", 0.25, 0, path=root, size=8)
    assert a.num_classes == 3 and a.x_train.shape[1:] == (3, 8, 8)
    assert len(a.x_train) == 18 and len(a.x_test) == 6
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert on_grid(a.x_train)
    # the first training images (the calibration subset) are not all of one class
    assert len(set(a.y_train[:6].tolist())) > 1
    # a PNG comes back exactly as Pillow + torchvision resize/crop make it
    from PIL import Image
    from torchvision.transforms import functional as F

    ref = np.asarray(F.center_crop(F.resize(Image.open(root / "class1" / "3.png").convert("RGB"), 8), [8, 8]))
    files = sorted((root / "class1").iterdir())
    got = D.read_image(root / "class1" / "3.png", 8)
    assert np.array_equal(got, ref.transpose(2, 0, 1)) and files


def test_imagefolder_train_val_subfolders(tmp_path):
    image_folder(tmp_path / "d" / "train", per_class=4)
    image_folder(tmp_path / "d" / "val", per_class=2)
    ds = load("imagefolder", path=tmp_path / "d", size=12)
    assert (len(ds.x_train), len(ds.x_test), ds.num_classes) == (12, 6, 3)
    assert sorted(ds.y_test.tolist()) == [0, 0, 1, 1, 2, 2]


def test_large_folder_is_streamed_lazily_with_the_same_pixels(tmp_path):
    root = image_folder(tmp_path / "imgs")
    eager = D._imagefolder(0.25, 0, path=root, size=8)
    lazy = D._imagefolder(0.25, 0, path=root, size=8, memory_limit=0)
    assert isinstance(lazy.x_train, ImageFiles) and isinstance(lazy.x_train, torch.utils.data.Dataset)
    assert lazy.input_shape == (3, 8, 8) and len(lazy.x_train) == len(eager.x_train)
    idx = torch.tensor([5, 0, 3])
    assert torch.equal(lazy.x_train[idx], eager.x_train[idx])
    assert torch.equal(lazy.x_test[1:4], eager.x_test[1:4])
    assert torch.equal(lazy.x_train[2], eager.x_train[2])


def test_imagefolder_errors_are_one_line(tmp_path):
    root = image_folder(tmp_path / "imgs", classes=2, per_class=3)
    cases = [(tmp_path / "nowhere", "folder not found")]
    (root / "empty").mkdir()
    cases.append((root, "empty class"))
    for path, message in cases:
        with pytest.raises(HyqError, match=message) as exc:
            load("imagefolder", path=path, size=8)
        assert "\n" not in str(exc.value)
    (root / "empty").rmdir()
    (root / "class0" / "broken.png").write_bytes(b"\x89PNG not really")
    for limit in (None, 0):  # eager and streamed both check every file up front
        with pytest.raises(HyqError, match="broken.png: unreadable image"):
            D._imagefolder(0.25, 0, path=root, size=8, memory_limit=limit)
    with pytest.raises(HyqError, match="needs path"):
        load("imagefolder", size=8)


def test_cifar10_batches_on_disk(tmp_path):
    root = cifar_batches(tmp_path / "cifar-10-batches-py")
    ds = load("cifar10", path=tmp_path)  # the folder that holds cifar-10-batches-py works too
    assert (len(ds.x_train), len(ds.x_test), ds.num_classes) == (60, 20, 4)
    assert ds.x_train.shape[1:] == (3, 32, 32) and on_grid(ds.x_train)
    # test_batch is the test set, in file order
    assert ds.y_test.tolist() == [i % 4 for i in range(20)]
    first = image(0, 1000, 32).transpose(2, 0, 1)
    assert np.array_equal(np.round(ds.x_test[0].numpy() * 255).astype(np.uint8), first)
    small = load("cifar10", path=root, size=16)
    assert small.x_train.shape[1:] == (3, 16, 16) and on_grid(small.x_train)
    (root / "data_batch_1").write_bytes(b"garbage")
    with pytest.raises(HyqError, match="not a CIFAR-10 python batch"):
        load("cifar10", path=root)
    (tmp_path / "empty").mkdir()
    with pytest.raises(HyqError, match="no data_batch"):
        load("cifar10", path=tmp_path / "empty")


def test_npz_images_and_labels(tmp_path):
    f = npz_file(tmp_path / "d.npz")
    ds = load("npz", 0.2, 0, path=f)
    assert (len(ds.x_train), len(ds.x_test), ds.num_classes) == (48, 12, 3)
    assert ds.x_train.shape[1:] == (3, 12, 12) and on_grid(ds.x_train)
    grey = tmp_path / "g.npz"
    np.savez(grey, x=np.zeros((10, 5, 5), np.uint8), y=np.arange(10) % 2,
             x_test=np.zeros((4, 5, 5), np.uint8), y_test=np.arange(4) % 2)
    g = load("npz", path=grey)
    assert g.x_train.shape[1:] == (1, 5, 5) and len(g.x_test) == 4
    for arrays, message in (({"x": np.zeros((4, 5, 5), np.float32), "y": np.zeros(4, int)}, "must be uint8"),
                            ({"x": np.zeros((4, 5, 5), np.uint8)}, "needs arrays x"),
                            ({"x": np.zeros((4, 5, 5), np.uint8), "y": np.zeros(3, int)}, "one per image")):
        np.savez(tmp_path / "bad.npz", **arrays)
        with pytest.raises(HyqError, match=message):
            load("npz", path=tmp_path / "bad.npz")
    with pytest.raises(HyqError, match="file not found"):
        load("npz", path=tmp_path / "none.npz")
