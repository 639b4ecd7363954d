"""Scaling regions: where a per-channel factor can be moved across a layer for free.

A region is a set of *sources* (BatchNorm, conv or linear layers whose output channels
can be divided by alpha) and *sinks* (pointwise convs or linear layers whose input
channels can be multiplied by alpha), connected only through operations that commute
with a positive per-channel factor (ReLU and its quantized forms, identity quantizers,
pooling, residual adds). Dividing the sources by alpha and multiplying the sinks by
alpha leaves the float function unchanged and adds no operation: in a FINN graph the
source's BatchNorm (or bias) is absorbed into the per-channel thresholds of the
MultiThreshold in front of the sinks.

The region walk is Brevitas' own (``brevitas.graph.equalize._extract_regions``, the one
behind its cross-layer and activation equalization), told that Brevitas' quantized ReLU
and identity quantizers are scale-invariant. What it cannot reach - a sink whose input
has no affine producer (the network input), a sink fed by a concatenation, a producer
consumed by an operation the walk does not know - is reported as skipped, never scaled.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.fx as fx
from brevitas import nn as qnn
from brevitas.graph import equalize as beq
from torch import nn

from hyq.errors import HyqError

#: Brevitas activation quantizers that commute with a positive per-channel factor (in float)
_SCALE_INVARIANT = beq._scale_invariant_layers + (qnn.QuantReLU, qnn.QuantIdentity)
#: sinks must not be normalisation layers (nothing to multiply), as in Brevitas' own walk
_SINKS = tuple(x for x in beq._supported_layers if x not in (nn.LayerNorm, *beq._batch_norm))


@dataclass(frozen=True)
class Region:
    """Sources and sinks sharing one vector of per-channel factors (length ``channels``).

    ``abits``: per sink, the width of the activation quantizer in front of it (None: none found).
    """

    srcs: tuple[str, ...]
    sinks: tuple[str, ...]
    channels: int
    abits: tuple[int | None, ...] = ()
    brevitas: object = None  # the brevitas.graph.equalize.Region it came from

    @property
    def name(self) -> str:
        return "+".join(self.sinks)


@dataclass(frozen=True)
class Skipped:
    srcs: tuple[str, ...]
    sinks: tuple[str, ...]
    reason: str


@functools.cache
def _hyq_functions() -> tuple:
    """Plain functions of hyq.nn (reshapes such as unfold/fold): recorded as calls, not traced into."""
    import importlib
    import inspect
    import pkgutil

    import hyq.nn

    out = []
    for info in pkgutil.iter_modules(hyq.nn.__path__):
        mod = importlib.import_module(f"hyq.nn.{info.name}")
        out += [f for f in vars(mod).values() if inspect.isfunction(f) and f.__module__ == mod.__name__]
    return tuple(out)


class _LeafTracer(fx.Tracer):
    """torch.fx tracer that keeps Brevitas modules, normalisation layers and ``opaque`` modules whole."""

    def __init__(self, opaque: set[int] = frozenset()):
        super().__init__(autowrap_functions=_hyq_functions())
        self.opaque = opaque

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return (super().is_leaf_module(m, qualname) or type(m).__module__.startswith("brevitas")
                or isinstance(m, nn.modules.batchnorm._NormBase) or id(m) in self.opaque)


def _opaque_modules(model: nn.Module) -> set[int]:
    """Submodules that torch.fx cannot trace (shape-dependent control flow): kept whole.

    Children are tried before their parents, so a parent is opaque only through its own code.
    """
    opaque: set[int] = set()
    for _, m in reversed(list(model.named_modules())):
        if m is model or _LeafTracer(opaque).is_leaf_module(m, ""):
            continue
        try:
            _LeafTracer(opaque).trace(m)
        except Exception:  # noqa: BLE001 - any failure: treat the module as one opaque operation
            opaque.add(id(m))
    return opaque


def trace(model: nn.Module) -> fx.GraphModule:
    """The model as a torch.fx graph whose module names are the model's own."""
    try:
        graph = _LeafTracer(_opaque_modules(model)).trace(model)
    except Exception as exc:  # noqa: BLE001 - any tracing failure means: no graph to walk
        raise HyqError(f"distribution scaling: cannot trace {type(model).__name__} with torch.fx "
                       f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    return fx.GraphModule(model, graph)


def is_pointwise(m: nn.Module) -> bool:
    """A 1x1, ungrouped convolution or a linear layer: the layers QADS scales."""
    if isinstance(m, nn.Linear):
        return True
    return isinstance(m, nn.Conv2d) and m.groups == 1 and tuple(m.kernel_size) == (1, 1)


def _foldable_source(m: nn.Module) -> bool:
    """BatchNorm / LayerNorm with an affine part, conv or linear: outputs divisible per channel."""
    if isinstance(m, beq._batch_norm):
        return m.affine
    if isinstance(m, nn.LayerNorm):
        return m.elementwise_affine and m.weight is not None and m.weight.dim() == 1
    return isinstance(m, (nn.Conv2d, nn.Linear))


def _full_channels(indexes: dict, channels: int) -> bool:
    return all(w.equalization_indexes.start == 0 and w.equalization_indexes.end == channels
               and w.equalization_indexes.offset == 0 for w in indexes.values())


def _judge(r, modules: dict[str, nn.Module], patterns: Sequence[str]) -> str | None:
    """Why Brevitas region ``r`` cannot be scaled for free, or None when it can."""
    srcs, sinks = r.srcs_names, r.sinks_names
    if not srcs:
        return "no affine producer in front of the sinks (a scale there would need an extra Mul)"
    if not any(fnmatch.fnmatchcase(s, p) for s in sinks for p in patterns):
        return "not selected"
    if bad := [s for s in sinks if not is_pointwise(modules[s])]:
        return f"sink {bad[0]} is not a pointwise conv or linear layer"
    if bad := [s for s in srcs if not _foldable_source(modules[s])]:
        return f"source {bad[0]} cannot absorb a per-channel factor"
    if not _full_channels(r.srcs, r.max_shape_srcs) or not _full_channels(r.sinks, r.max_shape_sinks):
        return "channels split by a concatenation"
    return None


_PASS_THROUGH_METHODS = ("flatten", "reshape", "view", "contiguous")


def _act_bits(m: nn.Module) -> int | None:
    q = getattr(m, "act_quant", None)
    if q is None or not getattr(q, "is_quant_enabled", True):
        return None
    return int(round(float(q.bit_width())))


def input_act_bits(model: nn.Module, gm: fx.GraphModule | None = None) -> dict[str, int | None]:
    """For every conv / linear layer: the width of the activation quantizer feeding it.

    Walks up from the layer's input through shape-only and pooling operations to the first
    Brevitas activation quantizer; None when something else comes first.
    """
    gm = gm or trace(model)
    modules = dict(model.named_modules())
    out = {}
    for node in gm.graph.nodes:
        if node.op != "call_module" or not isinstance(modules.get(node.target), (nn.Conv2d, nn.Linear)):
            continue
        src, bits = node.args[0] if node.args else None, None
        while isinstance(src, fx.Node):
            if src.op == "call_module" and (b := _act_bits(modules[src.target])) is not None:
                bits = b
                break
            passes = (src.op == "call_method" and src.target in _PASS_THROUGH_METHODS) or (
                src.op == "call_function" and src.target is torch.flatten) or (
                src.op == "call_module" and isinstance(modules[src.target], beq._scale_invariant_layers))
            if not passes:
                break
            src = src.args[0]
        out[node.target] = bits
    return out


@contextmanager
def one_thread():
    """Run tiny-tensor work on one thread: several threads only contend (badly, on a loaded machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@torch.no_grad()
def _keeps_function(model: nn.Module, regions: Sequence["Region"], sample: torch.Tensor) -> bool:
    """Fold random factors into ``regions`` together, compare float outputs, restore the weights."""
    from hyq.quantize.train import float_mode

    modules = dict(model.named_modules())
    names = {n for r in regions for n in r.srcs + r.sinks}
    saved = {n: {k: v.detach().clone() for k, v in modules[n].named_parameters(recurse=False)} for n in names}
    g = torch.Generator().manual_seed(0)
    try:
        with float_mode(model, training=False):
            model.eval()
            ref = _out(model(sample))
            for r in regions:
                fold(model, r, torch.exp(torch.randn(r.channels, generator=g)))
            got = _out(model(sample))
    finally:
        for n, params in saved.items():
            for k, v in params.items():
                getattr(modules[n], k).copy_(v)
    return bool(torch.allclose(got, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max() + 1e-12)))


def _out(y) -> torch.Tensor:
    return torch.as_tensor(y.value if hasattr(y, "value") else y).detach().clone()


def find_regions(model: nn.Module, patterns: Sequence[str] = ("*",),
                 sample: torch.Tensor | None = None) -> tuple[list[Region], list[Skipped]]:
    """(scalable regions whose sinks match one of ``patterns``, skipped regions with reasons).

    ``patterns`` are fnmatch patterns over sink names (module paths, ``blocks.0.project``).
    With ``sample`` inputs, every region is also checked by folding random factors into it:
    one that changes the float output (an operation the walk misjudged) is skipped.
    """
    gm = trace(model)
    modules = dict(model.named_modules())
    abits = input_act_bits(model, gm)
    found = beq._extract_regions(
        gm, state_impl_kwargs={"scale_invariant_layers": _SCALE_INVARIANT, "supported_sinks": _SINKS})
    regions, skipped = [], []
    for r in found:
        srcs, sinks = tuple(r.srcs_names), tuple(r.sinks_names)
        reason = _judge(r, modules, patterns)
        if reason is None:
            regions.append(Region(srcs, sinks, r.max_shape_sinks, tuple(abits.get(n) for n in sinks), r))
        else:
            skipped.append(Skipped(srcs, sinks, reason))
    if sample is not None and regions and not _keeps_function(model, regions, sample):
        bad = [r for r in regions if not _keeps_function(model, [r], sample)]
        regions = [r for r in regions if r not in bad]
        skipped += [Skipped(r.srcs, r.sinks, "folding factors here changes the float function "
                            "(an operation in between is not scale-invariant)") for r in bad]
    return regions, skipped


def unreached_pointwise(model: nn.Module, regions: Sequence[Region], skipped: Sequence[Skipped]) -> list[str]:
    """Pointwise layers that appear in no region at all (e.g. fed straight by the input)."""
    seen = {s for r in list(regions) + list(skipped) for s in r.sinks}
    return [n for n, m in model.named_modules() if is_pointwise(m) and n not in seen]


@torch.no_grad()
def fold(model: nn.Module, region: Region, alpha: torch.Tensor) -> None:
    """Divide the sources' output channels by ``alpha``, multiply the sinks' inputs by it.

    Exact for alpha > 0: everything between sources and sinks is positively homogeneous
    per channel (ReLU, pooling, adds of equally scaled operands).
    """
    alpha = alpha.detach().to(torch.float32).flatten()
    if alpha.numel() != region.channels or not bool((alpha > 0).all()):
        raise ValueError(f"{region.name}: need {region.channels} positive factors, got {alpha.numel()} "
                         f"(min {float(alpha.min()):.3g})")
    modules = dict(model.named_modules())
    for name in region.srcs:
        m = modules[name]
        shape = (-1,) + (1,) * (m.weight.dim() - 1)
        m.weight.mul_(1.0 / alpha.view(shape))
        if m.bias is not None:
            m.bias.mul_(1.0 / alpha)
    for name in region.sinks:
        m = modules[name]
        shape = (1, -1) + (1,) * (m.weight.dim() - 2)
        m.weight.mul_(alpha.view(shape))
