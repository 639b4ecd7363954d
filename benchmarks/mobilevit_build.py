"""Hardware report of an untrained MobileViT preset: export, then the real ``hyq build``.

Usage: ``.venv/bin/python benchmarks/mobilevit_build.py [name] [part] [out]``
(defaults: mobilevit-xxs, xczu3eg-sbva484-1-e, build/mobilevit-xxs). Prints the export
and build wall/CPU times, resources, mapping (LayerNorm and table layers, requantized
threshold layers), fps, utilisation and static storage (weights vs FP32 and what thresholds
and other parameters add).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from hyq.jobs.untrained import export_untrained


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main(name: str = "mobilevit-xxs", part: str = "xczu3eg-sbva484-1-e", out: str | None = None) -> None:
    out_dir = Path(out or f"build/{name}")
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    onnx_path = export_untrained(name, out_dir / f"{name}.onnx")
    print(f"export: {time.perf_counter() - t0:.0f} s wall", flush=True)
    t0, c0 = time.perf_counter(), _cpu_children()
    proc = subprocess.run([sys.executable, "-m", "hyq.cli", "build", str(onnx_path), "--part", part,
                           "--target-fps", "100", "--out", str(out_dir / "build")])
    wall, cpu = time.perf_counter() - t0, _cpu_children() - c0
    print(f"hyq build: exit {proc.returncode}, {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU")
    if proc.returncode:
        sys.exit(proc.returncode)
    rep = json.loads((out_dir / "build" / "report.json").read_text())
    s = rep["static_storage"]
    ops = [layer["op_type"] for layer in rep["layers"]]
    choices = [d["choice"] for d in rep["requant"]["layers"]] if rep.get("requant") else []
    print(json.dumps({
        "total": rep["total"], "unmapped_nodes": rep["unmapped_nodes"], "host_nodes": rep["host_nodes"],
        "layers": len(rep["layers"]), "layernorm_layers": ops.count("HyqLayerNorm_rtl"),
        "table_layers": ops.count("HyqLookup_rtl"), "requantized": choices.count("requant"),
        "kept_thresholds": choices.count("thresholds"), "fps": rep["throughput_fps"],
        "utilisation": rep["utilisation"], "fits": rep["fits"], "weight_bits": s["weight_bits"], "threshold_bits": s["threshold_bits"],
        "other_bits": s["other_bits"], "weight_ratio_vs_fp32": s["weight_ratio_vs_fp32"],
        "ratio_vs_fp32": s["ratio_vs_fp32"], "fp32_bytes": s["fp32_bytes"], "build_seconds": rep["build_seconds"],
    }, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
