"""Tell what a Stable Diffusion model path is, without loading its weights.

A path is either a diffusers folder (``model_index.json`` names the pipeline class) or a single-file
checkpoint in the original LDM/SGM layout (``.safetensors``: only the JSON header is read; ``.ckpt`` and
friends: ``torch.load(weights_only=True, mmap=True)``). The result says the family (``sd1``, ``sd2``,
``sdxl``), the UNet's input channels (9 = an inpainting model) and, when the files say so, the
prediction type.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from inpaint_anything.errors import ModelNotFoundError, UnrecognizedCheckpointError, UnsafeCheckpointError

FAMILIES = ("sd1", "sd2", "sdxl")
SAFETENSORS_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
UNET_PREFIX = "model.diffusion_model."
UNET_IN_KEY = UNET_PREFIX + "input_blocks.0.0.weight"
_MAX_HEADER_BYTES = 100 * 1024 * 1024
# cross-attention width of the UNet -> family, for files whose text encoder was stripped
_CONTEXT_DIM_FAMILY = {768: "sd1", 1024: "sd2", 2048: "sdxl"}
_ATTN2_TO_K = re.compile(r"^model\.diffusion_model\..*\.attn2\.to_k\.weight$")


@dataclass(frozen=True)
class ModelInfo:
    """What :func:`detect_model` found out about a path."""

    path: str
    format: str  # "diffusers" or "single_file"
    family: str  # "sd1", "sd2" or "sdxl"
    in_channels: int  # UNet input channels: 9 for inpainting models, 4 for ordinary ones
    pipeline_class: str | None = None  # from model_index.json (diffusers folders only)
    prediction_type: str | None = None  # "epsilon" / "v_prediction"; None when the files do not say
    has_vae: bool = True  # single files: a VAE is baked in (first_stage_model.decoder.*)

    @property
    def is_inpaint(self) -> bool:
        return self.in_channels == 9

    @property
    def is_single_file(self) -> bool:
        return self.format == "single_file"


NOT_INPAINTING = "not an inpainting model"
UNKNOWN_ARCHITECTURE = "unknown architecture"
DAMAGED = "damaged"


def unusable(path: str | os.PathLike[str], kind: str, why: str) -> UnrecognizedCheckpointError:
    """The error for a model file that cannot be used: ``<file name> cannot be used: <kind>: <why>``.

    ``kind`` is one of :data:`NOT_INPAINTING`, :data:`UNKNOWN_ARCHITECTURE`, :data:`DAMAGED`; the error's
    ``reason`` attribute holds ``<kind>: <why>`` (what the model list shows next to the file).
    """
    err = UnrecognizedCheckpointError(f"{Path(path).name} cannot be used: {kind}: {why}")
    err.reason = f"{kind}: {why}"  # type: ignore[attr-defined]
    return err


def _unrecognized(path: str | os.PathLike[str], why: str) -> UnrecognizedCheckpointError:
    return unusable(path, UNKNOWN_ARCHITECTURE, f"it is not a Stable Diffusion 1.x/2.x/XL model this extension can load: {why}")


def _damaged(path: str | os.PathLike[str], why: str) -> UnrecognizedCheckpointError:
    return unusable(path, DAMAGED, why)


def not_inpainting(path: str | os.PathLike[str], in_channels: int) -> UnrecognizedCheckpointError:
    return unusable(path, NOT_INPAINTING, f"{in_channels} input channels; use the WebUI checkpoint backend or an inpainting file")


def read_safetensors_header(path: str | os.PathLike[str]) -> dict[str, dict]:
    """Tensor name -> {"dtype", "shape", "data_offsets"} from a .safetensors header (no tensor data read).

    Checks that the header is well formed and that the file is long enough for every tensor, so a
    truncated download is reported here instead of as an obscure error later.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise _damaged(path, "the file is empty or too short to be a .safetensors file.")
        (length,) = struct.unpack("<Q", head)
        if length < 2 or length > min(_MAX_HEADER_BYTES, size - 8):
            raise _damaged(path, "the .safetensors header is broken (incomplete download?).")
        raw = fh.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _damaged(path, "the .safetensors header is broken (incomplete download?).") from None
    if not isinstance(header, dict):
        raise _unrecognized(path, "the .safetensors header is not a table of tensors.")
    header.pop("__metadata__", None)
    data_size = size - 8 - length
    for name, entry in header.items():
        try:
            start, end = entry["data_offsets"]
            ok = isinstance(entry["shape"], list) and 0 <= start <= end <= data_size
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise _damaged(path, f"tensor {name!r} lies outside the file (incomplete download?).")
    return header


def read_pickle_weights(path: str | os.PathLike[str]) -> object:
    """What a ``.ckpt``/``.pt`` file holds, read without running code (:mod:`.pickles`); damaged files and
    files with other Python objects raise clear errors."""
    import pickle

    from inpaint_anything.diffusion.pickles import load_weights_pickle

    try:
        return load_weights_pickle(path)
    except UnsafeCheckpointError:
        raise
    except pickle.UnpicklingError:
        raise _damaged(path, "the file is broken or not a PyTorch checkpoint.") from None
    except Exception as exc:  # zip errors, EOF, ... : a damaged file
        raise _damaged(path, f"the file could not be read ({type(exc).__name__}: {str(exc)[:120]}).") from None


def _pickle_shapes(path: str | os.PathLike[str]) -> dict[str, tuple[int, ...]]:
    obj = read_pickle_weights(path)
    while isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise _unrecognized(path, "the file does not hold a table of weights.")
    return {k: tuple(v.shape) for k, v in obj.items() if isinstance(k, str) and hasattr(v, "shape")}


def read_checkpoint_shapes(path: str | os.PathLike[str]) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape for a single-file checkpoint (.safetensors header or weights-only pickle)."""
    suffix = Path(path).suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        return {k: tuple(v["shape"]) for k, v in read_safetensors_header(path).items()}
    if suffix in PICKLE_SUFFIXES:
        return _pickle_shapes(path)
    raise _unrecognized(path, f"unsupported file type {suffix or '(none)'}; use .safetensors or .ckpt.")


def _prediction_hint(path: Path, shapes: Mapping[str, Sequence[int]]) -> str | None:
    """v-prediction markers: a ``v_pred`` key, or a sibling ``<name>.yaml`` with ``parameterization: v``."""
    if "v_pred" in shapes:
        return "v_prediction"
    yaml_path = path.with_suffix(".yaml")
    if yaml_path.is_file():
        text = yaml_path.read_text(encoding="utf-8", errors="replace")
        if re.search(r"^\s*parameterization:\s*['\"]?v['\"]?\s*$", text, re.MULTILINE):
            return "v_prediction"
        return "epsilon"
    return None


def classify_state_dict(shapes: Mapping[str, Sequence[int]], name: str = "checkpoint") -> tuple[str, int]:
    """(family, UNet input channels) from LDM/SGM key names and shapes; raises if not SD1/SD2/SDXL."""
    if UNET_IN_KEY not in shapes:
        if "conv_in.weight" in shapes or "unet.conv_in.weight" in shapes:
            raise _unrecognized(
                name, "it holds diffusers-format weights of a single part; use a full checkpoint or the whole diffusers folder."
            )
        if any(k.startswith(("first_stage_model.", "encoder.")) for k in shapes):
            raise _unrecognized(name, "it holds no UNet (a VAE file?).")
        raise _unrecognized(name, "no Stable Diffusion UNet weights were found in it.")
    in_shape = tuple(shapes[UNET_IN_KEY])
    in_channels = int(in_shape[1]) if len(in_shape) == 4 else -1
    if in_channels not in (4, 9):
        kind = {5: "a depth-to-image model", 8: "an instruct-pix2pix model"}.get(in_channels, "an unusual model")
        raise _unrecognized(
            name,
            f"its UNet takes {in_channels} input channels ({kind}); only ordinary (4) and inpainting (9) models are supported.",
        )

    def has(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in shapes)

    if has("conditioner.embedders.1.model."):
        return "sdxl", in_channels
    if has("conditioner.embedders.0.model."):
        # SD 2.1 (Turbo) saved in the SGM layout (the WebUI renames it to SD2's keys when 1024 wide); the
        # refiner, with the same single OpenCLIP encoder, has SDXL's size conditioning (label_emb)
        width = tuple(shapes.get("conditioner.embedders.0.model.ln_final.weight", (0,)))
        if width[:1] == (1024,) or not has(UNET_PREFIX + "label_emb."):
            return "sd2", in_channels
        raise _unrecognized(name, "it is an SDXL refiner, which cannot inpaint on its own.")
    if has("cond_stage_model.model."):
        return "sd2", in_channels
    if has("cond_stage_model.transformer."):
        return "sd1", in_channels
    context_dims = {int(tuple(s)[1]) for k, s in shapes.items() if _ATTN2_TO_K.match(k) and len(tuple(s)) == 2}
    families = {_CONTEXT_DIM_FAMILY.get(d) for d in context_dims}
    if len(families) == 1 and None not in families:
        return families.pop(), in_channels  # type: ignore[return-value]
    raise _unrecognized(name, "its text encoder and cross-attention width match none of SD 1.x, 2.x or XL.")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise _unrecognized(path.parent, f"{path.name} is missing or not valid JSON.") from None
    if not isinstance(data, dict):
        raise _unrecognized(path.parent, f"{path.name} is not a JSON object.")
    return data


def _pads_with_bang(tokenizer_dir: Path) -> bool:
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        path = tokenizer_dir / name
        if path.is_file():
            try:
                pad = json.loads(path.read_text(encoding="utf-8")).get("pad_token")
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
                continue
            if isinstance(pad, dict):
                pad = pad.get("content")
            return pad == "!"
    return False


def _detect_folder(folder: Path) -> ModelInfo:
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        raise _unrecognized(folder, "a model folder must be a diffusers pipeline with a model_index.json.")
    index = _read_json(index_path)
    class_name = str(index.get("_class_name", ""))
    if "unet" not in index:
        raise _unrecognized(folder, f"the pipeline {class_name or '(unnamed)'} has no UNet.")
    unet = _read_json(folder / "unet" / "config.json")
    in_channels = int(unet.get("in_channels", 4))
    if in_channels not in (4, 9):
        raise _unrecognized(folder, f"its UNet takes {in_channels} input channels; only 4 and 9 are supported.")
    if class_name and not class_name.startswith("StableDiffusion"):
        raise _unrecognized(folder, f"it is a {class_name}, not a Stable Diffusion pipeline.")
    if "XL" in class_name or "text_encoder_2" in index or unet.get("addition_embed_type") == "text_time":
        family = "sdxl"
    elif unet.get("cross_attention_dim") == 1024 or _pads_with_bang(folder / "tokenizer"):
        family = "sd2"  # OpenCLIP ViT-H: 1024 wide, its tokenizer pads with "!"
    else:
        family = "sd1"
    prediction_type = None
    scheduler_dir = folder / "scheduler"
    if scheduler_dir.is_dir():
        config_file = scheduler_dir / "scheduler_config.json"
        if config_file.is_file():
            prediction_type = _read_json(config_file).get("prediction_type", "epsilon")
    return ModelInfo(str(folder), "diffusers", family, in_channels, class_name or None, prediction_type)


def detect_model(path: str | os.PathLike[str]) -> ModelInfo:
    """Describe a diffusers folder or single-file checkpoint; raise a clear error for anything else."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelNotFoundError(
            f"Model not found: {p.name} is not in its folder (any more). Check the name, or put the file back."
        )
    if p.is_dir():
        return _detect_folder(p)
    if p.suffix.lower() == ".json" and p.name == "model_index.json":
        return _detect_folder(p.parent)
    shapes = read_checkpoint_shapes(p)
    family, in_channels = classify_state_dict(shapes, p.name)
    has_vae = any(k.startswith("first_stage_model.decoder.") for k in shapes)
    return ModelInfo(str(p), "single_file", family, in_channels, None, _prediction_hint(p, shapes), has_vae)
