"""Datasets available offline. ``load(name)`` returns train/test tensors.

``digits`` is scikit-learn's 8x8 handwritten digits (shipped with scikit-learn, no
download): 1797 images, 10 classes, one grey channel.

Layer: beside :mod:`hyq.nn`, above only foundations (errors); the stages above take the
loaded tensors, nothing here knows a model or a flow file.
"""

from hyq.data.datasets import Dataset, load

__all__ = ["Dataset", "load"]
