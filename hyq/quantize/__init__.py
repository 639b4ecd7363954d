"""Quantization: float training, PTQ (distribution scaling, calibration, bias correction), QAT.

The stages, each usable alone:

- :mod:`hyq.quantize.train`   float training, calibration, QAT epochs
- :mod:`hyq.quantize.regions` where a per-channel factor can be folded for free
- :mod:`hyq.quantize.scaling` QADS and the baselines (none, smoothquant, cle, awq)
- :mod:`hyq.quantize.ptq`     the float-training cache; scaling -> calibration -> bias correction; ``quantize``
- :mod:`hyq.quantize.mixed`   per-layer sensitivity and bit-widths under a storage budget

Layer: above :mod:`hyq.models`, :mod:`hyq.nn` and :mod:`hyq.data`, below :mod:`hyq.export`.
It takes a model and data, not a flow file: a :class:`~hyq.quantize.ptq.FloatModel` (a
builder and its cache identity) and the training and PTQ sections of :mod:`hyq.config`;
:mod:`hyq.jobs.quantize` reads them from a flow file and writes ``hyq quantize``'s folder.
"""

from hyq.quantize.train import TrainResult, accuracy, calibrate, float_mode, train

__all__ = ["TrainResult", "accuracy", "calibrate", "float_mode", "train"]
