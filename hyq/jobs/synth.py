"""``hyq synth BUILD_DIR``: the Yosys measurements go into the build's report."""

from __future__ import annotations

import json
from pathlib import Path

from hyq.dataflow.parts import RESOURCES
from hyq.report import write
from hyq.report.report import part_fit


def update_report(build_dir: Path, syn: dict) -> Path:
    """Add ``synthesis`` to the build's report.json (re-written atomically through hyq.report)
    and make its ``utilisation`` and ``fits`` the measured ones (:func:`measured_utilisation`)."""
    build_dir = Path(build_dir)
    rep = json.loads((build_dir / "report.json").read_text())
    rep["synthesis"] = syn
    measured_utilisation(rep)
    return write(rep, build_dir)[0]


#: how the measured totals treat memories, said in every report that uses them
MEMORY_NOTE = ("BRAM_18K and URAM are the block memories Yosys infers for the family; a memory "
               "Yosys keeps in LUTs or registers counts in LUT/FF instead (Vivado may infer it "
               "otherwise), so each resource is one consistent mapping, not a mix")


def measured_utilisation(rep: dict) -> dict:
    """With synthesis done, ``utilisation`` and ``fits`` use Yosys' totals (``total_measured``).

    The totals are the flattened whole design when it was synthesised, else the sum of the
    layers (both include the FIFOs and width converters added after estimation). A layer
    Yosys could not measure (no RTL: an HLS layer, or a failed run) adds its estimate;
    ``utilisation_source`` says per resource whether that happened (``yosys`` or
    ``yosys+estimate``). FF has no estimate: such a layer's FF are missing, and said so.
    The estimate-based figures stay as ``utilisation_estimate`` and ``fits_estimate``
    (recomputed from ``total``, so the function can run again)."""
    syn = rep.get("synthesis") or {}
    whole = syn.get("whole")
    base = whole or syn.get("sum_of_layers")
    if not base or not syn.get("synthesised_layers"):
        return rep
    missing = [r for r in syn["layers"] if r.get("measured") is None]
    total, source = {}, {}
    for k in RESOURCES:
        added = [v for v in ((r.get("estimate") or {}).get(k) for r in missing) if v is not None]
        total[k] = float(base[k] + sum(added))
        source[k] = "yosys+estimate" if any(added) else "yosys"
    est, meas = part_fit(rep["part"], rep["total"]), part_fit(rep["part"], total)
    no_ff = [r["name"] for r in missing if "FF" not in (r.get("estimate") or {})]
    rep.update(
        total_measured=total, utilisation=meas["utilisation"], fits=meas["fits"], utilisation_source=source,
        utilisation_estimate=est["utilisation"], fits_estimate=est["fits"],
        utilisation_basis={
            "measured": "whole design, flattened" if whole else "sum of the layers, each synthesised alone",
            "yosys": syn.get("yosys"),
            "estimated_layers": [r["name"] for r in missing],
            "ff_missing_for": no_ff,
            "memories": MEMORY_NOTE,
        })
    return rep
