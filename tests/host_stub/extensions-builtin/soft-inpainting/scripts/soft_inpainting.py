"""Stand-in for the built-in extension "soft-inpainting" (v1.10.1 and Forge): the AlwaysVisible img2img
script "Soft Inpainting" (tests only; independently written, no WebUI code).

What it shares with the host's script: the title, section "inpaint", the seven arguments in order
(enabled, schedule bias, preservation strength, transition contrast boost, mask influence,
difference threshold, difference contrast), their defaults (off, 1, 0.5, 4, 0, 0.5, 2) and slider
ranges, the infotext keys it writes, and where it acts:

* ``process``: turns mask rounding off and writes its parameters to the infotext;
* ``on_mask_blend``: after every sampling step, blends the original and denoised latents by the
  soft latent mask raised to ``sigma ** schedule_bias * preservation_strength``, keeping the vectors'
  magnitudes (raised to ``transition_contrast``) from collapsing; the final blend keeps the result;
* ``post_sample`` / ``postprocess_maskoverlay``: replaces the binary overlay with a soft one: the
  original shows through where the latent changed little (``difference_threshold``, sharpened by
  ``difference_contrast``, biased by the mask with ``mask_influence``) and where the mask is weak.

The formulas are the stand-in's own (simpler than the host's); what tests can rely on is that the
result depends on every parameter and that nothing changes while it is disabled. Each call is
recorded in ``Script.stub_calls`` as ``(hook, args)``.
"""

from __future__ import annotations

import modules.scripts as scripts

TITLE = "Soft Inpainting"
INFOTEXT_KEYS = (
    "Soft inpainting enabled",
    "Soft inpainting schedule bias",
    "Soft inpainting preservation strength",
    "Soft inpainting transition contrast boost",
    "Soft inpainting mask influence",
    "Soft inpainting difference threshold",
    "Soft inpainting difference contrast",
)
# label, elem id, minimum, maximum, step, default
SLIDERS = (
    ("Schedule bias", "mask_blend_power", 0, 8, 0.1, 1),
    ("Preservation strength", "mask_blend_scale", 0, 8, 0.05, 0.5),
    ("Transition contrast boost", "inpaint_detail_preservation", 1, 32, 0.5, 4),
    ("Mask influence", "composite_mask_influence", 0, 1, 0.05, 0),
    ("Difference threshold", "composite_difference_threshold", 0, 8, 0.25, 0.5),
    ("Difference contrast", "composite_difference_contrast", 0, 8, 0.25, 2),
)


def _inpainting(p) -> bool:
    return any(getattr(p, name, None) is not None for name in ("image_mask", "mask", "nmask"))


def _soft_latent_blend(init, current, nmask, sigma: float, power: float, scale: float, contrast: float):
    import torch

    weight = nmask.clamp(0, 1) ** (sigma**power * scale)  # share of the denoised latent
    lin = init * (1 - weight) + current * weight
    w1 = weight[:1] if weight.ndim == 3 else weight[:, :1]
    magnitudes = (
        init.norm(dim=1, keepdim=True).double() ** contrast * (1 - w1)
        + current.norm(dim=1, keepdim=True).double() ** contrast * w1
    ) ** (1.0 / contrast)
    factor = magnitudes / (lin.norm(dim=1, keepdim=True).double() + 1e-5)
    return lin * factor.to(torch.float32).to(lin.dtype)


def _generated_weight(p, samples, scale, mask_inf, threshold, contrast):
    """Per image, HxW in [0, 1]: how much of the generated pixel the composite keeps (latent size)."""
    import torch

    soft = p.nmask[0].float().clamp(0, 1) if p.nmask.ndim == 3 else p.nmask[:, 0].float().clamp(0, 1)
    mask_term = soft ** (scale / 2)
    change = torch.linalg.vector_norm(samples.float() - p.init_latent.float(), dim=1)  # B x h x w
    bias = (1 - mask_inf) + mask_inf * (1 - soft) * 2  # a strong mask lowers the threshold
    half = (threshold * bias).clamp(min=1e-6)
    keep_original = 1 / (1 + (change / half) ** contrast)
    return (mask_term * (1 - keep_original)).clamp(0, 1)


class Script(scripts.Script):
    def __init__(self):
        self.section = "inpaint"
        self.masks_for_overlay = None
        self.overlay_images = None
        self.stub_calls = []

    def title(self):
        return TITLE

    def show(self, is_img2img):
        return scripts.AlwaysVisible if is_img2img else False

    def ui(self, is_img2img):
        if not is_img2img:
            return None
        import gradio as gr
        from modules.ui_components import InputAccordion

        with InputAccordion(False, label="Soft inpainting", elem_id="soft_inpainting_enabled") as enabled:
            sliders = [
                gr.Slider(label=label, minimum=lo, maximum=hi, step=step, value=value, elem_id=elem_id)
                for label, elem_id, lo, hi, step, value in SLIDERS
            ]
        controls = [enabled, *sliders]
        self.infotext_fields = list(zip(controls, INFOTEXT_KEYS, strict=True))
        self.paste_field_names = list(INFOTEXT_KEYS)
        return controls

    def process(self, p, enabled, power, scale, detail, mask_inf, dif_thresh, dif_contr):
        if not enabled or not _inpainting(p):
            return
        self.stub_calls.append(("process", (enabled, power, scale, detail, mask_inf, dif_thresh, dif_contr)))
        p.mask_round = False
        for key, value in zip(INFOTEXT_KEYS, (True, power, scale, detail, mask_inf, dif_thresh, dif_contr), strict=True):
            p.extra_generation_params[key] = value

    def on_mask_blend(self, p, mba, enabled, power, scale, detail, mask_inf, dif_thresh, dif_contr):
        if not enabled or not _inpainting(p):
            return
        if mba.is_final_blend:
            mba.blended_latent = mba.current_latent
            return
        import torch

        sigma = float(torch.as_tensor(mba.sigma).flatten()[0])
        self.stub_calls.append(("on_mask_blend", sigma))
        mba.blended_latent = _soft_latent_blend(mba.init_latent, mba.current_latent, mba.nmask, sigma, power, scale, detail)

    def post_sample(self, p, ps, enabled, power, scale, detail, mask_inf, dif_thresh, dif_contr):
        if not enabled or not _inpainting(p) or getattr(p, "nmask", None) is None:
            return
        import numpy as np
        from modules import images, processing
        from modules.shared import opts
        from PIL import Image

        self.stub_calls.append(("post_sample", tuple(ps.samples.shape)))
        weights = _generated_weight(p, ps.samples, scale, mask_inf, dif_thresh, dif_contr)
        self.overlay_images, self.masks_for_overlay = [], []
        for i in range(ps.samples.shape[0]):
            source = p.init_images[min(i, len(p.init_images) - 1)]
            original = images.flatten(source, opts.img2img_background_color)
            if p.paste_to is None and p.resize_mode != 3:
                original = images.resize_image(p.resize_mode, original, p.width, p.height)
            mask = Image.fromarray(np.uint8(np.rint(weights[i].cpu().numpy() * 255)), "L").resize(
                (p.width, p.height), Image.BILINEAR
            )
            if p.paste_to is not None:
                mask = processing.uncrop(mask, original.size, p.paste_to).split()[0]
            overlay = original.convert("RGBA")
            overlay.putalpha(Image.fromarray(255 - np.asarray(mask.convert("L")), "L"))
            self.masks_for_overlay.append(mask)
            self.overlay_images.append(overlay)

    def postprocess_maskoverlay(self, p, ppmo, enabled, power, scale, detail, mask_inf, dif_thresh, dif_contr):
        if not enabled or not _inpainting(p) or not self.masks_for_overlay:
            return
        index = min(ppmo.index, len(self.masks_for_overlay) - 1)
        ppmo.mask_for_overlay = self.masks_for_overlay[index]
        ppmo.overlay_image = self.overlay_images[index]
