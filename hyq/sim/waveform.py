"""Stream activity from a whole-network VCD waveform (``hyq sim BUILD --trace wave.vcd``).

A dataflow accelerator is best read by when each layer's output stream moves data: one
row per stream of ``hyq_top`` (named ``<layer>__out<k>`` by :mod:`hyq.sim.stitch`), one
mark per beat transferred (TVALID and TREADY high at a rising clock edge). The harness
dumps each half cycle, so a beat is taken at every dump where the clock is low and both
handshake signals are high; the cycle is the dump time halved. Parsed with pyvcd's
tokenizer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hyq.sim.stitch import TOP
from hyq.errors import HyqError


@dataclass
class StreamActivity:
    """Cycles of the beats each stream of ``hyq_top`` transferred, in declaration order."""

    streams: dict[str, np.ndarray]
    cycles: int

    def first_last(self) -> dict[str, tuple[int, int]]:
        return {k: (int(v[0]), int(v[-1])) for k, v in self.streams.items() if len(v)}


def stream_activity(vcd: Path, scope: str = TOP) -> StreamActivity:
    """Beats per stream of module ``scope`` in a VCD file written by ``hyq sim --trace``."""
    from vcd.reader import TokenKind, tokenize

    vcd = Path(vcd)
    if vcd.suffix != ".vcd":
        raise HyqError(f"{vcd}: stream activity is read from .vcd waveforms (write one with --trace wave.vcd)")
    if not vcd.is_file():
        raise HyqError(f"{vcd}: no such waveform file")
    path: list[str] = []
    handshake: dict[str, dict[str, str]] = {}   # stream -> {"TVALID": id, "TREADY": id}
    clock = None
    values: dict[str, int] = {}
    beats: dict[str, list[int]] = {}
    pending_time = None

    def sample(t: int) -> None:
        if clock is None or values.get(clock, 0):
            return
        for name, ids in handshake.items():
            if values.get(ids["TVALID"], 0) and values.get(ids["TREADY"], 0):
                beats[name].append(t // 2)

    with open(vcd, "rb") as f:
        for tok in tokenize(f):
            kind = tok.kind
            if kind is TokenKind.CHANGE_SCALAR:
                values[tok.data.id_code] = 1 if tok.data.value == "1" else 0
            elif kind is TokenKind.CHANGE_VECTOR:
                pass
            elif kind is TokenKind.CHANGE_TIME:
                if pending_time is not None:
                    sample(pending_time)
                pending_time = tok.data
            elif kind is TokenKind.SCOPE:
                path.append(tok.data.ident)
            elif kind is TokenKind.UPSCOPE:
                path.pop()
            elif kind is TokenKind.VAR and path and path[-1] == scope:
                ref = tok.data.reference
                if ref == "ap_clk":
                    clock = tok.data.id_code
                for sig in ("TVALID", "TREADY"):
                    # a FIFO's held input (``<fifo>__in0``) repeats its producer's stream
                    if ref.endswith("_" + sig) and not re.search(r"__in\d+_" + sig + "$", ref):
                        name = ref[: -len(sig) - 1].removesuffix("_V")
                        handshake.setdefault(name, {})[sig] = tok.data.id_code
                        beats.setdefault(name, [])
    if pending_time is not None:
        sample(pending_time)
    if clock is None or not handshake:
        raise HyqError(f"{vcd}: no {scope} clock or streams in the waveform (trace the whole network with "
                       "hyq sim BUILD --trace FILE.vcd)")
    complete = [n for n, ids in handshake.items() if len(ids) == 2]
    last = (pending_time or 0) // 2
    return StreamActivity({n: np.asarray(beats[n], dtype=np.int64) for n in complete}, int(last))
