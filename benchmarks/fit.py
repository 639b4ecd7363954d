"""Threshold tables against requantization on real builds: one row per model and
``hardware.requant`` mode (never / auto / always) with the layers requantized, LUT,
BRAM_18K, URAM, DSP, estimated fps, static storage against FP32 and the parts it fits.

Usage: ``.venv/bin/python benchmarks/fit.py [--xxs] [--reuse] [OUT]`` (default OUT: build/fit-bench;
``--reuse`` prints the table from the reports an earlier run left in OUT instead of building again).

- default CNN: ``hyq run`` of the embedded default flow (trained; training is cached),
  then its QONNX model built for the flow's part (xc7z020, 10,000 fps) in each mode;
- hybrid-tiny: untrained export (1 x 8 x 8, 10 classes, as the test suite's), xc7z020, 1,000 fps;
- ``--xxs``: MobileViT-XXS 256x256 (BatchNorm, ReLU), xczu3eg, 100 fps (about 10-40 min a build).

"fits" lists the known devices (:mod:`hyq.dataflow.parts`: its table, then finn-plus') on which every
estimated resource is within the device, smallest first.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from hyq.dataflow import parts
from hyq.jobs.flow import build_onnx
from hyq.jobs.untrained import export_untrained

MODES = ("never", "auto", "always")
KEYS = ("LUT", "BRAM_18K", "URAM", "DSP")


def _default_cnn(out: Path) -> tuple[Path, str, int]:
    run = out / "default-run"
    if not (run / "model.onnx").is_file():
        proc = subprocess.run([sys.executable, "-m", "hyq.cli", "run", "--out", str(run)], capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"hyq run failed:\n{proc.stderr[-2000:]}")
    return run / "model.onnx", "xc7z020clg400-1", 10000


def _hybrid_tiny(out: Path) -> tuple[Path, str, int]:
    path = out / "hybrid-tiny.onnx"
    if not path.is_file():
        export_untrained("hybrid-tiny", path, in_channels=1, num_classes=10, size=8, samples=16)
    return path, "xc7z020clg400-1", 1000


def _xxs(out: Path) -> tuple[Path, str, int]:
    path = out / "mobilevit-xxs.onnx"
    if not path.is_file():
        export_untrained("mobilevit-xxs", path, norm="batch", act="relu")
    return path, "xczu3eg-sbva484-1-e", 100


def fits_on(total: dict[str, float]) -> list[str]:
    """Known devices (hyq's part table and finn-plus') that hold every estimated resource, smallest (LUT) first."""
    caps = {d: parts.capacity(d) for d in parts.known_devices()}
    ok = [d for d, c in caps.items() if c and all(u <= 1 for u in parts.utilisation(total, c).values())]
    return sorted(ok, key=lambda d: caps[d]["LUT"])


def row(name: str, mode: str, rep: dict, seconds: float) -> dict:
    layers = rep.get("requant", {}).get("layers", [])
    tables = len(layers) or sum(layer["op_type"].startswith("Thresholding") for layer in rep["layers"])  # never: none recorded
    s = rep["static_storage"]
    return {"model": name, "requant": mode, "requantized": f"{sum(d['choice'] == 'requant' for d in layers)} of {tables}",
            **{k: rep["total"][k] for k in KEYS}, "fps": rep["throughput_fps"], "ratio_vs_fp32": s["ratio_vs_fp32"],
            "fits": fits_on(rep["total"]), "part": rep["part"], "fits_part": rep["fits"], "build_s": seconds}


def table(rows: list[dict]) -> str:
    head = "| model | requant | layers requantized | LUT | BRAM_18K | URAM | DSP | fps | ratio_vs_fp32 | fits its part | smallest parts it fits |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['model']} | {r['requant']} | {r['requantized']} | {r['LUT']:,.0f} | {r['BRAM_18K']:,.0f} | "
                     f"{r['URAM']:,.0f} | {r['DSP']:,.0f} | {r['fps']:,.0f} | {r['ratio_vs_fp32']:.2f} | "
                     f"{'yes' if r['fits_part'] else 'no'} ({parts.device(r['part'])}) | {', '.join(r['fits'][:3]) or 'none'} |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    xxs, reuse = "--xxs" in argv, "--reuse" in argv
    args = [a for a in argv if a not in ("--xxs", "--reuse")]
    out = Path(args[0] if args else "build/fit-bench").resolve()
    out.mkdir(parents=True, exist_ok=True)
    models = {"default CNN": _default_cnn, "hybrid-tiny": _hybrid_tiny}
    if xxs:
        models["MobileViT-XXS"] = _xxs
    rows = []
    for name, make in models.items():
        onnx_path, part, fps = make(out)
        for mode in MODES:
            t0 = time.perf_counter()
            build_dir = out / f"{name.replace(' ', '-')}-{mode}"
            if reuse and (build_dir / "report.json").is_file():  # the table again from an earlier run's builds
                rep = json.loads((build_dir / "report.json").read_text())
            else:
                rep = build_onnx(onnx_path, part, build_dir, target_fps=fps, requant=mode)
            rows.append(row(name, mode, rep, round(time.perf_counter() - t0, 1)))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(table(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
