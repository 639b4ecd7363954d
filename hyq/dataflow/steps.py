"""hyq's own FINN build steps: ``step_x(model, cfg) -> model``, like finn-plus' steps.

Each is a small composition of qonnx/finn-plus transformations, named for what it does.
"""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.general import GiveUniqueNodeNames
from qonnx.transformation.infer_data_layouts import InferDataLayouts
from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

from hyq.dataflow.finn_env import finn_steps
from hyq.dataflow.transforms import (INT_SOFTMAX, AbsorbScaleIntoIntSoftmax, ExactQuantThresholds, FoldHyqLayers,
                                     MoveTransposesPastConcat, RemoveIdentityMultiThreshold, UseHyqRTL)


def step_hyq_streamline(model: ModelWrapper, cfg) -> ModelWrapper:
    """Streamline residual CNNs completely: every float scale/bias ends in thresholds.

    finn-plus' ``Streamline()`` stops at forks (residual skips) and leaves the 1/N scale of
    global average pooling and ``RoundAndClipThresholds`` undone; ``StreamlinePlus`` moves
    scales past forks and joins, and the steps around it lower convolutions, turn global
    average pooling into an accumulator (its 1/N then folds into the next thresholds) and
    remove the layout transposes that collapse.

    The float constants are widened to float64 for the passes (:func:`_initializers_as`):
    FINN folds scales and biases into thresholds in the constants' own precision, and in
    float32 a threshold within rounding of an integer (XXS: -2635.99994, float32 ulp 2.4e-4)
    lands on it before the ceiling, so one accumulator value reaches the wrong code. The
    ceilinged thresholds are integers, exact again in float32. Before that, each quantizer's
    thresholds are restored to their exact float64 values (:class:`ExactQuantThresholds`).
    """
    finn_steps()  # import finn only through finn_env
    from finn.transformation.fpgadataflow.convert_to_hw.global_acc_pool import InferGlobalAccPoolLayer
    from finn.transformation.streamline.absorb import AbsorbConsecutiveTransposes, AbsorbTransposeIntoMultiThreshold
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from finn.transformation.streamline.streamline_plus import StreamlinePlus

    model = _initializers_as(model, np.float32, np.float64)
    model = model.transform(ExactQuantThresholds())
    model = model.transform(StreamlinePlus())
    model = model.transform(LowerConvsToMatMul())
    model = model.transform(StreamlinePlus())
    model = model.transform(InferGlobalAccPoolLayer())
    model = model.transform(StreamlinePlus())
    model = model.transform(AbsorbTransposeIntoMultiThreshold())
    model = model.transform(AbsorbConsecutiveTransposes())
    model = model.transform(RoundAndClipThresholds())
    model = model.transform(InferDataLayouts())
    model = _initializers_as(model, np.float64, np.float32)
    return model.transform(GiveUniqueNodeNames())


def _initializers_as(model: ModelWrapper, old, new) -> ModelWrapper:
    """Every initializer of dtype ``old`` recast to ``new`` (float32 <-> float64 around streamlining)."""
    for init in list(model.graph.initializer):
        value = numpy_helper.to_array(init)
        if value.dtype == old:
            model.set_initializer(init.name, value.astype(new))
    return model


def _softmax_layer_inference():
    """hyq's IntSoftmax HW layer inference (``hyq.dataflow.ops.softmax.InferIntSoftmax``), or None.

    The layer is its own pluggable unit: without it, IntSoftmax nodes stay outside the
    dataflow and the partition step names them.
    """
    try:
        from hyq.dataflow.ops.softmax import InferIntSoftmax
    except ImportError:
        return None
    return InferIntSoftmax


def step_hyq_convert_softmax(model: ModelWrapper, cfg) -> ModelWrapper:
    """Integer softmax -> hyq's HW layer: the dequantizing scale in front of each IntSoftmax
    node is absorbed into the node (it reads integers), the HW layer is inferred, and the
    output scale it leaves is absorbed into the thresholds that follow (the exported
    quantizer of the attention weights), which then map every code onto itself and go.

    A no-op for models without IntSoftmax (CNNs).
    """
    finn_steps()
    from finn.transformation.streamline.absorb import AbsorbMulIntoMultiThreshold
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds

    if not model.get_nodes_by_op_type(INT_SOFTMAX):
        return model
    model = model.transform(AbsorbScaleIntoIntSoftmax())
    infer = _softmax_layer_inference()
    if infer is not None:
        model = model.transform(infer())
        model = model.transform(AbsorbMulIntoMultiThreshold())
        model = model.transform(RoundAndClipThresholds())
        model = model.transform(RemoveIdentityMultiThreshold())
    return model.transform(GiveUniqueNodeNames())


def step_hyq_convert_layernorm(model: ModelWrapper, cfg) -> ModelWrapper:
    """Integer LayerNorm -> hyq's HyqLayerNorm layer: the dequantizing scale in front of each
    IntLayerNorm is absorbed (it reads integers), the layer inferred, and the 2^-F it leaves,
    with the affine gamma / beta in front of the next quantizer, absorbed into that
    quantizer's thresholds; what is left of a negative gamma (a Mul by +-1 per channel)
    goes into the layer (:class:`hyq.dataflow.ops.layernorm.AbsorbSignIntoLayerNorm`).
    No-op without IntLayerNorm."""
    finn_steps()
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds

    from hyq.dataflow.ops.layernorm import AbsorbScaleIntoLayerNorm, AbsorbSignIntoLayerNorm, InferIntLayerNorm

    if not model.get_nodes_by_op_type("IntLayerNorm"):
        return model
    model = model.transform(AbsorbScaleIntoLayerNorm()).transform(InferIntLayerNorm())
    model = model.transform(Streamline()).transform(AbsorbSignIntoLayerNorm()).transform(RoundAndClipThresholds())
    return model.transform(GiveUniqueNodeNames())


def step_hyq_table_layouts(model: ModelWrapper, cfg) -> ModelWrapper:
    """Layout changes in front of table activations move behind them
    (:class:`hyq.dataflow.ops.lookup.MoveTransposePastLookup`) and into the thresholds that
    follow, as they do for convolutions with ReLU; then past the concats they now stand in
    front of alike (:class:`hyq.dataflow.transforms.MoveTransposesPastConcat`: a MobileViT
    block's fusion), where they cancel against the layout change behind. No-op without HyqLookup."""
    finn_steps()
    from finn.transformation.streamline.absorb import AbsorbConsecutiveTransposes, AbsorbTransposeIntoMultiThreshold

    from hyq.dataflow.ops.lookup import MoveTransposePastLookup

    if not model.get_nodes_by_op_type("HyqLookup"):
        return model
    model = model.transform(MoveTransposePastLookup()).transform(AbsorbTransposeIntoMultiThreshold())
    model = model.transform(MoveTransposesPastConcat())
    model = model.transform(AbsorbConsecutiveTransposes()).transform(InferDataLayouts())
    if _half_transposed_concats(model):
        model = _transposes_past_residuals(model)
    return model.transform(GiveUniqueNodeNames())


def _half_transposed_concats(model: ModelWrapper) -> list:
    """Concats with a layout change in front of some inputs but not all (what is left when the
    fused block's input comes from a residual join, an MV2 block with a skip)."""
    out = []
    for node in model.get_nodes_by_op_type("Concat"):
        kinds = [getattr(model.find_producer(i), "op_type", None) == "Transpose" for i in node.input]
        if any(kinds) and not all(kinds):
            out.append(node)
    return out


def _transposes_past_residuals(model: ModelWrapper) -> ModelWrapper:
    """The layout change on the other side moves down past the fork and the residual Add in
    its way (FINN's MoveTransposePastFork / MoveTransposePastJoinAdd) and the thresholds
    between, then past the concat; only run where :func:`_half_transposed_concats` found one."""
    finn_steps()
    from finn.transformation.streamline.absorb import AbsorbConsecutiveTransposes, AbsorbTransposeIntoMultiThreshold
    from finn.transformation.streamline.reorder import MoveTransposePastFork, MoveTransposePastJoinAdd

    for _ in range(3):  # fork, thresholds, join: each pass moves a transpose one such stage down
        model = model.transform(MoveTransposePastFork()).transform(AbsorbTransposeIntoMultiThreshold())
        model = model.transform(MoveTransposePastJoinAdd())
    model = model.transform(MoveTransposesPastConcat())
    return model.transform(AbsorbConsecutiveTransposes()).transform(InferDataLayouts())


def step_hyq_tabulate(model: ModelWrapper, cfg) -> ModelWrapper:
    """Pointwise float subgraphs between two quantizers of at most 8 bits in (a user's own
    ``nn.GELU``, ``nn.SiLU``, ``nn.Hardswish`` as torch exports them) -> TableActivation
    (:class:`hyq.export.tables.TabulatePointwise`: the table from executing the subgraph in
    qonnx on every input code), while the quantizers are still Quant nodes. hyq's own
    exports have theirs already (a no-op then); a subgraph that is not pointwise stays and
    is reported unmapped."""
    from hyq.export.tables import TabulatePointwise

    return model.transform(TabulatePointwise())


def step_hyq_convert_tables(model: ModelWrapper, cfg) -> ModelWrapper:
    """Table activations (SiLU, GELU, Hardswish) -> hyq's HyqLookup layer: the dequantizing
    scale in front of each TableActivation is absorbed (it reads the codes), the signed
    quantizer's bias Add in front of it (FINN's MultiThreshold counts from 0, the Add makes
    the codes signed) goes into the MultiThreshold, so the table reads an integer tensor,
    and the layer is inferred; its output scale is left as a Mul for streamlining. No-op
    without tables."""
    finn_steps()
    from finn.transformation.streamline.absorb import AbsorbScalarBiasIntoMultiThreshold
    from qonnx.transformation.infer_datatypes import InferDataTypes

    from hyq.dataflow.ops.lookup import AbsorbScaleIntoTable, InferTableLookup

    if not model.get_nodes_by_op_type("TableActivation"):
        return model
    model = model.transform(AbsorbScaleIntoTable()).transform(AbsorbScalarBiasIntoMultiThreshold())
    model = model.transform(InferDataTypes()).transform(InferTableLookup())
    return model.transform(GiveUniqueNodeNames())


def step_hyq_rtl_layers(model: ModelWrapper, cfg) -> ModelWrapper:
    """FINN layers that finn-plus implements only in HLS on this part -> hyq's RTL layers.

    Runs after folding, so the stand-ins inherit FINN's PE/SIMD. Without an HLS compiler an
    ``_hls`` layer can be neither generated nor simulated; with the RTL stand-ins every
    layer of the default models is Verilog that Verilator and Yosys read. FINN layers that
    stay HLS become hyq's costed layers of the same hardware (datapath in the estimate).
    """
    finn_steps()
    from hyq.dataflow.ops import register
    from hyq.dataflow.ops.datapath_costs import UseCostedLayers

    register()
    return model.transform(UseHyqRTL(cfg.fpga_part)).transform(UseCostedLayers())


def step_hyq_folding(model: ModelWrapper, cfg) -> ModelWrapper:
    """Fold hyq's own HW layers for ``cfg.target_fps`` as FINN's step_target_fps_parallelization
    folds its own (:class:`hyq.dataflow.transforms.FoldHyqLayers`); a no-op with a folding file.

    Runs after step_hyq_rtl_layers, so it sees the final layer of every node. With a folding
    file, the file is applied again here: its entries for nodes that exist only after the
    swap (a file written by ``--fit`` from the final graph) take effect. Last, memory that
    FINN put in URAM moves to block RAM on a part without URAM
    (:class:`hyq.dataflow.part_memory.AvoidURAM`).
    """
    finn_steps()
    from finn.transformation.general import ApplyConfig

    from hyq.dataflow.part_memory import AvoidURAM

    if cfg.folding_config_file is not None:
        model = model.transform(ApplyConfig(cfg.folding_config_file))
    else:
        target = cfg._resolve_cycles_per_frame()
        if target is not None:
            model = model.transform(FoldHyqLayers(target, cfg.fpga_part))
    return model.transform(AvoidURAM(cfg.fpga_part))


#: where step_hyq_requant records its choice per Thresholding layer (in FINN's report folder)
REQUANT_REPORT = "hyq_requant.json"


def step_hyq_requant(model: ModelWrapper, cfg) -> ModelWrapper:
    """Threshold tables -> integer requantization (``HyqRequant_rtl``) per ``hardware.requant``.

    Only where :func:`hyq.integer.requant.requant_from_thresholds` proves the table equal
    to a multiply-add-shift-clip on the layer's whole input range; in ``auto`` mode only
    where it also costs less on the part (:class:`hyq.dataflow.ops.requant.ThresholdsToRequant`).
    Runs after the RTL swap (the layer keeps FINN's PE) and before hyq's folding (a folding
    file's entries for the new layers apply). Each layer's choice and reason go to
    ``<output_dir>/report/hyq_requant.json``.
    """
    import json
    from pathlib import Path

    from hyq.dataflow.ops.requant import ThresholdsToRequant

    mode = getattr(cfg, "hyq_requant", "auto")
    rewrite = ThresholdsToRequant(mode, cfg.fpga_part)
    model = model.transform(rewrite)
    out = Path(cfg.output_dir) / "report"
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{REQUANT_REPORT}.tmp"
    tmp.write_text(json.dumps({"mode": mode, "layers": rewrite.decisions}, indent=1))
    tmp.replace(out / REQUANT_REPORT)
    return model
