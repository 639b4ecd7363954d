"""hyq: HyQ-style hybrid CNN-Transformer networks from Brevitas to FPGA dataflow numbers.

Stages, in the order data flows through them: ``hyq.models`` -> ``hyq.quantize`` ->
``hyq.export`` -> ``hyq.dataflow`` -> ``hyq.eda`` (RTL in ``hw/``) -> ``hyq.report`` ->
``hyq.explore``. Integer references of the HyQ operators live in ``hyq.integer``.
"""

from hyq.errors import HyqError

__version__ = "0.1.0"
__all__ = ["HyqError", "__version__"]
