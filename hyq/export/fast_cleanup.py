"""Linear-time versions of the qonnx passes that make export cleanup and streamlining quadratic.

finn-plus' ``StreamlinePlus`` runs qonnx's cleanup (``SortGraph``, ...) and
``GiveReadableTensorNames`` after every one of its ~50 rewrites, round after round, and
every ``InferShapes`` re-wraps the model, which checks every tensor's shape. These passes
look tensors up by scanning the whole graph (``find_producer``, ``rename_tensor``,
``get_initializer``, ``get_tensor_shape``, ``list.index`` on protobuf nodes), so each costs
O(nodes^2); ``FoldConstants`` even folds one node per pass and re-infers all shapes after
each. On a MobileViT-XXS graph (thousands of nodes) export cleanup and streamlining then
take hours. The replacements below compute the same result with dictionaries: the same
topological order (same dependency sets, the same rounds of ``toposort_flatten``), the same
tensor names, the same folded constants. :func:`fast_passes` swaps them in for the extent of a
``with`` block (hyq's export and build) and restores qonnx's own afterwards; tests
compare whole graphs with and without it.
"""

from __future__ import annotations

import contextlib

import onnx
import qonnx.core.onnx_exec as oxe
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import is_custom_op
from qonnx.transformation import fold_constants, general, infer_data_layouts, infer_datatypes, infer_shapes
from qonnx.util.basic import get_by_name
from toposort import toposort_flatten

from hyq.export.scoped import ScopedSwap

def toposort_flatten_linear(data: dict) -> list:
    """``toposort.toposort_flatten(data)`` in linear time.

    ``toposort`` peels off the items without dependencies round after round and rebuilds
    the whole remaining dict each round: O(items x depth), quadratic for a deep network.
    An item's round is the length of its longest dependency chain, computed here in one
    pass (Kahn's order); the result lists the rounds in order, each sorted, as toposort does.
    """
    deps = {item: {e for e in dep if e != item} for item, dep in data.items()}
    for extra in {e for dep in deps.values() for e in dep} - deps.keys():
        deps[extra] = set()
    waiting = {item: len(dep) for item, dep in deps.items()}
    users: dict = {}
    for item, dep in deps.items():
        for e in dep:
            users.setdefault(e, []).append(item)
    order = [item for item, n in waiting.items() if n == 0]
    level = dict.fromkeys(order, 0)
    for item in order:  # grows while iterating: Kahn's algorithm
        for user in users.get(item, ()):
            level[user] = max(level.get(user, 0), level[item] + 1)
            waiting[user] -= 1
            if waiting[user] == 0:
                order.append(user)
    if len(order) != len(deps):
        return toposort_flatten(data)  # a cycle: toposort's own error
    rounds: list[list] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for item in order:
        rounds[level[item]].append(item)
    return [item for r in rounds for item in sorted(r)]


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
    order = toposort_flatten_linear(deps)
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


def _valueinfos(graph) -> tuple[dict, set]:
    """name -> first ValueInfo among inputs, outputs, value_info (the one qonnx's lookups
    return), and the names that have more than one (qonnx asserts on those)."""
    first, dup = {}, set()
    for seq in (graph.input, graph.output, graph.value_info):
        for vi in seq:
            if vi.name in first:
                dup.add(vi.name)
            else:
                first[vi.name] = vi
    return first, dup


def check_all_tensor_shapes_specified(self, fix_missing_init_shape=False):
    """``ModelWrapper.check_all_tensor_shapes_specified`` (run by every ``ModelWrapper()``,
    so by every ``InferShapes``) with one ValueInfo index instead of a scan per tensor."""
    graph = self._model_proto.graph
    vis, dup = _valueinfos(graph)
    inits = {}
    for t in graph.initializer:
        inits.setdefault(t.name, t)
    ret = True
    for n in graph.node:
        for name in [*(i for i in n.input if i != ""), *n.output]:
            assert name not in dup, "Multiple ValueInfoProto found for " + name
            if name in vis:
                continue
            init = inits.get(name)
            if init is None:
                ret = False  # no shape defined for this tensor
            elif fix_missing_init_shape:
                self.set_tensor_shape(name, list(init.dims), dtype=init.data_type)
                vis[name] = True
    return ret


@contextlib.contextmanager
def _indexed_valueinfo(model):
    """While the graph's value infos do not change: ``model.get_tensor_valueinfo`` by dict."""
    vis, dup = _valueinfos(model.graph)

    def lookup(name):
        assert name not in dup, "Multiple ValueInfoProto found for " + name
        return vis.get(name)

    model.get_tensor_valueinfo = lookup
    try:
        yield
    finally:
        del model.get_tensor_valueinfo


_ONNX_TO_QONNX = {onnx.TensorProto.FLOAT: "FLOAT32", onnx.TensorProto.FLOAT16: "FLOAT16"}


def _annotation_entry(qa, key: str, value: str | None) -> None:
    """Set (or clear, for None) entry ``key`` of annotation ``qa``, as qonnx's setters do."""
    entry = get_by_name(qa.quant_parameter_tensor_names, key, "key")
    if entry is not None:
        if value is None:
            entry.Clear()
        else:
            entry.value = value
    elif value is not None:
        qa.quant_parameter_tensor_names.append(onnx.StringStringEntryProto(key=key, value=value))


@contextlib.contextmanager
def _indexed_lookups(model):
    """While a pass changes only datatype and layout annotations: ``model``'s lookups of
    value infos, shapes, datatypes and layouts by dict, with qonnx's results and errors."""
    graph = model.graph
    vis, vi_dup = _valueinfos(graph)
    qas, qa_dup = {}, set()
    for qa in graph.quantization_annotation:
        if qa.tensor_name in qas:
            qa_dup.add(qa.tensor_name)
        else:
            qas[qa.tensor_name] = qa

    def valueinfo(name):
        assert name not in vi_dup, "Multiple ValueInfoProto found for " + name
        return vis.get(name)

    def shape(name, fix_missing_init_shape=False):
        vi = valueinfo(name)
        if vi is not None:
            return [x.dim_value for x in vi.type.tensor_type.shape.dim]
        ret = ModelWrapper.get_tensor_shape(model, name, fix_missing_init_shape)  # initializer
        if fix_missing_init_shape and ret is not None:
            vis[name] = ModelWrapper.get_tensor_valueinfo(model, name)
        return ret

    def annotation(name):
        if name in qa_dup:
            raise Exception("Found multiple get_by_name matches, undefined behavior")
        return qas.get(name)

    def entry(name, key):
        qa = annotation(name)
        return None if qa is None else get_by_name(qa.quant_parameter_tensor_names, key, "key")

    def set_entry(name, key, value):
        qa = annotation(name)
        if qa is not None:
            _annotation_entry(qa, key, value)
        elif value is not None:
            qa = onnx.TensorAnnotation(tensor_name=name)
            qa.quant_parameter_tensor_names.append(onnx.StringStringEntryProto(key=key, value=value))
            graph.quantization_annotation.append(qa)
            qas[name] = graph.quantization_annotation[-1]

    def get_dt(name):
        dt = entry(name, "finn_datatype")
        if dt is not None:
            return DataType[dt.value]
        vi = valueinfo(name)
        if vi is None:  # some initialized tensors don't get ValueInfo even after shape inference
            _, onnx_dtype = model.get_initializer(name, return_dtype=True)
        else:
            onnx_dtype = vi.type.tensor_type.elem_type
        return DataType[_ONNX_TO_QONNX.get(onnx_dtype, "FLOAT32")]

    def set_dt(name, datatype):
        set_entry(name, "finn_datatype", None if datatype is None else datatype.name)

    def get_layout(name):
        tl = entry(name, "tensor_layout")
        return None if tl is None else eval(tl.value)  # as qonnx stores it: str(list)

    def set_layout(name, data_layout):
        assert type(data_layout) is list, "data_layout must be a list"
        set_entry(name, "tensor_layout", str(data_layout))

    fast = {"get_tensor_valueinfo": valueinfo, "get_tensor_shape": shape, "get_tensor_datatype": get_dt,
            "set_tensor_datatype": set_dt, "get_tensor_layout": get_layout, "set_tensor_layout": set_layout}
    for name, fn in fast.items():
        setattr(model, name, fn)
    try:
        yield
    finally:
        for name in fast:
            delattr(model, name)


def _with_indexed_lookups(original):
    """A pass's ``apply`` run with :func:`_indexed_lookups` (passes that only annotate)."""

    def apply(self, model):
        with _indexed_lookups(model):
            return original(self, model)

    apply.__doc__ = f"``{original.__qualname__}`` with dict lookups (:func:`_indexed_lookups`)."
    return apply


def hide_finn_ops(model):
    """``infer_shapes._hide_finn_ops``: the same replacements, the node list rebuilt once."""
    graph = model.graph
    hidden, nodes = {}, []
    with _indexed_valueinfo(model):  # make_shape_compatible_op looks up output value infos
        for node in graph.node:
            if is_custom_op(node.domain):
                new = infer_shapes._make_shape_compatible_op(node, model)
                new.name = node.name  # keep old node name to help debug shape inference issues
                hidden[str(new)] = node
                nodes.append(new)
            else:
                nodes.append(node)
    if hidden:
        del graph.node[:]
        graph.node.extend(nodes)
    return hidden


def restore_finn_ops(model, hidden_ops):
    """``infer_shapes._restore_finn_ops``, the node list rebuilt once."""
    if not hidden_ops:
        return
    graph = model.graph
    nodes = [hidden_ops.get(str(n), n) for n in graph.node]
    del graph.node[:]
    graph.node.extend(nodes)


def give_unique_parameter_tensors(self, model):
    """``GiveUniqueParameterTensors.apply`` with a set of initializer names: the same
    copies, made in the same order (so the same random names)."""
    inits = {t.name for t in model.graph.initializer}
    seen = set()
    for n in model.graph.node:
        for idx, name in enumerate(list(n.input)):
            if name not in inits:
                continue  # dynamic input
            if name not in seen:
                seen.add(name)
                continue
            new = model.make_new_valueinfo_name()
            model.set_initializer(new, model.get_initializer(name))
            model.set_tensor_datatype(new, model.get_tensor_datatype(name))
            n.input[idx] = new
    return model, False


def sort_commutative_inputs_initializer_last(self, model):
    """``SortCommutativeInputsInitializerLast.apply`` with a set of initializer names."""
    inits = {t.name for t in model.graph.initializer}
    modified = False
    for node in model.graph.node:
        if node.op_type in self.SUPPORTED_COMMUTATIVE_OPS:
            dynamics = [i for i in node.input if i not in inits]
            inputs = dynamics + [i for i in node.input if i not in dynamics]
            for i, name in enumerate(inputs):
                if node.input[i] != name:
                    modified = True
                node.input[i] = name
    return model, modified


def fold_constants_apply(self, model):
    """``FoldConstants.apply``, folding a run of nodes per pass instead of one.

    qonnx folds the first foldable node in graph order, re-infers all shapes, and starts
    over. Here one pass folds, in graph order, every node whose inputs are all constant
    (including constants folded earlier in the pass): in a topologically sorted graph that
    is exactly qonnx's sequence, since a fold makes only later nodes foldable. The one
    thing a fold can change for later nodes is a tensor shape (a Reshape whose target
    became constant), which a ``Shape`` node reads: the pass stops before a ``Shape`` node
    on a dynamic input once it has folded something, and the next pass (after shape
    inference, as in qonnx) takes it from there.
    """
    graph = model.graph
    opset_version = model.model.opset_import[0].version
    inits = {t.name for t in graph.initializer}
    shaped = inits | {vi.name for seq in (graph.input, graph.output, graph.value_info) for vi in seq}
    context = model.make_empty_exec_context()
    folded = []
    for idx, n in enumerate(graph.node):
        exclude = n.op_type in self.exclude_op_types
        all_constant = all(i in inits for i in n.input)
        is_const_shape = len(n.input) > 0 and n.op_type == "Shape" and n.input[0] in shaped
        if not (all_constant or is_const_shape or len(n.input) == 0) or exclude:
            continue
        if folded and is_const_shape and not all_constant:
            break  # its input's shape may change with what was folded: infer shapes first
        for inp in n.input:  # populate missing initializer ValueInfos, as qonnx does
            model.get_tensor_shape(inp, fix_missing_init_shape=True)
        oxe.execute_node(n, context, graph, opset_version=opset_version)
        model.set_initializer(n.output[0], context[n.output[0]])
        inits.add(n.output[0])
        shaped.add(n.output[0])
        folded.append(idx)
    if not folded:
        return model, False
    for idx in reversed(folded):
        del graph.node[idx]
    return model.transform(infer_shapes.InferShapes()), True


_SWAP = ScopedSwap({
    (general.SortGraph, "apply"): sort_graph,
    (general.GiveReadableTensorNames, "apply"): give_readable_tensor_names,
    (general.GiveUniqueParameterTensors, "apply"): give_unique_parameter_tensors,
    (general.SortCommutativeInputsInitializerLast, "apply"): sort_commutative_inputs_initializer_last,
    (fold_constants.FoldConstants, "apply"): fold_constants_apply,
    (ModelWrapper, "check_all_tensor_shapes_specified"): check_all_tensor_shapes_specified,
    (infer_shapes, "_hide_finn_ops"): hide_finn_ops,
    (infer_shapes, "_restore_finn_ops"): restore_finn_ops,
    (infer_datatypes.InferDataTypes, "apply"): _with_indexed_lookups(infer_datatypes.InferDataTypes.apply),
    (infer_data_layouts.InferDataLayouts, "apply"):
        _with_indexed_lookups(infer_data_layouts.InferDataLayouts.apply),
})
#: qonnx's own implementations, restored when the outermost :func:`fast_passes` block ends
_ORIGINAL = _SWAP.original


@contextlib.contextmanager
def fast_passes():
    """Use the linear-time passes inside this block, qonnx's own ones again after it.

    hyq wraps its own work in it (export and cleanup, the FINN build); outside, and for
    any other user of qonnx in the process, qonnx is unchanged. Blocks may nest.
    """
    with _SWAP.active():
        yield
