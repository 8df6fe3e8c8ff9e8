"""Load diffusers inpainting pipelines from local files only, and keep loaded ones in a cache.

Two kinds of source are accepted: a diffusers folder (``model_index.json``), loaded with
``from_pretrained(local_files_only=True)``, and a single-file checkpoint (``.safetensors``/``.ckpt``),
read and repaired as the WebUI's loader would (:mod:`.checkpoint`), then converted by diffusers' single-file
converters with a config directory (:func:`load_single_file`). For single files the config directory is the shipped
one for the detected family (``configs/``) plus tokenizer files derived from open_clip's BPE table,
assembled once in the user cache; nothing is fetched from the Hugging Face Hub.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

from inpaint_anything.diffusion.detect import DAMAGED, UNKNOWN_ARCHITECTURE, ModelInfo, detect_model, not_inpainting, unusable
from inpaint_anything.diffusion.tokenizer import copy_tokenizer, default_cache_dir, ensure_clip_tokenizer
from inpaint_anything.errors import IAError, InvalidInputError, UnavailableError, UnrecognizedCheckpointError

_log = logging.getLogger(__name__)
CONFIGS_DIR = Path(__file__).resolve().parent / "configs"
SHIPPED_CONFIGS = {"sd1": "sd1_inpaint", "sd2": "sd2_inpaint", "sdxl": "sdxl_inpaint"}
# tokenizer subfolder -> variant (see tokenizer.PAD_TOKENS)
TOKENIZERS = {
    "sd1": {"tokenizer": "clip"},
    "sd2": {"tokenizer": "openclip"},
    "sdxl": {"tokenizer": "clip", "tokenizer_2": "openclip"},
}
MODEL_COMPONENTS = ("unet", "vae", "text_encoder", "text_encoder_2")
_DTYPE_NAMES = {
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}


@dataclass(frozen=True)
class PipelineInfo:
    """How a pipeline was loaded."""

    source: str
    model: ModelInfo
    pipeline_class: str
    device: str
    dtype: str  # "float32", "float16" or "bfloat16"
    config_dir: str | None  # the config directory used for a single file
    repairs: tuple[str, ...] = ()  # what was repaired in a single file's weights (see .checkpoint)

    family = property(attrgetter("model.family"), doc='The model\'s family: "sd1", "sd2" or "sdxl".')
    is_inpaint = property(attrgetter("model.is_inpaint"), doc="Whether the UNet takes 9 input channels (inpainting).")


def resolve_device(device: Any = "cpu") -> str:
    """Normalise a device ("auto", "cpu", "cuda", "cuda:1", "mps" or a torch.device) to a string."""
    import torch

    name = str(device or "cpu")
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    try:
        return str(torch.device(name))
    except (RuntimeError, TypeError):
        raise InvalidInputError(f"Unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps.") from None


def resolve_dtype(device: str, dtype: Any = None) -> Any:
    """The torch dtype to load with: half precision only on CUDA (float16 by default), float32 elsewhere."""
    import torch

    if not device.startswith("cuda"):
        return torch.float32
    if dtype is None:
        return torch.float16
    if isinstance(dtype, torch.dtype):
        return dtype
    name = _DTYPE_NAMES.get(str(dtype).lower().removeprefix("torch."))
    if name is None:
        raise InvalidInputError(f"Unknown precision {dtype!r}; use float16, bfloat16 or float32.")
    return getattr(torch, name)


def shipped_config_dir(family: str) -> Path:
    """The shipped config folder for ``family`` (without tokenizer files)."""
    try:
        return CONFIGS_DIR / SHIPPED_CONFIGS[family]
    except KeyError:
        raise UnrecognizedCheckpointError(f"No configuration is shipped for model family {family!r}.") from None


def _config_digest(folder: Path, extra: str) -> str:
    digest = hashlib.sha256(extra.encode())
    for path in sorted(folder.rglob("*.json")):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def prepare_config_dir(family: str, *, in_channels: int = 9, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """A complete diffusers config directory (JSON configs + tokenizers) for single-file loading.

    Assembled once under ``<cache_dir>/diffusers-configs`` and reused; the UNet's ``in_channels`` is set
    to the checkpoint's (4 for an ordinary model, 9 for an inpainting one).
    """
    source = shipped_config_dir(family)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    tokenizer_dirs = {
        sub: ensure_clip_tokenizer(root / "tokenizers", variant=variant) for sub, variant in TOKENIZERS[family].items()
    }
    extra = f"{in_channels}|" + "|".join(f"{k}={v.name}" for k, v in sorted(tokenizer_dirs.items()))
    final = root / "diffusers-configs" / f"{source.name}-in{in_channels}-{_config_digest(source, extra)}"
    if (final / "model_index.json").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
        unet_config = tmp / "unet" / "config.json"
        config = json.loads(unet_config.read_text(encoding="utf-8"))
        config["in_channels"] = int(in_channels)
        unet_config.write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
        for sub, tok_dir in tokenizer_dirs.items():
            copy_tokenizer(tok_dir, tmp / sub)
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / "model_index.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def pipeline_class_for(family: str) -> type:
    """The diffusers inpainting pipeline class for a model family."""
    import diffusers

    return diffusers.StableDiffusionXLInpaintPipeline if family == "sdxl" else diffusers.StableDiffusionInpaintPipeline


def _check_complete(pipe: Any, name: str) -> None:
    """Single-file loading leaves missing weights on the 'meta' device; report that plainly."""
    for component in MODEL_COMPONENTS:
        module = getattr(pipe, component, None)
        if module is None:
            continue
        missing = [n for n, p in module.named_parameters() if p.is_meta]
        if missing:
            raise unusable(
                name,
                DAMAGED,
                f"incomplete: {len(missing)} {component} weights are missing (e.g. "
                f"{missing[0]}). Use a full checkpoint that includes the UNet, VAE and text encoder.",
            )


def _realign_cpu_tensors(pipe: Any, alignment: int = 64) -> int:
    """Give CPU weights that sit at unaligned addresses (views into a loaded file) their own storage.

    CPU matmul kernels may take different code paths for aligned and unaligned operands, so without
    this the same weights could give last-bit-different images depending on how they were loaded.
    """
    moved = 0
    for component in MODEL_COMPONENTS:
        module = getattr(pipe, component, None)
        if module is None:
            continue
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.device.type == "cpu" and tensor.data_ptr() % alignment:
                tensor.data = tensor.data.clone()
                moved += 1
    return moved


def load_single_file(
    cls: type, model: ModelInfo, config_dir: Path, *, torch_dtype: Any, offline: bool = True
) -> tuple[Any, tuple[str, ...]]:
    """Build ``cls`` from a single-file checkpoint: its weights, read and repaired (:mod:`.checkpoint`), go
    through diffusers' converters for the UNet, VAE and text encoders; tokenizers and scheduler come from
    ``config_dir``. Only local files are read. Returns the pipeline and what was repaired."""
    import importlib
    import inspect

    import diffusers
    from diffusers.loaders.single_file_utils import create_diffusers_clip_model_from_ldm

    from inpaint_anything.diffusion.checkpoint import read_state_dict, repair_state_dict

    state = read_state_dict(model.path)
    repairs = repair_state_dict(
        state, model.family, model.path, log=lambda text: _log.info("%s: %s", Path(model.path).name, text)
    )
    index = json.loads((config_dir / "model_index.json").read_text(encoding="utf-8"))
    accepted = set(inspect.signature(cls.__init__).parameters)
    parts: dict[str, Any] = {}
    common = {"torch_dtype": torch_dtype, "local_files_only": offline}
    for name, spec in index.items():
        if name.startswith("_") or name not in accepted:
            continue
        if not (isinstance(spec, list) and len(spec) == 2):
            parts[name] = spec  # a plain setting (requires_aesthetics_score, force_zeros_for_empty_prompt, ...)
            continue
        library, class_name = spec
        if library is None or class_name is None:
            parts[name] = None
            continue
        part_cls = getattr(importlib.import_module(library), class_name)
        if name in ("unet", "vae"):
            parts[name] = part_cls.from_single_file(state, config=str(config_dir), subfolder=name, **common)
        elif name.startswith("text_encoder"):
            parts[name] = create_diffusers_clip_model_from_ldm(part_cls, state, subfolder=name, config=str(config_dir), **common)
        else:  # tokenizers, scheduler
            parts[name] = part_cls.from_pretrained(str(config_dir), subfolder=name, local_files_only=offline)
    del state
    if "safety_checker" in accepted:
        parts.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe = cls(**parts)
    if not isinstance(pipe, diffusers.DiffusionPipeline):  # pragma: no cover - a wrong class passed in
        raise TypeError(f"{cls.__name__} is not a diffusers pipeline")
    return pipe, tuple(repairs)


def _load_error(exc: Exception, name: str, family: str, path: str = "") -> IAError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if path:  # name the model, never its folder on this machine
        first = first.replace(path, name).replace(str(Path(path).parent) + os.sep, "")
    first = first[:300]
    if "expected shape" in str(exc) or "size mismatch" in str(exc):
        return unusable(
            name, UNKNOWN_ARCHITECTURE, f"its weights do not fit the standard {family.upper()} architecture ({first})"
        )
    if "appear to be missing" in str(exc) or "does not seem to contain" in str(exc):
        return unusable(name, DAMAGED, f"incomplete: a part of the {family.upper()} pipeline is missing ({first})")
    return unusable(
        name, DAMAGED, f"it could not be loaded as a {family.upper()} inpainting pipeline ({type(exc).__name__}: {first})"
    )


def load_inpaint_pipeline(
    source: str | os.PathLike[str],
    *,
    device: Any = "cpu",
    dtype: Any = None,
    config_dir: str | os.PathLike[str] | None = None,
    offline: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    prediction_type: str | None = None,
    require_inpaint: bool = False,
) -> tuple[Any, PipelineInfo]:
    """Load ``source`` (diffusers folder or single file) as an inpainting pipeline on ``device``.

    ``config_dir`` overrides the shipped config for single files (a diffusers folder with the same
    architecture). ``prediction_type`` ("epsilon"/"v_prediction") overrides the scheduler's; by default
    a v-prediction hint found by detection is applied. The safety checker is never loaded. A checkpoint
    with a 4-channel UNet loads into the inpainting pipeline class too (diffusers then blends the
    original latents outside the mask at every step); with ``require_inpaint`` it is refused before any
    weights are read ("not an inpainting model").
    """
    model = detect_model(source)
    name = Path(model.path).name
    if require_inpaint and not model.is_inpaint:
        raise not_inpainting(name, model.in_channels)
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dev, dtype)
    try:
        cls = pipeline_class_for(model.family)
    except ImportError as exc:
        raise UnavailableError(f"The 'diffusers' package cannot be imported ({exc}); install diffusers 0.31.") from exc
    kwargs: dict[str, Any] = {"torch_dtype": torch_dtype, "local_files_only": bool(offline)}
    if model.family != "sdxl":
        kwargs.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    used_config: Path | None = None
    repairs: tuple[str, ...] = ()
    try:
        if model.format == "diffusers":
            pipe = cls.from_pretrained(model.path, **kwargs)
        else:
            used_config = (
                Path(config_dir)
                if config_dir is not None
                else prepare_config_dir(model.family, in_channels=model.in_channels, cache_dir=cache_dir)
            )
            pipe, repairs = load_single_file(cls, model, used_config, torch_dtype=torch_dtype, offline=bool(offline))
    except IAError:
        raise
    except Exception as exc:
        if "out of memory" in str(exc).lower():
            raise
        raise _load_error(exc, name, model.family, model.path) from exc
    _check_complete(pipe, name)
    wanted = prediction_type or model.prediction_type
    if wanted and pipe.scheduler.config.get("prediction_type") != wanted:
        pipe.scheduler = pipe.scheduler.__class__.from_config(pipe.scheduler.config, prediction_type=wanted)
    pipe = pipe.to(dev)
    if dev == "cpu":
        _realign_cpu_tensors(pipe)
    info = PipelineInfo(
        source=model.path,
        model=model,
        pipeline_class=type(pipe).__name__,
        device=dev,
        dtype=str(torch_dtype).removeprefix("torch."),
        config_dir=str(used_config) if used_config else None,
        repairs=repairs,
    )
    return pipe, info
