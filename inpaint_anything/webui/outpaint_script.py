"""The img2img Scripts-dropdown entry "Outpainting (Inpaint Anything)".

Uses the loaded checkpoint through the host's processing (inpainting checkpoints are used as such,
normal ones work too) and the core outpainting engine: pre-filled canvas, feathered overlap, every
original pixel outside the overlap kept bit-exact, output size = input + expansion.

API (``/sdapi/v1/img2img`` with ``script_name`` "outpainting (inpaint anything)"): ``script_args`` in
this order: mode ("pixels" | "aspect" | "scale"), left, right, up, down, aspect preset, scale,
balance left/right (0..1), balance up/down (0..1), pre-fill, overlap px, strategy ("all" |
"per_side"), mask blur.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from modules import scripts

from inpaint_anything.outpaint import geometry, prefill

TITLE = "Outpainting (Inpaint Anything)"
ARG_NAMES = ("mode", "left", "right", "up", "down", "preset", "scale", "balance_x", "balance_y", "prefill", "overlap",
             "strategy", "mask_blur")
DEFAULTS = ("pixels", 0, 128, 0, 0, "16:9", 1.5, 0.5, 0.5, prefill.DEFAULT_PREFILL, 16, "all", 4)


def expansion_from(args: dict, width: int, height: int) -> geometry.Expansion:
    mode = args["mode"]
    if mode == "pixels":
        return geometry.by_pixels(width, height, int(args["left"]), int(args["right"]), int(args["up"]), int(args["down"]))
    if mode == "aspect":
        return geometry.by_aspect(width, height, str(args["preset"]), float(args["balance_x"]), float(args["balance_y"]))
    if mode == "scale":
        return geometry.by_scale(width, height, float(args["scale"]), float(args["balance_x"]), float(args["balance_y"]))
    from inpaint_anything.errors import InvalidInputError

    raise InvalidInputError(f"Unknown outpaint mode {mode!r}; use pixels, aspect or scale.")


def request_from(p, mask_blur: int):
    from inpaint_anything.inpaint.request import InpaintRequest

    return InpaintRequest(
        prompt=p.prompt if isinstance(p.prompt, str) else p.prompt[0], negative_prompt=p.negative_prompt or "",
        seed=int(p.seed), steps=int(p.steps), cfg_scale=float(p.cfg_scale), sampler=p.sampler_name or "Euler a",
        scheduler=getattr(p, "scheduler", None) or "Automatic", denoising_strength=float(p.denoising_strength or 0.75),
        masked_content="original", mask_blur=int(mask_blur), inpaint_area="whole", padding=32,
        batch_count=max(1, int(p.n_iter) * int(p.batch_size))).validated()


class InpaintAnythingOutpaint(scripts.Script):
    def title(self):
        return TITLE

    def show(self, is_img2img):
        return is_img2img

    def ui(self, is_img2img):
        import gradio as gr

        gr.HTML("<p class='ia-hint'>Adds pixels around the image with the loaded checkpoint; the original is kept exactly. "
                "Inpainting checkpoints blend best. Denoising strength 0.8-1.</p>")
        mode = gr.Radio(label="Expand by", choices=["pixels", "aspect", "scale"], value=DEFAULTS[0], elem_id=self.elem_id("mode"))
        with gr.Row():
            sides = [gr.Slider(label=s.capitalize(), minimum=0, maximum=2048, step=8, value=v, elem_id=self.elem_id(s))
                     for s, v in zip(("left", "right", "up", "down"), DEFAULTS[1:5], strict=True)]
        with gr.Row():
            preset = gr.Dropdown(label="Aspect", choices=list(geometry.ASPECT_PRESETS), value=DEFAULTS[5], elem_id=self.elem_id("preset"))
            scale = gr.Slider(label="Scale", minimum=1.25, maximum=2.0, step=0.05, value=DEFAULTS[6], elem_id=self.elem_id("scale"))
            bx = gr.Slider(label="Balance left/right", minimum=0, maximum=1, step=0.05, value=0.5, elem_id=self.elem_id("balance_x"))
            by = gr.Slider(label="Balance up/down", minimum=0, maximum=1, step=0.05, value=0.5, elem_id=self.elem_id("balance_y"))
        with gr.Row():
            pre = gr.Dropdown(label="Pre-fill", choices=list(prefill.PREFILLS), value=DEFAULTS[9], elem_id=self.elem_id("prefill"))
            overlap = gr.Slider(label="Overlap into the original (px)", minimum=0, maximum=128, step=4, value=16, elem_id=self.elem_id("overlap"))
            strategy = gr.Radio(label="Passes", choices=["all", "per_side"], value="all", elem_id=self.elem_id("strategy"))
            blur = gr.Slider(label="Mask blur", minimum=0, maximum=64, step=1, value=4, elem_id=self.elem_id("mask_blur"))
        return [mode, *sides, preset, scale, bx, by, pre, overlap, strategy, blur]

    def run(self, p, *args):
        from modules import images, processing, shared

        from inpaint_anything.outpaint.engine import OutpaintSettings, outpaint
        from inpaint_anything.webui.backend import WebuiCheckpointBackend
        from inpaint_anything.webui.jobs import HostJobControl

        values = dict(zip(ARG_NAMES, (list(args) + list(DEFAULTS[len(args):]))[: len(ARG_NAMES)], strict=True))
        processing.fix_seed(p)
        source = p.init_images[0]
        width, height = source.size
        settings = OutpaintSettings(expansion=expansion_from(values, width, height), prefill=str(values["prefill"]),
                                    overlap_px=int(values["overlap"]), strategy=str(values["strategy"]))
        request = request_from(p, int(values["mask_blur"]))
        result = outpaint(np.asarray(source.convert("RGBA") if source.mode == "RGBA" else source.convert("RGB")),
                          settings, request, WebuiCheckpointBackend(), HostJobControl())
        from PIL import Image

        pil_images = [Image.fromarray(img) for img in result.images]
        p.width, p.height = result.canvas_size
        infotexts = [t + f", Script: {TITLE}" for t in result.infotexts]
        if getattr(shared.opts, "samples_save", True) and not p.do_not_save_samples:
            for img, seed, text in zip(pil_images, result.seeds, infotexts, strict=True):
                images.save_image(img, p.outpath_samples, "", seed, request.prompt, getattr(shared.opts, "samples_format", "png"),
                                  info=text, p=p)
        processed = processing.Processed(p, pil_images, result.seeds[0], infotexts[0], all_seeds=list(result.seeds),
                                         infotexts=infotexts)
        return processed


__all__ = ["ARG_NAMES", "DEFAULTS", "TITLE", "InpaintAnythingOutpaint", "dataclasses"]
