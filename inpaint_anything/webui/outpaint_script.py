"""The img2img Scripts-dropdown entry "Outpainting (Inpaint Anything)".

Uses the loaded checkpoint through the host's processing (inpainting checkpoints are used as such,
normal ones work too) and the core outpainting engine: pre-filled canvas, feathered overlap, every
original pixel outside the overlap kept bit-exact, output size = input + expansion. The output size
is set by the script (img2img's Width/Height are ignored), shown in a preview line under its
controls; only the controls of the chosen mode are shown.

Denoising strength: the script uses img2img's value as it is; the preview line warns when it is
below :data:`MIN_DENOISING` (the new area would stay close to the pre-fill).

The request's ``override_settings`` (API, or img2img's "Override settings") are applied for the
whole run as the host's process_images applies them (checkpoint, VAE, any option), carried by every
processing object the script builds, and restored afterwards.

API (``/sdapi/v1/img2img`` with ``script_name`` "outpainting (inpaint anything)"): ``script_args`` in
this order: mode ("pixels" | "aspect" | "scale"), left, right, up, down, aspect preset, scale,
balance left/right (0..1), balance up/down (0..1), pre-fill, overlap px, strategy ("all" |
"per_side"), mask blur, then optionally "ControlNet inpaint" (true: the WebUI's ControlNet steers the new
area, so an ordinary checkpoint outpaints well) and the ControlNet options in the order of
:data:`~inpaint_anything.inpaint.controlnet.CONTROLNET_FIELDS` (preprocessor, model, weight, resize mode,
starting/ending control step, control mode, reference unit, reference weight, style fidelity). Missing
trailing arguments take their defaults (:func:`args_sent` tells them apart from the next scripts'
arguments that the WebUI's API leaves in their place). The words the UI shows ("one side at a time",
"blurred edge", ...) are accepted too.
"""

from __future__ import annotations

import dataclasses
import html

import numpy as np
from modules import scripts

from inpaint_anything.errors import IAError
from inpaint_anything.fields import Field
from inpaint_anything.inpaint.controlnet import CONTROLNET_FIELDS
from inpaint_anything.inpaint.request import INPAINT
from inpaint_anything.outpaint.geometry import Expansion
from inpaint_anything.outpaint.params import (
    MODE_WORDS,
    OUTPAINT,
    OUTPAINT_FIELDS,
    PREFILL_WORDS,
    STRATEGY_WORDS,
    spec_from_ui,
    ui_start,
    visible_groups,
)

TITLE = "Outpainting (Inpaint Anything)"
# script_args: the outpaint table's fields in its order, the mask blur, then the ControlNet inpaint switch
# and the ControlNet table (the rest comes from img2img). The mask blur keeps the script's own label and
# the overlap its elem_id: the WebUI's ui-config.json keeps a user's start values by label, and user CSS
# may use the elem_ids.
MASK_BLUR = dataclasses.replace(INPAINT["mask_blur"], label="Mask blur (px)")
CONTROLNET_SWITCH = Field(
    "controlnet",
    bool,
    False,
    "ControlNet inpaint: the WebUI's ControlNet steers the new area (any checkpoint)",
    noun="ControlNet inpaint",
    elem="cn_enabled",
)
SCRIPT_FIELDS = (*OUTPAINT_FIELDS, MASK_BLUR, CONTROLNET_SWITCH, *CONTROLNET_FIELDS)
SCRIPT_ELEM_IDS = {"overlap_px": "overlap"}
ARG_NAMES = tuple(f.name for f in SCRIPT_FIELDS)
SIZE_NAMES = tuple(f.name for f in (*OUTPAINT_FIELDS, MASK_BLUR))  # the controls the preview line follows
DEFAULTS = tuple(ui_start(f) for f in SCRIPT_FIELDS)
MIN_DENOISING = 0.8
HOST_IMAGE = "img2img_image"
HOST_DENOISING = "img2img_denoising_strength"


def normalized(args: dict) -> dict:
    """Script arguments by name with the choices as ids (the words the UI shows are accepted too)."""
    return spec_from_ui(args)


def expansion_from(args: dict, width: int, height: int) -> Expansion:
    return Expansion.from_spec(args, width, height)


def preview_text(args: dict, size: tuple[int, int] | None, denoising: float | None = None) -> str:
    """The line under the controls: the output size (img2img's Width/Height are ignored) and, when
    img2img's denoising strength is too low for a pre-filled area, a warning."""
    ignored = "img2img's Width/Height are ignored"
    try:
        mode = OUTPAINT["mode"].choice_id(args["mode"])
        if size:
            exp = expansion_from(args, *size)
            cw, ch = exp.canvas_size
            text = f"Output size is set here: {exp.width}×{exp.height} → {cw}×{ch} ({ignored})."
        elif mode == "pixels":
            text = (
                f"Output size is set here: the input + {int(args['left']) + int(args['right'])} px wide, "
                f"+ {int(args['up']) + int(args['down'])} px high ({ignored})."
            )
        elif mode == "aspect":
            text = f"Output size is set here: the input widened or heightened to {args['preset']} ({ignored})."
        else:
            text = f"Output size is set here: the input × {float(args['scale']):g} ({ignored})."
    except IAError as exc:
        text = f"⚠ {exc}"
    if denoising is not None and float(denoising) < MIN_DENOISING:
        text += (
            f" ⚠ Denoising strength {float(denoising):g} is below {MIN_DENOISING:g}: the new area stays close to "
            f"the pre-fill. Use {MIN_DENOISING:g}–1 in img2img."
        )
    return text


def _image_size(image) -> tuple[int, int] | None:
    """(width, height) of an img2img image value (PIL, numpy, or gradio 4's dict), None when empty."""
    if isinstance(image, dict):
        image = image.get("image") if "image" in image else image.get("background")
    if image is None:
        return None
    if hasattr(image, "size") and isinstance(image.size, tuple):
        return tuple(image.size[:2])
    shape = getattr(image, "shape", None)
    return (int(shape[1]), int(shape[0])) if shape is not None and len(shape) >= 2 else None


def request_from(p, mask_blur: int):
    from inpaint_anything.inpaint.request import InpaintRequest

    return InpaintRequest(
        prompt=p.prompt if isinstance(p.prompt, str) else p.prompt[0],
        negative_prompt=p.negative_prompt or "",
        seed=int(p.seed),
        steps=int(p.steps),
        cfg_scale=float(p.cfg_scale),
        sampler=p.sampler_name or INPAINT["sampler"].default,
        scheduler=getattr(p, "scheduler", None) or INPAINT["scheduler"].default,
        denoising_strength=float(p.denoising_strength or 0.75),
        masked_content="original",
        mask_blur=int(mask_blur),
        inpaint_area="whole",
        padding=INPAINT["padding"].default,
        batch_count=max(1, int(p.n_iter) * int(p.batch_size)),
    ).validated()


def args_sent(p, script, given: int) -> int:
    """How many of the script's arguments the caller really sent.

    The WebUI's API (``/sdapi/v1/img2img``) builds every script's default arguments, then *replaces* this
    script's slice with the request's ``script_args``: a request with fewer (e.g. the 13 of versions
    before the ControlNet choice) shortens the list, and this script's slice then ends in other scripts'
    arguments. The list is exactly that many items shorter than the runner's span, so the arguments
    past what was sent are known and replaced by their defaults here. From the UI (a full list), or
    outside a host run, every argument counts."""
    runner, script_args = getattr(p, "scripts", None), getattr(p, "script_args", None)
    start, end = getattr(script, "args_from", None), getattr(script, "args_to", None)
    if runner is None or not script_args or start is None or end is None or len(script_args) <= start:
        return given
    full = max((getattr(s, "args_to", None) or 0 for s in getattr(runner, "scripts", None) or ()), default=0)
    short = full - len(script_args)
    return max(0, min(given, end - start - short)) if short > 0 else given


def _backend_maker(args: dict):
    """``overrides -> backend`` for the script's arguments: the loaded checkpoint, with the WebUI's ControlNet
    when "ControlNet inpaint" is on (its options checked here, before anything runs)."""
    from inpaint_anything.webui.backend import WebuiCheckpointBackend

    if not CONTROLNET_SWITCH.from_ui(args[CONTROLNET_SWITCH.name]):
        return lambda overrides: WebuiCheckpointBackend(override_settings=overrides)
    from inpaint_anything.inpaint.controlnet import ControlNetOptions
    from inpaint_anything.webui.controlnet import WebuiControlNetBackend

    options = ControlNetOptions.from_ui({f.name: args[f.name] for f in CONTROLNET_FIELDS})
    return lambda overrides: WebuiControlNetBackend(override_settings=overrides, options=options)


class InpaintAnythingOutpaint(scripts.Script):
    def __init__(self):
        super().__init__()
        # img2img's picture and denoising slider, captured as the host builds them (before or after ui())
        self.host_components: dict = {}
        self._preview = None
        self._wired: set[str] = set()
        self.on_after_component(lambda c: self._capture("image", c.component), elem_id=HOST_IMAGE)
        self.on_after_component(lambda c: self._capture("denoising", c.component), elem_id=HOST_DENOISING)

    def title(self):
        return TITLE

    def show(self, is_img2img):
        return is_img2img

    def ui(self, is_img2img):
        import gradio as gr

        gr.HTML(
            "<p class='ia-hint'>Adds pixels around the image with the loaded checkpoint; the original is kept "
            "exactly. Inpainting checkpoints blend best.</p>"
        )
        from inpaint_anything.ui.outpaint_controls import build_outpaint_controls

        # the same builder as the tab's Outpaint sub-tab, plus the mask blur (the tab has it in its generation settings)
        built = build_outpaint_controls(lambda f: self.elem_id(SCRIPT_ELEM_IDS.get(f.name, f.name)), extra=(MASK_BLUR,))
        self._size_controls = [built[name] for name in SIZE_NAMES]  # what the preview line reads
        self._size = gr.State(None)  # img2img's picture size, once known
        denoising = getattr(self.host_components.get("denoising"), "value", None)
        self._denoising = gr.State(denoising)  # img2img's denoising strength (its slider may come later)
        start = (c.value for c in self._size_controls)
        self._preview = gr.HTML(self._preview_html(None, denoising, *start), elem_id=self.elem_id("size"))
        built.update(self._controlnet_controls())  # under the preview line: the size stays next to its controls
        self._controls = [built[name] for name in ARG_NAMES]

        for name in ("controls", "image", "denoising"):
            self._wire(name)
        return self._controls

    def _controlnet_controls(self) -> dict:
        """The "ControlNet inpaint" choice and its accordion (the tab's builder); not tickable, with the
        reason under it, where the WebUI has no ControlNet or no inpaint ControlNet model."""
        from inpaint_anything.ui.controlnet_controls import build_choice, field_controls
        from inpaint_anything.webui import controlnet

        built = build_choice(
            controlnet.status(check_runner=False), CONTROLNET_SWITCH.label, controlnet.inpaint_models(), self.elem_id
        )
        return {CONTROLNET_SWITCH.name: built["enabled"], **field_controls(built)}

    # ------------------------------------------------------------------ the preview line
    def _preview_html(self, size, denoising, *values):
        args = dict(zip(SIZE_NAMES, values, strict=True))
        text = preview_text(args, tuple(size) if size else None, denoising)
        cls = "ia-error" if "⚠" in text else "ia-hint"
        return f"<p class='{cls}'>{html.escape(text)}</p>"

    def preview(self, size, denoising, *values):
        """A control changed: (size, denoising, *controls) -> HTML."""
        return self._preview_html(size, denoising, *values)

    def preview_for_image(self, image, denoising, *values):
        """img2img's picture changed: (image, denoising, *controls) -> (its size, HTML)."""
        size = _image_size(image)
        return size, self._preview_html(size, denoising, *values)

    def preview_for_denoising(self, denoising, size, *values):
        """img2img's denoising strength changed: (denoising, size, *controls) -> (denoising, HTML)."""
        return denoising, self._preview_html(size, denoising, *values)

    def _capture(self, name: str, component) -> None:
        self.host_components[name] = component
        self._wire(name)

    def _wire(self, name: str) -> None:
        """Connect the preview to ``name`` once both exist (host components may come before or after ui())."""
        if self._preview is None or name in self._wired or (name != "controls" and name not in self.host_components):
            return
        self._wired.add(name)
        kwargs = {"queue": False, "show_progress": False}
        if name == "controls":
            for comp in self._size_controls:
                comp.change(
                    self.preview, inputs=[self._size, self._denoising, *self._size_controls], outputs=[self._preview], **kwargs
                )
            return
        import gradio as gr

        comp = self.host_components[name]
        if name == "image" and not isinstance(comp, gr.Image):
            return  # Forge: "img2img_image" is its canvas' HTML block; the preview works without the picture's size
        if name == "image":
            comp.change(
                self.preview_for_image,
                inputs=[comp, self._denoising, *self._size_controls],
                outputs=[self._size, self._preview],
                **kwargs,
            )
        else:
            self._denoising.value = getattr(comp, "value", None)
            comp.change(
                self.preview_for_denoising,
                inputs=[comp, self._size, *self._size_controls],
                outputs=[self._denoising, self._preview],
                **kwargs,
            )

    # ------------------------------------------------------------------ running
    def run(self, p, *args):
        from modules import images, processing, shared
        from PIL import Image

        from inpaint_anything.outpaint.engine import OutpaintSettings, outpaint
        from inpaint_anything.webui import compat
        from inpaint_anything.webui.jobs import HostJobControl

        sent = args_sent(p, self, len(args))
        given = dict(zip(ARG_NAMES, (list(args[:sent]) + list(DEFAULTS[sent:]))[: len(ARG_NAMES)], strict=True))
        values = normalized(given)
        backend_for = _backend_maker(given)
        processing.fix_seed(p)
        source = p.init_images[0]
        width, height = source.size
        settings = OutpaintSettings(
            expansion=expansion_from(values, width, height),
            prefill=str(values["prefill"]),
            overlap_px=int(values["overlap_px"]),
            strategy=str(values["strategy"]),
        )
        request = request_from(p, int(values["mask_blur"]))
        with compat.override_settings_applied(p) as overrides:
            result = outpaint(
                np.asarray(source.convert("RGBA") if source.mode == "RGBA" else source.convert("RGB")),
                settings,
                request,
                backend_for(overrides),
                HostJobControl(),
            )
            pil_images = [Image.fromarray(img) for img in result.images]
            p.width, p.height = result.canvas_size
            infotexts = [t + f", Script: {TITLE}" for t in result.infotexts]
            if getattr(shared.opts, "samples_save", True) and not p.do_not_save_samples:
                for img, seed, text in zip(pil_images, result.seeds, infotexts, strict=True):
                    images.save_image(
                        img,
                        p.outpath_samples,
                        "",
                        seed,
                        request.prompt,
                        getattr(shared.opts, "samples_format", "png"),
                        info=text,
                        p=p,
                    )
        return processing.Processed(
            p, pil_images, result.seeds[0], infotexts[0], all_seeds=list(result.seeds), infotexts=infotexts
        )


__all__ = [
    "ARG_NAMES",
    "DEFAULTS",
    "MODE_WORDS",
    "PREFILL_WORDS",
    "SCRIPT_FIELDS",
    "STRATEGY_WORDS",
    "TITLE",
    "InpaintAnythingOutpaint",
    "preview_text",
    "visible_groups",
]
