"""The diffusers backend: Hugging Face Hub inpainting models and local diffusers folders / single files.

Pipelines come from a shared :class:`~inpaint_anything.diffusion.cache.PipelineCache`, so a second
run loads nothing. The sampler / schedule type of the request picks the scheduler; progress and
interrupt go through the pipeline's step callback. "Masked content" follows the WebUI:

- ``original`` / ``fill``: the (pre-filled) pixels go to the pipeline, which encodes them and noises
  them by the denoising strength;
- ``latent noise`` / ``latent nothing``: :func:`masked_content_latents` encodes the image itself and
  replaces the masked latent cells by seeded Gaussian noise / zeros; the pipeline gets them through
  its public ``image`` (4-channel latents) and ``masked_image_latents`` arguments and adds the
  strength noise (needs a strength near 1 to look right). The cached pipeline is never modified for
  this: no method or attribute of it is replaced, so nothing needs restoring when a call fails.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from inpaint_anything.errors import IAError, InvalidInputError, UnavailableError
from inpaint_anything.inpaint.request import InpaintRequest
from inpaint_anything.jobs import JobControl

NATIVE_SIZE = {"sd1": 512, "sd2": 512, "sdxl": 1024}

# Hub inpainting models offered in the UI (diffusers format). The first three are the reference
# models; the rest are the community models users of the previous extension know.
HUB_MODELS: tuple[str, ...] = (
    "stable-diffusion-v1-5/stable-diffusion-inpainting",
    "stabilityai/stable-diffusion-2-inpainting",
    "diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
    "Uminosachi/dreamshaper_8Inpainting",
    "Uminosachi/realisticVisionV51_v51VAE-inpainting",
    "Uminosachi/revAnimated_v121Inp-inpainting",
    "Uminosachi/Deliberate-inpainting",
    "saik0s/realistic_vision_inpainting",
)
_HUB_PATTERNS = ["model_index.json", "*.json", "*.txt", "*/*.safetensors", "*/*.json", "*/*.txt", "*/*.model"]


def resolve_hub_model(
    repo_id: str,
    *,
    offline: bool,
    cache_dir: str | None = None,
    endpoint: str | None = None,
    revision: str | None = None,
    allow_patterns: list[str] | None = None,
    ignore_patterns: list[str] | None = None,
    noun: str = "model",
    instead: str = "put a diffusers folder or .safetensors file in the models folder",
) -> str:
    """A local folder for a Hub repo: from the HF cache, or downloaded (safetensors only). The errors name
    the ``noun`` and, offline, say what to do ``instead``."""
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(
            repo_id,
            revision=revision,
            allow_patterns=allow_patterns or _HUB_PATTERNS,
            ignore_patterns=["*safety_checker*", "*.fp16.*", "*.non_ema.*"] if ignore_patterns is None else ignore_patterns,
            local_files_only=offline,
            cache_dir=cache_dir,
            endpoint=endpoint,
        )
    except Exception as exc:  # huggingface_hub raises many types; all mean "not available"
        from inpaint_anything.errors import DownloadError, OfflineError

        if offline:
            raise OfflineError(
                f"The {noun} {repo_id} is not in the Hugging Face cache and offline mode is on. "
                f"Download it once with offline mode off, or {instead}."
            ) from exc
        raise DownloadError(f"Could not download {repo_id} from the Hugging Face Hub: {exc}") from exc


def model_bytes(path: str) -> int:
    """Size of the weights on disk (a folder's .safetensors/.bin files, or the single file)."""
    import os

    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files if f.endswith((".safetensors", ".bin")))
    return total


def needs_cpu_offload(free_vram: int, weights_bytes: int, fp16: bool = True) -> bool:
    """Model CPU offload when the GPU cannot hold the weights plus ~2.5 GB of working memory."""
    resident = weights_bytes // 2 if fp16 and weights_bytes > 0 else weights_bytes
    return free_vram < resident + int(2.5 * 2**30)


def _cuda_free_bytes() -> int | None:
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        free, _total = torch.cuda.mem_get_info()
        return int(free)
    except (ImportError, RuntimeError):
        return None


def masked_content_latents(
    pipe, image: np.ndarray, mask: np.ndarray, content: str, seed: int, generator, upcast_vae: bool = False
) -> dict[str, Any]:
    """The pipeline call arguments ``image`` and ``masked_image_latents`` for "latent noise" /
    "latent nothing" (diffusers 0.31 StableDiffusion(XL)InpaintPipeline), computed without changing ``pipe``.

    ``image`` is ``h x w x 3`` uint8 (h, w multiples of the VAE scale factor), ``mask`` ``h x w`` bool.
    Pixels are normalised as the pipeline's image processor does (``x / 255 * 2 - 1``) and encoded by
    ``pipe.vae`` in its dtype on its device (an offload hook moves them), sampling the latent
    distribution with ``generator`` (drawn first for the image, then for the masked image; the
    pipeline draws its noise after) and scaling by ``vae.config.scaling_factor``, as the pipeline's
    own encoder does. With ``upcast_vae`` (SDXL: the pipeline's encoder does the same) an fp16 VAE whose
    config asks for ``force_upcast`` encodes in float32 and is put back to fp16 afterwards.

    The latent mask is the pipeline's own: the mask at ``(f*i, f*j)`` for latent cell ``(i, j)``, f the
    VAE scale factor (nearest-neighbour downscaling, as the pipeline resizes ``mask_image``). Those cells get N(0, 1) noise from a CPU generator seeded
    ``seed + 1`` ("latent noise") or zeros ("latent nothing"); every other cell is bit-identical to
    the encoded image, so a 4-channel UNet's per-step blend (original latents outside the mask) keeps
    the original there. ``masked_image_latents`` encodes the original image with the masked pixels
    zeroed, exactly the 9-channel UNet's conditioning for the other modes.
    """
    import torch

    if content not in ("latent noise", "latent nothing"):
        raise ValueError(f"not a latent masked content: {content!r}")
    vae = pipe.vae
    if type(vae).__name__ == "AsymmetricAutoencoderKL":  # its decoder reads the pixels passed as `image`
        raise InvalidInputError(
            f"'{content}' needs a standard VAE; this model's asymmetric VAE decodes from the pixels. Use 'fill' or 'original'."
        )
    pixels = torch.from_numpy(np.ascontiguousarray(image).astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    pixels = 2.0 * pixels - 1.0
    hole = torch.from_numpy(mask.astype(np.float32))[None, None]
    masked_pixels = pixels * (hole < 0.5)
    dtype = vae.dtype
    upcast = upcast_vae and dtype == torch.float16 and bool(getattr(vae.config, "force_upcast", False))
    if upcast:
        vae.to(dtype=torch.float32)
    try:
        latents = _encode(vae, pixels, generator, torch.float32 if upcast else dtype).to(dtype)
        masked = _encode(vae, masked_pixels, generator, torch.float32 if upcast else dtype).to(dtype)
    finally:
        if upcast:
            vae.to(dtype=dtype)
    cells = torch.nn.functional.interpolate(hole, size=tuple(latents.shape[-2:])).to(latents.device) >= 0.5
    if content == "latent noise":
        rng = torch.Generator("cpu").manual_seed(int(seed) + 1)
        fill = torch.randn(latents.shape, generator=rng, dtype=torch.float32).to(latents.device, latents.dtype)
    else:
        fill = torch.zeros_like(latents)
    return {"image": torch.where(cells, fill, latents), "masked_image_latents": masked}


def _encode(vae, pixels, generator, dtype):
    """Scaled latents of ``pixels`` (1 x 3 x h x w in [-1, 1]): a sample of the VAE's latent
    distribution (or its latents, for a deterministic encoder) times ``vae.config.scaling_factor``."""
    out = vae.encode(pixels.to(vae.device, dtype))
    dist = getattr(out, "latent_dist", None)
    latents = dist.sample(generator=generator) if dist is not None else out.latents
    return latents * vae.config.scaling_factor


@dataclass
class DiffusersBackend:
    """Inpainting with a diffusers pipeline loaded from ``source`` (local path or a Hub repo id)."""

    source: str
    cache: Any  # inpaint_anything.diffusion.cache.PipelineCache
    label: str = ""  # the model's name for infotext and messages; default: the Hub id or the file/folder name
    device: str = "auto"
    dtype: Any = None
    config_dir: str | None = None
    offline: bool = True
    hub_cache_dir: str | None = None
    multiple: int = 8
    native_override: int = 0  # force a processing resolution (tests, low-memory GPUs)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _family: str | None = field(default=None, repr=False)
    require_inpaint: ClassVar[bool] = True  # refuse a 4-channel checkpoint (the ControlNet backend takes any)

    @property
    def model_name(self) -> str:
        """The model by Hub id or file/folder name, never a path on this machine."""
        import os

        if self.label:
            return self.label
        if os.path.exists(os.path.expanduser(self.source)) or self.source.startswith(("/", "~", ".")) or "\\" in self.source:
            return os.path.basename(os.path.normpath(os.path.expanduser(self.source)))
        return self.source

    @property
    def name(self) -> str:
        return f"diffusers:{self.model_name}"

    def _local_source(self) -> str:
        import os

        if os.path.exists(os.path.expanduser(self.source)):
            return self.source
        if self.source.count("/") == 1 and not self.source.startswith((".", "/", "~")):
            return resolve_hub_model(self.source, offline=self.offline, cache_dir=self.hub_cache_dir)
        from inpaint_anything.errors import ModelNotFoundError

        raise ModelNotFoundError(f"Inpainting model {self.source!r} is neither a local path nor a Hub repo id (owner/name).")

    def pipeline(self):
        """The cached pipeline (loading it on first use) and its info. On CUDA with too little free
        VRAM for the weights, the pipeline is loaded on the CPU with model CPU offload instead."""
        from inpaint_anything.diffusion.loader import resolve_device

        source = self._local_source()
        device = self.device
        offload = False
        cached = self.cache.keys()  # a list of keys (PipelineCache is not a dict)
        if resolve_device(device) == "cuda" and self.cache.key(source, device, self.dtype) not in cached:
            free = _cuda_free_bytes()
            if free is not None and needs_cpu_offload(free, model_bytes(source)):
                device, offload = "cpu", True
        pipe, info = self.cache.get(
            source,
            device=device,
            dtype=self.dtype,
            config_dir=self.config_dir,
            offline=self.offline,
            require_inpaint=self.require_inpaint,
        )
        if offload and not getattr(pipe, "_ia_offloaded", False):
            pipe.enable_model_cpu_offload()
            pipe._ia_offloaded = True
        self._family = info.family
        return pipe, info

    @property
    def native_size(self) -> int:
        if self.native_override:
            return self.native_override
        if self._family is None:
            self.pipeline()
        return NATIVE_SIZE.get(self._family or "sd1", 512)

    @staticmethod
    def check_request(request: InpaintRequest) -> None:
        """Refuse what this backend cannot do (before any model is loaded)."""
        if getattr(request, "soft_inpainting", False):
            raise InvalidInputError(
                "Soft inpainting is a WebUI feature: use the 'WebUI checkpoint' backend for it, "
                "or turn soft inpainting off for diffusers models."
            )

    def _pipe_for_call(self, pipe: Any, info: Any, call: dict[str, Any], image: np.ndarray, mask: np.ndarray) -> Any:
        """The pipeline that runs ``call`` (a subclass may add arguments to ``call`` and wrap ``pipe``'s parts)."""
        return pipe

    def generate(self, image: np.ndarray, mask: np.ndarray, request: InpaintRequest, seed: int, job: JobControl) -> np.ndarray:
        import torch

        from inpaint_anything.diffusion.schedulers import make_scheduler

        self.check_request(request)
        with getattr(self.cache, "in_use", self._lock):  # one run at a time on the shared pipelines
            pipe, info = self.pipeline()
            base = getattr(pipe, "_ia_base_scheduler_config", None)
            if base is None:
                base = dict(pipe.scheduler.config)
                pipe._ia_base_scheduler_config = base
            pipe.scheduler = make_scheduler(base, request.sampler, request.scheduler)
            h, w = image.shape[:2]
            generator = torch.Generator("cpu").manual_seed(int(seed))

            def on_step(p, i, t, kwargs):
                job.step(i + 1, max(1, int(getattr(p, "num_timesteps", 0) or request.steps)), "sampling")
                return kwargs

            from PIL import Image

            call: dict[str, Any] = dict(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt or None,
                image=Image.fromarray(image),
                mask_image=Image.fromarray(mask.astype(np.uint8) * 255),
                height=h,
                width=w,
                strength=float(request.denoising_strength),
                num_inference_steps=int(request.steps),
                guidance_scale=float(request.cfg_scale),
                generator=generator,
                output_type="np",
                callback_on_step_end=on_step,
            )
            try:
                with torch.inference_mode():
                    if request.masked_content in ("latent noise", "latent nothing"):
                        call.update(
                            masked_content_latents(
                                pipe, image, mask, request.masked_content, seed, generator, upcast_vae=info.family == "sdxl"
                            )
                        )
                    result = self._pipe_for_call(pipe, info, call, image, mask)(**call)
            except IAError:
                raise
            except (RuntimeError, ValueError) as exc:
                if "out of memory" in str(exc).lower():
                    raise UnavailableError(
                        "Out of memory while inpainting. Use a smaller 'only masked' area, fewer pixels, or a smaller model."
                    ) from exc
                raise
        out = np.asarray(result.images[0])
        return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
