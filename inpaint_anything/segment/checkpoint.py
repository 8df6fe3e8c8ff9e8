"""Safe loading of Segment Anything checkpoints (SAM, HQ-SAM, MobileSAM, Light HQ-SAM, SAM 2 / 2.1).

``read_state_dict`` never runs code from a file: ``.safetensors`` through safetensors, anything else
through ``torch.load(weights_only=True)``. The architecture is inferred from the weights
(:func:`infer_sam_spec`, or :func:`~inpaint_anything.segment.sam2_spec.infer_sam2_spec` for SAM 2),
rebuilt from the PyPI packages' classes (:func:`build_sam`, or
:func:`~inpaint_anything.segment.sam2_model.build_sam2_model`) and loaded with ``strict=True``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inpaint_anything.errors import InvalidInputError, ModelNotFoundError, UnrecognizedCheckpointError, UnsafeCheckpointError
from inpaint_anything.segment.arch import build_sam, sam_predictor_for
from inpaint_anything.segment.loaded import LoadedSam, check_state_dict_keys, load_strictly
from inpaint_anything.segment.sam2_spec import is_sam2_state_dict
from inpaint_anything.segment.spec import SamSpec, describe_keys, infer_sam_spec

if TYPE_CHECKING:
    import torch

CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt")
_CONTAINER_KEYS = ("state_dict", "model", "model_state_dict", "module", "net", "params")
# Non-persistent buffers that some TinyViT versions saved; the packages' classes recompute them
# (dropped before the strict load when the model has no such tensor).
_DROPPABLE_SUFFIXES = (".attention_bias_idxs", ".attn.ab")


def _first_line(exc: BaseException) -> str:
    """A short reason for a damaged file (library messages are long and aimed at developers)."""
    text = str(exc).strip()
    if isinstance(exc, EOFError) or not text:
        return "unexpected end of file"
    if "central directory" in text or "zip archive" in text:
        return "incomplete zip archive"
    if type(exc).__name__ == "UnpicklingError":
        return "not a PyTorch weights file"
    return text.splitlines()[0][:160]


def looks_like_safetensors(path: Path) -> bool:
    """True for a ``.safetensors`` name, or a file that starts like one whatever it is called (an 8-byte
    little-endian header length under 100 MiB, then '{'); False for an unreadable file."""
    if path.suffix.lower() == ".safetensors":
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        return False
    if len(head) < 9 or head[8:9] != b"{":
        return False
    size = int.from_bytes(head[:8], "little")
    return 0 < size < 100 * 1024 * 1024


def _is_zip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def _is_pickle(path: Path) -> bool:
    """A pickle stream's first opcode: PROTO with protocol 2..5 (what pickle.dumps and torch's legacy
    format write)."""
    with open(path, "rb") as f:
        head = f.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _read_safetensors(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types (and OSError / ValueError)
        raise InvalidInputError(
            f"The weights file '{path.name}' could not be read as safetensors; it is probably incomplete "
            f"or damaged ({_first_line(exc)}). Download it again."
        ) from exc


def weights_only_load(path: str, *, mmap: bool = False) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, with torch's own loader.

    The WebUI replaces ``torch.load`` with a pickle check (``modules/safe.py``) that refuses files
    written by a recent torch (their zip holds ``.format_version``, a name it does not know) and then
    returns None. That check exists to stop code execution from a pickle; ``weights_only=True``
    already refuses every global that is not a plain tensor/container type, so calling
    ``torch.serialization.load`` (the function ``torch.load`` names before any patch) is as safe and
    loads those files.
    """
    import torch.serialization

    return torch.serialization.load(path, map_location="cpu", weights_only=True, mmap=mmap)


def _read_torch(path: Path) -> Any:
    import pickle

    zipped = _is_zip(path)
    try:
        return weights_only_load(str(path), mmap=zipped)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL\s+([\w.]+)", str(exc))
        if found:
            raise UnsafeCheckpointError(
                f"'{path.name}' was refused: loading it would run code from the file (it references "
                f"'{found.group(1)}'). Only plain weight files are loaded. Use the .safetensors version "
                f"of this model, or a checkpoint from a source you trust converted to safetensors."
            ) from exc
        if not zipped and _is_pickle(path) and not re.search(r"invalid load key|truncated|ran out of input", str(exc), re.I):
            raise UnsafeCheckpointError(
                f"'{path.name}' was refused by the safety check: it is a raw pickle, not a PyTorch weights file, "
                f"and reading it could run code from the file. Use the .safetensors version of this model."
            ) from exc
        cause: BaseException = exc
    except (RuntimeError, EOFError, ValueError, OSError, KeyError, IndexError, AttributeError) as exc:
        cause = exc
    raise InvalidInputError(
        f"The weights file '{path.name}' could not be read; it is probably incomplete or damaged "
        f"({_first_line(cause)}). "
        f"Download it again."
    ) from cause


def _is_tensor_map(obj: Any) -> bool:
    import torch

    return isinstance(obj, Mapping) and any(isinstance(v, torch.Tensor) for v in obj.values())


def _unwrap(obj: Any, name: str) -> dict[str, Any]:
    """Find the state dict inside common containers ({"model": sd}, {"state_dict": sd}, ...)."""
    import torch

    for _ in range(4):
        if _is_tensor_map(obj) or not isinstance(obj, Mapping):
            break
        inner = next((obj[k] for k in _CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not _is_tensor_map(obj):
        kind = type(obj).__name__
        raise UnrecognizedCheckpointError(
            f"'{name}' holds no model weights (found a {kind}"
            + (f" with keys {sorted(map(str, obj))[:8]}" if isinstance(obj, Mapping) else "")
            + ")."
        )
    return {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def normalize_state_dict(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Strip wrapper prefixes (``module.`` from DataParallel, or a common prefix before ``image_encoder.``)."""
    sd = dict(state_dict)
    while sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    if sd and not any(k.startswith("image_encoder.") for k in sd):
        anchors = [k[: k.index(".image_encoder.") + 1] for k in sd if ".image_encoder." in k]
        if anchors and len(set(anchors)) == 1 and all(k.startswith(anchors[0]) for k in sd):
            cut = len(anchors[0])
            sd = {k[cut:]: v for k, v in sd.items()}
    return sd


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a weights file into a flat ``{name: tensor}`` dict on the CPU, without running any code.

    Raises ModelNotFoundError (no file), UnsafeCheckpointError (a pickle that needs code),
    InvalidInputError (truncated/damaged file) or UnrecognizedCheckpointError (no weights inside).
    """
    p = Path(path)
    if not p.is_file():
        raise ModelNotFoundError(f"The model file '{p}' does not exist. Download it or check the path.")
    if p.stat().st_size == 0:
        raise InvalidInputError(f"The weights file '{p.name}' is empty. Download it again.")
    if looks_like_safetensors(p):
        raw: Any = _read_safetensors(p)
    else:
        raw = _read_torch(p)
    return normalize_state_dict(_unwrap(raw, p.name))


def load_sam(path: str | os.PathLike[str], device: torch.device | str = "cpu", dtype: torch.dtype | None = None) -> LoadedSam:
    """Read, recognise, build and load a Segment Anything checkpoint (strictly) in eval mode."""
    p = Path(path)
    sd = read_state_dict(p)
    if is_sam2_state_dict(sd):
        from inpaint_anything.segment.sam2_model import load_sam2_weights

        return load_sam2_weights(sd, p, device, dtype)
    return load_strictly(sd, p, infer_sam_spec, build_sam, device, dtype, droppable=_DROPPABLE_SUFFIXES)


__all__ = [
    "CHECKPOINT_SUFFIXES",
    "LoadedSam",
    "SamSpec",
    "build_sam",
    "check_state_dict_keys",
    "infer_sam_spec",
    "load_sam",
    "looks_like_safetensors",
    "normalize_state_dict",
    "read_state_dict",
    "sam_predictor_for",
    "describe_keys",
]
