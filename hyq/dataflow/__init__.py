"""FINN dataflow builds: finn-plus without AMD tools (finn_env), hyq steps, the build runner.

Layer: above :mod:`hyq.export` (it builds the QONNX files export writes) and the cost
models and tool drivers (:mod:`hyq.costs`, :mod:`hyq.tools`) its HW layers answer from; below
:mod:`hyq.sim`, :mod:`hyq.report` and the jobs. The one place that knows the no-Vivado
workarounds is :mod:`hyq.dataflow.finn_env`; FINN's settings hold for one build at a time.
"""

from hyq.dataflow.build import STEPS, BuildResult, BuildSpec, build, require_report_step

__all__ = ["STEPS", "BuildResult", "BuildSpec", "build", "require_report_step"]
