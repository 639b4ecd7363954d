"""Datasets available offline. ``load(name, ...)`` / ``from_config(data)`` return train/test tensors.

``digits`` is scikit-learn's 8x8 handwritten digits (shipped with scikit-learn, no
download): 1797 images, 10 classes, one grey channel. ``imagefolder``, ``cifar10`` and
``npz`` read the user's files (see :mod:`hyq.data.datasets`).

Layer: beside :mod:`hyq.nn`, above only foundations (errors); the stages above take the
loaded tensors, nothing here knows a model or a flow file.
"""

from hyq.data.datasets import Dataset, ImageFiles, fingerprint, from_config, load

__all__ = ["Dataset", "ImageFiles", "fingerprint", "from_config", "load"]
