"""The standalone/diffusers backend ``controlnet``: any checkpoint inpaints through an inpaint ControlNet.

The base model comes from the shared :class:`~inpaint_anything.diffusion.cache.PipelineCache` (a normal
4-channel checkpoint is welcome here: ControlNet is what makes it inpaint well). The ControlNet
pipeline (``StableDiffusionControlNetInpaintPipeline``, or ``StableDiffusionXLControlNetInpaintPipeline``
where diffusers has it) is assembled for each run from the cached pipeline's own components
(``Pipeline(**base.components, controlnet=cn)``): the UNet, VAE and text encoders are the same
objects, never a second copy in memory. The ControlNet model is loaded offline from under
``<models>/controlnet``: a diffusers folder, or a single file as the WebUI keeps them
(``control_v11p_sd15_inpaint.pth`` / ``.safetensors``; pickles read weights-only), whose architecture is the
base model's UNet with the condition encoder's sizes read from the file; or from the Hub
(:data:`~inpaint_anything.inpaint.controlnet.HUB_CONTROLNETS`, pinned revision). A
:class:`ControlNetCache` keeps the loaded ones.

Everything else is the diffusers backend's: sampler, masked content, seeds, progress, and the engine's
paste-back (pixels outside the blend band bit-exact, colour match, the only-masked crop).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from inpaint_anything.diffusion.cache import PipelineCache
from inpaint_anything.errors import InvalidInputError, ModelNotFoundError, UnavailableError
from inpaint_anything.inpaint.controlnet import CONTROLNET_FOLDER, HUB_CONTROLNETS, can_inpaint, control_image, infotext_units
from inpaint_anything.inpaint.diffusers_backend import DiffusersBackend, resolve_hub_model
from inpaint_anything.inpaint.request import InpaintRequest

_HUB_PATTERNS = ["config.json", "diffusion_pytorch_model.safetensors"]


def _is_single_file(path: Path) -> bool:
    from inpaint_anything.diffusion.detect import PICKLE_SUFFIXES, SAFETENSORS_SUFFIXES

    return path.is_file() and path.suffix.lower() in (*SAFETENSORS_SUFFIXES, *PICKLE_SUFFIXES)


def local_controlnets(models_dir: Path) -> list[str]:
    """Names of the inpaint ControlNets in ``<models>/controlnet``: diffusers folders (with a config.json)
    and single files (.safetensors, .pth, .ckpt, ...)."""
    folder = Path(models_dir) / CONTROLNET_FOLDER
    if not folder.is_dir():
        return []
    return [
        p.name
        for p in sorted(folder.iterdir())
        if ((p / "config.json").is_file() or _is_single_file(p)) and can_inpaint(p.name, sdxl=True)
    ]


def resolve_controlnet(name: str, models_dir: Path, *, offline: bool, cache_dir: str | None = None) -> str:
    """A local folder or file for a ControlNet name: ``<models>/controlnet/<name>``, or a Hub id of the
    catalogue (from the HF cache, or downloaded at its pinned revision)."""
    local = Path(models_dir) / CONTROLNET_FOLDER / name
    if name and "/" not in name.strip("/") and ((local / "config.json").is_file() or _is_single_file(local)):
        return str(local)
    if name not in HUB_CONTROLNETS:
        raise ModelNotFoundError(
            f"No ControlNet called {name!r}: put a diffusers folder or a single file "
            f"(control_v11p_sd15_inpaint.pth) in {local.parent}, or use one of "
            f"{', '.join(HUB_CONTROLNETS)}."
        )
    return resolve_hub_model(
        name,
        offline=offline,
        cache_dir=cache_dir,
        revision=HUB_CONTROLNETS[name],
        allow_patterns=_HUB_PATTERNS,
        ignore_patterns=[],
        noun="ControlNet",
        instead=f"put its file or diffusers folder in {local.parent}",
    )


def load_controlnet(source: str, *, device: str, dtype: Any, unet_config: Any = None) -> Any:
    """The ControlNet of a diffusers folder, or of a single file built for the UNet of ``unet_config``."""
    import torch
    from diffusers import ControlNetModel

    torch_dtype = dtype if isinstance(dtype, torch.dtype) else getattr(torch, str(dtype), None)
    if Path(source).is_file():
        model = load_single_file(Path(source), unet_config, torch_dtype)
    else:
        try:
            model = ControlNetModel.from_pretrained(source, torch_dtype=torch_dtype, local_files_only=True)
        except (OSError, ValueError, RuntimeError) as exc:
            raise UnavailableError(f"The ControlNet in {Path(source).name} cannot be loaded: {exc}") from exc
    return model.to(device).eval()


class ControlNetCache(PipelineCache):
    """Loaded ControlNet models keyed by (folder or file, device, dtype): the pipeline cache's LRU with
    :func:`load_controlnet` as its loader."""

    def __init__(self, max_items: int = 1) -> None:
        super().__init__(max_items, loader=load_controlnet)

    def get(self, source: str, device: Any = "cpu", dtype: Any = None, unet_config: Any = None) -> Any:  # type: ignore[override]
        return super().get(source, device=device, dtype=dtype, unet_config=unet_config)


_LDM_PREFIX = "control_model."  # ControlNet 1.0 files keep their weights under it


def single_file_config(state: dict[str, Any], unet_config: Any) -> dict[str, Any]:
    """The diffusers ``ControlNetModel`` config of an original-layout ControlNet file: the base model's UNet
    config (a ControlNet is a copy of its encoder half) with the latent channels (4, also for an inpainting
    UNet: the ControlNet sees the latents only) and the condition encoder's channels read from the file."""
    from diffusers import ControlNetModel

    def weight(key: str) -> Any:
        return state.get(key, state.get(_LDM_PREFIX + key))

    hint = sorted(
        int(k.split(".")[-2])
        for k in (k.removeprefix(_LDM_PREFIX) for k in state)
        if k.startswith("input_hint_block.") and k.endswith(".weight")
    )
    if not hint or weight("input_blocks.0.0.weight") is None:
        raise InvalidInputError("This file is not a ControlNet (it has no input_hint_block / input_blocks weights).")
    # conv_in, then pairs (keep the channels, then widen with stride 2), then the output convolution
    channels = [int(weight(f"input_hint_block.{hint[0]}.weight").shape[0])]
    channels += [int(weight(f"input_hint_block.{i}.weight").shape[0]) for i in hint[2:-1:2]]
    wanted = set(inspect.signature(ControlNetModel.__init__).parameters) - {"self"}
    config = {k: v for k, v in dict(unet_config or {}).items() if k in wanted}
    config.update(
        in_channels=int(weight("input_blocks.0.0.weight").shape[1]),
        conditioning_channels=int(weight(f"input_hint_block.{hint[0]}.weight").shape[1]),
        conditioning_embedding_out_channels=channels,
    )
    return config


def load_single_file(path: Path, unet_config: Any, torch_dtype: Any) -> Any:
    """A ControlNet from an original-layout file (``control_v11p_sd15_inpaint.pth``/``.safetensors``), with
    diffusers' own single-file conversion; its architecture follows the base model (``unet_config``)."""
    import json
    import tempfile

    from diffusers import ControlNetModel

    from inpaint_anything.diffusion.checkpoint import read_state_dict

    state = read_state_dict(path)  # pickles weights-only
    config = single_file_config(state, unet_config)
    misfit = (
        f"The ControlNet {path.name} does not fit the model (an SD 1.5 ControlNet needs an SD 1.5 model, "
        "an SDXL one an SDXL model)"
    )
    with tempfile.TemporaryDirectory(prefix="ia-controlnet-") as tmp:
        (Path(tmp) / "config.json").write_text(json.dumps({"_class_name": "ControlNetModel", **config}))
        try:
            model = ControlNetModel.from_single_file(state, config=tmp, torch_dtype=torch_dtype, local_files_only=True)
        except (ValueError, RuntimeError, KeyError, AttributeError, TypeError) as exc:
            raise InvalidInputError(f"{misfit}: {str(exc)[:200]}") from exc
    if any(p.is_meta for p in model.parameters()):  # weights the file did not have
        raise InvalidInputError(f"{misfit}: the file lacks some of its weights.")
    return model


def controlnet_pipeline(base: Any, controlnet: Any, family: str) -> Any:
    """The ControlNet inpaint pipeline made of ``base``'s own components plus ``controlnet`` (no copies)."""
    import diffusers

    name = "StableDiffusionXLControlNetInpaintPipeline" if family == "sdxl" else "StableDiffusionControlNetInpaintPipeline"
    cls = getattr(diffusers, name, None)
    if cls is None:
        raise UnavailableError(f"The installed diffusers has no {name}; update diffusers to use ControlNet with this model.")
    wanted = set(inspect.signature(cls.__init__).parameters)
    parts = {k: v for k, v in base.components.items() if k in wanted}
    if "requires_safety_checker" in wanted:
        parts["requires_safety_checker"] = False
    pipe = cls(**parts, controlnet=controlnet)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@dataclass
class ControlNetDiffusersBackend(DiffusersBackend):
    """Inpainting with any checkpoint (``source``) steered by an inpaint ControlNet (``controlnet_dir``)."""

    options: Any = None  # ControlNetOptions
    controlnet_dir: str = ""
    controlnet_name: str = ""
    controlnets: Any = None  # ControlNetCache
    prefill: Any = None  # "inpaint_only+lama": (image, mask) -> image with the hole filled by LaMa
    last_pipeline: Any = field(default=None, repr=False)  # the pipeline of the latest run (tests, memory checks)

    require_inpaint: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return f"controlnet:{self.model_name}"

    def infotext_fields(self) -> dict[str, object]:
        return {"Inpaint backend": self.name, **infotext_units(self.options, self.controlnet_name)}

    def check_request(self, request: InpaintRequest) -> None:  # type: ignore[override]
        DiffusersBackend.check_request(request)
        opts = self.options
        if opts.module == "inpaint_global_harmonious":
            raise InvalidInputError(
                "'inpaint_global_harmonious' is a preprocessor of the WebUI's ControlNet "
                "extension; here use 'inpaint_only' or 'inpaint_only+lama'."
            )
        if opts.reference:
            raise InvalidInputError(
                "The reference_only unit needs the WebUI's ControlNet extension; turn the reference unit off here."
            )
        if opts.module == "inpaint_only+lama" and self.prefill is None:
            raise UnavailableError(
                "'inpaint_only+lama' needs the LaMa remover: download it in the Remove object "
                "tab (or with `python -m inpaint_anything download lama`), or use 'inpaint_only'."
            )

    def generate(self, image: np.ndarray, mask: np.ndarray, request: InpaintRequest, seed: int, job: Any) -> np.ndarray:
        if self.options.module == "inpaint_only+lama" and self.prefill is not None:
            image = np.asarray(self.prefill(image, mask), dtype=np.uint8)[..., :3]
        return super().generate(image, mask, request, seed, job)

    def _pipe_for_call(self, pipe: Any, info: Any, call: dict[str, Any], image: np.ndarray, mask: np.ndarray) -> Any:
        import torch

        cn = self.controlnets.get(self.controlnet_dir, pipe.unet.device, pipe.unet.dtype, pipe.unet.config)
        if int(getattr(cn.config, "in_channels", 4)) != 4 or cn.config.get("cross_attention_dim") != pipe.unet.config.get(
            "cross_attention_dim"
        ):
            raise InvalidInputError(
                f"The ControlNet {self.controlnet_name} does not fit the model {self.model_name} "
                "(an SD 1.5 ControlNet needs an SD 1.5 model, an SDXL one an SDXL model)."
            )
        cn_pipe = controlnet_pipeline(pipe, cn, info.family)
        self.last_pipeline = cn_pipe
        cond = torch.from_numpy(control_image(image, mask)).permute(2, 0, 1)[None]
        opts = self.options
        call.update(
            control_image=cond,
            controlnet_conditioning_scale=float(opts.weight),
            control_guidance_start=float(opts.guidance_start),
            control_guidance_end=float(opts.guidance_end),
            guess_mode=opts.control_mode == "ControlNet is more important",
        )
        return cn_pipe


def base_model_names(entries: Any) -> list[str]:
    """Catalogue entries a ControlNet run can start from: the usable inpainting models and the ordinary
    (4-channel) checkpoints the diffusers backend refuses as "not an inpainting model"."""
    from inpaint_anything.diffusion.detect import NOT_INPAINTING

    return [e.name for e in entries if e.usable or e.reason.startswith(NOT_INPAINTING)]


def lama_prefill(remover: Any):
    """``(image, mask) -> image`` with the hole filled by a loaded LaMa remover (``inpaint_only+lama``)."""
    from inpaint_anything.jobs import JobControl

    def fill(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return remover.generate(image, mask, InpaintRequest(), 0, JobControl())

    return fill
