"""Error analysis of the integer softmax variants against float softmax.

For each method, output format and width, over random and adversarial rows, measures the
max and mean absolute error of the dequantized output against float softmax of the same
quantized input, and the largest deviation of a row sum from 1; alongside, the bit-width
of every intermediate. Used by ``hyq softmax-report`` and ``benchmarks/softmax_error.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hyq.integer.softmax import (METHODS, RECIP_GUARD_BITS, decode_log2, softmax_params,
                                 softmax_with_params)

WIDE_GUARD_BITS = 8  # the reciprocal's guard bits before issue 18 narrowed them

DEFAULT_OUTPUTS = (("uint", 4), ("uint", 8), ("uint", 12), ("log2", 4))
# Same real logit range (about +-8), two resolutions: 8-bit scores, where the range
# reduction constant x0 = floor(-ln2 / S) is off by up to S / ln2 (8 % at S = 1/16) and
# dominates the error, and 16-bit scores, where the exp approximation does.
DEFAULT_INPUTS = ((8, 1 / 16), (16, 2.0**-12))


def row_sets(in_bits: int = 8, scale: float = 1 / 16, seed: int = 0) -> dict[str, np.ndarray]:
    """Named integer test rows: random, typical, long, and adversarial cases.

    Spreads are given in real units (logit = integer * scale) so that the sets mean the
    same thing at every input resolution; the row is clipped to the in_bits range.
    """
    softmax_params(scale, in_bits=in_bits)  # ValueError for a bad scale or width, before any use
    rng = np.random.default_rng(seed)
    lo, hi = -(2 ** (in_bits - 1)), 2 ** (in_bits - 1) - 1

    def ints(real):
        return np.clip(np.round(np.asarray(real) / scale), lo, hi).astype(np.int64)

    top = np.full((64, 197), lo)
    top[:, 0] = hi
    return {
        "uniform N=197": rng.integers(lo, hi + 1, (256, 197)),
        "gauss sd=2 N=197": ints(rng.normal(0, 2.0, (256, 197))),
        "long N=4096": rng.integers(lo, hi + 1, (8, 4096)),
        "one dominant": top,
        "all equal N=256": np.full((16, 256), 3),
        "very negative": lo + ints(rng.uniform(0, 1.0, (64, 197))) - ints(0.0),
        "two levels 0.75 apart": np.where(rng.random((64, 197)) < 0.5, hi, hi - ints(0.75)),
    }


def float_softmax(x_int: np.ndarray, scale: float) -> np.ndarray:
    z = x_int.astype(np.float64) * scale
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def measure(x_int: np.ndarray, scale: float, method: str, out_format: str, out_bits: int,
            in_bits: int = 8) -> dict:
    """Max / mean absolute error and max |row sum - 1| of one variant on rows ``x_int``."""
    p = softmax_params(scale, method, out_bits, out_format, in_bits)
    out = softmax_with_params(x_int, p)
    lin = out if out_format == "uint" else decode_log2(out, out_bits)
    value = lin * p.out_scale
    dev = np.abs(value - float_softmax(x_int, scale))
    return {"max_err": float(dev.max()), "mean_err": float(dev.mean()),
            "rowsum_dev": float(np.abs(value.sum(axis=-1) - 1).max())}


def error_table(scale: float = 1 / 16, in_bits: int = 8, outputs=DEFAULT_OUTPUTS,
                methods=METHODS, seed: int = 0) -> list[dict]:
    """One dict per (method, format, bits, row set) with the measured errors."""
    rows = []
    sets = row_sets(in_bits, scale, seed)
    for method in methods:
        for out_format, out_bits in outputs:
            for name, x in sets.items():
                m = measure(x, scale, method, out_format, out_bits, in_bits)
                rows.append({"method": method, "format": out_format, "bits": out_bits, "rows": name, **m})
    return rows


def width_table(scale: float = 1 / 16, in_bits: int = 8, row_len: int = 197, outputs=DEFAULT_OUTPUTS,
                methods=METHODS) -> list[dict]:
    """Intermediate bit-widths and scale-derived constants per (method, format, bits)."""
    out = []
    for method in methods:
        for out_format, out_bits in outputs:
            p = softmax_params(scale, method, out_bits, out_format, in_bits)
            consts = {"x0": p.x0, "b": p.b, "c": p.c, "s": p.exp_shift, "M": p.recip_shift}
            out.append({"method": method, "format": out_format, "bits": out_bits, **consts, **p.widths(row_len)})
    return out


def guard_table(scale: float = 1 / 16, in_bits: int = 8, outputs=DEFAULT_OUTPUTS, methods=METHODS,
                seed: int = 0) -> list[dict]:
    """The narrow reciprocal's cost in accuracy: uint outputs with RECIP_GUARD_BITS guard bits
    against the same unit with WIDE_GUARD_BITS, over all row sets together: the share of outputs
    that move, the largest move (in output steps), and max / mean error vs float softmax of both.
    """
    rows = []
    sets = row_sets(in_bits, scale, seed)
    for method in methods:
        for out_format, out_bits in outputs:
            if out_format != "uint":
                continue
            p = softmax_params(scale, method, out_bits, out_format, in_bits)
            wide = dataclasses.replace(p, recip_shift=p.recip_shift - RECIP_GUARD_BITS + WIDE_GUARD_BITS)
            moved = total = biggest = 0
            err = {"narrow": [], "wide": []}
            for x in sets.values():
                ref = float_softmax(x, scale)
                y = {"narrow": softmax_with_params(x, p), "wide": softmax_with_params(x, wide)}
                moved += int((y["narrow"] != y["wide"]).sum())
                total += y["wide"].size
                biggest = max(biggest, int(np.abs(y["narrow"] - y["wide"]).max()))
                for k, v in y.items():
                    err[k].append(np.abs(v * p.out_scale - ref).ravel())
            e = {k: np.concatenate(v) for k, v in err.items()}
            rows.append({"method": method, "bits": out_bits, "guard": f"{RECIP_GUARD_BITS} vs {WIDE_GUARD_BITS}",
                         "moved %": 100.0 * moved / total, "max move": biggest,
                         "max_err": float(e["narrow"].max()), "max_err wide": float(e["wide"].max()),
                         "mean_err": float(e["narrow"].mean()), "mean_err wide": float(e["wide"].mean())})
    return rows


def format_table(rows: list[dict], floats: str = "{:.4f}") -> str:
    """Plain-text table with one column per key (keys of all rows, in first-seen order)."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    cells = [[_cell(r.get(k, ""), floats) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def report(inputs=DEFAULT_INPUTS, row_len: int = 197, seed: int = 0, outputs=DEFAULT_OUTPUTS) -> str:
    """The full text report: per input (in_bits, scale), an error table and a width table."""
    parts = []
    for in_bits, scale in inputs:
        parts += [
            f"== integer softmax vs float softmax: input {in_bits}-bit, scale {scale:g} ==",
            format_table(error_table(scale, in_bits, outputs, seed=seed)),
            f"intermediate bit-widths (N={row_len}) and scale-derived constants, input {in_bits}-bit, scale {scale:g}",
            format_table(width_table(scale, in_bits, row_len, outputs)),
            f"narrow reciprocal: {RECIP_GUARD_BITS} guard bits vs {WIDE_GUARD_BITS}, all row sets, "
            f"input {in_bits}-bit, scale {scale:g}",
            format_table(guard_table(scale, in_bits, outputs, seed=seed), floats="{:.5f}"),
        ]
    return "\n\n".join(parts)


def _cell(v, floats: str) -> str:
    return floats.format(v) if isinstance(v, float) else str(v)
