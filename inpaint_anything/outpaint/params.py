"""The outpaint parameters as one table, and the controls built from it for both faces.

:data:`OUTPAINT_FIELDS` decides the expansion spec (``mode``, the four sides, ``preset``, ``scale``,
``balance_x``/``balance_y``: :meth:`~inpaint_anything.outpaint.geometry.Expansion.from_spec`) and
the settings (``prefill``, ``overlap_px``, ``strategy``: :class:`~inpaint_anything.outpaint.engine.OutpaintSettings`),
the API's ``ExpansionBody`` and outpaint fields, and the controls of the tab's "Outpaint" sub-tab and
of the img2img script "Outpainting (Inpaint Anything)" (one builder for both:
:func:`inpaint_anything.ui.outpaint_controls.build_outpaint_controls`). The UI shows words for the choices ("pixels per side", "blurred edge"); ids and words are
both accepted back (:meth:`~inpaint_anything.fields.Field.from_ui`).
"""

from __future__ import annotations

from typing import Any

from inpaint_anything import fields
from inpaint_anything.fields import Field
from inpaint_anything.outpaint.geometry import EXPANSION_FIELDS, MODE_WORDS, MODES, SIDES  # noqa: F401 - re-exported
from inpaint_anything.prefill import DEFAULT_PREFILL, PREFILLS

STRATEGIES = ("all", "per_side")
DEFAULT_OVERLAP_PX = 16
MAX_OVERLAP_PX = 256
# id -> the words the UI shows (both are accepted)
STRATEGY_WORDS = {"all": "all sides at once", "per_side": "one side at a time"}
PREFILL_WORDS = {
    "blur": "blurred edge",
    "edge": "stretched edge",
    "reflect": "mirror image",
    "telea": "smooth fill (Telea)",
    "ns": "smooth fill (Navier-Stokes)",
    "patchmatch": "texture (PatchMatch)",
    "noise": "matched noise",
    "solid": "average colour",
}
# the UI starts with something to outpaint (the API and batch ask for an explicit expansion)
UI_START = {"right": 128}


SETTINGS_FIELDS: tuple[Field, ...] = (
    Field(
        "prefill", str, DEFAULT_PREFILL, "Pre-fill", choices=PREFILLS, words=PREFILL_WORDS, noun="pre-fill", control="dropdown"
    ),
    Field(
        "overlap_px",
        int,
        DEFAULT_OVERLAP_PX,
        "Overlap into the original (px)",
        0,
        MAX_OVERLAP_PX,
        step=4,
        ui_maximum=128,
        elem="overlap",
        help=f"How far the repainted band reaches into the original (0..{MAX_OVERLAP_PX}).",
        error=f"The overlap must be a whole number of pixels from 0 to {MAX_OVERLAP_PX}.",
    ),
    Field(
        "strategy",
        str,
        "all",
        "Passes",
        choices=STRATEGIES,
        words=STRATEGY_WORDS,
        noun="pass strategy",
        help="One pass, or one pass per side.",
        control="radio",
    ),
)
OUTPAINT_FIELDS: tuple[Field, ...] = (*EXPANSION_FIELDS, *SETTINGS_FIELDS)
OUTPAINT = fields.by_name(OUTPAINT_FIELDS)

MAX_ZOOM_STEPS = 100
ZOOM_SCALE_RANGE = (1.05, 4.0)
# Zoom-out frames (the API's ``zoom_out``): the per-step prompts are a list, checked by
# :func:`inpaint_anything.outpaint.engine.plan_zoom` beside this table.
ZOOM_FIELDS: tuple[Field, ...] = (
    Field(
        "steps",
        int,
        4,
        "Zoom-out steps",
        1,
        MAX_ZOOM_STEPS,
        step=1,
        help="Number of frames; each shrinks the previous one and outpaints the border.",
        error=f"Zoom-out steps must be a whole number from 1 to {MAX_ZOOM_STEPS}.",
    ),
    Field(
        "scale",
        float,
        1.5,
        "Zoom per step",
        *ZOOM_SCALE_RANGE,
        step=0.05,
        help=f"Zoom per step, {ZOOM_SCALE_RANGE[0]:g} .. {ZOOM_SCALE_RANGE[1]:g}.",
        error=f"The zoom per step must be a number between {ZOOM_SCALE_RANGE[0]:g} and {ZOOM_SCALE_RANGE[1]:g}.",
    ),
)


def ui_start(f: Field) -> Any:
    """The value a control starts with."""
    return UI_START.get(f.name, f.default)


def spec_from_ui(values: dict[str, Any]) -> dict[str, Any]:
    """Control values by name (words or ids, gradio's floats) -> an expansion spec / settings by id."""
    return fields.from_ui(OUTPAINT_FIELDS, values)


def visible_groups(mode: object) -> dict[str, bool]:
    """Which controls the chosen mode uses: the four sides (pixels), the aspect ratio, the scale, and
    the balance sliders (aspect and scale)."""
    chosen = OUTPAINT["mode"].choice_id(mode)
    return {"sides": chosen == "pixels", "preset": chosen == "aspect", "scale": chosen == "scale", "balance": chosen != "pixels"}


__all__ = [
    "DEFAULT_OVERLAP_PX",
    "EXPANSION_FIELDS",
    "MAX_OVERLAP_PX",
    "MAX_ZOOM_STEPS",
    "MODES",
    "MODE_WORDS",
    "OUTPAINT",
    "OUTPAINT_FIELDS",
    "PREFILL_WORDS",
    "SETTINGS_FIELDS",
    "STRATEGIES",
    "STRATEGY_WORDS",
    "UI_START",
    "spec_from_ui",
    "ui_start",
    "visible_groups",
    "ZOOM_FIELDS",
    "ZOOM_SCALE_RANGE",
]
