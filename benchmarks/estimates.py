"""FINN's and hyq's resource estimates of FINN's RTL layers against Yosys, over a sweep.

    python benchmarks/estimates.py [--family xc7] [--fit] [--from-build BUILD_DIR ...] [--json out.json]
                                   [--workers 2]

Builds one single-layer FINN model per sweep point (foldings and widths of MVAU_rtl,
Thresholding_rtl, ConvolutionInputGenerator_rtl, FMPadding_rtl, StreamingFIFO_rtl and
StreamingDataWidthConverter_rtl), generates its RTL with finn-plus (PrepareIP), synthesises
all of them in one hierarchical Yosys run (:func:`hyq.synth.layers.synthesize_nodes`, each
layer mapped as if alone) and prints, per op type, FINN's estimate, hyq's fitted estimate
(:mod:`hyq.costs.finn_fit`) and Yosys' count, with the worst relative error of each.
``--from-build BUILD_DIR`` adds the real layers of a build ``hyq synth`` has measured (the
shapes a sweep misses) and prints them in a table of their own. ``--fit`` first re-fits hyq's
coefficients on all these measurements and rewrites ``hyq/costs/finn_fit.json``: the
numbers there are measured, never typed in.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PART = "xc7z020clg400-1"
DOMAIN = "finn.custom_op.fpgadataflow"

#: sweep points per abstract op: attributes varied (foldings, widths, sizes)
SWEEP = {
    "MVAU": [dict(MW=mw, MH=mh, SIMD=s, PE=p, ib=ib, wb=wb)
             for mw, mh, s, p, ib, wb in ((16, 8, 4, 2, 4, 4), (32, 16, 8, 4, 8, 8), (36, 8, 9, 2, 4, 4),
                                          (64, 16, 16, 2, 8, 4), (32, 32, 4, 8, 4, 8))],
    "Thresholding": [dict(C=c, PE=p, ib=ib, ob=ob)
                     for c, p, ib, ob in ((16, 1, 8, 2), (16, 4, 8, 4), (32, 2, 12, 3), (32, 8, 8, 4),
                                          (64, 4, 16, 2))],
    "ConvolutionInputGenerator": [dict(C=c, H=h, K=k, S=s, SIMD=simd, b=b)
                                  for c, h, k, s, simd, b in ((8, 10, 3, 1, 1, 4), (16, 10, 3, 1, 4, 4),
                                                              (8, 18, 3, 2, 2, 8), (32, 6, 3, 1, 8, 4),
                                                              (16, 8, 1, 1, 16, 4))],
    "FMPadding": [dict(C=c, H=h, P=pd, SIMD=simd, b=b)
                  for c, h, pd, simd, b in ((8, 8, 1, 1, 4), (16, 16, 1, 4, 4), (32, 8, 2, 8, 8), (3, 32, 1, 1, 8))],
    "StreamingFIFO": [dict(depth=d, w=w) for d, w in ((2, 8), (16, 32), (64, 16), (256, 8), (1024, 32))],
    "StreamingDataWidthConverter": [dict(iw=i, ow=o, n=n)
                                    for i, o, n in ((8, 32, 64), (32, 8, 64), (64, 16, 32), (12, 48, 48))],
}


def _node_model(op: str, pt: dict, name: str):
    """A one-node FINN HW model of the abstract ``op`` at sweep point ``pt`` (its initializers set)."""
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    rng = np.random.default_rng(len(name))
    inits: dict[str, np.ndarray] = {}
    dts: dict[str, DataType] = {}
    common = dict(domain=DOMAIN, backend="fpgadataflow", preferred_impl_style="rtl", name=name)
    if op == "MVAU":
        idt, wdt = DataType[f"INT{pt['ib']}"], DataType[f"INT{pt['wb']}"]
        acc = DataType.get_smallest_possible(pt["MW"] * idt.min() * wdt.min())
        ins, outs = [("x", [1, pt["MW"]]), ("w", [pt["MW"], pt["MH"]])], [("y", [1, pt["MH"]])]
        attrs = dict(MW=pt["MW"], MH=pt["MH"], SIMD=pt["SIMD"], PE=pt["PE"], inputDataType=idt.name,
                     weightDataType=wdt.name, outputDataType=acc.name, accDataType=acc.name, noActivation=1,
                     mem_mode="internal_decoupled", resType="dsp", numInputVectors=[1])
        inits["w"] = rng.integers(wdt.min() + 1, wdt.max() + 1, (pt["MW"], pt["MH"])).astype(np.float32)
        dts.update(x=idt, w=wdt, y=acc)
    elif op == "Thresholding":
        idt, odt = DataType[f"INT{pt['ib']}"], DataType[f"UINT{pt['ob']}"]
        steps = 2 ** pt["ob"] - 1
        ins, outs = [("x", [1, pt["C"]]), ("t", [pt["C"], steps])], [("y", [1, pt["C"]])]
        attrs = dict(NumChannels=pt["C"], PE=pt["PE"], numSteps=steps, inputDataType=idt.name,
                     weightDataType=idt.name, outputDataType=odt.name, ActVal=0, numInputVectors=[1])
        inits["t"] = np.sort(rng.integers(idt.min(), idt.max() + 1, (pt["C"], steps)), axis=1).astype(np.float32)
        dts.update(x=idt, t=idt, y=odt)
    elif op == "ConvolutionInputGenerator":
        dt = DataType[f"UINT{pt['b']}"]
        o = (pt["H"] - pt["K"]) // pt["S"] + 1
        ins, outs = [("x", [1, pt["H"], pt["H"], pt["C"]])], [("y", [1, o, o, pt["K"] ** 2 * pt["C"]])]
        attrs = dict(ConvKernelDim=[pt["K"]] * 2, IFMChannels=pt["C"], IFMDim=[pt["H"]] * 2, OFMDim=[o] * 2,
                     SIMD=pt["SIMD"], Stride=[pt["S"]] * 2, Dilation=[1, 1], inputDataType=dt.name,
                     outputDataType=dt.name, depthwise=0)
        dts.update(x=dt, y=dt)
    elif op == "FMPadding":
        dt = DataType[f"UINT{pt['b']}"]
        h = pt["H"] + 2 * pt["P"]
        ins, outs = [("x", [1, pt["H"], pt["H"], pt["C"]])], [("y", [1, h, h, pt["C"]])]
        attrs = dict(ImgDim=[pt["H"]] * 2, Padding=[pt["P"]] * 4, NumChannels=pt["C"], SIMD=pt["SIMD"],
                     inputDataType=dt.name, numInputVectors=1)
        dts.update(x=dt, y=dt)
    elif op == "StreamingFIFO":
        dt = DataType["UINT8"]
        k = pt["w"] // 8
        ins, outs = [("x", [1, 4 * k])], [("y", [1, 4 * k])]
        attrs = dict(depth=pt["depth"], folded_shape=[1, 4, k], normal_shape=[1, 4 * k], dataType=dt.name,
                     ram_style="auto", impl_style="rtl")
        dts.update(x=dt, y=dt)
    elif op == "StreamingDataWidthConverter":
        dt = DataType["UINT4"]
        i, o, n = pt["iw"] // 4, pt["ow"] // 4, pt["n"]
        ins, outs = [("x", [1, n])], [("y", [1, n])]
        attrs = dict(inShape=[1, n // i, i], outShape=[1, n // o, o], inWidth=pt["iw"], outWidth=pt["ow"],
                     dataType=dt.name)
        dts.update(x=dt, y=dt)
    else:
        raise ValueError(op)
    node = helper.make_node(op, [t for t, _ in ins], [t for t, _ in outs], **common, **attrs)
    graph = helper.make_graph(
        [node], name, [helper.make_tensor_value_info(ins[0][0], TensorProto.FLOAT, ins[0][1])],
        [helper.make_tensor_value_info(outs[0][0], TensorProto.FLOAT, outs[0][1])],
        value_info=[helper.make_tensor_value_info(t, TensorProto.FLOAT, s) for t, s in ins[1:]])
    model = ModelWrapper(qonnx_make_model(graph))
    for t, v in inits.items():
        model.set_initializer(t, v)
    for t, d in dts.items():
        model.set_tensor_datatype(t, d)
    return model


def _call(inst, meth: str, part: str = PART) -> float:
    fn = getattr(inst, meth)
    return float(fn(part) if "fpgapart" in inspect.signature(fn).parameters else fn())


def finn_estimate(inst, part: str = PART) -> dict[str, float]:
    """finn-plus' own analytical estimates of a specialised layer."""
    return {"LUT": _call(inst, "lut_estimation", part), "BRAM_18K": _call(inst, "bram_estimation", part),
            "DSP": _call(inst, "dsp_estimation", part)}


def build_rows(build: Path, fam: str) -> list[dict]:
    """The fitted op types' layers of a synthesised build as measurement rows: features and
    finn-plus' estimate from the build's simulated graph, Yosys' figures from the
    ``synthesis`` section ``hyq synth BUILD`` wrote (each layer mapped alone; identical
    layers counted once). Nothing is synthesised again."""
    from qonnx.custom_op.registry import getCustomOp

    from hyq.costs import finn_fit
    from hyq.errors import HyqError
    from hyq.sim.prepare import sim_model

    build = Path(build).resolve()
    rep = json.loads((build / "report.json").read_text()) if (build / "report.json").is_file() else {}
    syn = rep.get("synthesis")
    if not syn:
        raise HyqError(f"{build}: no synthesis in its report.json; run `hyq synth {build} --no-whole` first")
    if syn["family"] != fam:
        raise HyqError(f"{build} was synthesised for {syn['family']}, the sweep for {fam}; pass --family {syn['family']}")
    nodes = {n.name: n for n in sim_model(build, rep["part"], rep["clock_ns"]).graph.node}
    rows = []
    for r in syn["layers"]:
        if r["op_type"] not in finn_fit.FEATURES or not r.get("measured") or r.get("same_as"):
            continue
        inst = getCustomOp(nodes[r["name"]])
        rows.append({"op_type": r["op_type"], "point": {"build": rep["model"], "layer": r["name"]},
                     "features": finn_fit.features(r["op_type"], inst), "finn": finn_estimate(inst, rep["part"]),
                     "yosys": {k: r["measured"][k] for k in ("LUT", "FF", "BRAM_18K", "DSP")}})
    return rows


def generate(work: Path) -> list:
    """(abstract op, point, specialised node's op type, FINN custom op, NodeRTL) per sweep point."""
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.infer_shapes import InferShapes

    from hyq.dataflow import finn_env
    from hyq.sim import stitch

    finn_env.use_build_dir(work / "finn_gen")
    rows = []
    for op, points in SWEEP.items():
        for k, pt in enumerate(points):
            name = f"{op}_{k}"
            model = _node_model(op, pt, name).transform(InferShapes()).transform(SpecializeLayers(PART))
            node = model.graph.node[0]
            node.name = name
            model = model.transform(PrepareIP(PART, 10.0))
            node = model.graph.node[0]
            if not node.op_type.endswith("_rtl"):
                raise SystemExit(f"{name}: FINN specialised {op} to {node.op_type}, not RTL; change the sweep point")
            rows.append((op, pt, node.op_type, getCustomOp(node), stitch.node_rtl(node)))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", default="xc7")
    ap.add_argument("--fit", action="store_true", help="re-fit hyq/costs/finn_fit.json on this sweep first")
    ap.add_argument("--json", default=None, help="also write every row to this file")
    ap.add_argument("--workers", type=int, default=2, help="parallel Yosys processes (default 2)")
    ap.add_argument("--from-build", action="append", default=[], metavar="BUILD_DIR",
                    help="also take the layers of this synthesised build (`hyq synth BUILD_DIR` first); repeatable")
    a = ap.parse_args(argv)

    from hyq.costs import finn_fit
    from hyq.synth.layers import synthesize_nodes, yosys_version

    with tempfile.TemporaryDirectory(prefix="hyq-estimates-", dir=Path.cwd()) as tmp:
        gen = generate(Path(tmp))
        per, _, runs = synthesize_nodes([g[4] for g in gen], Path(tmp) / "synth", a.family, whole=False,
                                       workers=a.workers)
    rows = []
    for op, pt, op_type, inst, r in gen:
        m = per[r.name]
        if isinstance(m, str):
            raise SystemExit(f"{r.name}: {m}")
        rows.append({"op_type": op_type, "point": pt, "features": finn_fit.features(op_type, inst),
                     "finn": finn_estimate(inst), "yosys": {k: m[k] for k in ("LUT", "FF", "BRAM_18K", "DSP")}})
    for b in a.from_build:
        rows += build_rows(Path(b), a.family)
    if a.fit:
        path = finn_fit.refit(rows, {"yosys": yosys_version(), "family": a.family, "part": PART, "runs": runs,
                                     "builds": [str(b) for b in a.from_build]})
        print(f"fitted {path.name}: {sum(len(v) for v in finn_fit.FEATURES.values())} coefficients on {len(rows)} layers")
    for row in rows:
        row["hyq"] = finn_fit.estimate(row["op_type"], row["features"])
    print(table([r for r in rows if "build" not in r["point"]], "the sweep"))
    if a.from_build:
        print()
        print(table([r for r in rows if "build" in r["point"]], "the builds' layers"))
        print()
        print(table(rows, "sweep and builds"))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


def _err(est: float | None, meas: float) -> float | None:
    if est is None:
        return None
    return abs(est - meas) / meas if meas else (0.0 if est == 0 else float("inf"))


def table(rows: list[dict], what: str = "") -> str:
    """Per op type: LUT, BRAM_18K and DSP of FINN's and hyq's estimates vs Yosys: the sums,
    the worst layer's error and the error of the sum."""
    out = ([what] if what else []) + [
        f"{'op type':32} {'n':>3}  {'res':8} {'yosys':>8} {'finn':>8} {'hyq-fit':>8}  "
        f"{'finn worst':>10} {'hyq worst':>10} {'finn sum':>9} {'hyq sum':>8}"]
    for op in dict.fromkeys(r["op_type"] for r in rows):
        sel = [r for r in rows if r["op_type"] == op]
        for k in ("LUT", "BRAM_18K", "DSP"):
            meas = sum(r["yosys"][k] for r in sel)
            fin = sum(r["finn"][k] for r in sel)
            hq = [r["hyq"].get(k) for r in sel]
            hyq_sum = sum(hq) if None not in hq else None
            fe = max((_err(r["finn"][k], r["yosys"][k]) for r in sel), key=lambda e: e)
            he = [_err(r["hyq"].get(k), r["yosys"][k]) for r in sel]
            hw = max(he) if None not in he else None
            if meas == 0 and fin == 0 and (hyq_sum in (0, None)):
                continue
            hs = _err(hyq_sum, meas)
            out.append(f"{op:32} {len(sel):>3}  {k:8} {meas:>8.0f} {fin:>8.0f} "
                       f"{'-' if hyq_sum is None else f'{hyq_sum:.0f}':>8}  {fe:>10.0%} "
                       f"{'-' if hw is None else f'{hw:.0%}':>10} {_err(fin, meas):>9.0%} "
                       f"{'-' if hs is None else f'{hs:.0%}':>8}")
    return "\n".join(out)

if __name__ == "__main__":
    raise SystemExit(main())
