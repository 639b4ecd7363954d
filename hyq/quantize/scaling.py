"""Distribution scaling: QADS and the methods it is compared with, behind one interface.

``scale(model, method, x_calib, ...)`` finds the scalable regions (:mod:`hyq.quantize.regions`),
chooses one positive factor alpha per channel and region, and folds it into the model's
weights and BatchNorms (x / alpha on the activation side, W * alpha on the weight side).
The float function is unchanged and the exported graph keeps its node count.

Methods:

- ``none``        alpha = 1.
- ``qads``        HyQ's quantization-aware distribution scaling: alpha minimises the MSE
                  between the float output of the sinks and their output with quantized
                  inputs x / alpha and quantized weights W * alpha (Adam on log alpha,
                  cosine annealing, alpha initialised to 1, best-loss alpha kept).
- ``smoothquant`` Brevitas' activation equalization (SmoothQuant: max|x|^s / max|W|^(1-s)).
- ``cle``         Brevitas' cross-layer equalization of the source and sink weight ranges.
- ``awq``         AWQ-style closed form alpha = mean|x|^s / mean|W|^(1-s), s on a grid,
                  the s with the lowest quantized-output MSE kept.

The quantized-output MSE every method is judged by (:func:`region_mse`) emulates the
model's quantizers: per-tensor activations without zero point (unsigned when the input is
non-negative, else signed symmetric) and symmetric narrow-range per-output-channel weights.
Rounding has a straight-through gradient, so alpha receives gradients.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from brevitas.graph import equalize as beq
from torch import nn

from hyq.config import PTQ_METHODS
from hyq.quantize.regions import Region, Skipped, find_regions, fold, one_thread, unreached_pointwise
from hyq.quantize.train import float_mode

METHODS = PTQ_METHODS  # named once, in the flow-file schema


@dataclass(frozen=True)
class ScalingOptions:
    """Settings of the scaling methods (defaults: HyQ's reference settings, lr 1e-2)."""

    qads_iters: int = 1000
    qads_lr: float = 0.01
    smoothquant_alpha: float = 0.5
    awq_grid: int = 21
    cle_iterations: int = 20
    max_rows: int = 8192  # activation rows per sink kept for the MSE (seeded subsample)
    seed: int = 0


@dataclass
class RegionResult:
    region: Region
    alpha: torch.Tensor
    mse_unscaled: float
    mse_scaled: float

    def as_dict(self) -> dict:
        a = self.alpha
        return {"sinks": list(self.region.sinks), "srcs": list(self.region.srcs), "channels": self.region.channels,
                "mse_unscaled": self.mse_unscaled, "mse_scaled": self.mse_scaled,
                "alpha_min": float(a.min()), "alpha_max": float(a.max())}


@dataclass
class ScalingResult:
    method: str
    regions: list[RegionResult]
    skipped: list[Skipped] = field(default_factory=list)
    unreached: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"method": self.method, "regions": [r.as_dict() for r in self.regions],
                "skipped": [{"srcs": list(s.srcs), "sinks": list(s.sinks), "reason": s.reason} for s in self.skipped],
                "unreached_pointwise": self.unreached}


# ---------------------------------------------------------------- quantizer emulation

def _ste_round(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


def fake_quant_act(x: torch.Tensor, bits: int, signed: bool) -> torch.Tensor:
    """Per-tensor max-calibrated quantizer without zero point (hyq's activation quantizers)."""
    levels = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
    scale = x.abs().max().clamp_min(1e-12) / levels
    lo = -levels - 1 if signed else 0
    return torch.clamp(_ste_round(x / scale), lo, levels) * scale


def fake_quant_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Symmetric narrow-range per-output-channel weight quantizer (rows of ``w``)."""
    levels = 2 ** (bits - 1) - 1
    scale = w.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / levels
    return torch.clamp(_ste_round(w / scale), -levels, levels) * scale


@dataclass
class SinkData:
    """One sink as a matrix product: float input rows ``x`` (M x C), weight ``w`` (O x C)."""

    x: torch.Tensor
    w: torch.Tensor
    wbits: int
    abits: int
    signed: bool

    def __post_init__(self) -> None:
        self.ref = self.x @ self.w.T


def region_mse(sinks: Sequence[SinkData], alpha: torch.Tensor) -> torch.Tensor:
    """Sum over sinks of MSE(x W^T, Q_a(x / alpha) Q_w(W * alpha)^T) - QADS' objective."""
    total = 0.0
    for s in sinks:
        xq = fake_quant_act(s.x / alpha, s.abits, s.signed)
        wq = fake_quant_weight(s.w * alpha, s.wbits)
        total = total + torch.mean((xq @ wq.T - s.ref) ** 2)
    return total


# ---------------------------------------------------------------- statistics

def _value(t):
    return t.value if hasattr(t, "value") else t


def _as_rows(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) or (N, ..., C) activations as rows of channels."""
    if x.dim() == 4:
        return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])
    return x.reshape(-1, x.shape[-1])


def _weight_bits(m: nn.Module) -> int:
    return int(round(float(m.quant_weight().bit_width)))


def _weight_matrix(m: nn.Module) -> torch.Tensor:
    w = m.weight.detach().clone()  # a copy: folding later changes the parameter in place
    return w.reshape(w.shape[0], w.shape[1])


@torch.no_grad()
def sink_inputs(model: nn.Module, names: Sequence[str], x: torch.Tensor, batch: int = 128) -> dict[str, torch.Tensor]:
    """Float-model inputs of the named layers on ``x`` (quantization off), concatenated over batches."""
    modules = dict(model.named_modules())
    got: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    hooks = [modules[n].register_forward_hook(lambda m, inp, out, n=n: got[n].append(_value(inp[0]).detach()))
             for n in names]
    try:
        with float_mode(model, training=False):
            model.eval()
            for i in range(0, len(x), batch):
                model(x[i : i + batch])
    finally:
        for h in hooks:
            h.remove()
    return {n: torch.cat(v) for n, v in got.items()}


def _sink_data(model: nn.Module, region: Region, inputs: dict[str, torch.Tensor], max_rows: int, seed: int,
               default_abits: int) -> list[SinkData]:
    modules = dict(model.named_modules())
    out = []
    for n, abits in zip(region.sinks, region.abits):
        rows = _as_rows(inputs[n])
        if len(rows) > max_rows:
            rows = rows[torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed))[:max_rows]]
        m = modules[n]
        out.append(SinkData(rows, _weight_matrix(m), _weight_bits(m), abits or default_abits, signed=bool((rows < 0).any())))
    return out


# ---------------------------------------------------------------- the methods

@one_thread()
def qads_alpha(sinks: Sequence[SinkData], iters: int, lr: float) -> torch.Tensor:
    """QADS: Adam on log alpha with cosine annealing from alpha = 1; the best-loss alpha."""
    log_a = torch.zeros(sinks[0].x.shape[1], requires_grad=True)
    opt = torch.optim.Adam([log_a], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(iters, 1))
    best, best_a = math.inf, torch.ones_like(log_a)
    for _ in range(iters):
        opt.zero_grad()
        loss = region_mse(sinks, log_a.exp())
        if loss.item() < best:
            best, best_a = loss.item(), log_a.detach().exp().clone()
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        if region_mse(sinks, log_a.exp()).item() < best:
            best_a = log_a.detach().exp().clone()
    return best_a


def _normalised(a: torch.Tensor) -> torch.Tensor:
    """Factors divided by their geometric mean of extremes, as AWQ does (keeps ranges centred)."""
    return a / torch.sqrt(a.max() * a.min())


@one_thread()
@torch.no_grad()
def awq_alpha(sinks: Sequence[SinkData], grid: int) -> torch.Tensor:
    """AWQ-style: alpha = mean|x|^s / mean|W|^(1-s), s in linspace(0, 1, grid), lowest MSE kept."""
    x_mean = torch.cat([s.x.abs() for s in sinks]).mean(0).clamp_min(1e-8)
    w_mean = torch.cat([s.w.abs() for s in sinks]).mean(0).clamp_min(1e-8)
    best, best_a = math.inf, torch.ones_like(x_mean)
    for s in torch.linspace(0.0, 1.0, grid).tolist():
        a = _normalised(x_mean**s / w_mean ** (1 - s))
        loss = region_mse(sinks, a).item()
        if loss < best:
            best, best_a = loss, a
    return best_a


def _sink_column_max(model: nn.Module, region: Region) -> torch.Tensor:
    modules = dict(model.named_modules())
    return torch.stack([_weight_matrix(modules[n]).abs().amax(0) for n in region.sinks]).amax(0)


def _applied_alpha(model: nn.Module, region: Region, before: torch.Tensor) -> torch.Tensor:
    """The factor an in-place method put on the sinks' input channels (column max after / before)."""
    after = _sink_column_max(model, region)
    return torch.where(before > 0, after / before.clamp_min(1e-12), torch.ones_like(before))


@torch.no_grad()
def _brevitas_smoothquant(model: nn.Module, region: Region, inputs: dict[str, torch.Tensor], s: float) -> torch.Tensor:
    """Brevitas' activation equalization (SmoothQuant) of one region, applied in place; returns alpha."""
    before = _sink_column_max(model, region)
    act_max = [torch.amax(inputs[n].abs(), dim=0) for n in region.sinks]  # as Brevitas' stats hook keeps them
    beq._cross_layer_equalization(
        model, region.brevitas, False, scale_computation_type="maxabs", list_of_act_val=act_max, alpha=s)
    return _applied_alpha(model, region, before)


@torch.no_grad()
def _brevitas_cle(model: nn.Module, regions: Sequence[Region], iterations: int) -> list[torch.Tensor]:
    """Brevitas' cross-layer equalization of all regions, applied in place; returns each alpha."""
    before = [_sink_column_max(model, r) for r in regions]
    beq._equalize(model, [r.brevitas for r in regions], iterations, 0.05, True, "vaiq", "maxabs")
    return [_applied_alpha(model, r, b) for r, b in zip(regions, before)]


def scale(model: nn.Module, method: str, x_calib: torch.Tensor, layers: Sequence[str] = ("*",),
          options: ScalingOptions | None = None, default_abits: int = 8) -> ScalingResult:
    """Apply distribution scaling ``method`` to ``model`` in place (see the module docstring).

    ``x_calib``: calibration inputs; ``layers``: fnmatch patterns selecting sinks (pointwise
    convs / linear layers) by name. The quantized MSE uses each sink's own weight width and
    the width of the activation quantizer in front of it (``default_abits`` when none is found).
    """
    if method not in METHODS:
        raise ValueError(f"unknown scaling method '{method}'; choose one of {', '.join(METHODS)}")
    opt = options or ScalingOptions()
    regions, skipped = find_regions(model, layers, sample=x_calib[:8])
    unreached = unreached_pointwise(model, regions, skipped)
    inputs = sink_inputs(model, [n for r in regions for n in r.sinks], x_calib)
    data = {r.name: _sink_data(model, r, inputs, opt.max_rows, opt.seed, default_abits) for r in regions}
    ones = {r.name: torch.ones(r.channels) for r in regions}
    before = {r.name: region_mse(data[r.name], ones[r.name]).item() for r in regions}
    if method == "cle":
        alphas = dict(zip([r.name for r in regions], _brevitas_cle(model, regions, opt.cle_iterations)))
    else:
        alphas = {}
        for r in regions:
            if method == "none":
                a = ones[r.name]
            elif method == "qads":
                a = qads_alpha(data[r.name], opt.qads_iters, opt.qads_lr)
            elif method == "awq":
                a = awq_alpha(data[r.name], opt.awq_grid)
            else:
                a = _brevitas_smoothquant(model, r, inputs, opt.smoothquant_alpha)
            if method in ("qads", "awq"):
                fold(model, r, a)
            alphas[r.name] = a
    results = [RegionResult(r, alphas[r.name], before[r.name], region_mse(data[r.name], alphas[r.name]).item())
               for r in regions]
    return ScalingResult(method, results, skipped, unreached)
