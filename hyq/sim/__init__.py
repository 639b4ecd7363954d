"""Simulation: hyq's hardware layers and the stitched accelerator in Verilator.

Top to bottom (a module imports only those below it, an import-linter contract):
:mod:`~hyq.sim.rtlsim` runs ``hyq sim`` end to end; :mod:`~hyq.sim.layers` compares every
RTL layer with FINN's Python execution and :mod:`~hyq.sim.network` the whole accelerator
with QONNX; :mod:`~hyq.sim.reference` (FINN's Python execution), :mod:`~hyq.sim.prepare`
(the simulated graph), :mod:`~hyq.sim.inputs` and :mod:`~hyq.sim.results` (results, table)
serve them; :mod:`~hyq.sim.harness` drives the Verilator harness on
:mod:`~hyq.sim.packing`'s beats; :mod:`~hyq.sim.stitch` stages each layer's RTL and writes
the top level; :mod:`~hyq.sim.waveform` reads the traces. The package sits above
:mod:`hyq.dataflow` (it simulates the graphs a build produced) and below :mod:`hyq.report`
and the jobs that write results.
"""
