"""What a simulation found: per-layer and whole-network results, the report section written
from them (:meth:`SimResult.as_report`) and their console table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class LayerResult:
    name: str
    op_type: str
    simulated: bool
    reason: str | None = None
    bit_exact: bool | None = None
    mismatches: int | None = None
    latency_cycles: int | None = None
    initiation_interval: float | None = None
    estimate_cycles: int | None = None
    cached: bool | None = None


@dataclass
class SimResult:
    layers: list[LayerResult]
    network: dict | None
    samples: int
    bit_exact: bool
    notes: list[str] = field(default_factory=list)
    estimate_cycles: dict | None = None   # FINN's critical_path_cycles and max_cycles (the II)
    fifo_sizing: dict | None = None       # ``--size-fifos``: depths and FIFO memory before/after

    def as_report(self) -> dict:
        net = self.network or {}
        return {
            "bit_exact": self.bit_exact,
            "samples": self.samples,
            "cycles_per_inference": net.get("latency_cycles"),
            "initiation_interval": net.get("initiation_interval"),
            "estimate_cycles": self.estimate_cycles,
            "network": self.network,
            "layers": [asdict(r) for r in self.layers],
            "notes": self.notes,
            **({"fifo_sizing": self.fifo_sizing} if self.fifo_sizing else {}),
        }


def table(res: SimResult) -> str:
    """Per-layer and whole-network cycles next to FINN's estimates, as console text."""
    rows = [("layer", "op", "result", "II", "FINN est.", "latency")]
    for r in res.layers:
        if r.simulated:
            rows.append((r.name, r.op_type, "bit-exact" if r.bit_exact else f"{r.mismatches} mismatches",
                         f"{r.initiation_interval:g}" if r.initiation_interval is not None else "-",
                         str(r.estimate_cycles if r.estimate_cycles is not None else "-"), str(r.latency_cycles)))
        else:
            rows.append((r.name, r.op_type, "not simulated", "-", str(r.estimate_cycles or "-"), "-"))
    n = res.network
    if n:
        est = n["estimate_cycles"]
        rows.append(("network", f"{n['layers']} RTL layers",
                     "bit-exact" if n["bit_exact"] else "MISMATCH",
                     f"{n['initiation_interval']:g}" if n["initiation_interval"] is not None else "-",
                     f"{est['max_cycles']} / {est['critical_path_cycles']}", str(n["latency_cycles"])))
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  " + "  ".join(c.ljust(w[i]) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "  " + "  ".join("-" * x for x in w))
    return "\n".join(lines)

