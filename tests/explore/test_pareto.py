"""pareto_front against a brute-force O(n^2) definition of non-domination."""

from __future__ import annotations

import numpy as np
import pytest

from hyq.explore import pareto_front


def brute_force(rows, objectives):
    """Row i is kept when no row j is at least as good everywhere and better somewhere."""
    def better_or_equal(a, b, k):
        return a[k] >= b[k] if objectives[k] == "max" else a[k] <= b[k]

    def strictly_better(a, b, k):
        return a[k] > b[k] if objectives[k] == "max" else a[k] < b[k]

    keep = []
    for i, a in enumerate(rows):
        if any(a.get(k) is None for k in objectives):
            continue
        dominated = any(
            all(b.get(k) is not None for k in objectives)
            and all(better_or_equal(b, a, k) for k in objectives)
            and any(strictly_better(b, a, k) for k in objectives)
            for j, b in enumerate(rows) if j != i)
        if not dominated:
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed", range(40))
def test_random_sets_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 60)), int(rng.integers(1, 5))
    names = [f"o{k}" for k in range(m)]
    senses = {k: str(rng.choice(["min", "max"])) for k in names}
    # few distinct levels so ties and duplicate rows occur
    data = rng.integers(0, 6, (n, m)) if seed % 2 else rng.normal(size=(n, m))
    rows = [{k: float(v) for k, v in zip(names, r)} for r in data]
    for r in rows[:: 7]:
        r[names[0]] = None   # failed points take no part
    assert pareto_front(rows, senses) == brute_force(rows, senses)


def test_two_objectives_by_hand():
    rows = [{"acc": 0.9, "LUT": 100}, {"acc": 0.95, "LUT": 200}, {"acc": 0.9, "LUT": 150},
            {"acc": 0.95, "LUT": 200}, {"acc": 0.8, "LUT": 90}]
    assert pareto_front(rows, {"acc": "max", "LUT": "min"}) == [0, 1, 3, 4]


def test_bad_objectives():
    with pytest.raises(ValueError, match="min' or 'max"):
        pareto_front([{"a": 1}], {"a": "up"})
    with pytest.raises(ValueError, match="at least one"):
        pareto_front([{"a": 1}], {})
