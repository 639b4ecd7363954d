import numpy as np
import pytest

from hyq.data import load
from hyq.errors import HyqError


def test_digits_split_is_seeded_and_on_the_pixel_grid():
    a, b = load("digits"), load("digits")
    assert a.x_train.shape[1:] == (1, 8, 8) and a.num_classes == 10
    assert len(a.x_train) + len(a.x_test) == 1797
    assert np.array_equal(a.y_test.numpy(), b.y_test.numpy())
    pixels = a.x_train.numpy() * 255
    assert np.allclose(pixels, np.round(pixels), atol=1e-4)
    assert 0 <= pixels.min() and pixels.max() <= 255


def test_unknown_dataset():
    with pytest.raises(HyqError, match="unknown dataset"):
        load("imagenet")
