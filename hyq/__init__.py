"""hyq: HyQ-style hybrid CNN-Transformer networks from Brevitas to FPGA dataflow numbers.

Layers, bottom to top; a module imports only from layers below its own (import-linter's
contract in pyproject.toml, run by the tests): foundations (``errors``, ``cache``,
``progress``, ``resources``, ``config``) -> ``integer`` (the NumPy references) -> ``tools``
(Verilator, Yosys) -> ``costs`` (resource models fitted to them) -> ``nn``, ``data`` ->
``models`` -> ``quantize`` -> ``export`` -> ``dataflow`` (FINN) -> ``sim`` (Verilator runs of a
build) -> ``report`` -> ``jobs`` (what ``hyq run | build | quantize | sim`` do) -> ``explore`` -> ``cli``.
"""

from hyq.errors import HyqError

__version__ = "0.1.0"
__all__ = ["HyqError", "__version__"]
