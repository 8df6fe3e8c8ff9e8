"""The Inpaint sub-tab's "ControlNet inpaint" choice and its "ControlNet" accordion (gradio 3.41 and 4.40).

The controls are built from :data:`~inpaint_anything.inpaint.controlnet.CONTROLNET_FIELDS`
(:func:`~inpaint_anything.ui.field_controls.build_controls`). Standalone, the choice makes the Inpaint
button run the chosen checkpoint (inpainting or not: the model list then offers the ordinary ones too)
with an inpaint ControlNet (backend ``controlnet``); in the WebUI it makes "Inpaint with WebUI
checkpoint" run with the host's ControlNet (``webui_controlnet``). Where it cannot run, the choice
cannot be ticked and the line under it says why and what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from inpaint_anything.ui.handlers import Controller, warning

# the rows of the accordion (fields of CONTROLNET_FIELDS; one not named gets a row of its own); the radios
# get a row each: their choices are long for the tab's right column
CONTROLNET_LAYOUT = (
    ("model",),
    ("module",),
    ("control_mode",),
    ("resize_mode",),
    ("weight",),
    ("guidance_start", "guidance_end"),
    ("reference",),
    ("reference_weight",),
    ("style_fidelity",),
)
LABELS = {
    "controlnet": "ControlNet inpaint: the Inpaint button runs the model above (any checkpoint) with an inpaint ControlNet",
    "webui_controlnet": "ControlNet inpaint: “Inpaint with WebUI checkpoint” runs with the WebUI's ControlNet",
}
BASE_MODEL_LABEL = "Model (any checkpoint, with ControlNet inpaint)"


def note_html(ctl: Controller) -> str:
    """The line under the choice: why ControlNet inpaint cannot run here ("" when it can)."""
    why = ctl.controlnet_unavailable()
    return warning(why) if why else ""


def build_controlnet_controls(ctl: Controller) -> dict[str, Any]:
    """The tab's choice and accordion: ``{"enabled": checkbox, "note": HTML, <field name>: control, ...}``."""
    return build_choice(
        ctl.controlnet_unavailable(), LABELS[ctl.controlnet_switch()[0]], ctl.controlnet_models(), lambda name: f"ia_{name}"
    )


def build_choice(why: str | None, label: str, models: list[str], elem_id: Callable[[str], str]) -> dict[str, Any]:
    """The "ControlNet inpaint" checkbox (not tickable when ``why`` says it cannot run), the line under it,
    and the "ControlNet" accordion of :data:`CONTROLNET_FIELDS` (the model dropdown lists ``models``).
    ``elem_id`` maps "cn_enabled", "cn_status", "controlnet" and each field's elem to an elem_id; the tab
    and the img2img outpainting script share this builder."""
    from inpaint_anything.inpaint.controlnet import CONTROLNET_FIELDS
    from inpaint_anything.ui.field_controls import build_controls

    enabled = gr.Checkbox(label=label, value=False, interactive=why is None, elem_id=elem_id("cn_enabled"))
    note = gr.HTML(warning(why) if why else "", elem_id=elem_id("cn_status"))
    with gr.Accordion("ControlNet", open=False, elem_id=elem_id("controlnet")):
        controls = build_controls(
            CONTROLNET_FIELDS,
            CONTROLNET_LAYOUT,
            lambda f: elem_id(f.elem or f.name),
            overrides={"model": {"choices": models, "value": models[0] if models else "", "allow_custom_value": True}},
        )
    return {"enabled": enabled, "note": note, **controls}


def field_controls(c: dict[str, Any]) -> dict[str, Any]:
    """The table's controls of :func:`build_controlnet_controls`' result, by field name."""
    return {k: v for k, v in c.items() if k not in ("enabled", "note")}


def options(enabled: bool, names: list[str], values: tuple) -> Any:
    """The ControlNetOptions of the controls' values, or None when the choice is off."""
    if not enabled:
        return None
    from inpaint_anything.inpaint.controlnet import ControlNetOptions

    return ControlNetOptions.from_ui(dict(zip(names, values, strict=True)))


def model_dropdown(ctl: Controller, enabled: bool, model: str | None) -> Any:
    """The Inpaint tab's model dropdown after the choice changed (standalone only): with ControlNet every
    checkpoint (inpainting or not), without it the inpainting models; the chosen one kept where listed."""
    from inpaint_anything.ui import compat
    from inpaint_anything.ui.defaults import inpaint_choices

    choices = ctl.controlnet_base_models() if enabled else inpaint_choices(ctl.app)
    value = model if model in choices else (choices or [None])[0]
    label = BASE_MODEL_LABEL if enabled else "Inpainting model (Hugging Face id or local)"
    return compat.update(choices=choices, value=value, label=label)


def wire_controlnet(c: dict[str, Any], ctl: Controller, hub_model: Any) -> None:
    """Standalone: ticking the choice lists every checkpoint in the model dropdown."""
    if ctl.controlnet_switch()[1] == "diffusers":
        c["enabled"].change(
            lambda on, m: model_dropdown(ctl, on, m), inputs=[c["enabled"], hub_model], outputs=[hub_model], queue=False
        )
