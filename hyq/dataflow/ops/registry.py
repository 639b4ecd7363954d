"""Registration of hyq's HW layers with finn-plus and qonnx, and which FINN layers they
stand in for.

:func:`declare` records a generic op and its ``_rtl`` specialisation (each op module does
so on import, touching only hyq's tables); :func:`install`, called by
:func:`hyq.dataflow.ops.register`, puts them into finn-plus' tables (``SpecializeLayers``
and ``getCustomOp`` look there), adding names and replacing none. With ``replaces``, the ``_rtl``
class also becomes the hyq RTL layer for a FINN ``_hls`` layer that finn-plus implements
only in HLS on non-Versal parts (there is no HLS compiler without Vitis, so such a layer
could be neither synthesised nor simulated), or for a FINN RTL layer in a configuration
Verilator cannot elaborate; ``step_hyq_rtl_layers`` then swaps it in
(:class:`hyq.dataflow.transforms.UseHyqRTL`). The generic op of a stand-in subclasses
FINN's generic op unchanged, so Python execution, shapes and folding stay FINN's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from qonnx.custom_op.registry import add_op_to_domain

from hyq.dataflow.finn_env import finn_steps as _finn_steps

_finn_steps()
import finn.custom_op.fpgadataflow as _fpgadataflow  # noqa: E402
import finn.custom_op.fpgadataflow.hls as _hls  # noqa: E402
import finn.custom_op.fpgadataflow.rtl as _rtl  # noqa: E402

RTL_DOMAIN = _rtl.__name__


@dataclass(frozen=True)
class Replacement:
    """hyq RTL layer ``rtl`` for FINN's ``hls_op``, where ``possible(inst, part)`` holds."""

    hls_op: str
    rtl: type
    possible: Callable | None = None


#: FINN ``_hls`` op type -> the hyq RTL layer that replaces it
REPLACEMENTS: dict[str, Replacement] = {}
#: generic op of a stand-in -> FINN's generic op it stands in for (HyqVVAU -> VVAU)
_FAMILY: dict[str, str] = {}


def family(op_type: str) -> str:
    """FINN's generic op name of a HW layer: ``MVAU_rtl``, ``VVAU_hls`` and the stand-in
    ``HyqVVAU_rtl`` are all ``VVAU``/``MVAU``; hyq's own layers keep their name (``HyqSoftmax``)."""
    base = op_type.rsplit("_", 1)[0] if op_type.endswith(("_rtl", "_hls")) else op_type
    return _FAMILY.get(base, base)


#: (finn-plus op table, qonnx domain, class) of every hyq layer, installed by :func:`install`
_DECLARED: list[tuple[dict, str, type]] = []


def declare(generic: type, rtl: type, replaces: str | None = None, possible: Callable | None = None) -> None:
    """Declare ``generic`` (fpgadataflow) and ``rtl`` (fpgadataflow.rtl) for :func:`install`;
    optionally make ``rtl`` the stand-in for FINN's ``replaces`` layer where ``possible(inst, part)``.
    Touches only hyq's own tables."""
    _DECLARED.extend([(_fpgadataflow.custom_op, _fpgadataflow.__name__, generic), (_rtl.custom_op, RTL_DOMAIN, rtl)])
    if replaces is not None:
        REPLACEMENTS[replaces] = Replacement(replaces, rtl, possible)
        _FAMILY[generic.__name__] = replaces.rsplit("_", 1)[0]


def declare_hls(generic: type, hls: type, stands_for: str) -> None:
    """Declare a hyq ``_hls`` layer (FINN's HLS domain, a hyq op type) standing for FINN's
    ``stands_for`` layer of the same hardware (:mod:`hyq.dataflow.ops.datapath_costs`)."""
    _DECLARED.extend([(_fpgadataflow.custom_op, _fpgadataflow.__name__, generic), (_hls.custom_op, _hls.__name__, hls)])
    _FAMILY[generic.__name__] = stands_for.rsplit("_", 1)[0]


def install() -> None:
    """Put every declared layer into finn-plus' op tables and qonnx's domains (idempotent).
    Adds hyq's op types only: no finn-plus entry is replaced."""
    for table, domain, cls in _DECLARED:
        if table.get(cls.__name__) is cls:
            continue
        if cls.__name__ in table:
            raise RuntimeError(f"hyq layer {cls.__name__} would replace finn-plus' layer of that name")
        table[cls.__name__] = cls
        add_op_to_domain(domain, cls)
