"""Quantization: float training, PTQ (distribution scaling, calibration, bias correction), QAT.

The stages, each usable alone:

- :mod:`hyq.quantize.train`   float training, calibration, QAT epochs
- :mod:`hyq.quantize.regions` where a per-channel factor can be folded for free
- :mod:`hyq.quantize.scaling` QADS and the baselines (none, smoothquant, cle, awq)
- :mod:`hyq.quantize.ptq`     scaling -> calibration -> bias correction; ``quantize`` (``hyq quantize``)
- :mod:`hyq.quantize.mixed`   per-layer sensitivity and bit-widths under a storage budget

Layer: above :mod:`hyq.models`, :mod:`hyq.nn` and :mod:`hyq.data`, below :mod:`hyq.export`;
it still takes the flow file's sections (:mod:`hyq.config`, a foundation), and
:func:`hyq.quantize.ptq.quantize_to_dir` (``hyq quantize``'s output folder) is a job that
belongs in :mod:`hyq.jobs`.
"""

from hyq.quantize.train import TrainResult, accuracy, calibrate, float_mode, train

__all__ = ["TrainResult", "accuracy", "calibrate", "float_mode", "train"]
