"""Verilog top levels and harness glue for Verilator runs of FINN dataflow layers.

A FINN HW graph whose nodes are ``_rtl`` layers becomes one Verilog module ``hyq_top``:
each node is instantiated with the module FINN's code generation wrote for it, node
output streams are wired to the node inputs that read the same tensor, and the graph's
inputs/outputs become the top's ``in<i>_V`` / ``out<j>_V`` AXI streams. A single layer is
simulated the same way, as a one-node graph. FIFOs and width converters are FINN layers
too (``InsertFIFO`` / ``InsertDWC``), so stitching itself only draws wires.

Generated wrappers name their memory files by absolute path or relative to their code
generation folder; :func:`stage_sources` rewrites those paths to ``<node>/<file>`` (relative to the simulator's working folder) so
the compiled simulator depends only on RTL contents and can be cached and shared.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from qonnx.custom_op.registry import getCustomOp

from hyq.errors import HyqError

TOP = "hyq_top"
#: widest stream the harness moves (hw/tb/axis_dut_tb.cpp keeps 256-word beat buffers)
MAX_STREAM_BITS = 256 * 32
_MEMSTREAM_LIB = ("axi/hdl/axilite.sv", "memstream/hdl/memstream_axi.sv", "memstream/hdl/memstream.sv")


#: finn-rtllib constructs Verilator 5.38 rejects, rewritten in the staged copy as
#: (file, FINN's text, equivalent text): vpc.sv's recursive constant function gcd() becomes a
#: loop (inner_shuffle.sv's too); add_multi.sv's unpacked-array localparam LEAF_LOAD (leaves below each node of the
#: heap-ordered adder tree) becomes a constant function counting them level by level;
#: skid.sv's capacity check gets the argument its format string names; fifo.sv's memory
#: geometry, a struct localparam from a constant function (which Verilator cannot evaluate
#: inside InnerShuffle's queue), becomes two integer localparams computed the same way.
_LEAF_LOAD_FN = """
	function automatic int unsigned leaf_load(input int unsigned idx, input int unsigned n);
		int unsigned lo, hi, cnt, a, b;
		lo = idx; hi = idx; cnt = 0;
		while(lo <= 2*n-2) begin
			a = lo > n-1? lo : n-1;
			b = hi < 2*n-2? hi : 2*n-2;
			if(a <= b)  cnt += b - a + 1;
			lo = 2*lo + 1; hi = 2*hi + 2;
		end
		return cnt;
	endfunction
"""
_FIFO_ABITS = """localparam int unsigned  ABITS_LO = hyq_abits(0);
	localparam int unsigned  ABITS_HI = hyq_abits(1);
	function int unsigned hyq_abits(input int unsigned want_hi);
		int unsigned lo, hi;
		lo = $clog2(DEPTH_REQ);
		hi = 0;
		if(lo > MIN_ABITS) begin
			hi = $clog2(DEPTH_REQ - 2**(lo-1));
			if(hi < lo - 1) begin
				lo = lo - 1;
				hi = hi < 1? 1 : hi;
			end
			else  hi = 0;
		end
		return want_hi? hi : lo;
	endfunction"""
_VERILATOR_PATCHES = (
    ("vpc.sv",
     "return (b == 0)? a : gcd(b, a % b);",
     "int unsigned x, y, t; x = a; y = b; while (y != 0) begin t = x % y; x = y; y = t; end return x;"),
    ("add_multi.sv", "localparam leaf_load_t   LEAF_LOAD = init_leaf_loads();", ""),
    ("add_multi.sv", "LEAF_LOAD[i]", "leaf_load(i, N)"),
    ("add_multi.sv", "LEAF_LOAD[LIDX]", "leaf_load(LIDX, N)"),
    ("add_multi.sv", "LEAF_LOAD[RIDX]", "leaf_load(RIDX, N)"),
    ("add_multi.sv", "\tuwire [SUM_WIDTH-1:0]  sum0;", _LEAF_LOAD_FN + "\tuwire [SUM_WIDTH-1:0]  sum0;"),
    ("skid.sv", 'FEED_STAGES exceeds SRL capacity.");', 'FEED_STAGES exceeds SRL capacity.", FEED_STAGES);'),
    ("inner_shuffle.sv",
     "return (b == 0) ? a : gcd(b, a%b);",
     "int unsigned x, y, t; x = a; y = b; while (y != 0) begin t = x % y; x = y; y = t; end return x;"),
    ("fifo.sv", "localparam abits_t       ABITS      = INIT_ABITS();", _FIFO_ABITS),
    ("fifo.sv", "ABITS.lo", "ABITS_LO"),
    ("fifo.sv", "ABITS.hi", "ABITS_HI"),
)


class NotSimulable(HyqError):
    """A layer without RTL (e.g. ``_hls``: there is no HLS compiler here)."""


@dataclass
class Stream:
    port: str      # e.g. "in0_V"
    bits: int      # padded TDATA width
    tensor: str    # ONNX tensor carried


@dataclass
class NodeRTL:
    """What it takes to instantiate one FINN ``_rtl`` layer in Verilog."""

    name: str
    module: str
    lib_sources: list[Path]
    gen_sources: list[Path]
    code_gen_dir: Path
    inputs: list[Stream]
    outputs: list[Stream]
    wrapper: str = ""          # extra Verilog defining ``module`` around FINN's modules
    data_files: list[Path] = field(default_factory=list)
    fifo: bool = False         # a StreamingFIFO: the top counts its peak occupancy


def _finn_rtllib() -> Path:
    from finn.util.settings import get_settings

    return Path(get_settings().finn_rtllib)


def _memstream_wrapper(name: str, core: str, mem: str, wbits: int, inp: Stream, out: Stream) -> str:
    """Hierarchy FINN's IP integrator builds for ``internal_decoupled`` weights: a memstream
    streaming the weights into the core's ``in1_V``; the AXI-lite port is tied off."""
    return f"""
module {name} (input ap_clk, input ap_rst_n,
  input [{inp.bits - 1}:0] in0_V_TDATA, input in0_V_TVALID, output in0_V_TREADY,
  output [{out.bits - 1}:0] out0_V_TDATA, output out0_V_TVALID, input out0_V_TREADY);
  wire [{wbits - 1}:0] w_tdata;
  wire w_tvalid, w_tready;
  {mem} weights (.ap_clk(ap_clk), .ap_clk2x(ap_clk), .ap_rst_n(ap_rst_n),
    .s_axilite_AWVALID(1'b0), .s_axilite_AWPROT(3'b0), .s_axilite_AWADDR('0), .s_axilite_WVALID(1'b0),
    .s_axilite_WDATA(32'b0), .s_axilite_WSTRB(4'b0), .s_axilite_BREADY(1'b0), .s_axilite_ARVALID(1'b0),
    .s_axilite_ARPROT(3'b0), .s_axilite_ARADDR('0), .s_axilite_RREADY(1'b0),
    .s_axis_0_tvalid(1'b0), .s_axis_0_tdata('0),
    .m_axis_0_tready(w_tready), .m_axis_0_tvalid(w_tvalid), .m_axis_0_tdata(w_tdata));
  {core} core (.ap_clk(ap_clk), .ap_clk2x(ap_clk), .ap_rst_n(ap_rst_n),
    .in1_V_TDATA(w_tdata), .in1_V_TVALID(w_tvalid), .in1_V_TREADY(w_tready),
    .in0_V_TDATA(in0_V_TDATA), .in0_V_TVALID(in0_V_TVALID), .in0_V_TREADY(in0_V_TREADY),
    .out0_V_TDATA(out0_V_TDATA), .out0_V_TVALID(out0_V_TVALID), .out0_V_TREADY(out0_V_TREADY));
endmodule
"""


def node_rtl(node) -> NodeRTL:
    """The RTL of one FINN HW node after ``step_hw_codegen``; NotSimulable when it has none."""
    if not node.op_type.endswith("_rtl"):
        why = "an HLS layer (no HLS compiler on this machine)" if node.op_type.endswith("_hls") \
            else "not a specialised HW layer"
        raise NotSimulable(f"{node.name} ({node.op_type}) is {why}")
    inst = getCustomOp(node)
    cgd = inst.get_nodeattr("code_gen_dir_ipgen")
    if not cgd or not Path(cgd).is_dir():
        raise NotSimulable(f"{node.name} has no generated RTL; build with hardware.steps: codegen")
    cgd = Path(cgd).resolve()
    files = [Path(f).resolve() for f in inst.get_rtl_file_list(abspath=True)]
    intf = inst.get_verilog_top_module_intf_names()

    def streams(kind: str, tensors) -> list[Stream]:
        out = []
        for port, bits in intf[kind]:
            idx = int(re.fullmatch(r"(?:in|out)(\d+)_V", port).group(1))
            out.append(Stream(port, int(bits), tensors[idx]))
        return out

    inputs, outputs = streams("s_axis", node.input), streams("m_axis", node.output)
    if intf["aximm"]:
        raise NotSimulable(f"{node.name} reads external memory (AXI-MM), which the harness does not model")
    module = inst.get_verilog_top_module_name()
    gen = [f for f in files if f.parent == cgd]
    lib = [f for f in files if f.parent != cgd]
    wrapper = ""
    mem_mode = inst.get_nodeattr("mem_mode") if "mem_mode" in inst.get_nodeattr_types() else None
    if mem_mode == "internal_decoupled":
        mem = next(cgd.glob("*_memstream_wrapper.v"), None)
        if mem is None:
            raise NotSimulable(f"{node.name}: memstream wrapper missing in {cgd}")
        gen.append(mem)
        lib += [_finn_rtllib() / f for f in _MEMSTREAM_LIB]
        wbits = int(inst.get_instream_width_padded(1))
        wrapper = _memstream_wrapper(f"{node.name}_hyq", module, mem.stem, wbits, inputs[0], outputs[0])
        module = f"{node.name}_hyq"
    elif mem_mode not in (None, "dynamic", ""):
        raise NotSimulable(f"{node.name}: mem_mode {mem_mode} is not simulated")
    for s in inputs + outputs:
        if s.bits > MAX_STREAM_BITS:
            raise NotSimulable(f"{node.name}: stream {s.port} is {s.bits} bits wide (harness limit {MAX_STREAM_BITS})")
    data = sorted(p for p in cgd.iterdir() if p.suffix == ".dat")
    return NodeRTL(node.name, module, lib, gen, cgd, inputs, outputs, wrapper, data,
                   node.op_type.startswith("StreamingFIFO"))


#: marker of the lines ``hyq_top`` prints at the end of a run: ``HYQ_FIFO_PEAK <layer> <words>``
FIFO_PEAK = "HYQ_FIFO_PEAK"
#: define selecting FINN's unbounded ``fifo_gauge`` in place of ``fifo.sv`` in every FIFO
FIFO_GAUGE = "HYQ_FIFO_GAUGE"
#: plusarg prefix of a FIFO's run-time depth limit: ``+HYQ_DEPTH_<layer>=<words>``
FIFO_LIMIT = "HYQ_DEPTH"
#: define compiling ``hyq_top``'s FIFO monitors (:func:`_fifo_monitor`); the harness sets it,
#: synthesis of the same top does not (the FIFO inputs are then plain wires)
FIFO_MONITOR = "HYQ_FIFO_MONITOR"


def _fifo_monitor(n: NodeRTL, src: str, gated: str, dst: str) -> str:
    """Verilog between FIFO ``n``'s producer stream ``src`` and its input ``gated`` (TDATA is
    ``src``'s). Under :data:`FIFO_MONITOR` it counts the words inside the FIFO (beats accepted
    minus beats emitted), prints the largest count in a ``final`` block (FIFO sizing from
    simulation), and holds the FIFO's input while it holds ``+HYQ_DEPTH_<layer>`` words: a depth
    chosen at run time, below the compiled one, so a depth search compiles once (no plusarg: no
    limit). Otherwise it is two wires.
    """
    c = f"{n.name}__occ"
    put, get = f"({src}_TVALID && {src}_TREADY)", f"({dst}_TVALID && {dst}_TREADY)"
    return (f"  wire {gated}_TVALID, {gated}_TREADY;\n"
            f"`ifdef {FIFO_MONITOR}\n"
            f"  reg [31:0] {c}, {c}_peak, {c}_limit;\n"
            f"  initial if (!$value$plusargs(\"{FIFO_LIMIT}_{n.name}=%d\", {c}_limit)) {c}_limit = 32'hffffffff;\n"
            f"  assign {gated}_TVALID = {src}_TVALID && ({c} < {c}_limit);\n"
            f"  assign {src}_TREADY = {gated}_TREADY && ({c} < {c}_limit);\n"
            f"  always @(posedge ap_clk) begin\n"
            f"    if (!ap_rst_n) begin {c} <= 0; {c}_peak <= 0; end\n"
            f"    else begin\n"
            f"      {c} <= {c} + {put} - {get};\n"
            f"      if ({c} + {put} - {get} > {c}_peak) {c}_peak <= {c} + {put} - {get};\n"
            f"    end\n  end\n"
            f'  final $display("{FIFO_PEAK} {n.name} %0d", {c}_peak);\n'
            f"`else\n"
            f"  assign {gated}_TVALID = {src}_TVALID;\n"
            f"  assign {src}_TREADY = {gated}_TREADY;\n"
            f"`endif")


def stream_signal(layer: str, port: str) -> str:
    """Name of the wire in ``hyq_top`` carrying output ``port`` of ``layer`` (``<layer>__out0``),
    so a waveform reads by layer; TDATA/TVALID/TREADY are suffixed ``_TDATA`` etc."""
    return f"{layer}__{port[:-2] if port.endswith('_V') else port}"


def top_verilog(nodes: list[NodeRTL], graph_inputs: list[str], graph_outputs: list[str]) -> tuple[str, list[int], list[int]]:
    """Verilog of ``hyq_top`` connecting ``nodes`` by tensor; returns (text, in bits, out bits).

    Graph input ``k`` becomes port ``in<k>_V``, output ``k`` ``out<k>_V``. Every internal
    stream must join one producer to one consumer with equal widths (FINN's InsertDWC and
    DuplicateStreams guarantee that in a dataflow graph).
    """
    producers = {s.tensor: (n, s) for n in nodes for s in n.outputs}
    consumers: dict[str, list] = {}
    for n in nodes:
        for s in n.inputs:
            consumers.setdefault(s.tensor, []).append((n, s))
    ports, wires, in_bits, out_bits = ["input ap_clk", "input ap_rst_n"], [], [], []
    bound: dict[str, str] = {}  # tensor -> signal prefix
    for k, t in enumerate(graph_inputs):
        if t not in consumers or len(consumers[t]) != 1:
            raise HyqError(f"graph input {t} must feed exactly one stream")
        bits = consumers[t][0][1].bits
        ports += [f"input [{bits - 1}:0] in{k}_V_TDATA", f"input in{k}_V_TVALID", f"output in{k}_V_TREADY"]
        bound[t] = f"in{k}_V"
        in_bits.append(bits)
    for k, t in enumerate(graph_outputs):
        if t not in producers:
            raise HyqError(f"graph output {t} is not produced by any layer")
        bits = producers[t][1].bits
        ports += [f"output [{bits - 1}:0] out{k}_V_TDATA", f"output out{k}_V_TVALID", f"input out{k}_V_TREADY"]
        bound[t] = f"out{k}_V"
        out_bits.append(bits)
    for t, (n, s) in producers.items():
        if t in bound:
            continue
        cons = consumers.get(t, [])
        if len(cons) != 1:
            raise HyqError(f"stream {t} from {n.name} has {len(cons)} readers; FINN forks need DuplicateStreams")
        if cons[0][1].bits != s.bits:
            raise HyqError(f"stream {t}: {n.name} writes {s.bits} bits, {cons[0][0].name} reads {cons[0][1].bits}; "
                           "insert a width converter (InsertDWC)")
        sig = stream_signal(n.name, s.port)
        wires += [f"  wire [{s.bits - 1}:0] {sig}_TDATA;", f"  wire {sig}_TVALID, {sig}_TREADY;"]
        bound[t] = sig
    for t in consumers:
        if t not in bound:
            raise HyqError(f"stream {t} has no producer and is no graph input")
    body = []
    for n in nodes:
        conns = [".ap_clk(ap_clk)", ".ap_rst_n(ap_rst_n)"]
        gated = f"{n.name}__in0"
        for s in n.inputs + n.outputs:
            held = n.fifo and s is n.inputs[0]  # its handshake passes the run-time depth limit
            conns += [f".{s.port}_{x}({gated if held and x != 'TDATA' else bound[s.tensor]}_{x})"
                      for x in ("TDATA", "TVALID", "TREADY")]
        if n.fifo:
            body.append(_fifo_monitor(n, bound[n.inputs[0].tensor], gated, bound[n.outputs[0].tensor]))
        body.append(f"  {n.module} {n.name}_i (\n    " + ",\n    ".join(conns) + "\n  );")
    text = (f"// generated by hyq.sim.stitch: {len(nodes)} layer(s)\nmodule {TOP} (\n  "
            + ",\n  ".join(ports) + "\n);\n" + "\n".join(wires) + "\n" + "\n".join(body) + "\nendmodule\n")
    return text, in_bits, out_bits


def glue_cpp(in_bits: list[int], out_bits: list[int]) -> str:
    """C++ implementing hw/tb/hyq_axis.h's port functions for ``hyq_top``'s streams."""
    def words(b: int) -> int:
        return (b + 31) // 32

    def cases(n: int, stmt) -> str:
        return "".join(f"    case {k}: {stmt(k)} break;\n" for k in range(n))

    arr = lambda v: "{" + ", ".join(map(str, v or [0])) + "}"  # noqa: E731
    return (
        '#include "hyq_axis.h"\n'
        f"const int HYQ_N_IN = {len(in_bits)}, HYQ_N_OUT = {len(out_bits)};\n"
        f"const int HYQ_IN_BITS[] = {arr(in_bits)};\nconst int HYQ_OUT_BITS[] = {arr(out_bits)};\n"
        "void hyq_drive(Vdut& d, int i, const uint32_t* w, bool v) {\n  switch (i) {\n"
        + cases(len(in_bits), lambda k: f"hyq_put(d.in{k}_V_TDATA, w, {words(in_bits[k])}); d.in{k}_V_TVALID = v;")
        + "  }\n}\nbool hyq_in_ready(Vdut& d, int i) {\n  switch (i) {\n"
        + cases(len(in_bits), lambda k: f"return d.in{k}_V_TREADY;")
        + "  }\n  return false;\n}\nvoid hyq_sink(Vdut& d, int j, bool r) {\n  switch (j) {\n"
        + cases(len(out_bits), lambda k: f"d.out{k}_V_TREADY = r;")
        + "  }\n}\nbool hyq_out_valid(Vdut& d, int j) {\n  switch (j) {\n"
        + cases(len(out_bits), lambda k: f"return d.out{k}_V_TVALID;")
        + "  }\n  return false;\n}\nvoid hyq_out_data(Vdut& d, int j, uint32_t* w) {\n  switch (j) {\n"
        + cases(len(out_bits), lambda k: f"hyq_get(d.out{k}_V_TDATA, w, {words(out_bits[k])});")
        + "  }\n}\n"
    )


#: FINN's FIFO wrapper (finn-rtllib fifo_template.v) simulates an unbounded ``fifo_gauge``
#: under FINN_SIMULATION; hyq selects it by its own define instead (harness ``real_fifos``)
_GAUGE_SELECT = "`ifdef FINN_SIMULATION\n\tfifo_gauge"


def gauge_switch(text: str, path: Path) -> str:
    """A StreamingFIFO's generated wrapper (its only generated file) with its gauge selected
    by :data:`FIFO_GAUGE` instead of FINN_SIMULATION; HyqError when the wrapper no longer has
    FINN's text (a ``real_fifos`` run would otherwise silently simulate the unbounded gauge)."""
    if text.count(_GAUGE_SELECT) != 1:
        raise HyqError(f"{path}: FINN's FIFO wrapper changed (no single '`ifdef FINN_SIMULATION' before "
                       "fifo_gauge); hyq.sim.stitch cannot select real FIFOs, update _GAUGE_SELECT")
    return text.replace(_GAUGE_SELECT, f"`ifdef {FIFO_GAUGE}\n\tfifo_gauge")


def stage_sources(nodes: list[NodeRTL], src_dir: Path, data_dir: Path | None) -> list[Path]:
    """Copy the nodes' RTL into ``src_dir`` (memory paths made relative) and their memory
    files into ``data_dir/<node>/``; return the Verilog sources in compile order
    (packages first, then library files, then generated files)."""
    src_dir.mkdir(parents=True, exist_ok=True)
    lib: dict[str, Path] = {}
    gen: list[Path] = []
    staged: dict[str, str] = {}  # generated file name -> text (layers may copy shared RTL)
    for n in nodes:
        for f in n.lib_sources:
            prev = lib.setdefault(f.name, f)
            if prev.resolve() != f.resolve():
                raise HyqError(f"two RTL library files share the name {f.name}: {prev} and {f}")
        for f in n.gen_sources:
            text = f.read_text().replace(f"{n.code_gen_dir}/", f"{n.name}/").replace(str(n.code_gen_dir), n.name)
            text = text.replace('"./', f'"{n.name}/')  # paths FINN wrote relative to code_gen_dir
            if n.fifo:
                text = gauge_switch(text, f)
            if f.name in staged:
                if staged[f.name] != text:
                    raise HyqError(f"two layers generate different RTL files named {f.name}")
                continue
            staged[f.name] = text
            dst = src_dir / f.name
            dst.write_text(text)
            gen.append(dst)
        if n.wrapper:
            dst = src_dir / f"{n.module}.v"
            dst.write_text(n.wrapper)
            gen.append(dst)
        if data_dir is not None and n.data_files:
            d = data_dir / n.name
            d.mkdir(parents=True, exist_ok=True)
            for f in n.data_files:
                shutil.copyfile(f, d / f.name)
    for name, before, after in _VERILATOR_PATCHES:
        if name in lib:
            text = lib[name].read_text()
            if before not in text:
                raise HyqError(f"{lib[name]} changed: the Verilator patch for {name} no longer applies")
            (src_dir / name).write_text(text.replace(before, after))
            lib[name] = src_dir / name
    libs = sorted(lib.values(), key=lambda p: (not p.name.endswith("_pkg.sv"), p.name))
    return libs + gen
