"""Bounded graph passes: a rewrite that never stops changing the graph is an error, not a hang.

qonnx's ``ModelWrapper.transform`` repeats a transformation while it reports a change, and
``ComposedTransformation`` (finn-plus' ``StreamlinePlus``) repeats each of its members the
same way; neither loop has a bound. Two rewrites that undo each other (finn-plus'
``MoveScalarLinearPastInvariants`` moves a scalar Mul below a Transpose,
``MoveTransposePastEltwise`` moves the Transpose below it again) then spin forever.

Inside :func:`bounded_passes` both loops are bounded: a loop whose graph comes back to a
state it had before (a cycle) or that is still changing after :func:`max_rounds` rounds
raises :class:`NoProgress`, a :class:`~hyq.errors.HyqError` naming the rewrites and the
nodes they were changing. Outside the block qonnx is unchanged. hyq's export and build use it.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import threading

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.composed import ComposedTransformation

from hyq.errors import HyqError
from hyq.export.scoped import ScopedSwap

#: Rounds one loop may take, per node of the graph (at least ``_MIN_ROUNDS``); the slowest
#: rewrites change one node a round. ``HYQ_MAX_PASS_ROUNDS`` overrides it for every loop.
_ROUNDS_PER_NODE = 4
_MIN_ROUNDS = 200
#: qonnx's bookkeeping passes, run between rewrites: never named as culprits.
_BOOKKEEPING = {"InferShapes", "InferDataTypes", "GiveUniqueNodeNames", "GiveReadableTensorNames",
                "RemoveIdentityOps", "SortGraph", "GiveUniqueParameterTensors", "RemoveUnusedTensors",
                "RemoveStaticGraphInputs", "InferDataLayouts"}
#: Stuck nodes named in the message, at most.
_NAMED = 8


class NoProgress(HyqError):
    """A graph pass kept changing the graph without converging."""


def max_rounds(model: ModelWrapper) -> int:
    """The round bound of a loop over ``model``: ``HYQ_MAX_PASS_ROUNDS`` or a multiple of its node count."""
    env = os.environ.get("HYQ_MAX_PASS_ROUNDS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise HyqError(f"HYQ_MAX_PASS_ROUNDS must be a positive integer, got {env!r}") from None
        if n < 1:
            raise HyqError(f"HYQ_MAX_PASS_ROUNDS must be a positive integer, got {env!r}")
        return n
    return max(_MIN_ROUNDS, _ROUNDS_PER_NODE * len(model.graph.node))


def _signatures(model: ModelWrapper) -> dict[tuple, tuple[str, str]]:
    """Each node's wiring and attributes (not its name) -> (name, op type): what a rewrite changes."""
    return {(n.op_type, tuple(n.input), tuple(n.output), tuple(a.SerializeToString() for a in n.attribute)):
            (n.name, n.op_type) for n in model.graph.node}


def _digest(model: ModelWrapper) -> bytes:
    return hashlib.sha1(model.model.SerializeToString()).digest()


_local = threading.local()


def _journals() -> list[list[tuple[str, list[tuple[str, str]]]]]:
    """The change records of the loops running in this thread, innermost last."""
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def _record(rewrite: str, before: dict, after: ModelWrapper) -> None:
    """Note in every enclosing loop's round which nodes ``rewrite`` just changed."""
    changed = [v for k, v in _signatures(after).items() if k not in before]
    for journal in _journals():
        journal.append((rewrite, changed))


class _Loop:
    """One fixed-point loop: counts its rounds, remembers the graphs it saw, names the culprits."""

    def __init__(self, what: str, model: ModelWrapper):
        self.what, self.limit, self.rounds = what, max_rounds(model), 0
        self.seen: set[bytes] = set()  # graphs after each changing round (a cycle shows one round later)
        self.journal: list[tuple[str, list[tuple[str, str]]]] = []

    @contextlib.contextmanager
    def round(self):
        self.journal = []
        _journals().append(self.journal)
        try:
            yield
        finally:
            _journals().pop()  # loops nest: this round's journal is the innermost

    def changed(self, model: ModelWrapper) -> None:
        """After a round that reported a change: raise when it brought nothing new."""
        self.rounds += 1
        d = _digest(model)
        if d in self.seen:
            raise NoProgress(self._message(model, "the graph came back to an earlier state (the rewrites undo each "
                                           f"other) after {self.rounds} rounds"))
        self.seen.add(d)
        if self.rounds >= self.limit:
            raise NoProgress(self._message(model, f"still changing after {self.rounds} rounds"))

    def _message(self, model: ModelWrapper, why: str) -> str:
        rewrites = list(dict.fromkeys(r for r, _ in self.journal)) or [self.what]
        nodes = list(dict.fromkeys(n for _, ch in self.journal for n in ch))
        shown = ", ".join(f"{name} ({op})" for name, op in nodes[:_NAMED]) or "none named"
        more = f" and {len(nodes) - _NAMED} more" if len(nodes) > _NAMED else ""
        return (f"graph pass {self.what} makes no progress: {why}; rewrites {', '.join(rewrites)} keep changing "
                f"{shown}{more}; these nodes cannot be streamlined into hardware layers: quantize or change the "
                "layers around them (or raise HYQ_MAX_PASS_ROUNDS if the graph is merely large)")


def _repeat(transformation, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
    """Apply ``transformation`` until it reports no change, bounded; returns (model, changed at all)."""
    loop = _Loop(type(transformation).__name__, model)
    culprit = loop.what not in _BOOKKEEPING and not isinstance(transformation, ComposedTransformation)
    while True:
        before = _signatures(model) if culprit else None  # a composition's members record themselves
        with loop.round():
            model, changed = transformation.apply(model)
            if changed and culprit:
                _record(loop.what, before, model)
        if not changed:
            return model, loop.rounds > 0
        loop.changed(model)


def _transform(self, transformation, make_deepcopy=True, cleanup=True, apply_to_subgraphs=False,
               use_preorder_traversal=True):
    """``ModelWrapper.transform`` with its repeat-until-unchanged loop bounded (same arguments)."""
    from qonnx.transformation.double_to_single_float import DoubleToSingleFloat

    model = copy.deepcopy(self) if make_deepcopy else self
    if self.fix_float64:
        model, _ = DoubleToSingleFloat().apply(model)
    if apply_to_subgraphs and not use_preorder_traversal:
        model.transform_subgraphs(transformation, make_deepcopy, cleanup, apply_to_subgraphs, use_preorder_traversal)
    model, _ = _repeat(transformation, model)
    if cleanup:
        model.cleanup()
    if apply_to_subgraphs and use_preorder_traversal:
        model.transform_subgraphs(transformation, make_deepcopy, cleanup, apply_to_subgraphs, use_preorder_traversal)
    return model


def _composed_apply(self, model):
    """``ComposedTransformation.apply`` with each member's repeat loop bounded (same result)."""
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.remove import RemoveIdentityOps

    graph_modified = False
    for transformation in self.transformations:
        model = copy.deepcopy(model)
        model, changed = _repeat(transformation, model)
        graph_modified = graph_modified or changed
        model.cleanup()
        model = model.transform(RemoveIdentityOps())
        model = model.transform(GiveUniqueNodeNames())
        model = model.transform(GiveReadableTensorNames())
        model = model.transform(InferShapes())
        model = model.transform(InferDataTypes())
    return model, graph_modified


_SWAP = ScopedSwap({(ModelWrapper, "transform"): _transform, (ComposedTransformation, "apply"): _composed_apply})
#: qonnx's own loops, restored when the outermost :func:`bounded_passes` block ends
_ORIGINAL = _SWAP.original


@contextlib.contextmanager
def bounded_passes():
    """Bound qonnx's and finn-plus' fixed-point loops inside this block (blocks may nest)."""
    with _SWAP.active():
        yield
