"""Cost models: LUT / BRAM / DSP of hyq's RTL per FPGA family, without running synthesis.

FINN asks every hardware layer for resource estimates; hyq's layers answer from here.
Each model is written once and fitted to Yosys measurements of the RTL in ``hw/``
(:mod:`hyq.costs.softmax_cost`; re-fit with ``python -m hyq.costs.softmax_cost``). Only
foundations, :mod:`hyq.integer` and the tool drivers (:mod:`hyq.tools`, for re-fitting) lie below.
"""
