"""Synthesis: every layer of a codegen build and the stitched accelerator through Yosys.

:mod:`hyq.synth.layers` stages each layer (as :mod:`hyq.sim.stitch` does for Verilator) and
runs Yosys' ``read_slang`` + ``synth_xilinx`` on it, in parallel and cached by content;
:mod:`hyq.synth.finn_rtllib` holds every workaround finn-rtllib needs to pass the open
SystemVerilog frontend, applied to staged copies only. It sits above :mod:`hyq.sim`, whose
staging it reuses, and below :mod:`hyq.report` and the jobs that write results.
"""
