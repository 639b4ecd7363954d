"""Non-dominated (Pareto) sets for any number of objectives, each minimised or maximised."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

SENSES = ("min", "max")


def _oriented(row: Mapping[str, Any], objectives: Mapping[str, str]) -> tuple[float, ...] | None:
    """The row's objective values turned into 'smaller is better'; None if one is missing."""
    out = []
    for name, sense in objectives.items():
        v = row.get(name)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        out.append(float(v) if sense == "min" else -float(v))
    return tuple(out)


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """a is no worse than b in every objective and strictly better in one (both 'min' form)."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_front(rows: Sequence[Mapping[str, Any]], objectives: Mapping[str, str]) -> list[int]:
    """Indices (ascending) of the rows no other row dominates under ``objectives``.

    ``objectives`` maps a column to ``"min"`` or ``"max"``. Rows missing an objective value
    (failed points) take no part. Equal rows do not dominate each other, so all stay.
    Sorted sweep: a dominating row sorts lexicographically before the row it dominates,
    so each row only needs checking against the front kept so far.
    """
    if not objectives:
        raise ValueError("pareto_front needs at least one objective")
    bad = {k: s for k, s in objectives.items() if s not in SENSES}
    if bad:
        raise ValueError(f"objective senses must be 'min' or 'max'; got {bad}")
    keyed = [(v, i) for i, r in enumerate(rows) if (v := _oriented(r, objectives)) is not None]
    keyed.sort()
    front: list[tuple[tuple[float, ...], int]] = []
    for v, i in keyed:
        if not any(dominates(f, v) for f, _ in front):
            front.append((v, i))
    return sorted(i for _, i in front)
