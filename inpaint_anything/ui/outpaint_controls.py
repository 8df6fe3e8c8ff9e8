"""The outpaint controls, one builder for the tab's "Outpaint" sub-tab and the img2img script
"Outpainting (Inpaint Anything)" (gradio 3.41 / 4.40), from :data:`~inpaint_anything.outpaint.params.OUTPAINT_FIELDS`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from inpaint_anything.fields import Field
from inpaint_anything.outpaint.geometry import SIDES
from inpaint_anything.outpaint.params import OUTPAINT, SETTINGS_FIELDS, ui_start, visible_groups
from inpaint_anything.ui.events import on, request_from
from inpaint_anything.ui.field_controls import control
from inpaint_anything.ui.messages import error_message, message


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


def build_outpaint_tab_controls(app: Any, hooks: Any) -> dict[str, Any]:
    """The tab's Outpaint sub-tab: the shared controls, "Generate with", the size line and the button;
    ``c["wire"](...)`` connects them once the tab's other controls exist."""
    from inpaint_anything.outpaint.geometry import Expansion
    from inpaint_anything.outpaint.params import EXPANSION_FIELDS, spec_from_ui

    # the same controls as the img2img script's (labels, words, ranges, which ones each mode shows)
    c: dict[str, Any] = build_outpaint_controls(lambda f: f"ia_out_{f.elem or f.name}")
    from inpaint_anything.ui.defaults import default_outpaint_backend

    backends = [("Inpainting model (Inpaint tab)", "diffusers"), *hooks.extra_backends, ("Pre-fill only (no model)", "cleaner")]
    c["labels"] = {kind: label for label, kind in backends}
    c["backend"] = gr.Radio(
        label="Generate with",
        choices=[b[0] for b in backends],
        elem_id="ia_out_backend",
        value=default_outpaint_backend(backends, [k for _, k in hooks.extra_backends], app),
    )
    size = gr.HTML(message("The output size is shown here."), elem_id="ia_out_size")
    run = gr.Button("Outpaint", variant="primary", elem_id="ia_run_outpaint")
    geo_keys = [f.name for f in EXPANSION_FIELDS]

    def expansion(ctl, key, *v):
        return Expansion.from_spec(dict(zip(geo_keys, v, strict=True)), *ctl.ws(key).size)

    def wire(ctl, key, hub_model, gen, names, outputs, status, loaded, compare):
        geo = [c[k] for k in geo_keys]

        def preview(k, *v):
            if ctl.ws(k).image is None:
                return message("The output size is shown here once an image is loaded.")
            try:
                return message("Output: " + expansion(ctl, k, *v).describe())
            except Exception as exc:
                return error_message(exc)

        for comp in geo:
            comp.change(preview, inputs=[key, *geo], outputs=[size], queue=False)
        loaded.then(preview, inputs=[key, *geo], outputs=[size], queue=False)  # a new image: new size

        def go(k, pre, strategy, overlap, backend_label, model, *rest):
            from inpaint_anything.outpaint.engine import OutpaintSettings

            *values, progress = rest
            exp = expansion(ctl, k, *values[: len(geo)])
            req = request_from(names, tuple(values[len(geo) :]))
            kind = dict(backends)[backend_label]
            chosen = spec_from_ui({"prefill": pre, "strategy": strategy, "overlap_px": overlap})
            settings = OutpaintSettings(expansion=exp, **chosen)
            return ctl.outpaint(
                k, settings, req, kind, model if kind == "diffusers" else ("prefill" if kind == "cleaner" else ""), progress
            )

        on(
            run.click,
            go,
            [key, c["prefill"], c["strategy"], c["overlap_px"], c["backend"], hub_model, *geo, *gen.values()],
            outputs,
            status,
            progress=True,
        ).then(*compare, queue=False)

    c["wire"] = wire
    return c


__all__ = ["build_outpaint_controls", "build_outpaint_tab_controls"]
