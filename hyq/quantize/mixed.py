"""Mixed precision: per-layer sensitivity and weight widths under a static-storage budget.

Sensitivity of a layer at width w: narrow that one layer's weights to w (all others at the
widest candidate), calibrate, and measure the MSE of the logits against the float model on
calibration images (and the test accuracy, reported alongside). The policy starts with
every layer at the widest candidate and, while the weight storage (sum of parameters x
width, the quantity :mod:`hyq.report.storage` counts for weights) exceeds the budget,
narrows the layer whose next step costs the least MSE per bit saved. Sensitive layers
therefore stay wide. The result is a set of BitSpec overrides, usable in a flow file's
``quant.layers``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from hyq.data import Dataset
from hyq.errors import HyqError
from hyq.nn.quant import BitSpec
from hyq.quantize.ptq import FloatModel, float_state, load_float_state
from hyq.quantize.regions import one_thread
from hyq.quantize.train import accuracy, calibrate, float_mode


@dataclass(frozen=True)
class WeightLayer:
    """A quantized weight layer: its BitSpec name (what overrides match), module path, size."""

    name: str
    module: str
    params: int


def _weight_bits(m: nn.Module) -> int | None:
    if not hasattr(m, "quant_weight"):
        return None
    return int(round(float(m.quant_weight().bit_width)))


def weight_layers(fm: FloatModel) -> list[WeightLayer]:
    """The model's weight layers, each with the BitSpec name its width is looked up by.

    The names are those the layer factories ask a BitSpec for; each is tied to its module by
    building the model once with only that name narrowed and seeing which layer changed.
    """
    asked: list[str] = []

    class _Recorder(BitSpec):
        def w(self, name: str) -> int:
            asked.append(name)
            return super().w(name)

    fm.build(_Recorder())
    layers = []
    for name in dict.fromkeys(asked):
        probe = fm.build(BitSpec(16, 8, overrides={name: {"weight": 2}}))
        hits = [(p, m) for p, m in probe.named_modules() if _weight_bits(m) == 2]
        if len(hits) != 1:
            raise HyqError(f"mixed precision: bit-width name '{name}' selects {len(hits)} layers, expected 1")
        path, m = hits[0]
        layers.append(WeightLayer(name, path, int(m.weight.numel())))
    return layers


def storage_bits(layers: Sequence[WeightLayer], widths: dict[str, int]) -> int:
    """Static weight storage: sum over layers of parameters x weight width."""
    return sum(layer.params * widths[layer.name] for layer in layers)


@torch.no_grad()
def _logit_mse(model: nn.Module, x: torch.Tensor, ref: torch.Tensor) -> float:
    model.eval()
    return float(torch.mean((torch.as_tensor(model(x)) - ref) ** 2))


@dataclass
class MixedResult:
    budget_bits: int
    storage_bits: int
    widths: dict[str, int]
    layers: list[WeightLayer]
    sensitivity: dict[str, dict[int, dict[str, float]]] = field(default_factory=dict)

    @property
    def overrides(self) -> dict[str, dict[str, int]]:
        """BitSpec / flow-file ``quant.layers`` overrides giving every layer its chosen width."""
        return {name: {"weight": w} for name, w in self.widths.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "budget_bits": self.budget_bits, "storage_bits": self.storage_bits, "overrides": self.overrides,
            "layers": [{"name": layer.name, "module": layer.module, "params": layer.params,
                        "wbits": self.widths[layer.name],
                        "sensitivity": {str(w): v for w, v in self.sensitivity.get(layer.name, {}).items()}}
                       for layer in self.layers],
        }


def sensitivity(fm: FloatModel, ds: Dataset, layers: Sequence[WeightLayer], widths: Sequence[int],
                abits: int, keep: Mapping[str, Mapping[str, int]] | None = None,
                eval_samples: int = 256) -> dict[str, dict[int, dict[str, float]]]:
    """{layer: {width: {"mse": logit MSE vs float, "accuracy": test accuracy}}}, one layer narrowed at a time.

    ``keep``: BitSpec overrides every measured model keeps (a flow's ``quant.layers``). The
    widest width's entry (the same for every layer) is the all-wide model.
    """
    state, _ = float_state(fm, ds)
    x_cal = ds.x_train[: fm.train.calib_samples]
    x_eval = ds.x_train[:eval_samples]
    wide = max(widths)

    def measure(overrides: dict) -> dict[str, float]:
        model = fm.build(BitSpec(wide, abits, overrides={**(keep or {}), **overrides}))
        load_float_state(model, state)
        with float_mode(model, training=False):
            ref = torch.as_tensor(model.eval()(x_eval))
        calibrate(model, x_cal)
        return {"mse": _logit_mse(model, x_eval, ref), "accuracy": accuracy(model, ds.x_test, ds.y_test)}

    base = measure({})
    table = {}
    for layer in layers:
        table[layer.name] = {wide: base}
        for w in sorted(set(widths) - {wide}, reverse=True):
            table[layer.name][w] = measure({layer.name: {"weight": w}})
    return table


def assign(layers: Sequence[WeightLayer], table: dict[str, dict[int, dict[str, float]]], widths: Sequence[int],
           budget_bits: int) -> dict[str, int]:
    """Greedy: narrow the layer whose next width costs the least MSE per bit saved, until within budget."""
    ladder = sorted(set(widths), reverse=True)
    chosen = {layer.name: ladder[0] for layer in layers}
    floor = storage_bits(layers, {layer.name: ladder[-1] for layer in layers})
    if budget_bits < floor:
        raise HyqError(f"mixed precision: budget {budget_bits} bits is below the {floor} bits of all layers "
                       f"at {ladder[-1]} bits; raise the budget or add a narrower width")
    while storage_bits(layers, chosen) > budget_bits:
        best = None
        for layer in layers:
            cur = chosen[layer.name]
            if cur == ladder[-1]:
                continue
            nxt = ladder[ladder.index(cur) + 1]
            cost = (table[layer.name][nxt]["mse"] - table[layer.name][cur]["mse"]) / (layer.params * (cur - nxt))
            if best is None or cost < best[0]:
                best = (cost, layer.name, nxt)
        chosen[best[1]] = best[2]
    return chosen


@one_thread()
def mixed_precision(fm: FloatModel, ds: Dataset, budget_bits: int, widths: Sequence[int], abits: int,
                    keep: Mapping[str, Mapping[str, int]] | None = None) -> MixedResult:
    """Sensitivity analysis and greedy assignment of weight widths within ``budget_bits``, with
    activations at ``abits`` and the overrides ``keep`` kept (see :func:`sensitivity`)."""
    if not widths or any(isinstance(w, bool) or not isinstance(w, int) or not 2 <= w <= 16 for w in widths):
        raise HyqError(f"mixed precision: widths must be integers in [2, 16], got {list(widths)}")
    if budget_bits <= 0:
        raise HyqError(f"mixed precision: budget must be > 0 bits, got {budget_bits}")
    layers = weight_layers(fm)
    floor = storage_bits(layers, {layer.name: min(widths) for layer in layers})
    if budget_bits < floor:  # fail before the sensitivity runs
        assign(layers, {}, widths, budget_bits)
    table = sensitivity(fm, ds, layers, widths, abits, keep)
    chosen = assign(layers, table, widths, budget_bits)
    return MixedResult(budget_bits, storage_bits(layers, chosen), chosen, layers, table)
