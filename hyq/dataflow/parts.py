"""FPGA part capacities: a full AMD part name -> its device's LUT, FF, BRAM_18K, URAM, DSP.

One source: ``parts.json`` beside this module (AMD's product-table figures), then finn-plus'
own knowledge (``finn.util.basic.part_map`` and the resource models of
``finn.util.platforms``) for devices the table does not list. Any other part is an error.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from hyq.errors import HyqError

RESOURCES = ("LUT", "FF", "BRAM_18K", "URAM", "DSP")
_TABLE = Path(__file__).with_name("parts.json")
#: 7-series names carry the package without a dash: xc7z020clg400-1 -> xc7z020
_SERIES7 = re.compile(r"(xc7[a-z]+\d+t?)([a-z]{2,3}\d+)")


def device(part: str) -> str:
    """The device of a full part name: xczu9eg-ffvb1156-2-e -> xczu9eg, xc7z020clg400-1 -> xc7z020."""
    head = part.strip().lower().split("-")[0]
    m = _SERIES7.fullmatch(head)
    return m.group(1) if m else head


@functools.cache
def _table() -> dict[str, dict[str, int]]:
    return {k: v for k, v in json.loads(_TABLE.read_text()).items() if not k.startswith("_")}


@functools.cache
def _finn_known() -> dict[str, dict[str, int] | None]:
    """Devices finn-plus names in its part map -> capacities of its platform model (or None)."""
    from hyq.dataflow.finn_env import finn_steps

    finn_steps()
    from finn.util.basic import part_map
    from finn.util.platforms import platforms

    known: dict[str, dict[str, int] | None] = {}
    for board, part in part_map.items():
        res = None
        if board in platforms:
            slrs = platforms[board]().compute_resources
            res = {k: int(sum(s[i] for s in slrs)) for i, k in enumerate(RESOURCES)}
        if known.get(device(part)) is None:
            known[device(part)] = res
    return known


def known_devices() -> list[str]:
    return sorted(set(_table()) | set(_finn_known()))


def capacity(part: str) -> dict[str, int] | None:
    """Capacities of ``part``'s device (None when finn-plus knows the part but not its size).

    Raises HyqError naming the known devices for a part neither source knows.
    """
    dev = device(part)
    if dev in _table():
        return dict(_table()[dev])
    if dev in _finn_known():
        return _finn_known()[dev]
    raise HyqError(f"unknown FPGA part '{part}' (device '{dev}'); known devices: {', '.join(known_devices())}")


def utilisation(total: dict[str, float], cap: dict[str, int]) -> dict[str, float]:
    """Fraction of each capacity used; a resource the part lacks but the design uses counts as inf."""
    out = {}
    for k, used in total.items():
        if k not in cap:
            continue
        out[k] = used / cap[k] if cap[k] else (0.0 if used == 0 else float("inf"))
    return out


def binding(util: dict[str, float]) -> str:
    """The resource with the highest utilisation."""
    return max(util, key=util.get)
