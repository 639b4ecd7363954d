"""Quantization: float training, calibration (PTQ) and quantization-aware training."""

from hyq.quantize.train import TrainResult, accuracy, calibrate, float_mode, train

__all__ = ["TrainResult", "accuracy", "calibrate", "float_mode", "train"]
