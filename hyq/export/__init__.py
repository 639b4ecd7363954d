"""Export: Brevitas -> QONNX (cleaned up), checked against Brevitas on real inputs."""

from hyq.export.qonnx import ExportCheck, check, export, load_checked, to_model_input

__all__ = ["ExportCheck", "check", "export", "load_checked", "to_model_input"]
