"""Drivers for the open EDA tools that check and measure the RTL in ``hw/``.

``hyq.eda.verilator`` builds and runs Verilator simulations, ``hyq.eda.yosys`` runs
synthesis and parses ``stat``; ``hyq.eda.softmax`` is the softmax-specific glue (reference
parameters -> Verilog parameters, simulation and synthesis of one variant). Their build
folders live in hyq's content-addressed cache (:mod:`hyq.cache`).
"""
