"""Verilator simulation of a FINN dataflow build: every ``_rtl`` layer alone, then the whole
accelerator stitched (``hyq sim BUILD_DIR``).

The reference is FINN's own Python execution of the HW graph (each specialised layer run
through its generic op's ``execute_node``), which yields every intermediate tensor; a layer
is fed the tensor its producer computed in Python and must reproduce its output bit for
bit. The whole accelerator runs a batch back to back; its output, finished by the host
nodes outside the dataflow partition, is compared with the QONNX execution of the exported
model. Cycle counts come from the harness: latency = first input beat to last output beat
of the first inference, initiation interval = spacing of the last output beats of
consecutive inferences.

The simulated graph is the ``step_hw_codegen`` model with FINN's width converters and
shallow FIFOs inserted (``InsertDWC``, ``InsertFIFO``), as FINN's stitched IP has them;
it is prepared once per build in ``<build>/finn/rtlsim/``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hyq import cache
from hyq.dataflow import finn_env
from hyq.sim import stitch
from hyq.tools import verilator
from hyq.errors import HyqError
from hyq.progress import info
from hyq.resources import TB_DIR

HARNESS = TB_DIR / "axis_dut_tb.cpp"
HEADER = TB_DIR / "hyq_axis.h"
HW_DOMAIN = "finn.custom_op.fpgadataflow"
TRACE_FORMATS = {".vcd": ("--trace", 1), ".fst": ("--trace-fst", 2)}
#: relative tolerance for float network outputs vs QONNX (a few float32 ulps); integer
#: tensors (every layer, the accelerator's output) must be equal
FLOAT_RTOL = 1e-6


@dataclass
class Run:
    """One harness run: output beats per output stream and the cycle each was taken."""

    beats: list[list[int]]
    beat_cycles: list[np.ndarray]
    cycles: int
    in_first: list[int]
    compile_seconds: float
    cached: bool


def _beats_to_bytes(beats: list[int], bits: int) -> bytes:
    n = (bits + 31) // 32 * 4
    return b"".join(int(b).to_bytes(n, "little") for b in beats)


def _bytes_to_beats(data: bytes, bits: int) -> list[int]:
    n = (bits + 31) // 32 * 4
    mask = (1 << bits) - 1
    return [int.from_bytes(data[k:k + n], "little") & mask for k in range(0, len(data), n)]


def cycle_budget(estimate_cycles: float, beats: int) -> int:
    """Cycles a simulation may take before it counts as hung: a margin over FINN's estimate
    of the work and over the beats to move (stream layers FINN estimates at 0)."""
    return int(200_000 + 4 * estimate_cycles + 2_000 * beats)


def run(nodes: list[stitch.NodeRTL], graph_inputs: list[str], graph_outputs: list[str],
        in_beats: list[list[int]], out_counts: list[int], work: Path, trace: Path | None = None,
        max_cycles: int | None = None, tool: verilator.Verilator | None = None, stall: float = 0.0,
        seed: int = 0, trace_depth: int = 0) -> Run:
    """Stitch ``nodes``, build (or reuse) the simulator, drive ``in_beats``, collect outputs.

    ``stall``: probability per cycle that a source withholds TVALID and, independently, that
    a sink withholds TREADY (random backpressure, seeded by ``seed``). ``trace_depth``:
    hierarchy levels in the waveform (0: all; 2: ``hyq_top``'s streams between layers).
    """
    if not 0 <= stall < 1:
        raise HyqError(f"stall probability must lie in [0, 1), got {stall}")
    work = Path(work)
    src, data = work / "src", work / "run"
    sources = stitch.stage_sources(nodes, src, data)
    top, in_bits, out_bits = stitch.top_verilog(nodes, graph_inputs, graph_outputs)
    (src / f"{stitch.TOP}.v").write_text(top)
    (src / "hyq_glue.cpp").write_text(stitch.glue_cpp(in_bits, out_bits))
    args = ["+define+FINN_SIMULATION", "--no-timing", "-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN", "--x-initial", "0"]
    defines = {}
    if trace is not None:
        fmt = TRACE_FORMATS.get(Path(trace).suffix)
        if fmt is None:
            raise HyqError(f"trace file must end in .vcd or .fst, got {trace}")
        args.append(fmt[0])
        if trace_depth > 0:
            args += ["--trace-depth", str(int(trace_depth))]
        defines["HYQ_TRACE"] = fmt[1]
    tool = tool or verilator.find_verilator()
    t0 = time.perf_counter()
    before = set((cache.root() / "verilator").glob(f"{stitch.TOP}-*"))
    exe = verilator.build(stitch.TOP, [*sources, src / f"{stitch.TOP}.v", src / "hyq_glue.cpp"], HARNESS, {},
                          defines, tool, extra_args=args, headers=[HEADER])
    cached = exe.parent in before
    compile_s = time.perf_counter() - t0
    data.mkdir(parents=True, exist_ok=True)
    lines = []
    total_in = sum(len(b) for b in in_beats)
    if max_cycles is None:
        max_cycles = cycle_budget(0, total_in + sum(out_counts)) / (1 - stall) ** 2
    lines.append(f"{int(max_cycles)} {int(seed)} {1 - stall!r} {1 - stall!r}")
    for k, (beats, bits) in enumerate(zip(in_beats, in_bits)):
        f = data / f"in{k}.bin"
        f.write_bytes(_beats_to_bytes(beats, bits))
        lines.append(f"{len(beats)} {f}")
    for k, n in enumerate(out_counts):
        lines.append(f"{n} {data / f'out{k}.bin'} {data / f'out{k}.cyc'}")
    lines.append(str(Path(trace).resolve()) if trace is not None else "-")
    (data / "control.txt").write_text("\n".join(lines) + "\n")
    proc = subprocess.run([str(exe), str(data / "control.txt")], cwd=data, capture_output=True, text=True)
    if proc.returncode != 0:
        raise HyqError(f"simulation of {', '.join(n.name for n in nodes)[:200]} failed: "
                       f"{(proc.stderr or proc.stdout).strip()[-500:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    beats = [_bytes_to_beats((data / f"out{k}.bin").read_bytes(), b) for k, b in enumerate(out_bits)]
    cyc = [np.fromfile(data / f"out{k}.cyc", dtype=np.int64) for k in range(len(out_bits))]
    return Run(beats, cyc, int(res["cycles"]), list(res["in_first"]), compile_s, cached)


# --- FINN glue: packing, Python reference, timing -------------------------------------------


def pack(value: np.ndarray, inst, idx: int, bits: int) -> list[int]:
    """Beats of input ``idx`` of a HW layer for one sample, packed as FINN packs streams."""
    from finn.util.data_packing import npy_to_rtlsim_input

    folded = np.asarray(value).reshape(inst.get_folded_input_shape(idx))
    return [int(x, 16) if isinstance(x, str) else int(x)
            for x in npy_to_rtlsim_input(folded, inst.get_input_datatype(idx), bits)]


def unpack(beats: list[int], inst, idx: int) -> np.ndarray:
    """Output ``idx`` of a HW layer for one sample from its stream beats."""
    from finn.util.data_packing import rtlsim_output_to_npy

    odt = inst.get_output_datatype(idx)
    shape = inst.get_folded_output_shape(idx)
    out = rtlsim_output_to_npy(beats, None, odt, shape, inst.get_outstream_width(idx), odt.bitwidth())
    out = np.asarray(out, dtype=np.float32)
    if inst.onnx_node.op_type.startswith("ConvolutionInputGenerator") and inst.get_nodeattr("depthwise"):
        # a depthwise SWG streams (.., C/SIMD, K_H*K_W, SIMD), the logical tensor is (.., K_H*K_W, C)
        k = int(np.prod(inst.get_nodeattr("ConvKernelDim")))
        simd = shape[-1]
        out = out.reshape(*shape[:-2], -1, k, simd).swapaxes(-2, -3)
    return out.reshape(inst.get_normal_output_shape(idx))


def beats_per_sample(inst, idx: int, output: bool) -> int:
    shape = inst.get_folded_output_shape(idx) if output else inst.get_folded_input_shape(idx)
    return int(np.prod(shape[:-1]))


#: layers that only move data: identities in Python execution
PASS_THROUGH = ("StreamingFIFO", "StreamingDataWidthConverter")


def _passes(node) -> bool:
    return node.op_type.startswith(PASS_THROUGH)


def generic_model(model: ModelWrapper) -> ModelWrapper:
    """A copy whose ``_rtl``/``_hls`` nodes are FINN's generic HW ops (Python execution).

    Layers read past FIFOs and width converters (still executed, as identities, so their
    tensors exist): FINN's Python execution of some layers looks at the producer (a VVAU
    after a sliding window reorders its input) and must see the one it had before FINN
    inserted FIFOs.
    """
    m = copy.deepcopy(model)
    source = {n.output[0]: n.input[0] for n in m.graph.node if _passes(n)}
    for n in m.graph.node:
        if not _passes(n):
            for i, t in enumerate(n.input):
                while t in source:
                    t = source[t]
                n.input[i] = t
        if n.domain.startswith(HW_DOMAIN) and n.op_type.rsplit("_", 1)[-1] in ("rtl", "hls"):
            n.op_type = n.op_type.rsplit("_", 1)[0]
            n.domain = HW_DOMAIN
    return m


def upstream(model: ModelWrapper, tensor: str):
    """The layer producing ``tensor``, looking through FIFOs and width converters."""
    node = model.find_producer(tensor)
    while node is not None and _passes(node):
        node = model.find_producer(node.input[0])
    return node


def stream_order(model: ModelWrapper | None, node, idx: int, value: np.ndarray) -> np.ndarray:
    """Input ``idx`` of ``node`` as its RTL receives it, from FINN's Python tensor.

    A depthwise sliding window streams (.., C/PE, K*K, PE); FINN's Python execution keeps
    its output as (.., K*K, C) and the VVAU after it reorders internally. Every other
    stream carries the Python tensor's order.
    """
    from hyq.dataflow.ops.registry import family

    if model is None:  # a layer outside any graph: nothing upstream reorders its input
        return value
    src = upstream(model, node.input[idx])
    if family(node.op_type) != "VVAU" or idx != 0 or src is None \
            or family(src.op_type) != "ConvolutionInputGenerator":
        return value
    inst = getCustomOp(node)
    k = int(np.prod(inst.get_nodeattr("Kernel")))
    c, pe = inst.get_nodeattr("Channels"), inst.get_nodeattr("PE")
    v = np.asarray(value)
    return v.reshape(*v.shape[:-1], k, c // pe, pe).swapaxes(-3, -2).reshape(v.shape)


def python_exec(model: ModelWrapper, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every tensor of FINN's Python execution of the HW graph on one sample."""
    from qonnx.core.onnx_exec import execute_onnx

    return execute_onnx(generic_model(model), {model.graph.input[0].name: x}, return_full_exec_context=True)


def timing(cycles: np.ndarray, per_sample: int, first_in: int) -> dict:
    """Latency of the first inference and steady-state initiation interval, in cycles."""
    n = len(cycles) // per_sample
    last = cycles[per_sample - 1::per_sample][:n]
    latency = int(last[0] - first_in + 1)
    ii = float(np.mean(np.diff(last))) if n > 1 else None
    return {"latency_cycles": latency, "initiation_interval": ii}


# --- the build folder --------------------------------------------------------------------------


@dataclass
class LayerResult:
    name: str
    op_type: str
    simulated: bool
    reason: str | None = None
    bit_exact: bool | None = None
    mismatches: int | None = None
    latency_cycles: int | None = None
    initiation_interval: float | None = None
    estimate_cycles: int | None = None
    cached: bool | None = None


@dataclass
class SimResult:
    layers: list[LayerResult]
    network: dict | None
    samples: int
    bit_exact: bool
    notes: list[str] = field(default_factory=list)
    estimate_cycles: dict | None = None   # FINN's critical_path_cycles and max_cycles (the II)

    def as_report(self) -> dict:
        net = self.network or {}
        return {
            "bit_exact": self.bit_exact,
            "samples": self.samples,
            "cycles_per_inference": net.get("latency_cycles"),
            "initiation_interval": net.get("initiation_interval"),
            "estimate_cycles": self.estimate_cycles,
            "network": self.network,
            "layers": [asdict(r) for r in self.layers],
            "notes": self.notes,
        }


def _codegen_model(build_dir: Path) -> Path:
    inter = build_dir / "finn" / "intermediate_models"
    found = sorted(inter.glob("*_step_hw_codegen.onnx"))
    if not found:
        raise HyqError(f"{build_dir} has no RTL code generation; build with `hardware: {{steps: codegen}}` "
                       "in the flow file (this build ran the estimate steps only)")
    return found[-1]


def size_fork_fifos(model: ModelWrapper) -> ModelWrapper:
    """Give every output of a stream fork (DuplicateStreams) a FIFO that holds one whole
    sample of its tensor, so that no fork-join (residual add, attention's Q/K/V, concat)
    can deadlock however long its other branches take.

    FINN sizes FIFOs by simulating with Vivado's simulator; a full-sample skip buffer is
    the safe bound without it (an upper bound on the FIFO memory a sized design needs).
    Sets ``outFIFODepths``, which ``InsertFIFO`` turns into FIFO depths.
    """
    for node in model.graph.node:
        if "DuplicateStreams" not in node.op_type:
            continue
        inst = getCustomOp(node)
        beats = int(np.prod(inst.get_folded_output_shape(0)[:-1]))
        inst.set_nodeattr("outFIFODepths", [beats + 2] * len(node.output))
    return model


#: bump when sim_model's preparation changes, so saved simulation graphs are rebuilt
SIM_MODEL_VERSION = "3"


def sim_model(build_dir: Path, part: str, clock_ns: float) -> ModelWrapper:
    """The codegen model with FINN's DWCs and FIFOs inserted (shallow ones, and a one-sample
    FIFO on every fork output, :func:`size_fork_fifos`) and their RTL generated.

    Saved as ``<build>/finn/rtlsim/sim_model.onnx`` and reused while the codegen model is
    unchanged.
    """
    src = _codegen_model(build_dir)
    out = build_dir / "finn" / "rtlsim"
    out.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(src.read_bytes() + SIM_MODEL_VERSION.encode()).hexdigest()[:20]
    saved, stamp = out / "sim_model.onnx", out / "sim_model.hash"
    finn_env.use_build_dir(out / "finn_gen")
    import hyq.dataflow.ops  # noqa: F401 - hyq's HW layers must be registered

    if saved.is_file() and stamp.is_file() and stamp.read_text() == digest:
        return ModelWrapper(str(saved))
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.transformation.general import GiveUniqueNodeNames

    model = ModelWrapper(str(src))
    model = model.transform(InsertDWC())
    model = size_fork_fifos(model)
    model = model.transform(InsertFIFO(create_shallow_fifos=True))
    for node in model.graph.node:
        # fifo.sv picks UltraRAM above 2028 words (a part's URAM is not checked, Zynq-7000
        # has none), and Verilator 5.38 cannot elaborate that branch: keep deep FIFOs in BRAM
        fifo = getCustomOp(node) if node.op_type == "StreamingFIFO" else None
        if fifo is not None and fifo.get_nodeattr("depth") > 2028:
            fifo.set_nodeattr("ram_style", "block")
    model = model.transform(SpecializeLayers(part))
    model = model.transform(GiveUniqueNodeNames())
    model = model.transform(PrepareIP(part, clock_ns))
    model.save(str(saved))
    stamp.write_text(digest)
    return model


def _layer_estimate(inst) -> int | None:
    try:
        return int(inst.get_exp_cycles())
    except Exception:  # noqa: BLE001 - some ops have no estimate
        return None


def simulate_layers(model: ModelWrapper | None, nodes: list, ctxs: list[dict], work: Path,
                    tool: verilator.Verilator | None = None) -> list[LayerResult]:
    """Simulate ``nodes`` each on the tensors its producers computed in Python; compare outputs.

    ``model``: the graph the nodes belong to (it tells how a producer orders a stream), or
    None for layers built on their own.

    The layers run side by side in one simulator (one Verilator compile for all of them):
    each gets its own input and output streams, so they do not interact and each one's
    cycles are its own.
    """
    results, todo = [], []
    for node in nodes:
        inst = getCustomOp(node)
        res = LayerResult(node.name, node.op_type, False, estimate_cycles=_layer_estimate(inst))
        results.append(res)
        try:
            rtl = stitch.node_rtl(node)
        except stitch.NotSimulable as exc:
            res.reason = str(exc)
            continue
        iso = copy.copy(rtl)  # streams renamed per layer: nothing connects to anything else
        iso.inputs = [stitch.Stream(x.port, x.bits, f"{node.name}/{x.tensor}") for x in rtl.inputs]
        iso.outputs = [stitch.Stream(x.port, x.bits, f"{node.name}/{x.tensor}") for x in rtl.outputs]
        todo.append((node, inst, rtl, iso, res))
    if not todo:
        return results
    in_beats, counts, gin, gout = [], [], [], []
    for node, inst, rtl, iso, _ in todo:
        for x, y in zip(rtl.inputs, iso.inputs):
            i = int(x.port[2:-2])
            in_beats.append([b for c in ctxs for b in pack(stream_order(model, node, i, c[x.tensor]), inst, i, x.bits)])
            gin.append(y.tensor)
        for x, y in zip(rtl.outputs, iso.outputs):
            counts.append(beats_per_sample(inst, int(x.port[3:-2]), True) * len(ctxs))
            gout.append(y.tensor)
    # every layer runs at once: allow the slowest, by FINN's estimate, a margin over its beats
    slowest = max((res.estimate_cycles or 0) for *_, res in todo)
    r = run([t[3] for t in todo], gin, gout, in_beats, counts, work, tool=tool,
            max_cycles=cycle_budget(slowest * len(ctxs), sum(len(b) for b in in_beats) + sum(counts)))
    k_in = k_out = 0
    for node, inst, rtl, iso, res in todo:
        bad = 0
        first_in = min(r.in_first[k_in:k_in + len(rtl.inputs)])
        for m, x in enumerate(rtl.outputs):
            j = int(x.port[3:-2])
            per = beats_per_sample(inst, j, True)
            beats = r.beats[k_out + m]
            for n, c in enumerate(ctxs):
                got = unpack(beats[n * per:(n + 1) * per], inst, j)
                bad += int(np.count_nonzero(got != np.asarray(c[x.tensor], dtype=np.float32).reshape(got.shape)))
        t = timing(r.beat_cycles[k_out], beats_per_sample(inst, int(rtl.outputs[0].port[3:-2]), True), first_in)
        res.simulated, res.bit_exact, res.mismatches, res.cached = True, bad == 0, bad, r.cached
        res.latency_cycles, res.initiation_interval = t["latency_cycles"], t["initiation_interval"]
        k_in += len(rtl.inputs)
        k_out += len(rtl.outputs)
    return results


def host_tail(model: ModelWrapper) -> list:
    """Trailing nodes left to the host: float-output layers without RTL (e.g. the classifier's
    per-channel float scale, ElementwiseMul_hls) and the FIFOs/DWCs carrying their results.

    A float multiply at the very end is one multiply per class on the host CPU and has no
    integer RTL equivalent; keeping it there lets the integer accelerator before it be
    simulated, and its Python execution finishes each simulated output.
    """
    tail = []
    for n in reversed(model.graph.node):
        if len(n.output) != 1 or (tail and tail[-1].input[0] != n.output[0]) \
                or (not tail and n.output[0] != model.graph.output[0].name):
            break
        dt = getCustomOp(n).get_output_datatype(0)
        if dt.is_integer() or (n.op_type.endswith("_rtl") and not n.op_type.startswith(("StreamingFIFO", "StreamingDataWidthConverter"))):
            break
        tail.append(n)
    tail.reverse()
    return tail


def _parent_run(parent: ModelWrapper, x: np.ndarray, accel) -> np.ndarray:
    """Execute the parent graph on ``x`` with the dataflow partition replaced by ``accel``."""
    from qonnx.core.onnx_exec import execute_node
    from qonnx.util.basic import get_preferred_qonnx_opset

    ctx = parent.make_empty_exec_context()
    ctx[parent.graph.input[0].name] = x
    opsets = parent.get_opset_imports()
    for n in parent.graph.node:
        if n.op_type == "StreamingDataflowPartition":
            outs = accel([ctx[i] for i in n.input])
            for name, v in zip(n.output, outs):
                ctx[name] = v
        else:
            execute_node(n, ctx, parent.graph, opsets.get(n.domain, get_preferred_qonnx_opset()))
    return ctx[parent.graph.output[0].name]


def checked_inputs(inputs: np.ndarray, model: ModelWrapper) -> np.ndarray:
    """User inputs as float32, after checking their shape and values against the model's input."""
    name = model.graph.input[0].name
    shape, dt = model.get_tensor_shape(name), model.get_tensor_datatype(name)
    want = f"(N, {', '.join(map(str, shape[1:]))})"
    if inputs.dtype.kind not in "biuf":
        raise HyqError(f"--inputs: the model takes numbers of type {dt}, the file holds {inputs.dtype}")
    if inputs.ndim != len(shape) or list(inputs.shape[1:]) != list(shape[1:]) or inputs.shape[0] < 1:
        raise HyqError(f"--inputs: the model takes shape {want} (batch first), the file has {inputs.shape}")
    x = np.asarray(inputs, dtype=np.float32)
    if not np.isfinite(x).all():
        raise HyqError("--inputs: the file holds NaN or infinite values")
    if dt.is_integer() and not (np.array_equal(x, np.round(x)) and x.min() >= dt.min() and x.max() <= dt.max()):
        raise HyqError(f"--inputs: the model input is {dt} (integers in [{dt.min()}, {dt.max()}]); "
                       f"the file holds values in [{x.min():g}, {x.max():g}]")
    return x


def network_inputs(build_dir: Path, report: dict, inputs: np.ndarray | None, count: int) -> np.ndarray:
    model = ModelWrapper(str(build_dir / "model.onnx"))
    name = model.graph.input[0].name
    if inputs is not None:
        return checked_inputs(inputs, model)
    flow = report.get("flow_config")
    if flow:
        from hyq.data import from_config as load_data

        d = flow["data"]
        x = np.asarray(load_data(d).x_test[:count], dtype=np.float32)
        # hyq.export makes the input raw UINT8 pixels with a scalar Mul by the input scale first
        scale = None
        if str(model.get_tensor_datatype(name)) == "UINT8":
            scale = next((model.get_initializer(n.input[1]) for n in model.graph.node
                          if n.op_type == "Mul" and n.input[0] == name
                          and model.get_initializer(n.input[1]) is not None
                          and model.get_initializer(n.input[1]).size == 1), None)
        return x if scale is None else np.round(x / scale).astype(np.float32)
    dt = model.get_tensor_datatype(name)
    if not dt.is_integer():
        raise HyqError(f"{build_dir}: the model input is {dt}; give sample inputs with --inputs X.npy")
    shape = model.get_tensor_shape(name)
    rng = np.random.default_rng(0)
    return rng.integers(dt.min(), dt.max() + 1, size=(count, *shape[1:])).astype(np.float32)


def simulate_build(build_dir: Path, inputs: np.ndarray | None = None, count: int = 4,
                   trace: Path | None = None, layers: bool = True,
                   tool: verilator.Verilator | None = None, stall: float = 0.0,
                   trace_depth: int = 0) -> SimResult:
    """Simulate every RTL layer and, when all layers have RTL, the whole accelerator.

    ``inputs``: network inputs, batch first (default: ``count`` test samples of the flow's
    dataset); ``trace``: .vcd/.fst waveform of the whole-network run, ``trace_depth`` its
    hierarchy levels (0: everything, 2: the streams between layers); ``stall``: random
    backpressure on the whole network's input and output streams (0: full rate).
    """
    from qonnx.core.onnx_exec import execute_onnx

    if count < 1:
        raise HyqError(f"--count must be >= 1, got {count}")
    if trace is not None and Path(trace).suffix not in TRACE_FORMATS:
        raise HyqError(f"trace file must end in .vcd or .fst, got {trace}")
    build_dir = Path(build_dir).resolve()
    rep_path = build_dir / "report.json"
    report = json.loads(rep_path.read_text()) if rep_path.is_file() else {}
    if not report:
        raise HyqError(f"{build_dir} is not a hyq build folder (no report.json); run `hyq run` or `hyq build` first")
    xs = network_inputs(build_dir, report, inputs, count)  # bad inputs fail before any work
    t0 = time.perf_counter()
    model = sim_model(build_dir, report["part"], report["clock_ns"])
    info(f"simulation graph: {len(model.graph.node)} layers incl. FIFOs/DWCs ({time.perf_counter() - t0:.1f} s)")
    parent = ModelWrapper(str(build_dir / "finn" / "intermediate_models" / "dataflow_parent.onnx"))
    qonnx = ModelWrapper(str(build_dir / "model.onnx"))
    qname = qonnx.graph.input[0].name
    qshape = qonnx.get_tensor_shape(qname)
    if xs.ndim != len(qshape) or list(xs.shape[1:]) != list(qshape[1:]):
        raise HyqError(f"inputs must have shape (N, {', '.join(map(str, qshape[1:]))}); got {xs.shape}")
    want_net = [execute_onnx(qonnx, {qname: x[None]})[qonnx.graph.output[0].name] for x in xs]
    ctxs = reference_contexts(model, parent, xs)
    work = build_dir / "finn" / "rtlsim" / "work"
    results: list[LayerResult] = []
    notes: list[str] = []
    if layers:
        t1 = time.perf_counter()
        info(f"layer by layer: {len(model.graph.node)} layers side by side in one simulator ...")
        results = simulate_layers(model, list(model.graph.node), ctxs, work / "layers", tool)
        for k, r in enumerate(results):
            if r.simulated:
                info(f"layer {k + 1}/{len(results)} {r.name}: "
                     f"{'bit-exact' if r.bit_exact else f'{r.mismatches} MISMATCHES'}, "
                     f"II {r.initiation_interval if r.initiation_interval is not None else '-'} cycles "
                     f"(FINN estimate {r.estimate_cycles}), latency {r.latency_cycles}")
            else:
                info(f"layer {k + 1}/{len(results)} {r.name}: not simulated: {r.reason}")
        cached = any(r.cached for r in results if r.simulated)
        info(f"layer by layer done ({'cached simulator' if cached else 'compiled'}, {time.perf_counter() - t1:.1f} s)")
    network = None
    estimate = {"critical_path_cycles": report.get("critical_path_cycles"), "max_cycles": report.get("max_cycles")}
    tail = host_tail(model)
    for r in results:
        if any(r.name == n.name for n in tail) and not r.simulated:
            r.reason = "float op kept on the host (executed in Python by FINN's generic op)"
    if tail:
        notes.append(f"on the host, after the accelerator: {', '.join(n.name for n in tail)} (float output)")
    accel = [n for n in model.graph.node if n not in tail]
    missing = [n.name for n in accel if not n.op_type.endswith("_rtl")]
    if missing:
        notes.append(f"whole-network simulation skipped: no RTL for {', '.join(missing)}")
        info(notes[-1] + ("; no waveform written" if trace is not None else ""))
    else:
        t1 = time.perf_counter()
        network = _simulate_network(model, accel, tail, parent, xs, ctxs, want_net, work / "network", trace, tool,
                                    stall, trace_depth, estimate)
        network["estimate_cycles"] = estimate
        info(f"whole network ({len(accel)} layers in RTL, {len(tail)} on the host, {len(xs)} inputs): "
             f"{'bit-exact' if network['bit_exact'] else 'MISMATCH'} vs QONNX, "
             f"{network['latency_cycles']} cycles per inference, II {network['initiation_interval']} cycles; "
             f"FINN estimate {report.get('critical_path_cycles')} / {report.get('max_cycles')} "
             f"({time.perf_counter() - t1:.1f} s)")
    exact = bool(all(r.bit_exact for r in results if r.simulated) and network is not None and network["bit_exact"])
    return SimResult(results, network, len(xs), exact, notes, estimate)


def reference_contexts(model: ModelWrapper, parent: ModelWrapper, xs: np.ndarray) -> list[dict]:
    """Per network input (batch first), every tensor of FINN's Python execution of the HW graph
    ``model``, reached through the host nodes of ``parent``."""
    ctxs: list[dict] = []
    for x in xs:
        _parent_run(parent, x[None], lambda ins: _capture(model, ins, ctxs))
    return ctxs


def _capture(model: ModelWrapper, ins: list[np.ndarray], ctxs: list[dict]) -> list[np.ndarray]:
    """Partition stand-in for the Python reference: run the HW graph, keep all its tensors."""
    ctx = python_exec(model, ins[0])
    ctxs.append(ctx)
    return [ctx[o.name] for o in model.graph.output]


def _simulate_network(model: ModelWrapper, accel: list, tail: list, parent: ModelWrapper, xs: np.ndarray,
                      ctxs: list[dict], want_net: list[np.ndarray], work: Path, trace: Path | None,
                      tool: verilator.Verilator | None, stall: float = 0.0, trace_depth: int = 0,
                      estimate: dict | None = None) -> dict:
    """Run the stitched RTL of ``accel`` on all samples back to back, finish with ``tail`` in
    Python, pass the result through the host nodes of the parent graph, compare with QONNX."""
    from qonnx.core.onnx_exec import execute_onnx

    nodes = [stitch.node_rtl(n) for n in accel]
    gin = model.graph.input[0].name
    gout = tail[0].input[0] if tail else model.graph.output[0].name
    first = next(n for n in accel if gin in n.input)
    last = next(n for n in accel if gout in n.output)
    fi, li = getCustomOp(first), getCustomOp(last)
    i_idx, o_idx = list(first.input).index(gin), list(last.output).index(gout)
    in_bits = next(s.bits for s in stitch.node_rtl(first).inputs if s.tensor == gin)
    in_beats = [b for c in ctxs for b in pack(c[gin], fi, i_idx, in_bits)]
    per = beats_per_sample(li, o_idx, True)
    est = estimate or {}
    cycles = (est.get("critical_path_cycles") or 0) + len(xs) * (est.get("max_cycles") or 0)
    r = run(nodes, [gin], [gout], [in_beats], [per * len(xs)], work, trace=trace, tool=tool, stall=stall,
            trace_depth=trace_depth, max_cycles=cycle_budget(cycles, len(in_beats) + per * len(xs)) / (1 - stall) ** 2)
    outs = [unpack(r.beats[0][k * per:(k + 1) * per], li, o_idx) for k in range(len(xs))]
    accel_bad = sum(int(np.count_nonzero(o != np.asarray(c[gout]).reshape(o.shape))) for o, c in zip(outs, ctxs))
    generic = generic_model(model)

    def finish(ins, k):
        """The partition's output for sample k: simulated RTL output, then the host tail."""
        acc = outs[k].reshape(ctxs[k][gout].shape)
        if not tail:
            return [acc]
        # the tail reads past FIFOs (generic_model): give the output under its source's name too
        src = upstream(model, gout)
        feed = {gin: ins[0], gout: acc, **({src.output[0]: acc} if src is not None else {})}
        ret = execute_onnx(generic, feed, start_node=generic.graph.node[len(accel)])
        return [ret[model.graph.output[0].name]]

    got_net = [_parent_run(parent, x[None], lambda ins, k=k: finish(ins, k)) for k, x in enumerate(xs)]
    diff = max(float(np.max(np.abs(g - w))) for g, w in zip(got_net, want_net))
    scale = max(float(np.max(np.abs(w))) for w in want_net) or 1.0
    net_exact = all(np.array_equal(g, w) for g, w in zip(got_net, want_net))
    # the float boundary: FINN's streamlined graph applies the output scales in another order
    # than the QONNX graph, so float outputs may differ in the last bits (float32 rounding)
    net_match = all(np.allclose(g, w, rtol=FLOAT_RTOL, atol=FLOAT_RTOL * scale) for g, w in zip(got_net, want_net))
    t = timing(r.beat_cycles[0], per, r.in_first[0])
    return {
        "bit_exact": accel_bad == 0 and net_match,
        "accelerator_mismatches": accel_bad,
        "network_equal_to_qonnx": net_exact,
        "network_matches_qonnx_to_float_rounding": net_match,
        "max_abs_diff_vs_qonnx": diff,
        "max_rel_diff_vs_qonnx": diff / scale,
        "argmax_equal": all(int(np.argmax(g)) == int(np.argmax(w)) for g, w in zip(got_net, want_net)),
        "layers": len(nodes),
        "host_layers": [n.name for n in tail],
        "total_cycles": r.cycles,
        "cached": r.cached,
        "trace": str(trace) if trace else None,
        "stall": stall,
        **t,
    }


def table(res: SimResult) -> str:
    """Per-layer and whole-network cycles next to FINN's estimates, as console text."""
    rows = [("layer", "op", "result", "II", "FINN est.", "latency")]
    for r in res.layers:
        if r.simulated:
            rows.append((r.name, r.op_type, "bit-exact" if r.bit_exact else f"{r.mismatches} mismatches",
                         f"{r.initiation_interval:g}" if r.initiation_interval is not None else "-",
                         str(r.estimate_cycles if r.estimate_cycles is not None else "-"), str(r.latency_cycles)))
        else:
            rows.append((r.name, r.op_type, "not simulated", "-", str(r.estimate_cycles or "-"), "-"))
    n = res.network
    if n:
        est = n["estimate_cycles"]
        rows.append(("network", f"{n['layers']} RTL layers",
                     "bit-exact" if n["bit_exact"] else "MISMATCH",
                     f"{n['initiation_interval']:g}" if n["initiation_interval"] is not None else "-",
                     f"{est['max_cycles']} / {est['critical_path_cycles']}", str(n["latency_cycles"])))
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  " + "  ".join(c.ljust(w[i]) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "  " + "  ".join("-" * x for x in w))
    return "\n".join(lines)
