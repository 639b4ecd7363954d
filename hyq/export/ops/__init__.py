"""QONNX custom operators of the ``hyq.export.ops`` domain.

qonnx resolves a node's domain to a Python module and looks the op type up in its
``__all__``, so a graph with hyq nodes runs in ``qonnx.core.onnx_exec.execute_onnx`` as
soon as hyq is installed; no registration call is needed.
"""

from hyq.export.ops.intsoftmax import IntSoftmax
from hyq.export.ops.layernorm import IntLayerNorm
from hyq.export.ops.table import TableActivation

__all__ = ["IntLayerNorm", "IntSoftmax", "TableActivation"]
