"""Assemble ``report.json`` / ``report.md`` from a finished build, and print the summary.

Resource numbers are estimates (finn-plus' analytical ones, or hyq's Yosys-fitted models;
each layer's ``source`` says which) until ``hyq synth`` adds Yosys' and ``hyq sim``
Verilator's figures; no vendor tool runs. The report says which steps ran so a reader knows
what the numbers are.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hyq import __version__
from hyq.costs import finn_fit
from hyq.dataflow import BuildResult, BuildSpec
from hyq.dataflow.build import REPORT_STEP
from hyq.dataflow import parts
from hyq.dataflow.finn_env import vivado_available
from hyq.dataflow.part_memory import dynload_layer
from hyq.errors import HyqError
from hyq.report.storage import static_storage

RESOURCES = ("LUT", "BRAM_18K", "URAM", "DSP")
#: nodes outside the dataflow partition that only move data (done by the host/DMA)
LAYOUT_OPS = {"Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}
#: QONNX quantization ops: a model without any of them was never quantized
QUANT_OPS = {"Quant", "BipolarQuant", "IntQuant", "FloatQuant", "Trunc", "MultiThreshold"}

NO_VENDOR_NOTE = (
    "No Vivado/Vitis on this machine: LUT/BRAM/URAM/DSP are estimates per layer (each layer's "
    "source: finn or hyq-fit), measured by Yosys only where hyq synth ran (yosys); no vendor "
    "synthesis, place and route or bitstream was run."
)


def _read(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else {}


def outside_nodes(parent: ModelWrapper | None) -> tuple[list[str], list[str]]:
    """(unmapped compute nodes, host layout nodes) left outside the dataflow partition."""
    if parent is None:
        return [], []
    unmapped, host = [], []
    for n in parent.graph.node:
        if n.op_type == "StreamingDataflowPartition":
            continue
        (host if n.op_type in LAYOUT_OPS else unmapped).append(n.name)
    return unmapped, host


def _outside_ops(parent: ModelWrapper | None, names: list[str]) -> list[str]:
    """The op types of the nodes called ``names`` in ``parent`` (in the same order)."""
    ops = {n.name: n.op_type for n in parent.graph.node} if parent is not None else {}
    return [ops.get(n, "?") for n in names]


def unmapped_error(rep: dict[str, Any], qonnx_path: Path) -> HyqError:
    """The one-line error for a build whose compute nodes did not all become hardware layers."""
    nodes = rep["unmapped_nodes"]
    listed = ", ".join(f"{n} ({op})" for n, op in zip(nodes, rep.get("unmapped_op_types", ["?"] * len(nodes))))
    quantized = any(n.op_type in QUANT_OPS for n in ModelWrapper(str(qonnx_path)).graph.node)
    what = ("the model has no quantization (no QONNX Quant nodes): export it from Brevitas quantized layers "
            "with brevitas.export.export_qonnx" if not quantized else
            f"hyq cannot map {', '.join(sorted(set(rep.get('unmapped_op_types', []))))}: quantize these "
            "operators (Brevitas Quant* layers) or replace them with mappable ones")
    return HyqError(f"{rep['model']}: {len(nodes)} compute node(s) stayed outside the accelerator: {listed}; "
                    f"{what} (or pass --allow-unmapped for a report marked incomplete)")


def estimate_names(result: BuildResult, hw: ModelWrapper) -> list[str]:
    """The name each node of the final model ``hw`` had when FINN wrote its estimate reports.

    ``step_hw_codegen`` renames every node (``GiveUniqueNodeNamesRecursive``): until then
    hyq's RTL layers carry the names of the layers they replaced (``VVAU_hls_0`` is a
    HyqVVAU_rtl), so after code generation the estimates' names are not the final ones and
    a lookup by final name reads 0 for every renamed layer. The renaming keeps the node
    order: the nodes pair up with those of the estimate step's saved model.
    """
    own = [n.name for n in hw.graph.node]
    if REPORT_STEP not in result.steps or result.steps[-1] == REPORT_STEP:
        return own
    i = result.steps.index(REPORT_STEP)
    path = result.out_dir / "intermediate_models" / f"{i:02d}_{REPORT_STEP}.onnx"
    if not path.is_file():
        return own
    est = ModelWrapper(str(path)).graph.node
    if [n.op_type for n in est] != [n.op_type for n in hw.graph.node]:
        raise HyqError(f"the steps after {REPORT_STEP} changed the graph, so FINN's estimates do not describe "
                       f"the final model {result.model}; run the estimate steps last")
    return [n.name for n in est]


def assemble(result: BuildResult, spec: BuildSpec, model_name: str, qonnx_path: Path,
             extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the report dict of a finished build."""
    rep_dir = result.finn_report_dir
    res = _read(rep_dir / "estimate_layer_resources.json")
    cycles = _read(rep_dir / "estimate_layer_cycles.json")
    perf = _read(rep_dir / "estimate_network_performance.json")
    hw = ModelWrapper(str(result.model))
    layers = [fitted_layer({
        "name": node.name,
        "op_type": node.op_type,
        **{k: float(res.get(est, {}).get(k, 0)) for k in RESOURCES},
        "cycles": int(cycles.get(est, 0)),
    }, node) for node, est in zip(hw.graph.node, estimate_names(result, hw))]
    total = {k: float(sum(layer[k] for layer in layers)) for k in RESOURCES}
    parent = ModelWrapper(str(result.parent)) if result.parent else None
    unmapped, host = outside_nodes(parent)
    vendor = vivado_available() and any("synth" in s for s in result.steps)
    report = {
        "hyq_version": __version__,
        "model": model_name,
        "part": spec.part,
        "clock_ns": spec.clock_ns,
        "target_fps": spec.target_fps,
        "folding": spec.folding,
        "flow": result.steps,
        "vendor_tools": vendor,
        "note": None if vendor else NO_VENDOR_NOTE,
        "layers": layers,
        "total": total,
        "static_storage": static_storage(hw, ModelWrapper(str(qonnx_path))),
        "throughput_fps": perf.get("estimated_throughput_fps"),
        "latency_ns": perf.get("estimated_latency_ns"),
        "critical_path_cycles": perf.get("critical_path_cycles"),
        "max_cycles": perf.get("max_cycles"),
        "bottleneck": bottleneck(hw, layers, spec.target_fps, spec.clock_ns),
        "complete": not unmapped,
        "unmapped_nodes": unmapped,
        "unmapped_op_types": _outside_ops(parent, unmapped),
        "host_nodes": host,
        "build_dir": str(result.out_dir),
        "build_seconds": result.seconds,
    }
    report.update(part_fit(spec.part, total))
    requant = _read(rep_dir / "hyq_requant.json")
    if requant:  # step_hyq_requant's choice per threshold layer (hyq.dataflow.ops.requant)
        report["requant"] = requant
    report.update(extra or {})
    return report


def fitted_layer(layer: dict[str, Any], node) -> dict[str, Any]:
    """``layer`` (FINN's estimates) with hyq's Yosys-fitted LUTs where finn-plus' are off
    (:mod:`hyq.costs.finn_fit`); ``source`` says where each number came from and
    ``finn_estimate`` keeps what finn-plus said."""
    # hyq's own layers (Hyq*) answer FINN's estimation calls from hyq's cost models
    source = dict.fromkeys(RESOURCES, "hyq-fit" if node.op_type.startswith("Hyq") else "finn")
    lut = finn_fit.lut_estimate(node.op_type, getCustomOp(node)) if node.op_type in finn_fit.FEATURES else None
    if lut is not None:
        layer["finn_estimate"] = {"LUT": layer["LUT"]}
        layer["LUT"], source["LUT"] = lut, "hyq-fit"
    dyn = dynload_layer(layer, node)  # a dynamic MVAU's matrix buffer is LUTRAM, not URAM/BRAM
    if dyn is not layer:
        layer["finn_estimate"] = {**layer.get("finn_estimate", {}), **{k: layer[k] for k in ("BRAM_18K", "URAM")}}
        layer = dyn
        source.update(dict.fromkeys(("LUT", "BRAM_18K", "URAM"), "hyq-dynload"))
    layer["source"] = source
    return layer


def _max_parallel(inst, attr: str) -> int:
    """The largest value of a folding attribute: MW/MH of matrix layers, else the channel count."""
    named = {"SIMD": ("MW", "IFMChannels"), "PE": ("MH", "Channels", "NumChannels")}[attr]
    for a in named:
        if a in inst.get_nodeattr_types():
            return int(inst.get_nodeattr(a))
    shape = inst.get_normal_input_shape() if attr == "SIMD" else inst.get_normal_output_shape()
    return int(shape[-1])


def bottleneck(hw: ModelWrapper, layers: list[dict], target_fps: int | None, clock_ns: float) -> dict | None:
    """The layer with the most cycles per frame: its name, cycles, folding and why it limits."""
    if not layers:
        return None
    worst = max(layers, key=lambda x: x["cycles"])
    inst = getCustomOp(hw.get_node_from_name(worst["name"]))
    fold = {a: int(inst.get_nodeattr(a)) for a in ("PE", "SIMD") if a in inst.get_nodeattr_types()}
    maxed = bool(fold) and all(v >= _max_parallel(inst, a) for a, v in fold.items())
    cyc = worst["cycles"]
    fps = 1e9 / clock_ns / cyc if cyc else None
    at = ", ".join(f"{a} {v}" for a, v in fold.items()) or "no folding attribute"
    why = f"{cyc:,} cycles per frame ({fps:,.0f} fps at {clock_ns} ns) with {at}" if fps else "no cycles"
    if target_fps:
        budget = int(1e9 / clock_ns / target_fps)
        why += (f", within the {budget:,} cycles of {target_fps:,} fps" if cyc <= budget
                else f", over the {budget:,} cycles of {target_fps:,} fps")
    if maxed:
        why += "; already at its maximum parallelism"
    return {"layer": worst["name"], "op_type": worst["op_type"], "cycles": cyc, "folding": fold,
            "max_parallelism": maxed, "why": why}


def part_fit(part: str, total: dict[str, float]) -> dict[str, Any]:
    """``part_resources``, ``utilisation`` (fraction per resource) and ``fits`` of a build's totals.

    A resource the part lacks (URAM on most Zynq parts) but the design uses does not fit.
    Unknown capacities (a part finn-plus names without a resource model) give None.
    """
    cap = parts.capacity(part)
    if cap is None:
        return {"part_resources": None, "utilisation": None, "fits": None}
    util = parts.utilisation(total, cap)
    return {"part_resources": cap, "utilisation": util, "fits": all(u <= 1.0 for u in util.values())}


def _util(rep: dict[str, Any], k: str) -> str:
    u = (rep.get("utilisation") or {}).get(k)
    cap = (rep.get("part_resources") or {}).get(k)
    if u is None:
        return "n/a"
    return f"{u:.1%} of {cap:,}" if math.isfinite(u) else "used, the part has none"


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if v == int(v) else f"{v:,.1f}"


def _fit_line(fit: dict[str, Any]) -> str:
    """``--fit``'s outcome: the chosen target and binding resource, or why nothing fits."""
    if not fit["fits"]:
        return "does NOT fit: " + fit["why"]
    return (f"target {fit['target_fps']:,} fps -> {fit['throughput_fps']:,.0f} fps"
            + (f" (capped at {fit['max_fps']:,})" if fit.get("max_fps") else "")
            + f"; binding {fit['binding_resource']} {fit['binding_utilisation']:.1%}")


def _yes(fits: bool | None) -> str:
    return 'n/a' if fits is None else ('yes' if fits else 'NO')


def _resource_rows(rep: dict[str, Any]) -> list[str]:
    """The resource rows of report.md: the estimate, or with ``hyq synth`` done the Yosys
    totals the utilisation uses (``total_measured``), each with its source and the estimate."""
    meas = rep.get("total_measured")
    if not meas:
        return [f"| {k} | {_fmt(rep['total'][k])} | {_util(rep, k)} |" for k in RESOURCES] + [
            f"| fits the part | {_yes(rep.get('fits'))} | |"]
    est_util, src = rep.get("utilisation_estimate") or {}, rep["utilisation_source"]
    rows = []
    for k in parts.RESOURCES:
        u = est_util.get(k)
        est = (f"; estimate {_fmt(rep['total'][k])}" + (f", {u:.1%}" if u is not None and math.isfinite(u) else "")
               if k in rep["total"] else "; no estimate")
        rows.append(f"| {k} | {_fmt(meas[k])} ({src[k]}{est}) | {_util(rep, k)} |")
    basis = rep.get("utilisation_basis") or {}
    rows.append(f"| fits the part | {_yes(rep.get('fits'))} (Yosys, {basis.get('measured', '')}"
                + (f"; estimates added for {', '.join(basis['estimated_layers'])}" if basis.get("estimated_layers") else "")
                + f"; the estimate says {_yes(rep.get('fits_estimate'))}) | |")
    return rows


def to_markdown(rep: dict[str, Any]) -> str:
    """The report as Markdown: summary, storage, per-layer table."""
    s = rep["static_storage"]
    lines = [
        f"# hyq report: {rep['model']}",
        "",
        *([f"**INCOMPLETE**: {len(rep['unmapped_nodes'])} compute node(s) stayed outside the accelerator "
           f"({', '.join(rep['unmapped_nodes'])}); the numbers below are not those of the whole network.", ""]
          if not rep.get("complete", True) else []),
        f"- part `{rep['part']}`, clock {rep['clock_ns']} ns, "
        + (f"target {rep['target_fps']} fps" if rep.get("target_fps") else f"folding `{rep.get('folding')}`"),
        f"- vendor tools: {'yes' if rep['vendor_tools'] else 'no'}" + (f". {rep['note']}" if rep.get("note") else ""),
        f"- steps: {', '.join(rep['flow'])}",
        "",
        "| metric | value | of the part |",
        "|---|---|---|",
    ]
    lines += _resource_rows(rep)
    lines += [
        f"| throughput (fps) | {_fmt(rep['throughput_fps'] or 0)} |",
        f"| latency (us) | {(rep['latency_ns'] or 0) / 1000:,.1f} |"
        + (f" measured in Verilator; FINN's estimate {(rep.get('latency_ns_finn') or 0) / 1000:,.1f} |"
           if rep.get("latency_source") == "verilator" else ""),
        f"| static storage (bytes) | {_fmt(s['bytes'])} |",
        f"| - weights / thresholds / requant / other (bits) | {s['weight_bits']:,} / {s['threshold_bits']:,} / "
        f"{s.get('requant_bits', 0):,} / {s['other_bits']:,} |",
        f"| FP32 parameters (bytes) | {s['fp32_bytes']:,} |",
        f"| storage vs FP32 | {s['ratio_vs_fp32']:.3f} (weights alone {s['weight_ratio_vs_fp32']:.3f}) |"
        if s.get("ratio_vs_fp32") and s.get("weight_ratio_vs_fp32") else "| storage vs FP32 | n/a |",
    ]
    if "accuracy" in rep:
        a = rep["accuracy"]
        lines.append(f"| accuracy float / quantized | {a['float']:.4f} / {a['quantized']:.4f} "
                     f"({a['dataset']}, {a['samples']} test samples) |")
    if "export_check" in rep:
        e = rep["export_check"]
        lines.append(f"| Brevitas == QONNX | {'yes' if e['passed'] else 'NO'} "
                     f"({e.get('samples_differing', 0)} of {e['samples']} samples differ beyond float rounding, "
                     f"max abs diff {e['max_abs_diff']:.2e}) |")
    fs = (rep.get("rtlsim") or {}).get("fifo_sizing")
    if fs:
        b, a = fs["before"], fs["after"]
        lines.append(f"| FIFOs sized in Verilator | {b['bits']:,} -> {a['bits']:,} bits, BRAM_18K {b['bram_18k']:g} -> "
                     f"{a['bram_18k']:g}; II {fs['initiation_interval_before']} -> {fs['initiation_interval_after']}"
                     f"{'' if fs['applied'] else ' (NOT applied)'} |")
    if rep.get("bottleneck"):
        lines.append(f"| bottleneck | `{rep['bottleneck']['layer']}` ({rep['bottleneck']['op_type']}): "
                     f"{rep['bottleneck']['why']} |")
    if rep.get("fit"):
        lines.append(f"| fit ({rep['fit']['fraction']:.0%} of the part) | {_fit_line(rep['fit'])} |")
    lines.append(f"| unmapped nodes | {', '.join(rep['unmapped_nodes']) or 'none'} |")
    lines.append(f"| host layout nodes | {', '.join(rep['host_nodes']) or 'none'} |")
    lines += ["", "| layer | op | LUT | BRAM_18K | URAM | DSP | cycles |", "|---|---|---|---|---|---|---|"]
    for layer in rep["layers"]:
        lines.append(f"| {layer['name']} | {layer['op_type']} | " + " | ".join(
            _fmt(layer[k]) for k in RESOURCES) + f" | {layer['cycles']:,} |")
    return "\n".join(lines) + "\n"


def summary(rep: dict[str, Any]) -> str:
    """A short console table of the headline numbers."""
    s, t = rep["static_storage"], rep["total"]
    rows = [
        ("model", rep["model"]),
        ("part / clock", f"{rep['part']} / {rep['clock_ns']} ns"),
        ("LUT / BRAM_18K / URAM / DSP", " / ".join(_fmt(t[k]) for k in RESOURCES)
         + (" (estimate); measured " + " / ".join(_fmt(rep["total_measured"][k]) for k in RESOURCES)
            if rep.get("total_measured") else "")),
        ("of the part", " / ".join(_util(rep, k) for k in RESOURCES)
         + {True: " (fits)", False: " (does NOT fit)", None: ""}[rep.get("fits")]),
        ("throughput", f"{rep['throughput_fps'] or 0:,.0f} fps"),
        ("latency", f"{(rep['latency_ns'] or 0) / 1000:,.1f} us"),
        ("static storage", f"{s['bytes']:,.0f} B (weights {s['weight_bits'] / 8:,.0f} B, "
                           f"thresholds {s['threshold_bits'] / 8:,.0f} B, requant {s.get('requant_bits', 0) / 8:,.0f} B, "
                           f"other {s['other_bits'] / 8:,.0f} B)"),
        ("vs FP32", f"{s['ratio_vs_fp32']:.3f} of {s['fp32_bytes']:,} B (weights alone {s['weight_ratio_vs_fp32']:.3f})"
         if s.get("ratio_vs_fp32") and s.get("weight_ratio_vs_fp32") else "n/a"),
    ]
    if "accuracy" in rep:
        a = rep["accuracy"]
        rows.append(("accuracy float / quantized", f"{a['float']:.4f} / {a['quantized']:.4f} on {a['samples']} {a['dataset']} samples"))
    if "export_check" in rep:
        e = rep["export_check"]
        rows.append(("Brevitas == QONNX", ("yes" if e["passed"] else "NO")
                     + f" ({e.get('samples_differing', 0)}/{e['samples']} samples differ beyond float rounding)"))
    if rep.get("bottleneck"):
        rows.append(("bottleneck", f"{rep['bottleneck']['layer']}: {rep['bottleneck']['why']}"))
    if rep.get("fit"):
        rows.append((f"fit ({rep['fit']['fraction']:.0%} of the part)", _fit_line(rep["fit"])))
    rows.append(("unmapped nodes", ", ".join(rep["unmapped_nodes"]) or "none"))
    rows.append(("vendor tools", "yes" if rep["vendor_tools"] else "no (estimates; Yosys figures where hyq synth ran)"))
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{w}}  {v}" for k, v in rows)


def _strict(v: Any) -> Any:
    """``v`` with every non-finite float (the utilisation of a resource the part lacks) as None."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _strict(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_strict(x) for x in v]
    return v


def write(rep: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write report.json (strict JSON: null for an infinite utilisation) and report.md atomically
    (a report only exists when complete)."""
    out_dir = Path(out_dir)
    paths = []
    text_json = json.dumps(_strict(rep), indent=2, allow_nan=False) + "\n"
    for name, text in (("report.json", text_json), ("report.md", to_markdown(rep))):
        tmp = out_dir / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, out_dir / name)
        paths.append(out_dir / name)
    return paths[0], paths[1]


def clear(out_dir: Path) -> None:
    """Remove an earlier report so a failed run never leaves one that looks current."""
    for name in ("report.json", "report.md"):
        (Path(out_dir) / name).unlink(missing_ok=True)
