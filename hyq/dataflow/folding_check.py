"""Folding files checked by hyq, so a bad one is named (file and key) instead of failing in FINN.

:func:`load` runs before the build starts (JSON, layout, value types); :func:`check_names`
runs just before ``step_apply_folding_config``, against the layers the model has by then,
including whether each PE/SIMD divides the dimension it folds. FIFO-depth files (FINN's
``ApplyFIFODepthsFromFile`` format, ``hyq build --fifo-depths``) are checked by
:func:`load_fifo_depths`; each kind of file given in the other's place is named as such.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from qonnx.core.modelwrapper import ModelWrapper

from hyq.errors import HyqError

#: FINN's FIFO-depth file, next to the build's report (written by ``hyq sim --size-fifos``)
DEPTHS_FILE = "fifo_depths.json"

#: attributes whose value must be a positive integer
_INT_ATTRS = ("PE", "SIMD", "depth", "EmbFold", "SeqFold")
#: attributes that are on/off flags (FINN's sliding window: 1 computes a whole window per cycle)
_FLAG_ATTRS = ("parallel_window",)
#: (attribute, node attributes it must divide: the first one the layer has)
_DIVIDES = (("PE", ("MH", "Channels", "NumChannels", "NumOutputChannels")), ("SIMD", ("MW", "IFMChannels")))


#: the key of FINN's FIFO-depth file (``{"fifo_depths": {fifo layer: depth}, "impl_style": ...,
#: "ram_style": ...}``, as ``step_set_fifo_depths`` reports and ``ApplyFIFODepthsFromFile`` reads)
FIFO_DEPTHS = "fifo_depths"
#: FIFO attributes FINN's ApplyFIFODepthsFromFile sets next to the depth, and hyq's defaults
_FIFO_STYLES = {"impl_style": ("rtl", ("rtl", "vivado")), "ram_style": ("auto", ("auto", "block", "distributed", "ultra"))}


def _read_json(path: Path, what: str, like: str):
    if not path.is_file():
        raise HyqError(f"{what} not found: {path}")
    try:
        return json.loads(path.read_text())
    except UnicodeDecodeError:
        raise HyqError(f"{path}: not a text (JSON) file; give a {what} like {like}") from None
    except json.JSONDecodeError as exc:
        raise HyqError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def load(path: Path | str) -> dict[str, dict[str, Any]]:
    """The folding file as a dict; HyqError naming the file and the bad key otherwise."""
    path = Path(path)
    raw = _read_json(path, "folding file", "FINN's applied_folding_config.json")
    if not isinstance(raw, dict):
        raise HyqError(f"{path}: a folding file is a JSON object of layer names, got {type(raw).__name__}")
    if isinstance(raw.get(FIFO_DEPTHS), dict):
        raise HyqError(f"{path} is a FIFO-depth file (as `hyq sim --size-fifos` writes), not a folding file; "
                       "give it to `hyq build` as --fifo-depths")
    for name, attrs in raw.items():
        if not isinstance(attrs, dict):
            raise HyqError(f"{path}: '{name}' must map to an object of attributes such as "
                           f'{{"PE": 2, "SIMD": 4}}, got {json.dumps(attrs)[:40]}')
        if name == "Defaults":
            for k, v in attrs.items():
                if not (isinstance(v, list) and v and len(v) % 2 == 0):
                    raise HyqError(f"{path}: Defaults.{k} must be [value, [op types], ...], got {json.dumps(v)[:40]}")
            continue
        for k in _INT_ATTRS:
            v = attrs.get(k)
            if k in attrs and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise HyqError(f"{path}: {name}.{k} must be a positive integer, got {json.dumps(v)[:40]}")
        for k in _FLAG_ATTRS:
            v = attrs.get(k)
            if k in attrs and (isinstance(v, bool) or v not in (0, 1)):
                raise HyqError(f"{path}: {name}.{k} must be 0 or 1, got {json.dumps(v)[:40]}")
    return raw


def load_fifo_depths(path: Path | str) -> dict[str, dict[str, Any]]:
    """A FIFO-depth file, FINN's ``ApplyFIFODepthsFromFile`` format as ``hyq sim --size-fifos``
    writes it, with ``impl_style``/``ram_style`` filled in (rtl, auto) for FIFOs it leaves out;
    HyqError naming the file and the problem otherwise."""
    path = Path(path)
    raw = _read_json(path, "FIFO-depth file", "the fifo_depths.json `hyq sim --size-fifos` writes")
    depths = raw.get(FIFO_DEPTHS) if isinstance(raw, dict) else None
    if not isinstance(depths, dict) or not depths:
        raise HyqError(f"{path}: not a FIFO-depth file (no \"{FIFO_DEPTHS}\" object of FIFO layers and depths, "
                       "as `hyq sim --size-fifos` writes); a folding file goes to --folding")
    for name, d in depths.items():
        if isinstance(d, bool) or not isinstance(d, int) or d < 2:
            raise HyqError(f"{path}: {FIFO_DEPTHS}.{name} must be an integer depth of at least 2, got {json.dumps(d)[:40]}")
    out = {FIFO_DEPTHS: dict(depths)}
    for key, (default, allowed) in _FIFO_STYLES.items():
        given = raw.get(key, {})
        if not isinstance(given, dict):
            raise HyqError(f"{path}: {key} must map FIFO layers to one of {', '.join(allowed)}, got {json.dumps(given)[:40]}")
        for name, v in given.items():
            if name not in depths or v not in allowed:
                raise HyqError(f"{path}: {key}.{name} = {json.dumps(v)[:40]}: " + (
                    f"{name} has no entry in {FIFO_DEPTHS}" if name not in depths else f"use one of {', '.join(allowed)}"))
        out[key] = {name: given.get(name, default) for name in depths}
    return out


def _node_ints(node) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


_KINDS = {"i": (int,), "f": (int, float), "s": (str,), "ints": (list,), "floats": (list,), "strings": (list,)}


def _check_attrs(path: Path, name: str, node, attrs: dict[str, Any]) -> None:
    """Each attribute exists on the layer and has a value of its type (FINN's set_nodeattr would fail)."""
    from qonnx.custom_op.registry import getCustomOp

    try:
        types = getCustomOp(node).get_nodeattr_types()
    except Exception:  # noqa: BLE001 - not a custom op FINN knows: FINN ignores its entry
        return
    for k, v in attrs.items():
        if k not in types:
            folds = sorted(t for t in types if t in ("PE", "SIMD", "ram_style", "mem_mode", "resType",
                                                     "parallel_window", "depth", "impl_style"))
            raise HyqError(f"{path}: {name} ({node.op_type}) has no attribute '{k}'; "
                           f"its folding attributes are {', '.join(folds) or 'none'}")
        kind, allowed = types[k][0], (types[k][3] if len(types[k]) > 3 else None)
        ok = isinstance(v, _KINDS.get(kind, (object,))) and not isinstance(v, bool)
        if ok and allowed and v not in allowed:
            ok = False
        if not ok:
            want = f"one of {', '.join(map(str, sorted(allowed, key=str)))}" if allowed else \
                {"i": "an integer", "f": "a number", "s": "a string"}.get(kind, "a list")
            raise HyqError(f"{path}: {name}.{k} must be {want}, got {json.dumps(v)[:40]}")


def check_names(path: Path | str, model: ModelWrapper) -> None:
    """Every layer the folding file names exists in ``model``, and its PE/SIMD divide its dimensions."""
    from qonnx.transformation.general import GiveUniqueNodeNames

    conf = load(path)
    named = model.transform(GiveUniqueNodeNames())  # the names step_apply_folding_config sees
    nodes = {n.name: n for n in named.graph.node}
    for name, attrs in conf.items():
        if name == "Defaults":
            continue
        if name not in nodes:
            close = sorted(nodes, key=lambda n: (n.split("_")[0] != name.split("_")[0], n))[:6]
            raise HyqError(f"{path}: layer '{name}' is not in the model; its hardware layers are "
                           f"{', '.join(close)}{' ...' if len(nodes) > 6 else ''}; use those names")
        _check_attrs(path, name, nodes[name], attrs)
        have = _node_ints(nodes[name])
        for attr, dims in _DIVIDES:
            if attr not in attrs:
                continue
            dim = next((d for d in dims if d in have), None)
            if dim is None:
                continue
            size = have[dim]
            size = math.prod(size) if isinstance(size, list) else int(size)
            if size % attrs[attr]:
                raise HyqError(f"{path}: {name}.{attr} = {attrs[attr]} does not divide the layer's {dim} = {size}; "
                               f"use a divisor of {size}")
        if "SIMD" in attrs and nodes[name].op_type.startswith("VVAU") and "Kernel" in have:
            k = math.prod(have["Kernel"])
            if k % attrs["SIMD"]:
                raise HyqError(f"{path}: {name}.SIMD = {attrs['SIMD']} does not divide the layer's kernel size {k}")


def write_conf(path: Path, conf: dict) -> Path:
    """Write a FIFO-depth file (a dict as :func:`hyq.dataflow.folding_check.load_fifo_depths` returns) atomically."""
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(conf, indent=1) + "\n")
    tmp.replace(path)
    return path
