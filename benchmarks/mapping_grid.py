"""Does every norm x act x softmax choice map on both reference parts? (issue 13, item 4)

Exports the untrained ``hybrid-tiny`` (8x8 input, every block type: conv, MobileNet block,
attention, fusion) once per combination of norm {batch, layer}, act {relu, silu, gelu,
hardswish} and softmax {linmax, ibert, shiftmax}, runs the real ``hyq build`` estimate for
xc7z020 and xczu3eg, and prints one row per build: complete (no unmapped node, a non-zero
cost for every compute layer), layers, LUT, BRAM_18K, DSP, fps, and whether FINN's Python
execution of the HW graph equals QONNX execution on two random images.

Resumable: each finished row is kept as ``OUT/<combo>_<part>.json`` and not rebuilt.
Usage: ``nice .venv/bin/python benchmarks/mapping_grid.py [out] [norm,act,softmax ...]``
(default out ``build/mapping_grid``, every combination).
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx as qonnx_execute

from hyq.dataflow.ops.registry import family
from hyq.jobs.flow import build_onnx
from hyq.jobs.untrained import export_untrained

NORMS, ACTS, SOFTMAXES = ("batch", "layer"), ("relu", "silu", "gelu", "hardswish"), ("linmax", "ibert", "shiftmax")
PARTS = ("xc7z020clg400-1", "xczu3eg-sbva484-1-e")
#: op families that compute (the rest only move or buffer data)
COMPUTE = ("MVAU", "VVAU", "Thresholding", "Elementwise", "GlobalAccPool", "HyqSoftmax", "Lookup", "Pool",
           "LayerNorm", "HWSoftmax", "Requant")
RESOURCES = ("LUT", "BRAM_18K", "URAM", "DSP")
SHAPE = (1, 1, 8, 8)


def uncosted(report: dict) -> list[str]:
    """Compute layers whose estimate is zero in every resource."""
    return [layer["name"] for layer in report["layers"]
            if family(layer["op_type"]).startswith(COMPUTE) and sum(layer[k] for k in RESOURCES) == 0]


def finn_equals_qonnx(onnx_path: Path, report: dict, samples: int = 2) -> bool:
    """FINN's Python execution of the converted HW graph equals QONNX execution of the export."""
    from finn.core.onnx_exec import execute_onnx as finn_execute

    inter = Path(report["build_dir"]) / "intermediate_models"
    hw = ModelWrapper(str(next(inter.glob("*_step_convert_to_hw.onnx"))))
    ref = ModelWrapper(str(onnx_path))
    rng = np.random.default_rng(0)
    for _ in range(samples):
        x = rng.integers(0, 256, SHAPE).astype(np.float32)
        want = qonnx_execute(ref, {ref.graph.input[0].name: x})[ref.graph.output[0].name]
        got = finn_execute(hw, {hw.graph.input[0].name: x})[hw.graph.output[0].name]
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max())):
            return False
    return True


def run_one(out: Path, combo: tuple[str, str, str], part: str, onnx_path: Path) -> dict:
    """Build ``onnx_path`` for ``part``; the row of the table (never raises for a failed build)."""
    tag = "-".join(combo)
    t0 = time.perf_counter()
    row: dict = {"combo": tag, "part": part}
    try:
        rep = build_onnx(onnx_path, part, out / f"{tag}_{part}", target_fps=1000, allow_unmapped=True)
        bad = uncosted(rep)
        row.update(complete=not rep["unmapped_nodes"] and not bad, unmapped=rep["unmapped_nodes"], uncosted=bad,
                   layers=len(rep["layers"]), **{k: rep["total"][k] for k in ("LUT", "BRAM_18K", "DSP")},
                   fps=rep["throughput_fps"], finn_eq_qonnx=finn_equals_qonnx(onnx_path, rep))
    except Exception as exc:  # a failed build is a row of the table, not the end of the sweep
        row.update(complete=False, error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def main(out: str = "build/mapping_grid", *only: str) -> None:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    combos = [tuple(c.split(",")) for c in only] or list(itertools.product(NORMS, ACTS, SOFTMAXES))
    start = time.perf_counter()
    print("| norm-act-softmax | part | complete | layers | LUT | BRAM_18K | DSP | fps | FINN==QONNX | s |")
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    rows = []
    for combo in combos:
        tag = "-".join(combo)
        onnx_path = out_dir / f"{tag}.onnx"
        for part in PARTS:
            done = out_dir / f"{tag}_{part}.json"
            if done.exists():
                row = json.loads(done.read_text())
            else:
                if not onnx_path.exists():  # one export per network, shared by both parts
                    norm, act, softmax = combo
                    export_untrained("hybrid-tiny", onnx_path, in_channels=1, num_classes=10, size=8, samples=16,
                                     norm=norm, act=act, softmax=softmax)
                row = run_one(out_dir, combo, part, onnx_path)
                done.write_text(json.dumps(row))
            rows.append(row)
            fps = f"{row['fps']:.0f}" if row.get("fps") else "-"
            print(f"| {row['combo']} | {part.split('-')[0]} | {row['complete']} | {row.get('layers', '-')} | "
                  f"{row.get('LUT', '-')} | {row.get('BRAM_18K', '-')} | {row.get('DSP', '-')} | {fps} | "
                  f"{row.get('finn_eq_qonnx', '-')} | {row['seconds']:.0f} |" + (f" {row['error']}" if "error" in row else ""),
                  flush=True)
    ok = sum(r["complete"] and r.get("finn_eq_qonnx") for r in rows)
    print(f"\n{ok} of {len(rows)} builds complete with FINN==QONNX; "
          f"{sum(r['seconds'] for r in rows):.0f} s of builds, {time.perf_counter() - start:.0f} s this run")


if __name__ == "__main__":
    main(*sys.argv[1:])
