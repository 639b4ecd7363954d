"""hyq's HW layers reach finn-plus' op tables only through ``hyq.dataflow.ops.register()``,
which adds hyq's op types and replaces none of finn-plus' own."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_CHECK = """
import importlib, pkgutil
import hyq, hyq.dataflow, hyq.dataflow.build, hyq.dataflow.ops
for m in pkgutil.iter_modules(hyq.dataflow.ops.__path__):
    importlib.import_module("hyq.dataflow.ops." + m.name)
import finn.custom_op.fpgadataflow as gen, finn.custom_op.fpgadataflow.hls as hls
import finn.custom_op.fpgadataflow.rtl as rtl
tables = (gen.custom_op, hls.custom_op, rtl.custom_op)
FINN = ("ElementwiseAdd_hls", "ElementwiseSub_hls", "ElementwiseMul_hls", "GlobalAccPool_hls")
def finn_own():
    return all(hls.custom_op[op].__module__.startswith("finn.") for op in FINN)
def hyq_names():
    return sorted(k for t in tables for k, c in t.items() if c.__module__.startswith("hyq."))
assert finn_own() and hyq_names() == [], hyq_names()
hyq.dataflow.ops.register()
first = hyq_names()
hyq.dataflow.ops.register()
assert finn_own() and hyq_names() == first, (first, hyq_names())
assert "ElementwiseMulHyq_hls" in first and "HyqSoftmax_rtl" in first and "HyqVVAU" in first, first
print(len(first))
"""


def test_importing_hyq_leaves_finns_registry_alone_and_register_is_idempotent():
    r = subprocess.run([sys.executable, "-c", _CHECK], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert int(r.stdout.split()[-1]) >= 20  # every declared generic and specialised layer
