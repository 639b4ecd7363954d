"""hyq's own FINN hardware layers (HW custom ops) and the transformations that infer them.

Conventions, so FINN treats them exactly like its own layers:
- one module per operator family (``softmax.py``, ...), each defining a generic
  ``HWCustomOp`` subclass registered with ``finn.custom_op.fpgadataflow.register_custom_op``
  and its specialisations (``<Op>_rtl``) registered into ``finn.custom_op.fpgadataflow.rtl``
  the same way; domains then start with ``finn.custom_op.fpgadataflow`` as FINN's
  partitioning requires;
- an ``<Op>_rtl`` is ``class <Op>_rtl(HyqRTLBackend, <generic op>)``
  (:mod:`hyq.dataflow.ops.rtl`): hw/rtl sources plus a generated wrapper with FINN's port
  names, Python execution of the generic op, and exec_mode ``rtlsim`` raising
  NotImplementedError (FINN's rtlsim needs Vivado; hyq simulates with
  :func:`hyq.sim.layers.simulate_layers`) unless the layer runs Verilator itself (softmax);
- an ``Infer<Op>`` qonnx Transformation that replaces the exported pattern by the HW op;
- Python execution through the one integer reference in ``hyq.integer``; resource
  estimates (``lut_estimation`` etc.) from models fitted to Yosys measurements, never 0.

Importing this package imports every operator module, which declares its layers to
:mod:`hyq.dataflow.ops.registry` and leaves finn-plus' op tables alone; :func:`register`
puts them there. The build runner (``hyq.dataflow.build``), and anything else that
executes or inspects a graph with hyq's layers, calls it first.
"""

import importlib
import pkgutil

from hyq.dataflow.finn_env import finn_steps as _finn_steps

_finn_steps()  # finn must be importable (without Vivado) before ops subclass its layers
for _m in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_m.name}")


def register() -> None:
    """Register hyq's HW layers with finn-plus and qonnx (idempotent; adds op types, replaces none)."""
    from hyq.dataflow.ops.registry import install

    install()
