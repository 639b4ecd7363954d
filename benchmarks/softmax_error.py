"""Error table of the integer softmax variants against float softmax (same as `hyq softmax-report`).

    .venv/bin/python benchmarks/softmax_error.py [--in-bits 8 --scale 0.0625] [--row-len 197]

Without --in-bits/--scale it measures the two default inputs (8-bit scores at S = 1/16,
16-bit scores at S = 2^-12); the numbers are computed on each run, nothing is stored.
"""

import argparse

from hyq.integer.softmax_error import DEFAULT_INPUTS, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--in-bits", type=int, default=None, help="input bit-width (needs --scale)")
    ap.add_argument("--scale", type=float, default=None, help="input scale (needs --in-bits)")
    ap.add_argument("--row-len", type=int, default=197, help="row length for the width table")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if (a.in_bits is None) != (a.scale is None):
        ap.error("give --in-bits and --scale together")
    inputs = DEFAULT_INPUTS if a.scale is None else ((a.in_bits, a.scale),)
    print(report(inputs, a.row_len, a.seed))


if __name__ == "__main__":
    main()
