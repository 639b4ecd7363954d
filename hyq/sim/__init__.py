"""Simulation: hyq's hardware layers and the stitched accelerator in Verilator.

:mod:`hyq.sim.stitch` stages each layer's RTL and generates the top level with FINN's FIFOs
and width converters, :mod:`hyq.sim.rtlsim` drives the harness and compares every layer with
FINN's Python execution and the whole network with QONNX, :mod:`hyq.sim.waveform` reads
the traces. It sits above :mod:`hyq.dataflow` (it simulates the graphs a build produced) and
below :mod:`hyq.report` and the jobs that write results.
"""
