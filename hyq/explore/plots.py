"""Plots a hardware engineer reads at a glance; the CLI and the notebooks call the same functions.

Every ``*_plot`` function returns a matplotlib Figure and, given ``path`` (a stem without
suffix), writes ``path.png`` and ``path.svg``. Figures are made without pyplot (Agg canvas,
no global state), so they work the same in worker processes, the CLI and notebooks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from hyq.explore.pareto import pareto_front

LABELS = {"accuracy": "accuracy (quantized)", "float_accuracy": "accuracy (float)", "LUT": "LUT",
          "BRAM_18K": "BRAM (18 Kb)", "URAM": "URAM", "DSP": "DSP", "storage_bytes": "static storage (bytes)",
          "fps": "throughput (frames/s)", "latency_us": "latency (us)"}
_FRONT = "#d62728"
_REST = "#9a9a9a"


def save(fig, path: Path | str | None) -> list[Path]:
    """Write ``path.png`` and ``path.svg``; returns both paths (none when ``path`` is None)."""
    if path is None:
        return []
    stem = Path(path)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    fig.savefig(out[0], dpi=120, bbox_inches="tight")
    fig.savefig(out[1], bbox_inches="tight")
    return out


def _ok(rows: Sequence[Mapping[str, Any]], *cols: str) -> list[Mapping[str, Any]]:
    return [r for r in rows if r.get("status", "ok") == "ok" and all(r.get(c) is not None for c in cols)]


def pareto_plot(rows: Sequence[Mapping[str, Any]], x: str, y: str = "accuracy",
                senses: Mapping[str, str] | None = None, path: Path | str | None = None,
                title: str | None = None):
    """y vs x for every point; the 2-D Pareto front (y max, x min by default) in red, labelled."""
    senses = {y: "max", x: "min", **(senses or {})}
    pts = _ok(rows, x, y)
    front = set(pareto_front(pts, {y: senses[y], x: senses[x]}))
    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    rest = [r for i, r in enumerate(pts) if i not in front]
    ax.scatter([r[x] for r in rest], [r[y] for r in rest], c=_REST, s=28, label="dominated")
    fr = sorted((pts[i] for i in front), key=lambda r: r[x])
    ax.plot([r[x] for r in fr], [r[y] for r in fr], "-o", c=_FRONT, ms=6, drawstyle="steps-post"
            if senses[x] == "min" and senses[y] == "max" else "default", label="Pareto front")
    for r in fr:
        ax.annotate(str(r.get("label", "")), (r[x], r[y]), textcoords="offset points", xytext=(4, -10),
                    fontsize=7, color=_FRONT)
    ax.set_xlabel(LABELS.get(x, x))
    ax.set_ylabel(LABELS.get(y, y))
    if x in ("storage_bytes", "fps") and pts and min(r[x] for r in pts) > 0:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title or f"{LABELS.get(y, y)} vs {LABELS.get(x, x)} ({len(pts)} points)", fontsize=10)
    save(fig, path)
    return fig


def layer_bars(report: Mapping[str, Any] | Path | str, resources: Sequence[str] = ("LUT", "BRAM_18K", "DSP"),
               path: Path | str | None = None, title: str | None = None):
    """Per-layer resource bars of one report (report dict or report.json path), one panel per resource."""
    if not isinstance(report, Mapping):
        report = json.loads(Path(report).read_text())
    layers = report["layers"]
    names = [f"{la['name']}" for la in layers]
    fig = Figure(figsize=(3.2 * len(resources), 0.28 * len(layers) + 1.2))
    axes = fig.subplots(1, len(resources), sharey=True)
    axes = [axes] if len(resources) == 1 else list(axes)
    for ax, res in zip(axes, resources):
        vals = [la[res] for la in layers]
        ax.barh(range(len(layers)), vals, color="#1f77b4")
        ax.set_title(f"{LABELS.get(res, res)}: {sum(vals):,.0f}", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(layers)), names, fontsize=7)
    axes[0].invert_yaxis()
    fig.suptitle(title or f"per-layer resources ({report.get('model', '')}, {report.get('part', '')})", fontsize=10)
    fig.tight_layout()
    save(fig, path)
    return fig


def folding_plot(rows: Sequence[Mapping[str, Any]], group_by: Sequence[str] = (),
                 path: Path | str | None = None, title: str | None = None):
    """Throughput vs LUT, one line per combination of the ``group_by`` columns (the non-folding axes)."""
    pts = _ok(rows, "fps", "LUT")
    groups: dict[str, list] = {}
    for r in pts:
        g = ", ".join(f"{c.split('.')[-1]}={r.get(c)}" for c in group_by) or "all points"
        groups.setdefault(g, []).append(r)
    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    for j, (g, rs) in enumerate(groups.items()):
        rs = sorted(rs, key=lambda r: r["LUT"])
        ax.plot([r["LUT"] for r in rs], [r["fps"] for r in rs], "-o", ms=5, label=g)
        for r in rs if j == len(groups) - 1 else ():   # target labels once, on the last line
            if r.get("axis:hardware.target_fps") is not None:
                ax.annotate(f"target {r['axis:hardware.target_fps']}", (r["LUT"], r["fps"]),
                            textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel(LABELS["LUT"])
    ax.set_ylabel(LABELS["fps"])
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title(title or "folding sweep: throughput vs LUT", fontsize=10)
    save(fig, path)
    return fig


def softmax_plot(rows: Sequence[Mapping[str, Any]], error: str = "max_err", path: Path | str | None = None,
                 title: str | None = None):
    """Softmax variants: LUT (Yosys) vs error (vs float softmax); front of (LUT min, error min) in red."""
    pts = _ok(rows, "LUT", error)
    front = set(pareto_front(pts, {"LUT": "min", error: "min"}))
    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    for i, r in enumerate(pts):
        c = _FRONT if i in front else _REST
        ax.scatter(r["LUT"], r[error], c=c, s=36)
        ax.annotate(r.get("label", r.get("method", "")), (r["LUT"], r[error]), textcoords="offset points",
                    xytext=(4, 3), fontsize=7, color=c)
    ax.set_xlabel("LUT (Yosys)")
    ax.set_ylabel(error.replace("_", " ") + " vs float softmax")
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.set_title(title or "integer softmax variants: LUT vs error (red: Pareto)", fontsize=10)
    save(fig, path)
    return fig


def softmax_sweep_plot(rows: Sequence[Mapping[str, Any]], path: Path | str | None = None,
                       title: str | None = None):
    """The softmax hardware sweep: one column per (format, family); top row LUT vs N (solid:
    multipliers in LUTs, dashed: DSPs allowed), bottom row the LUT ratio against I-BERT, one
    line per (method, PE)."""
    cols = list(dict.fromkeys((r["format"], r["family"]) for r in rows))
    fig = Figure(figsize=(3.6 * len(cols) + 1, 6))
    axes = fig.subplots(2, len(cols), squeeze=False, sharex=True)
    colours = {"linmax": "tab:red", "ibert": "tab:blue", "shiftmax": "tab:green"}
    for j, (fmt, fam) in enumerate(cols):
        sel = [r for r in rows if (r["format"], r["family"]) == (fmt, fam)]
        for meth, pe in dict.fromkeys((r["method"], r["PE"]) for r in sel):
            line = sorted((r for r in sel if (r["method"], r["PE"]) == (meth, pe)), key=lambda r: r["N"])
            n = [r["N"] for r in line]
            style = dict(color=colours.get(meth), marker="o" if pe == 1 else "s", ms=4)
            axes[0][j].plot(n, [r["LUT nodsp"] for r in line], label=f"{meth} PE={pe}", **style)
            axes[0][j].plot(n, [r["LUT"] for r in line], ls="--", alpha=0.6, **style)
            if meth != "ibert":
                axes[1][j].plot(n, [r["vs ibert nodsp"] for r in line], label=f"{meth} PE={pe}", **style)
                axes[1][j].plot(n, [r["vs ibert"] for r in line], ls="--", alpha=0.6, **style)
        axes[0][j].set_title(f"{fmt}, {fam}", fontsize=9)
        axes[1][j].set_xlabel("row length N")
        for ax in (axes[0][j], axes[1][j]):
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("LUT (solid: no DSP, dashed: DSP)")
    axes[1][0].set_ylabel("LUT / I-BERT's LUT")
    axes[0][0].legend(fontsize=6)
    fig.suptitle(title or "softmax units (Yosys): LUT and ratio vs I-BERT", fontsize=10)
    save(fig, path)
    return fig


def space_plots(rows: Sequence[Mapping[str, Any]], front: Sequence[int], space, out: Path) -> list[Path]:
    """The plots ``hyq explore`` writes into ``out/plots``; returns the files written."""
    d = Path(out) / "plots"
    written: list[Path] = []
    for x in ("LUT", "BRAM_18K", "storage_bytes"):
        fig = pareto_plot(rows, x, "accuracy", title=f"{space.name}: accuracy vs {LABELS[x]}")
        written += save(fig, d / f"accuracy_vs_{x}")
    fold_axes = {"axis:hardware.target_fps", "axis:hardware.folding"}
    cols = [c for r in rows for c in r if c.startswith("axis:")]
    if fold_axes & set(cols):
        others = list(dict.fromkeys(c for c in cols if c not in fold_axes))
        fig = folding_plot(rows, others, title=f"{space.name}: folding sweep")
        written += save(fig, d / "folding_fps_vs_LUT")
    for i in front:
        r = rows[i]
        if r.get("status") == "ok" and Path(r["report"]).is_file():
            fig = layer_bars(r["report"], title=f"point {i}: {r['label']}")
            written += save(fig, d / f"layers_point{i}")
    return written


def channel_ranges_plot(ranges: Mapping[str, Sequence[float]], layer: str = "", path: Path | str | None = None,
                        title: str | None = None):
    """Per-channel max |input| of one pointwise layer, one bar series per method (e.g. none vs qads)."""
    import numpy as np

    fig = Figure(figsize=(6.5, 3.4))
    ax = fig.subplots()
    k = len(ranges)
    for j, (name, vals) in enumerate(ranges.items()):
        vals = np.asarray(vals, dtype=float)
        ax.bar(np.arange(len(vals)) + (j - (k - 1) / 2) * 0.8 / k, vals, width=0.8 / k,
               label=f"{name} (max/median {vals.max() / max(np.median(vals), 1e-12):.1f})")
    ax.set_xlabel(f"input channel of {layer}" if layer else "input channel")
    ax.set_ylabel("max |activation|")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "channel ranges before / after distribution scaling", fontsize=10)
    save(fig, path)
    return fig


def method_plot(rows: Sequence[Mapping[str, Any]], y: Sequence[str] = ("accuracy_ptq", "accuracy_quantized"),
                path: Path | str | None = None, title: str | None = None):
    """Accuracy per scaling method (grouped bars), the float accuracy as a dashed line."""
    import numpy as np

    fig = Figure(figsize=(5.5, 3.4))
    ax = fig.subplots()
    x = np.arange(len(rows))
    cols = [c for c in y if all(r.get(c) is not None for r in rows)]
    for j, c in enumerate(cols):
        ax.bar(x + (j - (len(cols) - 1) / 2) * 0.8 / len(cols), [r[c] for r in rows], width=0.8 / len(cols),
               label=c.replace("accuracy_", ""))
    if rows and rows[0].get("accuracy_float") is not None:
        ax.axhline(rows[0]["accuracy_float"], ls="--", c="k", lw=1, label="float")
    ax.set_xticks(x, [r["method"] for r in rows])
    lo = min(r[c] for r in rows for c in cols) if rows and cols else 0
    ax.set_ylim(max(0.0, lo - 0.05), 1.0)
    ax.set_ylabel("accuracy")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "accuracy by distribution-scaling method", fontsize=10)
    save(fig, path)
    return fig


def cycles_plot(rows: Sequence[Mapping[str, Any]], x: str, path: Path | str | None = None,
                title: str | None = None):
    """Measured (simulated) cycles per row vs the analytic estimate, over the column ``x``."""
    fig = Figure(figsize=(5.5, 3.4))
    ax = fig.subplots()
    xs = [r[x] for r in rows]
    ax.plot(xs, [r["cycles_per_row"] for r in rows], "o-", label="Verilator (measured)")
    ax.plot(xs, [r["estimate"] for r in rows], "s--", label="estimate (no stalls)")
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel("cycles per row")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "cycles: simulation vs estimate", fontsize=10)
    save(fig, path)
    return fig


def layer_cycles_plot(layers: Sequence[Mapping[str, Any]], path: Path | str | None = None,
                      title: str | None = None):
    """Per layer: initiation interval measured in Verilator vs FINN's cycle estimate.

    ``layers``: dicts with name, op_type, simulated, initiation_interval, estimate_cycles (as
    :class:`hyq.sim.results.LayerResult`); FIFOs and width converters (no estimate) are left out,
    layers without RTL are shown with their estimate only.
    """
    import numpy as np

    rows = [la for la in layers if la.get("estimate_cycles")]
    fig = Figure(figsize=(6.5, 0.26 * len(rows) + 1.3))
    ax = fig.subplots()
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [la["estimate_cycles"] for la in rows], height=0.4, color=_REST, label="FINN estimate")
    sim = [(i, la["initiation_interval"]) for i, la in enumerate(rows)
           if la.get("simulated") and la.get("initiation_interval") is not None]
    ax.barh([i + 0.2 for i, _ in sim], [v for _, v in sim], height=0.4, color="#1f77b4", label="Verilator II")
    names = [la["name"] + ("" if la.get("simulated") else " (no RTL)") for la in rows]
    ax.set_yticks(y, names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("cycles per inference")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "per-layer cycles: simulation vs estimate", fontsize=10)
    fig.tight_layout()
    save(fig, path)
    return fig


def stream_activity_plot(activity, skip: Sequence[str] = ("StreamingFIFO", "StreamingDataWidthConverter"),
                         path: Path | str | None = None, title: str | None = None):
    """The whole accelerator's waveform at stream level: one row per layer output (network
    input on top, output at the bottom), a tick per beat transferred, against clock cycles.

    ``activity``: :class:`hyq.sim.waveform.StreamActivity` (from ``hyq sim --trace x.vcd``);
    FIFOs and width converters (``skip``) repeat their producer's row and are left out.
    Layers overlap in time as the dataflow pipelines; gaps show a layer waiting.
    """
    names = [n for n in activity.streams if n not in ("in0", "out0") and not n.startswith(tuple(skip))]
    rows = [("network input", activity.streams.get("in0"))] + [(n.removesuffix("__out0"), activity.streams[n])
                                                                for n in names]
    rows.append(("network output", activity.streams.get("out0")))
    rows = [(n, v) for n, v in rows if v is not None]
    fig = Figure(figsize=(8, 0.24 * len(rows) + 1.3))
    ax = fig.subplots()
    ax.eventplot([v for _, v in rows], lineoffsets=range(len(rows)), linelengths=0.8, linewidths=0.6,
                 colors=["#2ca02c"] + ["#1f77b4"] * (len(rows) - 2) + ["#d62728"])
    ax.set_yticks(range(len(rows)), [n for n, _ in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, activity.cycles)
    ax.set_xlabel("clock cycle")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or "stream activity: a tick per beat transferred", fontsize=10)
    fig.tight_layout()
    save(fig, path)
    return fig
