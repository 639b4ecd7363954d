"""Drivers for the open EDA tools that check and measure the RTL in ``hw/``.

``hyq.tools.verilator`` builds and runs Verilator simulations, ``hyq.tools.yosys`` runs
synthesis and parses ``stat``; ``hyq.tools.softmax`` is the softmax-specific glue (reference
parameters -> Verilog parameters, simulation and synthesis of one variant). Their build
folders live in hyq's content-addressed cache (:mod:`hyq.cache`). They depend only on
foundations and :mod:`hyq.integer`, so every layer above (costs, dataflow, sim) may use them.
"""
