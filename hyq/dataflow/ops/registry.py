"""Registration of hyq's HW layers with finn-plus and qonnx, and which FINN layers they
stand in for.

:func:`register` puts a generic op and its ``_rtl`` specialisation into finn-plus' tables
(``SpecializeLayers`` and ``getCustomOp`` look there). With ``replaces``, the ``_rtl``
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


def register(generic: type, rtl: type, replaces: str | None = None, possible: Callable | None = None) -> None:
    """Register ``generic`` (fpgadataflow) and ``rtl`` (fpgadataflow.rtl); optionally make
    ``rtl`` the stand-in for FINN's ``replaces`` layer where ``possible(inst, part)``."""
    for table, domain, cls in ((_fpgadataflow.custom_op, _fpgadataflow.__name__, generic),
                               (_rtl.custom_op, RTL_DOMAIN, rtl)):
        table[cls.__name__] = cls
        add_op_to_domain(domain, cls)
    if replaces is not None:
        REPLACEMENTS[replaces] = Replacement(replaces, rtl, possible)
        _FAMILY[generic.__name__] = replaces.rsplit("_", 1)[0]
