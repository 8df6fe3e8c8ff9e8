"""The outpaint controls, one builder for the tab's "Outpaint" sub-tab and the img2img script
"Outpainting (Inpaint Anything)" (gradio 3.41 / 4.40), from :data:`~inpaint_anything.outpaint.params.OUTPAINT_FIELDS`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from inpaint_anything.fields import Field
from inpaint_anything.outpaint.geometry import SIDES
from inpaint_anything.outpaint.params import OUTPAINT, SETTINGS_FIELDS, ui_start, visible_groups
from inpaint_anything.ui.field_controls import control


def build_outpaint_controls(elem_id: Callable[[Field], str], *, extra: tuple[Field, ...] = ()) -> dict[str, Any]:
    """The outpaint controls of the tab and of the img2img script (gradio 3.41 / 4.40): the mode, the
    sides (shown in pixels mode), the aspect preset / scale, the balance (aspect and scale modes), then
    pre-fill, overlap, passes and ``extra`` fields (the script's mask blur) in one row. Changing the
    mode shows only its controls. Returns the controls by field name (table order, then ``extra``)."""
    start = visible_groups(ui_start(OUTPAINT["mode"]))

    def make(f: Field, **kw: Any) -> Any:
        return control(f, elem_id=elem_id(f), value=f.shown(ui_start(f)), **kw)

    c: dict[str, Any] = {"mode": make(OUTPAINT["mode"])}
    with gr.Row(visible=start["sides"]) as sides_row:
        for s in SIDES:
            c[s] = make(OUTPAINT[s])
    with gr.Row():
        c["preset"] = make(OUTPAINT["preset"], visible=start["preset"])
        c["scale"] = make(OUTPAINT["scale"], visible=start["scale"])
    with gr.Row(visible=start["balance"]) as balance_row:
        c["balance_x"] = make(OUTPAINT["balance_x"])
        c["balance_y"] = make(OUTPAINT["balance_y"])
    with gr.Row():
        for f in (*SETTINGS_FIELDS, *extra):
            c[f.name] = make(f)

    def visibility(shown_mode):
        shown = visible_groups(shown_mode)
        return tuple(gr.update(visible=shown[g]) for g in ("sides", "preset", "scale", "balance"))

    c["mode"].change(
        visibility,
        inputs=[c["mode"]],
        outputs=[sides_row, c["preset"], c["scale"], balance_row],
        queue=False,
        show_progress=False,
    )
    return {n: c[n] for n in (*OUTPAINT, *(f.name for f in extra))}


__all__ = ["build_outpaint_controls"]
