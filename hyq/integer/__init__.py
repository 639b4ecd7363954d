"""NumPy integer references of the HyQ operators: the single source of integer truth.

Layer: the lowest above foundations: pure NumPy, importing no other hyq stage, so that
the Brevitas layers, the QONNX and FINN executions, the cost models and the RTL tests can
all check against it.
"""

from hyq.integer.requant import RequantParams, requant, requant_from_thresholds
from hyq.integer.softmax import (
    METHODS,
    OUT_FORMATS,
    SoftmaxParams,
    decode_log2,
    softmax,
    softmax_params,
    softmax_with_params,
)

__all__ = [
    "METHODS",
    "OUT_FORMATS",
    "RequantParams",
    "SoftmaxParams",
    "decode_log2",
    "requant",
    "requant_from_thresholds",
    "softmax",
    "softmax_params",
    "softmax_with_params",
]
