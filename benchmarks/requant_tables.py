"""Which threshold tables of a built dataflow graph are provably a requantization, and
what they would store: one row per Thresholding layer (channels, steps, input type, table
bits, requantization bits and shift, or the reason it is refused), then the totals.

Usage: ``.venv/bin/python benchmarks/requant_tables.py BUILD_DIR/finn/intermediate_models/NN_step.onnx``
"""

from __future__ import annotations

import sys

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

import hyq.dataflow.ops
from hyq.integer.requant import requant_from_thresholds


def main(path: str) -> None:
    hyq.dataflow.ops.register()
    model = ModelWrapper(path)
    table_total = requant_total = proven = layers = 0
    print(f"{'layer':24} {'C':>4} {'n':>4} {'input':>7} {'table b':>8} {'requant b':>9} {'s':>3}  note")
    for node in model.graph.node:
        if not node.op_type.startswith("Thresholding"):
            continue
        layers += 1
        inst = getCustomOp(node)
        t = model.get_initializer(node.input[1])
        idt = inst.get_input_datatype(0)
        table = t.size * model.get_tensor_datatype(node.input[1]).bitwidth()
        p, why = requant_from_thresholds(t, (int(idt.min()), int(idt.max())), int(inst.get_nodeattr("ActVal")))
        table_total += table
        if p is None:
            requant_total += table
            print(f"{node.name:24} {t.shape[0]:>4} {t.shape[1]:>4} {idt.name:>7} {table:>8} {'-':>9} {'-':>3}  {why}")
        else:
            proven += 1
            requant_total += p.param_bits
            print(f"{node.name:24} {t.shape[0]:>4} {t.shape[1]:>4} {idt.name:>7} {table:>8} {p.param_bits:>9} "
                  f"{p.shift:>3}  M {p.m_bits} b, B {p.b_bits} b, sum {p.sum_bits} b")
    print(f"{proven}/{layers} tables proven; threshold bits {table_total} -> {requant_total} with every proven one "
          "requantized")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
