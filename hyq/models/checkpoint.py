"""Load the float weights of a checkpoint the user brings into a hyq model.

A checkpoint is a state dict in a ``.pth`` / ``.pt`` (torch) or ``.safetensors`` file,
bare or wrapped in ``{"state_dict": ...}`` / ``{"model": ...}``. Two layouts are read:

- timm's MobileViT (``mobilevit_xxs`` / ``_xs`` / ``_s``): names are mapped onto hyq's
  blocks and timm's packed ``qkv`` (3 * dim, dim) projection is split into hyq's separate
  Q, K and V projections (its rows are Q, then K, then V). With :data:`TIMM_OPTIONS` a
  hyq preset is timm's network: the float function (quantizers off) is equal to float
  rounding.
- hyq's own names (a ``model.pt`` that ``hyq quantize`` wrote, for example).

Brevitas quantizer state is never read: activation ranges are calibrated afterwards.
Nothing is downloaded: the user brings the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from hyq.errors import HyqError

#: model options a timm MobileViT checkpoint needs (LayerNorm tokens, SiLU, classifier bias)
TIMM_OPTIONS = {"norm": "layer", "act": "silu", "classifier_bias": True}

#: state-dict entries that belong to Brevitas quantizers (calibrated, not loaded)
_QUANT = re.compile(r"(^|\.)(act_quant|weight_quant|bias_quant|input_quant|output_quant|scaling_impl)(\.|$)")

_MV2 = {"conv1_1x1": "expand", "conv2_kxk": "depthwise", "conv3_1x1.conv": "project", "conv3_1x1.bn": "project_bn"}
_VIT = {"conv_kxk": "local", "conv_1x1": "to_tokens", "norm": "norm", "conv_proj": "proj", "conv_fusion": "fusion"}
_LAYER = {"norm1": "norm1", "norm2": "norm2", "attn.proj": "attn.out_proj", "mlp.fc1": "fc1", "mlp.fc2": "fc2"}
_TOP = {"stem": "stem", "final_conv": "head", "head.fc": "classifier"}
_STAGE_KEY = re.compile(r"^stages\.(\d+)\.(\d+)\.(.+)$")


def read_state_dict(path: Path | str) -> dict[str, torch.Tensor]:
    """The tensors of checkpoint ``path`` (unwrapped from ``state_dict`` / ``model``)."""
    path = Path(path)
    if not path.is_file():
        raise HyqError(f"checkpoint not found: {path}; give the path of a .pth, .pt or .safetensors file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch and safetensors raise many types for a bad file
        raise HyqError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); "
                       "save it with torch.save(model.state_dict(), path) or safetensors") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
    if not isinstance(state, Mapping) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise HyqError(f"{path}: expected a state dict of tensors (bare or under 'state_dict' / 'model')")
    return {(k[7:] if k.startswith("module.") else k): v for k, v in state.items()}


def is_timm(state: Mapping[str, torch.Tensor]) -> bool:
    return "stem.conv.weight" in state and any(_STAGE_KEY.match(k) for k in state)


def _rename(rest: str, table: Mapping[str, str]) -> str | None:
    for old, new in table.items():
        if rest == old or rest.startswith(old + "."):
            return new + rest[len(old):]
    return None


def from_timm(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm MobileViT names -> hyq MobileViT names, packed qkv split into q/k/v_proj.

    Keys that have no hyq counterpart keep their timm name (so that loading reports them
    as unexpected).
    """
    blocks = sorted({(int(m[1]), int(m[2])) for k in state if (m := _STAGE_KEY.match(k))})
    index = {sb: i for i, sb in enumerate(blocks)}
    out: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        m = _STAGE_KEY.match(k)
        if m is None:
            new = _rename(k, _TOP)
            out[new or k] = v
            continue
        prefix, rest = f"blocks.{index[int(m[1]), int(m[2])]}", m[3]
        t = re.match(r"^transformer\.(\d+)\.(.+)$", rest)
        if t:
            layer, sub = f"{prefix}.layers.{t[1]}", t[2]
            q = re.match(r"^attn\.qkv\.(weight|bias)$", sub)
            if q:
                if v.shape[0] % 3:
                    out[k] = v
                    continue
                for name, part in zip(("q_proj", "k_proj", "v_proj"), v.chunk(3, dim=0)):
                    out[f"{layer}.attn.{name}.{q[1]}"] = part.clone()
                continue
            new = _rename(sub, _LAYER)
            out[f"{layer}.{new}" if new else k] = v
            continue
        new = _rename(rest, _MV2) or _rename(rest, _VIT)
        out[f"{prefix}.{new}" if new else k] = v
    return out


def _names(keys, limit: int = 4) -> str:
    keys = sorted(keys)
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def load_checkpoint(model: nn.Module, path: Path | str) -> dict[str, str]:
    """Load checkpoint ``path`` (timm MobileViT or hyq names) into ``model``'s float weights.

    Every float parameter and buffer of ``model`` must come from the file, every tensor of
    the file must have a place, shapes must agree; otherwise one HyqError names the keys.
    Returns the layout read: ``{"format": "timm" | "hyq", "path": ...}``.
    """
    state = read_state_dict(path)
    timm = is_timm(state)
    if timm:
        state = from_timm(state)
    own = {k: v for k, v in model.state_dict().items() if not _QUANT.search(k)}
    state = {k: v for k, v in state.items() if not _QUANT.search(k)}
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in sorted(set(own) & set(state))
              if state[k].shape != own[k].shape]
    problems = []
    if missing:
        problems.append(f"missing {_names(missing)}")
    if unexpected:
        problems.append(f"unexpected {_names(unexpected)}")
    if shapes:
        problems.append(f"shape mismatch {_names(shapes)}")
    if problems:
        hint = (f" (a timm checkpoint needs model options {TIMM_OPTIONS} and its own preset and class count)"
                if timm else "")
        raise HyqError(f"{path}: checkpoint does not fit the model: {'; '.join(problems)}{hint}")
    with torch.no_grad():
        for k, t in model.state_dict().items():
            if k in state:
                t.copy_(state[k].to(t.dtype))
    return {"format": "timm" if timm else "hyq", "path": str(path)}


def model_options(checkpoint: Path | str | None, options: Mapping) -> dict:
    """A flow's model options, completed with :data:`TIMM_OPTIONS` (unless set) when
    ``checkpoint`` is in timm's layout: a timm checkpoint implies LayerNorm and SiLU."""
    options = dict(options)
    if checkpoint is not None and is_timm(read_state_dict(checkpoint)):
        options = {**TIMM_OPTIONS, **options}
    return options


def fingerprint(path: Path | str) -> str:
    """SHA-256 of the checkpoint file (part of cache keys: other weights, other results)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
