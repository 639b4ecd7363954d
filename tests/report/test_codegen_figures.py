"""A codegen build reports the figures of the estimate build it extends: step_hw_codegen
renames every node, and the report still finds each layer's estimate (before, the renamed
layers, hyq's RTL layers among them, read 0 LUT)."""

import json


def test_codegen_report_equals_estimate_report(default_report, _default_codegen_shared):
    codegen = json.loads((_default_codegen_shared / "report.json").read_text())
    assert codegen["flow"][-1] == "step_hw_codegen"
    est, gen = default_report["layers"], codegen["layers"]
    assert [layer["op_type"] for layer in gen] == [layer["op_type"] for layer in est]
    assert any(a["name"] != b["name"] for a, b in zip(est, gen))  # the renaming this guards against
    for a, b in zip(est, gen):
        assert {k: b[k] for k in ("LUT", "BRAM_18K", "URAM", "DSP", "cycles")} == \
            {k: a[k] for k in ("LUT", "BRAM_18K", "URAM", "DSP", "cycles")}, (a["name"], b["name"])
    assert codegen["total"] == default_report["total"]
    assert all(layer["LUT"] > 0 for layer in gen if layer["op_type"].startswith(("HyqRequant", "HyqVVAU")))
