"""Linear-time versions of two qonnx cleanup passes that make streamlining quadratic.

finn-plus' ``StreamlinePlus`` runs qonnx's cleanup (``SortGraph``) and
``GiveReadableTensorNames`` after every one of its ~50 rewrites, round after round. Both
passes look tensors up by scanning the whole graph (``find_producer``, ``rename_tensor``,
``list.index`` on protobuf nodes), so each costs O(nodes^2); on a MobileViT-XXS graph
(thousands of nodes) streamlining then takes hours. The replacements below compute the
same result with dictionaries: the same topological order (same dependency sets fed to the
same ``toposort_flatten``) and the same tensor names. :func:`install` swaps them in;
tests compare whole streamlined graphs with and without it.
"""

from __future__ import annotations

import functools

from qonnx.transformation import general
from toposort import toposort_flatten

_ORIGINAL = {"SortGraph": general.SortGraph.apply, "GiveReadableTensorNames": general.GiveReadableTensorNames.apply}


def sort_graph(self, model):
    """``SortGraph.apply`` with producer lookups through a dict."""
    graph = model.graph
    if len(graph.node) == 1:
        return model, False
    nodes = list(graph.node)
    producer: dict[str, int] = {}
    for idx, n in enumerate(nodes):
        for o in n.output:
            producer.setdefault(o, idx)  # find_producer returns the first producer in node order
    sources = {t.name for t in graph.initializer} | {t.name for t in graph.input}
    deps: dict[int, set[int]] = {}
    for idx, n in enumerate(nodes):
        preds = {producer[i] for i in n.input if i in producer}
        if preds:
            deps[idx] = preds
        elif any(i in sources for i in n.input):
            deps[idx] = set()
        # nodes with neither are dropped, as SortGraph drops them
    order = toposort_flatten(deps)
    del graph.node[:]
    graph.node.extend(nodes[i] for i in order)
    return model, False


def _rename_all(model, mapping: dict[str, str]) -> None:
    """Apply ``mapping`` (old -> new tensor name) everywhere ``rename_tensor`` would."""
    graph = model.graph
    for seq in (graph.input, graph.output, graph.value_info, graph.initializer):
        for t in seq:
            t.name = mapping.get(t.name, t.name)
    for qa in graph.quantization_annotation:
        qa.tensor_name = mapping.get(qa.tensor_name, qa.tensor_name)
    for n in graph.node:
        n.input[:] = [mapping.get(i, i) for i in n.input]
        n.output[:] = [mapping.get(o, o) for o in n.output]


def give_readable_tensor_names(self, model):
    """``GiveReadableTensorNames.apply``: node-derived names computed first, applied once."""
    graph = model.graph
    names = model.get_all_tensor_names()
    final = {name: f"tensor_{i}" for i, name in enumerate(names)}  # GiveUniqueTensorNames
    inits = {t.name for t in graph.initializer}
    for n in graph.node:
        assert n.name != "", "Found empty node name"
        for k, o in enumerate(n.output):
            final[o] = f"{n.name}_out{k}"
        k = 0
        for i in n.input:
            if i in inits:
                final[i] = f"{n.name}_param{k}"
                k += 1
    for i, t in enumerate(graph.input):
        final[t.name] = "global_in" if i == 0 else f"global_in_{i}"
    for i, t in enumerate(graph.output):
        final[t.name] = "global_out" if i == 0 else f"global_out_{i}"
    _rename_all(model, final)
    return model, False


@functools.cache
def install() -> None:
    """Use the linear-time passes from now on in this process."""
    general.SortGraph.apply = sort_graph
    general.GiveReadableTensorNames.apply = give_readable_tensor_names


def uninstall() -> None:
    """Restore qonnx's own passes (for comparisons)."""
    general.SortGraph.apply = _ORIGINAL["SortGraph"]
    general.GiveReadableTensorNames.apply = _ORIGINAL["GiveReadableTensorNames"]
    install.cache_clear()
