"""Inpainting with the WebUI's loaded checkpoint, through the host's own img2img processing.

The core engine does the geometry (only-masked crop at the native resolution, padding, exact
feathered paste-back); this backend receives that processing-size image and runs the host's
``StableDiffusionProcessingImg2Img`` on it with the request's masked content, mask blur, denoising,
sampler, schedule type, seed, steps and CFG. Any checkpoint works: inpainting checkpoints (detected
from the model) get the host's inpainting conditioning, normal ones its latent-blend inpainting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inpaint_anything.errors import JobInterrupted, UnavailableError
from inpaint_anything.inpaint.request import MASKED_CONTENT, InpaintRequest
from inpaint_anything.jobs import JobControl
from inpaint_anything.webui import compat


def _shared():
    from modules import shared

    return shared


def checkpoint_hint() -> str | None:
    """A hint for the UI when the loaded checkpoint is not an inpainting one (None if it is)."""
    sd_model = getattr(_shared(), "sd_model", None)
    if sd_model is None:
        return "No checkpoint is loaded in the WebUI yet."
    if compat.sd_model_is_inpainting(sd_model):
        return None
    return (f"'{compat.sd_model_title(sd_model)}' is not an inpainting checkpoint: it works, but an inpainting "
            "checkpoint blends better. Use masked content 'original' or 'fill' and a denoising strength below 1.")


@dataclass
class WebuiCheckpointBackend:
    """The host's loaded checkpoint as an inpainting backend."""

    multiple: int = 8
    native_override: int = 0

    @property
    def name(self) -> str:
        return "webui:" + compat.sd_model_title(getattr(_shared(), "sd_model", None))

    @property
    def native_size(self) -> int:
        if self.native_override:
            return self.native_override
        return 1024 if compat.sd_model_is_sdxl(getattr(_shared(), "sd_model", None)) else 512

    def generate(self, image: np.ndarray, mask: np.ndarray, request: InpaintRequest, seed: int, job: JobControl) -> np.ndarray:
        from modules import processing
        from PIL import Image

        shared = _shared()
        if getattr(shared, "sd_model", None) is None:
            raise UnavailableError("No checkpoint is loaded in the WebUI. Pick one in the checkpoint dropdown first.")
        h, w = image.shape[:2]
        p = processing.StableDiffusionProcessingImg2Img(
            sd_model=shared.sd_model,
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
            mask=Image.fromarray(mask.astype(np.uint8) * 255),
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
        if compat.processing_has_scheduler() and request.scheduler:
            p.scheduler = request.scheduler
        p.extra_generation_params = {"Inpaint Anything": "webui checkpoint"}
        job.step(0, int(request.steps), "generating with the WebUI checkpoint")
        try:
            processed = processing.process_images(p)
        finally:
            close = getattr(p, "close", None)
            if close:
                close()
        if getattr(shared.state, "interrupted", False) or job.interrupted:
            raise JobInterrupted("Interrupted.")
        if not processed.images:
            raise UnavailableError("The WebUI returned no image; see the console for its error.")
        out = np.asarray(processed.images[-1].convert("RGB"))
        if out.shape[:2] != (h, w):
            out = np.asarray(processed.images[-1].convert("RGB").resize((w, h), Image.LANCZOS))
        job.step(int(request.steps), int(request.steps))
        return out
