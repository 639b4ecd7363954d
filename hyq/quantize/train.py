"""Float training, calibration and quantization-aware fine-tuning of a Brevitas model.

One model object serves both roles: Brevitas quantizers are switched off for the float
phase (so ``accuracy.float`` is the same network without quantization), then activation
ranges are calibrated and the quantized network is fine-tuned (QAT).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
from brevitas.graph.calibrate import calibration_mode, quantization_status_manager
from torch import nn

from hyq.config import PtqConfig, TrainConfig
from hyq.data import Dataset
from hyq.progress import info


@contextmanager
def deterministic():
    """One thread and torch's deterministic algorithms: the same flow file gives the same
    weights on any machine. Multi-threaded CPU reductions (conv weight gradients, sums)
    split work by thread count, so their float rounding - and after 30 epochs the
    trained weights and accuracy - depended on the machine's cores."""
    n, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(n)
        torch.use_deterministic_algorithms(det)


def float_mode(model: nn.Module, training: bool):
    """Context in which every Brevitas quantizer of ``model`` is bypassed."""
    return quantization_status_manager(
        model, disable_act_quant=True, disable_weight_quant=True, disable_bias_quant=True, is_training=training
    )


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, quantized: bool = True, batch: int = 256) -> float:
    """Top-1 accuracy on (x, y), with quantization on or off."""
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        if quantized:
            out = model(x[i : i + batch])
        else:
            with float_mode(model, training=False):
                out = model(x[i : i + batch])
        correct += int((torch.as_tensor(out).argmax(1) == y[i : i + batch]).sum())
    return correct / len(x)


def run_epochs(model: nn.Module, ds: Dataset, epochs: int, lr: float, batch: int, seed: int, label: str) -> None:
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    loss_fn = nn.CrossEntropyLoss()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(ds.x_train), generator=gen)
        total = 0.0
        for i in range(0, len(perm), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = loss_fn(torch.as_tensor(model(ds.x_train[idx])), ds.y_train[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        if ep == epochs - 1 or ep % max(1, epochs // 5) == 0:
            info(f"{label} epoch {ep + 1}/{epochs}: loss {total / len(perm):.4f}")


@torch.no_grad()
def calibrate(model: nn.Module, x: torch.Tensor, batch: int = 64) -> None:
    """Collect activation ranges on ``x`` with Brevitas' calibration mode."""
    with calibration_mode(model):
        for i in range(0, len(x), batch):
            model(x[i : i + batch])


@dataclass(frozen=True)
class TrainResult:
    float_accuracy: float
    quant_accuracy: float


@deterministic()
def train(model: nn.Module, ds: Dataset, cfg: TrainConfig, ptq: PtqConfig | None = None,
          pretrained: bool = False) -> TrainResult:
    """Float training -> calibration (PTQ when ``ptq`` asks for more) -> QAT; test accuracies of both phases.

    With ``ptq`` naming a scaling method or bias correction, calibration becomes
    :func:`hyq.quantize.ptq.post_training_quantize` (scaling, calibration, bias correction).
    ``pretrained``: the float weights are given (a checkpoint): float training is skipped.
    Runs :func:`deterministic`-ally.
    """
    torch.manual_seed(cfg.seed)
    if not pretrained:
        with float_mode(model, training=True):
            run_epochs(model, ds, cfg.epochs, cfg.lr, cfg.batch_size, cfg.seed, "float")
    acc_float = accuracy(model, ds.x_test, ds.y_test, quantized=False)
    info(f"float accuracy {acc_float:.4f}")
    from hyq.quantize.synthetic import calibration_images

    x_calib = calibration_images(model, ds.x_train, min(cfg.calib_samples, len(ds.x_train)),
                                 ptq.calibration if ptq is not None else "data", cfg.seed)
    if ptq is not None and (ptq.method != "none" or ptq.bias_correction):
        from hyq.quantize.ptq import post_training_quantize

        post_training_quantize(model, x_calib, ptq)
    else:
        calibrate(model, x_calib)
    info(f"calibrated on {len(x_calib)} {'synthetic ' if ptq is not None and ptq.calibration == 'synthetic' else ''}samples: "
         f"PTQ accuracy {accuracy(model, ds.x_test, ds.y_test):.4f}")
    if cfg.qat_epochs:
        run_epochs(model, ds, cfg.qat_epochs, cfg.lr * 0.1, cfg.batch_size, cfg.seed + 1, "QAT")
    acc_q = accuracy(model, ds.x_test, ds.y_test)
    info(f"quantized accuracy {acc_q:.4f}")
    return TrainResult(acc_float, acc_q)
