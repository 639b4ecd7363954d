"""Fit to a part: the folding with the highest estimated throughput whose LUT, BRAM_18K,
URAM and DSP stay within a fraction of the part.

The steps before folding are shared: the build runs once, then each candidate target fps
resumes from its saved model before ``step_target_fps_parallelization`` and runs only the
folding and estimate steps. Target fps is searched by bisection (geometric) over the estimate.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from qonnx.core.modelwrapper import ModelWrapper

from hyq.costs import finn_fit
from hyq.dataflow.build import REPORT_STEP, BuildResult, _build_scope, _finn_cfg, _run_step, _step_name, build, step_list
from hyq.dataflow import parts
from hyq.dataflow.part_memory import dynload_layer
from hyq.errors import HyqError
from hyq.progress import info

#: resources a fit must keep within the fraction (URAM only counts where it is used)
FIT_RESOURCES = ("LUT", "BRAM_18K", "URAM", "DSP")
#: folding attributes written to the folding file
FOLD_ATTRS = ["PE", "SIMD", "parallel_window", "ram_style", "resType", "mem_mode"]
FIRST_FOLD_STEP = "step_target_fps_parallelization"
BISECTIONS = 8


def _run(prefix: Path, spec, out: Path, first: str, last: str | None) -> ModelWrapper:
    """Run ``spec``'s steps from ``first`` through ``last`` (to the end when None) on ``prefix``,
    in the build's scope, logging to ``out/build.log``; the estimate step's model is saved where a build saves it
    (``intermediate_models/NN_step_generate_estimate_reports.onnx``), so the report can pair
    the names code generation gives with FINN's estimates (:func:`hyq.report.report.estimate_names`)."""
    steps = step_list(spec.steps)
    names = [_step_name(s) for s in steps]
    start, stop = names.index(first), (names.index(last) + 1 if last else len(names))
    out.mkdir(parents=True, exist_ok=True)
    cfg = _finn_cfg(spec, out)
    model = ModelWrapper(str(prefix))
    with _build_scope(out):
        for i in range(start, stop):
            model = _run_step(steps[i], names[i], model, cfg, out / "build.log")
            if names[i] == REPORT_STEP:
                (out / "intermediate_models").mkdir(exist_ok=True)
                model.save(str(out / "intermediate_models" / f"{i:02d}_{REPORT_STEP}.onnx"))
    return model


def _estimate(prefix: Path, spec, out: Path) -> dict:
    """Totals, fps and the estimate model of one candidate folding (the steps after the
    estimate, e.g. code generation, run only for the chosen candidate)."""
    model = _run(prefix, spec, out, FIRST_FOLD_STEP, REPORT_STEP)
    final = out / "final.onnx"
    model.save(str(final))
    rep = out / "report"
    layers = json.loads((rep / "estimate_layer_resources.json").read_text())
    res = dict(layers["total"])
    res["LUT"] = float(res.get("LUT", 0)) + finn_fit.lut_correction(model, layers)
    rows = {}
    for node in model.graph.node:  # as the report: a dynamic MVAU's matrix buffer is LUTRAM
        if node.name in layers:
            row = {k: float(layers[node.name].get(k, 0)) for k in FIT_RESOURCES}
            rows[node.name] = (node.op_type, dynload_layer(row, node))
            for k, v in rows[node.name][1].items():
                res[k] = float(res.get(k, 0)) + v - row[k]
    perf = json.loads((rep / "estimate_network_performance.json").read_text())
    return {"total": {k: float(res.get(k, 0)) for k in FIT_RESOURCES}, "fps": float(perf["estimated_throughput_fps"]),
            "model": final, "dir": out, "rows": rows}


def holders(rows: dict[str, tuple[str, dict]], resource: str, top: int = 3) -> dict:
    """Where ``resource`` goes in one candidate: its amount per op type (largest first) and
    the ``top`` layers holding most of it; the "why" of a design that does not fit.
    LUTs are finn-plus' per-layer estimates here (the total adds hyq's fitted corrections)."""
    by_type: dict[str, float] = {}
    for op_type, row in rows.values():
        by_type[op_type] = by_type.get(op_type, 0.0) + row.get(resource, 0.0)
    layers = sorted(((name, row.get(resource, 0.0)) for name, (_, row) in rows.items()), key=lambda x: -x[1])
    return {"by_op_type": {k: v for k, v in sorted(by_type.items(), key=lambda x: -x[1]) if v},
            "largest_layers": [{"layer": n, resource: v} for n, v in layers[:top] if v]}


def _why(best: dict, lo: int, fraction: float, cap: dict) -> str:
    """One sentence: the binding resource of the most folded design, and what holds it."""
    k = best["binding"]
    held = holders(best["rows"], k)
    share = ", ".join(f"{t} {v:,.0f}" for t, v in list(held["by_op_type"].items())[:3])
    big = ", ".join(f"{d['layer']} {d[k]:,.0f}" for d in held["largest_layers"])
    return (f"even the most folded design (target {lo} fps) needs {best['total'][k]:,.0f} {k} "
            f"({best['utilisation'][k]:.1%} of the part's {cap.get(k, 0):,}, over {fraction:.0%}); "
            f"by op type: {share}; largest: {big}")


def _within(total: dict, cap: dict, fraction: float) -> tuple[bool, str, dict]:
    util = parts.utilisation(total, cap)
    return all(u <= fraction for u in util.values()), parts.binding(util), util


def fit(model_path: Path, spec, out_dir: Path, fraction: float = 0.8,
        max_fps: int | None = None) -> tuple[BuildResult, dict]:
    """Build ``model_path`` with the fastest folding within ``fraction`` of ``spec.part``.

    ``max_fps`` (``hyq build --fit --target-fps N``) caps the search: no folding faster than
    asked is built, so a design that reaches N within the fraction stops there instead of
    filling the part (and the search needs two candidates instead of about ten).
    Returns the build of the chosen folding and a ``fit`` record (fraction, chosen target,
    binding resource, candidates tried, folding file).
    """
    if not 0 < fraction <= 1:
        raise HyqError(f"fit fraction must be in (0, 1], got {fraction}")
    cap = parts.capacity(spec.part)
    if cap is None:
        raise HyqError(f"no resource figures for part '{spec.part}'; --fit needs one of: "
                       f"{', '.join(d for d in parts.known_devices() if parts.capacity(d))}")
    out_dir = Path(out_dir)
    base_spec = dataclasses.replace(spec, folding=None, target_fps=spec.target_fps or 1)
    # the shared steps need no code generation: only the chosen folding gets one (see below)
    base = build(model_path, dataclasses.replace(base_spec, steps="estimate"), out_dir)
    names = [_step_name(s) for s in step_list(spec.steps)]
    i = names.index(FIRST_FOLD_STEP) - 1
    prefix = out_dir / "intermediate_models" / f"{i:02d}_{names[i]}.onnx"
    tried: dict[int, dict] = {}

    def trial(fps: int) -> dict:
        if fps not in tried:
            c = _estimate(prefix, dataclasses.replace(base_spec, target_fps=fps), out_dir / "fit" / f"fps{fps}")
            c["ok"], c["binding"], c["utilisation"] = _within(c["total"], cap, fraction)
            tried[fps] = c
            info(f"fit: target {fps:,} fps -> {c['fps']:,.0f} fps, {c['binding']} "
                 f"{c['utilisation'][c['binding']]:.1%} ({'within' if c['ok'] else 'over'} {fraction:.0%})")
        return tried[fps]

    if max_fps is not None and max_fps < 1:
        raise HyqError(f"fit: the target fps cap must be >= 1, got {max_fps}")
    # hi: the cap, or one cycle per frame (everything unfolded)
    lo, hi = 1, max(2, max_fps if max_fps else int(1e9 / spec.clock_ns))
    if not trial(lo)["ok"]:
        best = tried[lo]
    elif trial(hi)["ok"]:
        best = tried[hi]
    else:
        for _ in range(BISECTIONS):
            mid = int(round(math.sqrt(lo * hi)))
            if mid in (lo, hi):
                break
            lo, hi = (mid, hi) if trial(mid)["ok"] else (lo, mid)
        best = max((c for c in tried.values() if c["ok"]), key=lambda c: c["fps"])
    target = next(f for f, c in tried.items() if c is best)
    folding = out_dir.parent / "folding.json"
    from finn.util.config import extract_model_config_to_json

    from hyq.dataflow.ops.requant import folding_name

    extract_model_config_to_json(ModelWrapper(str(best["model"])), folding, FOLD_ATTRS)
    conf = json.loads(folding.read_text())
    folding.write_text(json.dumps({folding_name(k): v for k, v in conf.items()}, indent=2))
    record = {
        "fraction": fraction, "max_fps": max_fps, "fits": bool(best["ok"]), "target_fps": target, "throughput_fps": best["fps"],
        "binding_resource": best["binding"], "binding_utilisation": best["utilisation"][best["binding"]],
        "folding_file": str(folding),
        "candidates": [{"target_fps": f, "throughput_fps": c["fps"], "ok": c["ok"], "binding": c["binding"],
                        "utilisation": c["utilisation"]} for f, c in sorted(tried.items())],
    }
    record["binding_holders"] = holders(best["rows"], best["binding"])
    if not best["ok"]:
        record["why"] = _why(best, lo, fraction, cap)
    if names[-1] != REPORT_STEP:  # e.g. steps: codegen, for the chosen folding only
        after = names[names.index(REPORT_STEP) + 1]
        spec_best = dataclasses.replace(base_spec, target_fps=target)
        _run(best["model"], spec_best, best["dir"], after, None).save(str(best["model"]))
    result = BuildResult(best["dir"], best["model"], base.parent, names, base.resumed_after, base.seconds)
    return result, record
