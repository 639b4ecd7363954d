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

from hyq.errors import HyqError

EXIT_USAGE = 2


def _cmd_run(args: argparse.Namespace) -> int:
    from hyq.flow import run_flow

    run_flow(args.config, out_dir=args.out)
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from hyq.flow import build_onnx

    build_onnx(
        args.model,
        part=args.part,
        out_dir=args.out,
        target_fps=args.target_fps,
        folding=args.folding,
        clock_ns=args.clock_ns,
    )
    return 0


def _cmd_softmax_report(args: argparse.Namespace) -> int:
    from hyq.integer.softmax_error import DEFAULT_INPUTS, report

    if (args.in_bits is None) != (args.scale is None):
        raise ValueError("softmax-report: give --in-bits and --scale together (or neither for the defaults)")
    inputs = DEFAULT_INPUTS if args.scale is None else ((args.in_bits, args.scale),)
    print(report(inputs, row_len=args.row_len))
    return 0


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
    r.set_defaults(func=_cmd_run)

    b = sub.add_parser("build", help="FINN dataflow estimate build of any QONNX model")
    b.add_argument("model", type=Path, help="QONNX model (.onnx)")
    b.add_argument("--part", required=True, help="FPGA part, e.g. xc7z020clg400-1")
    fold = b.add_mutually_exclusive_group()
    fold.add_argument("--target-fps", type=int, default=None,
                      help="let FINN choose folding for this throughput")
    fold.add_argument("--folding", type=Path, default=None, help="folding config JSON")
    b.add_argument("--clock-ns", type=float, default=10.0, help="clock period (default 10 ns)")
    b.add_argument("--out", type=Path, required=True, help="output folder")
    b.set_defaults(func=_cmd_build)

    sm = sub.add_parser("softmax-report", help="error table of the integer softmax variants vs float softmax")
    sm.add_argument("--in-bits", type=int, default=None, help="input bit-width (with --scale)")
    sm.add_argument("--scale", type=float, default=None, help="input scale (with --in-bits)")
    sm.add_argument("--row-len", type=int, default=197, help="row length for the width table (default 197)")
    sm.set_defaults(func=_cmd_softmax_report)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
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
