"""Read a single-file checkpoint's weights and repair what the WebUI's own loader copes with.

Checkpoints "from the wild" (the files people keep in the WebUI's ``models/Stable-diffusion``) differ from
the clean layout diffusers' converter expects. The WebUI (v1.10.1, ``modules/sd_models.py``) loads them
anyway; :func:`repair_state_dict` brings them into the clean layout, case by case:

- ``position_ids`` of a CLIP text encoder stored as float16/bfloat16/float32, or with broken values
  (``76.99``...) from merges: rebuilt as ``arange`` int64 (the WebUI copies the stored values into its
  int64 buffer; diffusers would keep them float and the embedding lookup fails);
- the older CLIP key names ``cond_stage_model.transformer.{embeddings,encoder,final_layer_norm}.*``
  (without ``text_model.``) -> the current ones, as the WebUI's ``checkpoint_dict_replacements_sd1``;
- SD 2.1 (Turbo) saved in the SGM layout (``conditioner.embedders.0.model.*``, 1024 wide) -> SD2's
  ``cond_stage_model.model.*``, as the WebUI's ``checkpoint_dict_replacements_sd2_turbo``;
- EMA copies (``model_ema.*``) are dropped: the WebUI's configs say ``use_ema: False``, so it uses the
  ordinary weights too;
- SD2 files pruned of OpenCLIP's unused ``text_projection`` get an identity of the right width (diffusers
  reads its width to split the attention weights);
- non-tensor entries (``global_step``, ``epoch``, ...) and training leftovers are dropped;
- no VAE baked in: a VAE file next to the checkpoint whose name starts with the checkpoint's name and
  ends in ``.vae.safetensors`` / ``.vae.pt`` / ``.vae.ckpt`` is used, as the WebUI's "Automatic" VAE
  does (``modules/sd_vae.py``); with none, a clear error says which file to put where.

fp16 / bf16 files need nothing here: the component loaders cast every floating tensor to the dtype the
pipeline runs in.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inpaint_anything.diffusion.detect import (
    PICKLE_SUFFIXES,
    SAFETENSORS_SUFFIXES,
    _damaged,
    _unrecognized,
    read_pickle_weights,
    unusable,
)

VAE_PREFIX = "first_stage_model."
VAE_SUFFIXES = (".vae.safetensors", ".vae.pt", ".vae.ckpt")
CLIP_PREFIXES = ("cond_stage_model.transformer.", "conditioner.embedders.0.transformer.")
_OLD_CLIP_PARTS = ("embeddings.", "encoder.", "final_layer_norm.")
_SGM_SD2_PREFIX = "conditioner.embedders.0.model."
_SD2_PREFIX = "cond_stage_model.model."
_DROP_PREFIXES = ("model_ema.", "loss.", "lora_", "optimizer")


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """All tensors of a ``.safetensors`` file or a weights-only pickle (``state_dict`` nesting removed)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        from safetensors.torch import load_file

        try:
            state: Any = load_file(str(p), device="cpu")
        except Exception as exc:  # SafetensorError, OSError, ...: the header was checked, the data is not
            raise _damaged(p, f"the weights could not be read ({type(exc).__name__}: {str(exc)[:120]}).") from None
    elif suffix in PICKLE_SUFFIXES:
        state = read_pickle_weights(p)
        while isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
    else:
        raise _unrecognized(p, f"unsupported file type {suffix or '(none)'}; use .safetensors or .ckpt.")
    if not isinstance(state, dict):
        raise _damaged(p, "the file does not hold a table of weights.")
    return state


def _is_tensor(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype")


def find_vae_near(path: str | os.PathLike[str]) -> Path | None:
    """A VAE file next to a checkpoint, named like the WebUI's "Automatic" VAE finds it: the checkpoint's
    name (without extension) at the start, ``.vae.safetensors`` / ``.vae.pt`` / ``.vae.ckpt`` at the end."""
    p = Path(path)
    stem = p.name.rsplit(".", 1)[0]
    try:
        candidates = sorted(c for c in p.parent.iterdir() if c.is_file())
    except OSError:
        return None
    for suffix in VAE_SUFFIXES:  # safetensors first
        for c in candidates:
            if c.name.startswith(stem) and c.name.lower().endswith(suffix):
                return c
    return None


def vae_state_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A VAE file's weights as ``first_stage_model.*`` keys (LDM VAE files and the VAE part of a checkpoint)."""
    state = read_state_dict(path)
    out: dict[str, Any] = {}
    for key, value in state.items():
        if not isinstance(key, str) or not _is_tensor(value) or key.startswith(("loss", "model_ema.")):
            continue
        if key.startswith(VAE_PREFIX):
            out[key] = value
        elif key.startswith(("encoder.", "decoder.", "quant_conv.", "post_quant_conv.")):
            out[VAE_PREFIX + key] = value
    if not any(k.startswith(VAE_PREFIX + "encoder.") for k in out):
        raise _unrecognized(path, "it is not a VAE in the original (LDM) layout.")
    if any(".down_blocks." in k or ".up_blocks." in k for k in out):
        raise _unrecognized(path, "it is a VAE in the diffusers layout; use the original (LDM) .vae.safetensors file.")
    return out


def repair_state_dict(
    state: dict[str, Any], family: str, path: str | os.PathLike[str], log: Callable[[str], None] | None = None
) -> list[str]:
    """Repair ``state`` (a checkpoint's weights, changed in place) as the module docstring lists.

    Returns what was repaired, in words (also passed to ``log``). Raises a clear error when the file has no
    VAE and none is found next to it.
    """
    import torch

    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        if log is not None:
            log(text)

    # non-tensors, EMA copies and training leftovers
    dropped = [k for k, v in state.items() if not isinstance(k, str) or not _is_tensor(v) or k.startswith(_DROP_PREFIXES)]
    ema = sum(1 for k in dropped if isinstance(k, str) and k.startswith("model_ema."))
    for k in dropped:
        del state[k]
    if ema:
        note(f"ignored {ema} EMA weights (model_ema.*), as the WebUI does")

    # older CLIP key names
    renamed = 0
    for prefix in CLIP_PREFIXES:
        for part in _OLD_CLIP_PARTS:
            old = prefix + part
            for k in [k for k in state if k.startswith(old)]:
                state[prefix + "text_model." + k[len(prefix) :]] = state.pop(k)
                renamed += 1
    if renamed:
        note(f"renamed {renamed} text encoder weights from the older CLIP key names")

    # SD 2.1 (Turbo) in the SGM layout
    if family == "sd2" and any(k.startswith(_SGM_SD2_PREFIX) for k in state):
        for k in [k for k in state if k.startswith(_SGM_SD2_PREFIX)]:
            state[_SD2_PREFIX + k[len(_SGM_SD2_PREFIX) :]] = state.pop(k)
        note("renamed the SGM-layout text encoder (conditioner.embedders.0.model.*) to SD2's")

    # position_ids: always a clean arange
    for prefix in CLIP_PREFIXES:
        emb = state.get(prefix + "text_model.embeddings.position_embedding.weight")
        if emb is None:
            continue
        key = prefix + "text_model.embeddings.position_ids"
        wanted = torch.arange(int(emb.shape[0]), dtype=torch.int64)[None, :]
        old = state.get(key)
        if old is not None and not (
            old.dtype == torch.int64 and tuple(old.shape) == tuple(wanted.shape) and torch.equal(old, wanted)
        ):
            note(
                f"rebuilt {key} ({str(old.dtype).removeprefix('torch.')}"
                f"{', broken values' if not _is_arange(old) else ''}) as int64 0..{emb.shape[0] - 1}"
            )
        state[key] = wanted

    # SD2 pruned of OpenCLIP's text_projection
    if family == "sd2":
        ln = state.get(_SD2_PREFIX + "ln_final.weight")
        if ln is not None and _SD2_PREFIX + "text_projection" not in state:
            state[_SD2_PREFIX + "text_projection"] = torch.eye(int(ln.shape[0]), dtype=ln.dtype)
            note("added the (unused) OpenCLIP text_projection the file was pruned of")

    # the VAE
    if not any(k.startswith(VAE_PREFIX + "decoder.") for k in state):
        vae_file = find_vae_near(path)
        if vae_file is None:
            name = Path(path).name
            raise unusable(
                path,
                "no VAE",
                f"the file has no VAE baked in. Put the VAE it was made for next to it as "
                f"{name.rsplit('.', 1)[0]}.vae.safetensors (as the WebUI's 'Automatic' VAE finds it), or "
                "use a checkpoint with a baked-in VAE",
            )
        state.update(vae_state_dict(vae_file))
        note(f"used the VAE {vae_file.name} found next to the checkpoint")
    return notes


def _is_arange(t: Any) -> bool:
    import torch

    flat = t.reshape(-1).to(torch.float64)
    return bool(torch.equal(flat, torch.arange(flat.numel(), dtype=torch.float64)))
