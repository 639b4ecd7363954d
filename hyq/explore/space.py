"""Design-space files: a base flow, axes (dotted keys into the flow config), objectives.

A space file::

    name: small
    flow: ../default.yaml            # base flow, relative to this file
    fixed:                           # changes applied to every point (optional)
      train.epochs: 10
    axes:                            # product of all values ...
      quant.weight_bits: [4, 8]
      hardware.target_fps: [1000, 100000]
    # points: [{quant.weight_bits: 4, hardware.target_fps: 1000}, ...]   # ... or an explicit list
    objectives: {accuracy: max, LUT: min}

Keys are ``section.field`` of a flow file (see :mod:`hyq.config`); fields holding a mapping
(``model.options``, ``quant.layers``) take a further level, e.g. ``model.options.expand``.
Every point becomes a full flow file, validated by :func:`hyq.config.load`.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hyq import config
from hyq.errors import HyqError
from hyq.explore.pareto import SENSES

#: per-point result columns a space may name as objectives
METRICS = ("accuracy", "float_accuracy", "LUT", "BRAM_18K", "URAM", "DSP", "storage_bytes",
           "fps", "latency_us")
_TOP_KEYS = ("name", "flow", "fixed", "axes", "points", "objectives")


@dataclass(frozen=True)
class Point:
    """One design point: its axis values and the full flow config (a plain dict)."""

    index: int
    values: dict[str, Any]
    flow: dict[str, Any]

    @property
    def label(self) -> str:
        return ", ".join(f"{k.split('.')[-1]}={v}" for k, v in self.values.items()) or "base"


@dataclass(frozen=True)
class Space:
    name: str
    source: Path
    base: Path
    fixed: dict[str, Any]
    axes: dict[str, list]
    objectives: dict[str, str]
    points: list[Point]


def _check_key(key: Any, where: str) -> list[str]:
    """Split and check a dotted key against the flow-config dataclasses."""
    if not isinstance(key, str) or not key:
        raise HyqError(f"{where}: key {key!r} must be a dotted string such as quant.weight_bits")
    parts = key.split(".")
    sections = {f.name: f.default for f in dataclasses.fields(config.FlowConfig)
                if f.name not in ("name", "source")}
    if parts[0] not in sections:
        raise HyqError(f"{where}: unknown key '{key}': no flow section '{parts[0]}' "
                       f"(sections: {', '.join(sections)})")
    fields = {f.name: getattr(sections[parts[0]], f.name) for f in dataclasses.fields(sections[parts[0]])}
    if len(parts) < 2 or parts[1] not in fields:
        raise HyqError(f"{where}: unknown key '{key}'; {parts[0]} has: {', '.join(fields)}")
    if len(parts) > 2 and not isinstance(fields[parts[1]], dict):
        raise HyqError(f"{where}: unknown key '{key}'; {parts[0]}.{parts[1]} takes no sub-keys")
    return parts


def _set(flow: dict, parts: list[str], value: Any) -> None:
    d = flow
    for p in parts[:-1]:
        d = d.setdefault(p, {})
        if not isinstance(d, dict):
            raise HyqError(f"cannot set {'.'.join(parts)}: {p} is not a mapping")
    d[parts[-1]] = copy.deepcopy(value)


def _plain(x: Any) -> Any:
    """JSON/YAML-safe copy (tuples become lists)."""
    return json.loads(json.dumps(x, default=str))


def base_flow_dict(path: Path) -> dict[str, Any]:
    """The validated base flow as a plain dict with every default filled in."""
    cfg = config.load(path)
    d = _plain(cfg.as_dict())
    d["name"] = cfg.name
    return d


def point_flow(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Base flow dict with dotted-key ``changes`` applied (no validation here)."""
    flow = copy.deepcopy(base)
    for key, value in changes.items():
        parts = key.split(".")
        if parts[:2] == ["hardware", "target_fps"] and value is not None:
            flow["hardware"]["folding"] = None      # a target fps replaces a folding file
        if parts[:2] == ["hardware", "folding"] and value is not None:
            flow["hardware"]["target_fps"] = None
        _set(flow, parts, value)
    return flow


def _mapping(raw: Any, what: str, where: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise HyqError(f"{where}: {what} must be a mapping, got {type(raw).__name__}")
    return raw


def load_space(path: Path | str) -> Space:
    """Read and check a space file; raises HyqError naming the bad key or value."""
    path = Path(path)
    if not path.is_file():
        raise HyqError(f"space file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise HyqError(f"{path}: not valid YAML") from exc
    where = str(path)
    if not isinstance(raw, dict):
        raise HyqError(f"{where}: a space file must be a mapping with keys {', '.join(_TOP_KEYS)}")
    unknown = sorted(set(raw) - set(_TOP_KEYS))
    if unknown:
        raise HyqError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_TOP_KEYS)}")
    if "flow" not in raw or not isinstance(raw["flow"], str):
        raise HyqError(f"{where}: flow must name the base flow file (relative to the space file)")
    base = Path(raw["flow"])
    base = base if base.is_absolute() else (path.parent / base)
    if not base.is_file():
        raise HyqError(f"{where}: flow: base flow file not found: {base}")
    fixed = _mapping(raw.get("fixed"), "fixed", where)
    axes = _mapping(raw.get("axes"), "axes", where)
    explicit = raw.get("points")
    if axes and explicit is not None:
        raise HyqError(f"{where}: give either axes (their product) or points (an explicit list), not both")
    for k in fixed:
        _check_key(k, f"{where}: fixed")
    for k, vals in axes.items():
        _check_key(k, f"{where}: axes")
        if not isinstance(vals, list) or not vals:
            raise HyqError(f"{where}: axes: '{k}' must be a non-empty list of values, got {vals!r}")
        if len({json.dumps(v, sort_keys=True) for v in vals}) != len(vals):
            raise HyqError(f"{where}: axes: '{k}' lists a value twice: {vals!r}")
    if explicit is not None:
        if not isinstance(explicit, list) or not explicit or not all(isinstance(p, dict) for p in explicit):
            raise HyqError(f"{where}: points must be a non-empty list of mappings (dotted key -> value)")
        for i, p in enumerate(explicit):
            for k in p:
                _check_key(k, f"{where}: points[{i}]")
        changes = [dict(p) for p in explicit]
    else:
        changes = [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]
    objectives = _mapping(raw.get("objectives"), "objectives", where)
    if not objectives:
        raise HyqError(f"{where}: objectives must name at least one metric with min or max "
                       f"(metrics: {', '.join(METRICS)})")
    for k, s in objectives.items():
        if k not in METRICS:
            raise HyqError(f"{where}: objectives: unknown metric '{k}'; metrics: {', '.join(METRICS)}")
        if s not in SENSES:
            raise HyqError(f"{where}: objectives: '{k}' must be min or max, got {s!r}")
    base_dict = point_flow(base_flow_dict(base), fixed)
    name = raw.get("name", path.stem)
    points = [Point(i, _plain(c), {**point_flow(base_dict, c), "name": f"{name}-{i}"})
              for i, c in enumerate(changes)]
    seen: dict[str, int] = {}
    for p in points:
        k = json.dumps(p.flow, sort_keys=True)
        if k in seen:
            raise HyqError(f"{where}: points {seen[k]} and {p.index} give the same flow config")
        seen[k] = p.index
    return Space(str(name), path, base, _plain(fixed), {k: list(v) for k, v in axes.items()},
                 dict(objectives), points)


def write_flow(flow: dict[str, Any], path: Path) -> config.FlowConfig:
    """Write a point's flow file and load it back through the flow validation."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(flow, sort_keys=False))
    return config.load(path)


def derive_flow(base: Path | str, changes: dict[str, Any], path: Path | str) -> Path:
    """Write ``path``: the flow file ``base`` with dotted-key ``changes`` (e.g. ``{"train.epochs": 2}``).

    Keys are checked like a space's; the result is validated by :func:`hyq.config.load`.
    """
    for k in changes:
        _check_key(k, f"derive_flow({base})")
    write_flow(point_flow(base_flow_dict(Path(base)), changes), Path(path))
    return Path(path)
