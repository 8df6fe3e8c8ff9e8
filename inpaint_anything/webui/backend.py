"""Inpainting with the WebUI's loaded checkpoint, through the host's own img2img processing.

The core engine does the geometry (only-masked crop at the native resolution, padding, exact
feathered paste-back); this backend receives that processing-size image and runs the host's
``StableDiffusionProcessingImg2Img`` on it with the request's masked content, mask blur, denoising,
sampler, schedule type, seed, steps and CFG. Any checkpoint works: inpainting checkpoints (detected
from the model) get the host's inpainting conditioning, normal ones its latent-blend inpainting.

Soft inpainting is the host's built-in always-on img2img script "Soft Inpainting"; a request that
asks for it runs the processing with the img2img script runner, every always-on script at its UI
defaults and that script at the request's values. When the script is missing (extension disabled,
a build without it) such a request fails with a message saying so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from inpaint_anything.errors import IAError, JobInterrupted, NotReadyError, UnavailableError
from inpaint_anything.inpaint.request import MASKED_CONTENT, InpaintRequest
from inpaint_anything.jobs import JobControl
from inpaint_anything.webui import compat

SOFT_INPAINTING_TITLE = "Soft Inpainting"
SOFT_INPAINTING_ARGS = 7  # enabled + six parameters (InpaintRequest.soft_inpainting_args)
SOFT_INPAINTING_MARK = "Soft inpainting enabled"  # the infotext key the script writes when it ran


class ModelNaNError(IAError, status=500):
    """The host's NaN check stopped a generation (its ``modules.devices.NansException``)."""


def nan_message(exc: BaseException) -> str:
    """What the WebUI advises for NaNs, in one message (the host's own detail after it)."""
    detail = str(exc).strip()
    return (
        "The model produced NaNs (not-a-number values) instead of an image. Try starting the WebUI with --no-half "
        "(or --no-half-vae when the VAE is named), a different VAE, or --disable-nan-check."
        + (f" The WebUI said: {detail}" if detail else "")
    )


def _shared():
    from modules import shared

    return shared


def checkpoint_hint() -> str | None:
    """A hint for the UI when the loaded checkpoint is not an inpainting one (None if it is, or when
    Forge has a checkpoint selected that loads on first use, even with another one still loaded)."""
    sd_model = compat.loaded_sd_model()
    if sd_model is None:
        return None if compat.pending_checkpoint() is not None else "No checkpoint is loaded in the WebUI yet."
    if compat.forge_reload_pending():
        return None
    if compat.sd_model_is_inpainting(sd_model):
        return None
    return (
        f"'{compat.sd_model_title(sd_model)}' is not an inpainting checkpoint: it works, but an inpainting "
        "checkpoint blends better. Use masked content 'original' or 'fill' and a denoising strength below 1."
    )


def soft_inpainting_status() -> str | None:
    """None when the host's Soft Inpainting can be used; otherwise a sentence saying why not."""
    runner = compat.img2img_script_runner()
    script = compat.find_alwayson_script(runner, SOFT_INPAINTING_TITLE) if runner is not None else None
    if script is None:
        return (
            "Soft inpainting is not available in this WebUI: its built-in 'soft-inpainting' extension is "
            "disabled or missing (see the Extensions tab)."
        )
    if script.args_from is None or script.args_to is None or script.args_to - script.args_from < SOFT_INPAINTING_ARGS:
        return "Soft inpainting is not available yet: the WebUI has not set up its img2img scripts."
    return None


def soft_inpainting_scripts(request: InpaintRequest) -> tuple:
    """``(runner, script_args)`` for a processing object: UI defaults for every always-on script and
    the request's soft inpainting values at the Soft Inpainting script's positions."""
    reason = soft_inpainting_status()
    if reason:
        raise UnavailableError(reason + " Turn soft inpainting off to inpaint without it.")
    runner = compat.img2img_script_runner()
    script = compat.find_alwayson_script(runner, SOFT_INPAINTING_TITLE)
    args = compat.default_script_args(runner)
    values = request.soft_inpainting_args()
    args[script.args_from : script.args_from + len(values)] = values
    return runner, args


@dataclass
class WebuiCheckpointBackend:
    """The host's loaded checkpoint as an inpainting backend."""

    multiple: int = 8
    native_override: int = 0
    # a request's override_settings (img2img API / "Override settings"), already applied by the caller
    # (compat.override_settings_applied) and carried by every processing object built here
    override_settings: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        # Forge with another checkpoint selected than loaded: the selected one is what the next generation uses
        sd_model = None if compat.forge_reload_pending() else compat.loaded_sd_model()
        return "webui:" + compat.sd_model_title(sd_model)

    @property
    def native_size(self) -> int:
        if self.native_override:
            return self.native_override
        return 1024 if compat.sd_model_is_sdxl(compat.ensure_sd_model()) else 512

    @staticmethod
    def check_request(request: InpaintRequest) -> None:
        """Refuse what this host cannot do before anything runs (soft inpainting without its script)."""
        if request.soft_inpainting:
            reason = soft_inpainting_status()
            if reason:
                raise UnavailableError(reason + " Turn soft inpainting off to inpaint without it.")

    def script_args(self, request: InpaintRequest, image: np.ndarray, mask: np.ndarray) -> tuple | None:
        """``(runner, script_args)`` for the processing object, or None to run without scripts."""
        return soft_inpainting_scripts(request) if request.soft_inpainting else None

    def check_scripts_ran(self, p, caught: compat.CaughtErrors) -> None:
        """Raise when a script this backend asked for did not run or failed (a subclass's own check;
        ``caught``: what the host caught during the run)."""

    def img2img_mask(self, mask: np.ndarray):
        """The mask handed to the host's img2img (a subclass may leave the masking to a script: None)."""
        from PIL import Image

        return Image.fromarray(mask.astype(np.uint8) * 255)

    def generate(self, image: np.ndarray, mask: np.ndarray, request: InpaintRequest, seed: int, job: JobControl) -> np.ndarray:
        from modules import processing
        from PIL import Image

        shared = _shared()
        self.check_request(request)
        sd_model = compat.ensure_sd_model()
        if sd_model is None:
            raise NotReadyError("No checkpoint is loaded in the WebUI. Pick one in the checkpoint dropdown first.")
        scripts = self.script_args(request, image, mask)
        h, w = image.shape[:2]
        p = processing.StableDiffusionProcessingImg2Img(
            sd_model=sd_model,
            outpath_samples=getattr(shared.opts, "outdir_img2img_samples", None),
            outpath_grids=getattr(shared.opts, "outdir_img2img_grids", None),
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            seed=int(seed),
            sampler_name=request.sampler,
            batch_size=1,
            n_iter=1,
            steps=int(request.steps),
            cfg_scale=float(request.cfg_scale),
            width=w,
            height=h,
            init_images=[Image.fromarray(image)],
            mask=self.img2img_mask(mask),
            mask_blur=int(request.mask_blur),
            inpainting_fill=MASKED_CONTENT.index(request.masked_content),
            resize_mode=0,
            denoising_strength=float(request.denoising_strength),
            inpaint_full_res=False,  # the engine already cropped around the mask at the native size
            inpaint_full_res_padding=0,
            inpainting_mask_invert=0,
            do_not_save_samples=True,
            do_not_save_grid=True,
        )
        if self.override_settings:
            p.override_settings = dict(self.override_settings)
            p.override_settings_restore_afterwards = False  # the caller restores them after all its passes
        if compat.processing_has_scheduler() and request.scheduler:
            p.scheduler = request.scheduler
        p.extra_generation_params = {"Inpaint Anything": "webui checkpoint"}
        if scripts is not None:
            p.is_api = True  # as the host's API: the UI-only setup scripts (seed, sampler...) keep our values
            p.scripts = scripts[0]
            p.script_args = tuple(scripts[1])
        job.step(0, int(request.steps), "generating with the WebUI checkpoint")
        caught = compat.CaughtErrors()
        try:
            processed = processing.process_images(p)
        except Exception as exc:
            if compat.is_nans_exception(exc):
                raise ModelNaNError(nan_message(exc)) from None  # a known failure: the message, no traceback
            raise
        finally:
            close = getattr(p, "close", None)
            if close:
                close()
        if getattr(shared.state, "interrupted", False) or job.interrupted:
            raise JobInterrupted("Interrupted.")
        if not processed.images:
            raise UnavailableError("The WebUI returned no image; see the console for its error.")
        self.check_scripts_ran(p, caught)
        if request.soft_inpainting and not p.extra_generation_params.get(SOFT_INPAINTING_MARK):
            raise UnavailableError(
                "The WebUI's Soft Inpainting script did not run (see the console for its error); "
                "turn soft inpainting off to inpaint without it."
            )
        out = np.asarray(processed.images[-1].convert("RGB"))
        if out.shape[:2] != (h, w):
            out = np.asarray(processed.images[-1].convert("RGB").resize((w, h), Image.LANCZOS))
        job.step(int(request.steps), int(request.steps))
        return out
