"""Export: Brevitas -> QONNX (cleaned up), checked against Brevitas on real inputs.

Layer: above :mod:`hyq.quantize` and the models it exports, below :mod:`hyq.dataflow`.
It also owns the linear-time qonnx cleanup (:mod:`hyq.export.fast_cleanup`), applied only
inside hyq's own export and build (a ``with`` block), and the custom-op domain.
"""

from hyq.export.qonnx import ExportCheck, check, export, load_checked, to_model_input

__all__ = ["ExportCheck", "check", "export", "load_checked", "to_model_input"]
