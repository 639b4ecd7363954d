"""Evaluate a design space on Dask: one task per point, cached by content, resumable.

Each point's full flow config plus a hash of hyq's result-determining code gives the
point's key; its folder ``OUT/points/<key>/`` holds the flow file, the run (report.json,
FINN build) and, written atomically last, ``result.json``. A rerun skips every point that
has a ``result.json`` and continues half-done FINN builds. Points that share a training
config share one training task, so two builds never train the same model twice.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyq import cache
from hyq.errors import HyqError
from hyq.explore.pareto import pareto_front
from hyq.explore.space import Point, Space, load_space, write_flow
from hyq.progress import info, quiet_libraries
from hyq.resources import HW_DIR

#: flow sections that determine the trained model (hardware never does)
_TRAIN_SECTIONS = ("model", "quant", "data", "train", "ptq")


def code_files() -> list[Path]:
    """What determines a point's numbers: every hyq module ``hyq run`` imports (plots and
    the CLI do not) and the files of hw/."""
    return cache.module_files("hyq.jobs.flow") + sorted(p for p in HW_DIR.rglob("*") if p.is_file())


def point_key(p: Point, files: list[Path] | None = None) -> str:
    """Content hash of the point's flow config (its name aside) and hyq's code."""
    flow = {k: v for k, v in p.flow.items() if k != "name"}
    return cache.key({"flow": flow}, code_files() if files is None else files)


def _atomic_json(obj: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def metrics(rep: dict[str, Any]) -> dict[str, Any]:
    """The per-point columns taken from a flow report."""
    acc = rep.get("accuracy", {})
    lat = rep.get("latency_ns")
    return {
        "accuracy": acc.get("quantized"), "float_accuracy": acc.get("float"),
        **{k: rep["total"][k] for k in ("LUT", "BRAM_18K", "URAM", "DSP")},
        "storage_bytes": rep["static_storage"]["bytes"],
        "fps": rep.get("throughput_fps"), "latency_us": None if lat is None else lat / 1000,
    }


@contextlib.contextmanager
def _logged(path: Path, threads: int):
    """Send a worker's console output to the point's log file; limit torch's threads."""
    import warnings

    with warnings.catch_warnings(), open(path, "a") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        quiet_libraries()  # third-party warnings, for this point only (as the CLI does)
        import torch

        torch.set_num_threads(threads)
        logging.getLogger("finn").setLevel(logging.ERROR)
        yield


def train_task(flow: dict[str, Any], folder: str, threads: int = 1) -> str:
    """Train (or find in hyq's cache) the model of a flow; returns the flow's name."""
    folder_p = Path(folder)
    folder_p.mkdir(parents=True, exist_ok=True)
    with _logged(folder_p / "train.log", threads):
        from hyq.jobs import flow as hflow
        from hyq.data import from_config as load_data

        cfg = write_flow(flow, folder_p / "flow.yaml")
        ds = load_data(cfg.data)
        try:
            hflow.trained_model(cfg, ds)
        except OSError:   # another process finished the same cache entry first
            hflow.trained_model(cfg, ds)
    return cfg.name


def evaluate_task(flow: dict[str, Any], folder: str, meta: dict[str, Any], threads: int = 1,
                  _trained: Any = None) -> dict[str, Any]:
    """Run one point's flow in ``folder``; write and return its result row."""
    folder_p = Path(folder)
    folder_p.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with _logged(folder_p / "log.txt", threads):
        from hyq.jobs.flow import run_flow

        write_flow(flow, folder_p / "flow.yaml")
        rep = run_flow(folder_p / "flow.yaml", folder_p / "run")
    row = {**meta, **metrics(rep), "seconds": round(time.perf_counter() - t0, 1),
           "report": str(folder_p / "run" / "report.json"), "status": "ok", "error": ""}
    _atomic_json(row, folder_p / "result.json")
    return row


def _meta(p: Point, k: str) -> dict[str, Any]:
    """The columns that identify a point in its space."""
    return {"index": p.index, "key": k, **{f"axis:{a}": v for a, v in p.values.items()}, "label": p.label}


@dataclass
class ExploreResult:
    space: Space
    out: Path
    rows: list[dict[str, Any]]
    pareto: list[int]
    computed: int
    cached: int
    seconds: float
    plots: list[Path]

    @property
    def pareto_rows(self) -> list[dict[str, Any]]:
        return [self.rows[i] for i in self.pareto]


def _describe(row: dict[str, Any]) -> str:
    if row["status"] != "ok":
        return f"FAILED: {row['error']}"
    return (f"acc {row['accuracy']:.3f}, LUT {row['LUT']:,.0f}, BRAM_18K {row['BRAM_18K']:,.0f}, "
            f"{row['fps'] or 0:,.0f} fps")


def _client(workers: int, scheduler: str | None):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", memory_limit=0, silence_logs=logging.ERROR)
    return Client(cluster), cluster


def explore(space_path: Path | str, out_dir: Path | str, workers: int = 2, scheduler: str | None = None,
            plots: bool = True, on_point: Callable[[dict[str, Any]], None] | None = None) -> ExploreResult:
    """Evaluate every point of a space file; write points.csv, pareto.json and plots to ``out_dir``.

    ``workers`` local worker processes (a Dask LocalCluster), or the Dask scheduler at
    ``scheduler`` (its workers must see ``out_dir`` on a shared filesystem).
    """

    if workers < 1:
        raise HyqError(f"--workers must be >= 1, got {workers}")
    t0 = time.perf_counter()
    space = load_space(space_path)
    out = Path(out_dir).resolve()
    (out / "points").mkdir(parents=True, exist_ok=True)
    files = code_files()
    keys = [point_key(p, files) for p in space.points]
    with tempfile.TemporaryDirectory(dir=out / "points") as tmp:
        for p in space.points:   # a bad point fails here, before any worker starts
            try:
                write_flow(p.flow, Path(tmp) / "flow.yaml")
            except HyqError as exc:
                raise HyqError(f"{space.source}: point {p.index} ({p.label}): {exc}") from None
    n = len(space.points)
    info(f"space '{space.name}' from {space.source}: {n} points, objectives "
         + ", ".join(f"{s} {k}" for k, s in space.objectives.items()) + f" -> {out}")
    rows: dict[int, dict[str, Any]] = {}
    pending: list[tuple[Point, str]] = []
    for p, k in zip(space.points, keys):
        res = out / "points" / k / "result.json"
        if res.is_file():   # same flow config; index and axis columns follow the current space
            old = {c: v for c, v in json.loads(res.read_text()).items() if not c.startswith("axis:")}
            rows[p.index] = {**_meta(p, k), **{c: v for c, v in old.items() if c not in ("index", "label")}}
        else:
            pending.append((p, k))
    cached = len(rows)
    if cached:
        info(f"{cached}/{n} points already done (cached); {len(pending)} to run")
    if pending:
        threads = 1 if (workers > 1 or scheduler) else max(1, os.cpu_count() or 1)
        client, cluster = _client(workers, scheduler)
        try:
            info(f"dask: {'scheduler ' + scheduler if scheduler else f'{workers} local worker process(es)'}")
            trains: dict[str, Any] = {}
            futures = {}
            for p, k in pending:
                folder = out / "points" / k
                tkey = cache.key({s: p.flow[s] for s in _TRAIN_SECTIONS if s in p.flow})
                if tkey not in trains:
                    trains[tkey] = client.submit(train_task, p.flow, str(folder), threads,
                                                 key=f"train-{tkey}", pure=False)
                meta = _meta(p, k)
                fut = client.submit(evaluate_task, p.flow, str(folder), meta, threads, trains[tkey],
                                    key=f"point-{k}", pure=False)
                futures[fut] = (p, k, meta)
            from dask.distributed import as_completed

            done = cached
            for fut in as_completed(list(futures)):
                p, k, meta = futures[fut]
                try:
                    row = fut.result()
                except Exception as exc:  # noqa: BLE001 - one failed point must not stop the sweep
                    msg = " ".join(str(exc).split())[:300] or type(exc).__name__
                    row = {**meta, "status": "failed", "error": msg}
                rows[p.index] = row
                done += 1
                info(f"point {done}/{n} done: {p.label} -> {_describe(row)}"
                     + (f" ({row['seconds']:.0f} s)" if "seconds" in row else ""))
                if on_point:
                    on_point(row)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    ordered = [rows[i] for i in range(n)]
    front = pareto_front(ordered, space.objectives)
    write_points(ordered, out / "points.csv")
    _atomic_json({"space": space.name, "objectives": space.objectives, "indices": front,
                  "points": [ordered[i] for i in front]}, out / "pareto.json")
    written: list[Path] = []
    if plots:
        from hyq.explore.plots import space_plots

        written = space_plots(ordered, front, space, out)
    failed = [r for r in ordered if r["status"] != "ok"]
    secs = time.perf_counter() - t0
    info(f"space '{space.name}': {n - len(failed)}/{n} points ok ({len(pending)} run, {cached} cached) "
         f"in {secs:.0f} s; Pareto set: points {', '.join(map(str, front)) or 'none'}")
    info(f"wrote {out / 'points.csv'}, {out / 'pareto.json'} and {len(written)} plot file(s)")
    if failed:
        info(f"warning: {len(failed)} point(s) failed; their errors are in points.csv; rerun to retry them")
    return ExploreResult(space, out, ordered, front, len(pending), cached, secs, written)


def write_points(rows: list[dict[str, Any]], path: Path) -> None:
    """points.csv: one row per point, columns in first-seen order (atomic)."""
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: json.dumps(v) if isinstance(v, (dict, list)) else v for c, v in r.items()})
    os.replace(tmp, path)


def load_points(out_dir: Path | str):
    """points.csv of an explore run as a pandas DataFrame."""
    import pandas as pd

    return pd.read_csv(Path(out_dir) / "points.csv")
