"""The standalone/diffusers backend ``controlnet``: any checkpoint inpaints through an inpaint ControlNet.

The base model comes from the shared :class:`~inpaint_anything.diffusion.loader.PipelineCache` (a normal
4-channel checkpoint is welcome here: ControlNet is what makes it inpaint well). The ControlNet
pipeline (``StableDiffusionControlNetInpaintPipeline``, or ``StableDiffusionXLControlNetInpaintPipeline``
where diffusers has it) is assembled for each run from the cached pipeline's own components
(``Pipeline(**base.components, controlnet=cn)``): the UNet, VAE and text encoders are the same
objects, never a second copy in memory. The ControlNet model is loaded offline from a diffusers folder
under ``<models>/controlnet`` or from the Hub (:data:`~inpaint_anything.inpaint.controlnet.HUB_CONTROLNETS`,
pinned revision) and kept by a :class:`ControlNetCache`.

Everything else is the diffusers backend's: sampler, masked content, seeds, progress, and the engine's
paste-back (pixels outside the blend band bit-exact, colour match, the only-masked crop).
"""

from __future__ import annotations

import inspect
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from inpaint_anything.errors import InvalidInputError, ModelNotFoundError, OfflineError, UnavailableError
from inpaint_anything.inpaint.controlnet import (
    CONTROLNET_FOLDER,
    HUB_CONTROLNETS,
    can_inpaint,
    control_image,
    infotext_units,
)
from inpaint_anything.inpaint.diffusers_backend import DiffusersBackend
from inpaint_anything.inpaint.request import InpaintRequest

_HUB_PATTERNS = ["config.json", "diffusion_pytorch_model.safetensors"]


def local_controlnets(models_dir: Path) -> list[str]:
    """Names of the inpaint ControlNets (diffusers folders with a config.json) in ``<models>/controlnet``."""
    folder = Path(models_dir) / CONTROLNET_FOLDER
    if not folder.is_dir():
        return []
    return [p.name for p in sorted(folder.iterdir()) if (p / "config.json").is_file() and can_inpaint(p.name, sdxl=True)]


def resolve_controlnet(name: str, models_dir: Path, *, offline: bool, cache_dir: str | None = None) -> str:
    """A local folder for a ControlNet name: ``<models>/controlnet/<name>``, or a Hub id of the catalogue
    (from the HF cache, or downloaded at its pinned revision)."""
    local = Path(models_dir) / CONTROLNET_FOLDER / name
    if name and "/" not in name.strip("/") and (local / "config.json").is_file():
        return str(local)
    if local.is_file():
        raise InvalidInputError(
            f"{name} is a single file (the WebUI's format); the standalone ControlNet backend loads diffusers folders "
            f"only. Put the files config.json and diffusion_pytorch_model.safetensors of "
            f"https://huggingface.co/{next(iter(HUB_CONTROLNETS))} into a folder {local.parent / 'control_v11p_sd15_inpaint'}"
            f" (or turn offline mode off and choose {next(iter(HUB_CONTROLNETS))}).")
    if name not in HUB_CONTROLNETS:
        raise ModelNotFoundError(f"No ControlNet called {name!r}: put a diffusers folder in {local.parent}, or use "
                                 f"one of {', '.join(HUB_CONTROLNETS)}.")
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(name, revision=HUB_CONTROLNETS[name], allow_patterns=_HUB_PATTERNS,
                                 local_files_only=offline, cache_dir=cache_dir)
    except Exception as exc:  # huggingface_hub raises many types; all mean "not available"
        from inpaint_anything.errors import DownloadError

        if offline:
            raise OfflineError(f"The ControlNet {name} is not in the Hugging Face cache and offline mode is on. "
                               f"Download it once with offline mode off, or put its diffusers folder in "
                               f"{local.parent}.") from exc
        raise DownloadError(f"Could not download {name} from the Hugging Face Hub: {exc}") from exc


class ControlNetCache:
    """Loaded ControlNet models keyed by (folder, device, dtype); the oldest evicted past ``max_items``."""

    def __init__(self, max_items: int = 1) -> None:
        self.max_items = max(1, int(max_items))
        self._items: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, folder: str, device: Any, dtype: Any) -> Any:
        import torch
        from diffusers import ControlNetModel

        key = (str(Path(folder).resolve()), str(device), str(dtype))
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            while len(self._items) >= self.max_items:
                self._items.popitem(last=False)
            torch_dtype = dtype if isinstance(dtype, torch.dtype) else None
            try:
                model = ControlNetModel.from_pretrained(folder, torch_dtype=torch_dtype, local_files_only=True)
            except (OSError, ValueError, RuntimeError) as exc:
                raise UnavailableError(f"The ControlNet in {Path(folder).name} cannot be loaded: {exc}") from exc
            model = model.to(device).eval()
            self._items[key] = model
            return model

    def keys(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self._items)

    def unload(self) -> int:
        with self._lock:
            n = len(self._items)
            self._items.clear()
            return n


def controlnet_pipeline(base: Any, controlnet: Any, family: str) -> Any:
    """The ControlNet inpaint pipeline made of ``base``'s own components plus ``controlnet`` (no copies)."""
    import diffusers

    name = "StableDiffusionXLControlNetInpaintPipeline" if family == "sdxl" else "StableDiffusionControlNetInpaintPipeline"
    cls = getattr(diffusers, name, None)
    if cls is None:
        raise UnavailableError(f"The installed diffusers has no {name}; update diffusers to use ControlNet with "
                               f"this model.")
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
            raise InvalidInputError("'inpaint_global_harmonious' is a preprocessor of the WebUI's ControlNet "
                                    "extension; here use 'inpaint_only' or 'inpaint_only+lama'.")
        if opts.reference:
            raise InvalidInputError("The reference_only unit needs the WebUI's ControlNet extension; turn the "
                                    "reference unit off here.")
        if opts.module == "inpaint_only+lama" and self.prefill is None:
            raise UnavailableError("'inpaint_only+lama' needs the LaMa remover: download it in the Remove object "
                                   "tab (or with `python -m inpaint_anything download lama`), or use 'inpaint_only'.")

    def generate(self, image: np.ndarray, mask: np.ndarray, request: InpaintRequest, seed: int, job: Any) -> np.ndarray:
        if self.options.module == "inpaint_only+lama" and self.prefill is not None:
            image = np.asarray(self.prefill(image, mask), dtype=np.uint8)[..., :3]
        return super().generate(image, mask, request, seed, job)

    def _pipe_for_call(self, pipe: Any, info: Any, call: dict[str, Any], image: np.ndarray, mask: np.ndarray) -> Any:
        import torch

        cn = self.controlnets.get(self.controlnet_dir, pipe.unet.device, pipe.unet.dtype)
        if int(getattr(cn.config, "in_channels", 4)) != 4 or cn.config.get("cross_attention_dim") != pipe.unet.config.get(
                "cross_attention_dim"):
            raise InvalidInputError(f"The ControlNet {self.controlnet_name} does not fit the model {self.model_name} "
                                    "(an SD 1.5 ControlNet needs an SD 1.5 model, an SDXL one an SDXL model).")
        cn_pipe = controlnet_pipeline(pipe, cn, info.family)
        self.last_pipeline = cn_pipe
        cond = torch.from_numpy(control_image(image, mask)).permute(2, 0, 1)[None]
        opts = self.options
        call.update(control_image=cond, controlnet_conditioning_scale=float(opts.weight),
                    control_guidance_start=float(opts.guidance_start), control_guidance_end=float(opts.guidance_end),
                    guess_mode=opts.control_mode == "ControlNet is more important")
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
