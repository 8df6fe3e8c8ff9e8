"""The "Inpaint Anything" tab: one layout for gradio 3.41 (A1111) and 4.40 (Forge), and the standalone app.

Layout: the canvas (our own JS editor) on the left, with SAM's candidate masks as thumbnails over its
lower right after a click; on the right the model, segmentation and mask refinement controls, then
sub-tabs Inpaint / WebUI checkpoint / Remove object / Outpaint / Mask only, and the results gallery
with "Use selected result as input" and (in the WebUI) "Send to extras". In the WebUI the host's
txt2img / img2img result rows also get a "Send to Inpaint Anything" button (``HostHooks.send_buttons``,
see :mod:`inpaint_anything.ui.crosstab`). Behaviour lives in :mod:`inpaint_anything.ui.handlers`.
"""

# No "from __future__ import annotations": gradio inspects real annotations (gr.SelectData).
import contextlib
from typing import Any

import gradio as gr

from inpaint_anything.ui import compat
from inpaint_anything.ui.events import on as _on
from inpaint_anything.ui.events import request_from as _request
from inpaint_anything.ui.handlers import Controller, HostHooks, SessionKey, error_message, message
from inpaint_anything.ui.outpaint_controls import build_outpaint_tab_controls as _outpaint_controls

# the rows of the Inpaint sub-tab's generation settings (fields of INPAINT_FIELDS; one with a control
# that is not named here gets a row of its own at the end)
GENERATION_LAYOUT = (
    ("prompt",),
    ("negative_prompt",),
    ("sampler", "scheduler"),
    ("steps", "cfg_scale"),
    ("denoising_strength", "seed"),
    ("masked_content", "inpaint_area"),
    ("mask_blur", "padding"),
    ("color_match", "batch_count"),
)


def _generation_controls(hooks: HostHooks) -> dict[str, Any]:
    """The generation settings, built from :data:`~inpaint_anything.inpaint.request.INPAINT_FIELDS`
    (the soft inpainting ones are :func:`_soft_inpainting_controls`)."""
    from inpaint_anything.diffusion.schedulers import SCHEDULE_TYPES, available_samplers
    from inpaint_anything.inpaint.request import INPAINT_FIELDS
    from inpaint_anything.ui.field_controls import build_controls

    table = [f for f in INPAINT_FIELDS if not f.name.startswith("soft_")]
    return build_controls(
        table,
        GENERATION_LAYOUT,
        lambda f: f"ia_{f.elem or f.name}",
        overrides={
            "sampler": {"choices": hooks.samplers or available_samplers()},
            "scheduler": {"choices": hooks.schedulers or list(SCHEDULE_TYPES)},
        },
    )


def _hint_html(hooks: HostHooks) -> str:
    """The checkpoint hint as shown under the WebUI-checkpoint button ("" when there is nothing to say)."""
    hint = hooks.checkpoint_hint() if hooks.checkpoint_hint else None
    return message(hint) if hint else ""


def _soft_inpainting_controls(hooks: HostHooks) -> dict[str, Any]:
    """The host's Soft Inpainting settings (WebUI checkpoint only), named as InpaintRequest's fields."""
    from inpaint_anything.inpaint.request import INPAINT_FIELDS
    from inpaint_anything.ui.field_controls import build_controls

    reason = hooks.soft_inpainting() if hooks.soft_inpainting else None
    with gr.Accordion("Soft inpainting (WebUI checkpoint)", open=False, elem_id="ia_soft_inpainting"):
        if reason:
            gr.HTML(message(reason), elem_id="ia_soft_unavailable")
        table = [f for f in INPAINT_FIELDS if f.name.startswith("soft_")]
        return build_controls(
            table, (), lambda f: f"ia_{f.elem or f.name}", overrides={"soft_inpainting": {"interactive": reason is None}}
        )


def build_tab(app, hooks: HostHooks | None = None) -> gr.Blocks:
    """The tab's Blocks (rendered by the WebUI's on_ui_tabs, or mounted by the standalone app).

    ``tab.ia_refresh`` lists ``(fn, inputs, outputs)`` that re-decide the model defaults from the
    models folder; the standalone page runs them on every page load (the WebUI offers the 🔄 buttons).
    """
    from inpaint_anything.ui import defaults
    from inpaint_anything.ui.canvas import build_canvas
    from inpaint_anything.ui.results import build_result_view

    hooks = hooks or HostHooks()
    ctl = Controller(app, hooks)
    with gr.Blocks(analytics_enabled=False) as tab:
        key = gr.State(SessionKey())
        with gr.Row(elem_id="ia_main_row"):
            with gr.Column(scale=5, min_width=420, elem_id="ia_left"):
                comps = build_canvas(input_label="Image: upload here, or drop / paste onto the editor", input_height=110)
                status = gr.HTML(message("Upload an image to start."), elem_id="ia_status")
                view = build_result_view()
            with gr.Column(scale=4, min_width=360, elem_id="ia_right"):
                with gr.Accordion("Selection", open=True):
                    choices = ctl.sam_choices()
                    selector = gr.Radio(
                        label="Select with",
                        choices=defaults.SELECTORS,
                        value=defaults.default_selector(app),
                        elem_id="ia_selector",
                    )
                    with gr.Row(elem_id="ia_sam_row", elem_classes=["ia-model-row"]):
                        sam_model = gr.Dropdown(
                            label="SAM model",
                            choices=compat.choices(choices),
                            scale=8,
                            min_width=200,
                            value=compat.choice_value(ctl.default_sam(), choices),
                            elem_id="ia_sam_model",
                        )
                        sam_refresh = gr.Button(
                            defaults.REFRESH, scale=1, min_width=36, elem_id="ia_sam_refresh", elem_classes=["ia-refresh"]
                        )
                    with gr.Row(elem_classes=["ia-model-row"]):
                        sam_hint = gr.HTML(ctl.sam_hint(), elem_id="ia_sam_hint")
                        # kept when offline too: pressed, it says where to put the file (offline mode can be left at run time)
                        download = gr.Button("Download model", size="sm", scale=0, min_width=130, elem_id="ia_sam_download")
                    with gr.Row():
                        from inpaint_anything.segment.everything_fields import EVERYTHING
                        from inpaint_anything.ui.field_controls import control

                        points_per_side = control(EVERYTHING["points_per_side"], elem_id="ia_pps", scale=2)
                        everything = gr.Button("Segment everything", scale=1, min_width=120, elem_id="ia_everything")
                    ignore_unsegmented = gr.Checkbox(
                        label="Scribble ignores unsegmented area", value=True, elem_id="ia_ignore_unsegmented"
                    )
                    from inpaint_anything.ui.text_controls import build_text_row, wire_text_row

                    text_row = build_text_row(app)
                with gr.Accordion("Refine mask", open=True):
                    amount = gr.Slider(label="Pixels", minimum=0, maximum=128, step=1, value=8, elem_id="ia_refine_px")
                    with gr.Row(elem_classes=["ia-refine-row"]):
                        from inpaint_anything.selection import MASK_OPS

                        ops = [(op.name, op.label) for op in MASK_OPS.values() if op.in_tab] + [("reset", "Reset")]
                        refine_buttons = {
                            op: gr.Button(label, size="sm", min_width=60, elem_id=f"ia_refine_{op}") for op, label in ops
                        }
                with gr.Tabs(elem_id="ia_subtabs"):
                    with gr.Tab("Inpaint", elem_id="ia_tab_inpaint") as inpaint_tab:
                        inpaint_hint = gr.HTML(ctl.inpaint_hint(), elem_id="ia_inpaint_hint")
                        models = defaults.inpaint_choices(app)
                        with gr.Row(elem_classes=["ia-model-row", "ia-has-refresh"]):
                            hub_model = gr.Dropdown(
                                label="Inpainting model (Hugging Face id or local)",
                                choices=models,
                                scale=8,
                                value=(models or [None])[0],
                                allow_custom_value=True,
                                elem_id="ia_hub_model",
                            )
                            hub_refresh = gr.Button(
                                defaults.REFRESH, scale=1, min_width=36, elem_id="ia_hub_refresh", elem_classes=["ia-refresh"]
                            )
                        from inpaint_anything.ui import controlnet_controls as cnc

                        cn = cnc.build_controlnet_controls(ctl)
                        with gr.Accordion("Generation settings", open=True):
                            gen = _generation_controls(hooks)
                        run_hub = gr.Button("Inpaint", variant="primary", elem_id="ia_run_inpaint")
                        run_extra, hints = {}, []
                        soft = _soft_inpainting_controls(hooks) if hooks.extra_backends and hooks.soft_inpainting else {}
                        for label, kind in hooks.extra_backends:
                            hints.append(gr.HTML(_hint_html(hooks), elem_id=f"ia_hint_{kind}"))
                            run_extra[kind] = gr.Button(f"Inpaint with {label}", variant="primary", elem_id=f"ia_run_{kind}")
                    with gr.Tab("Remove object", elem_id="ia_tab_remove"):
                        from inpaint_anything.inpaint.cleaner import REMOVE, available_cleaners, default_cleaner
                        from inpaint_anything.ui.defaults import remover_note

                        cleaner = control(
                            REMOVE["method"], elem_id="ia_cleaner", value=default_cleaner(), choices=available_cleaners()
                        )
                        cleaner_note = gr.Markdown(remover_note(app, default_cleaner(), ctl.offline()), elem_id="ia_cleaner_note")
                        cleaner_grow = control(REMOVE["grow_px"], elem_id="ia_cleaner_grow")
                        run_remove = gr.Button("Remove", variant="primary", elem_id="ia_run_remove")
                    with gr.Tab("Outpaint", elem_id="ia_tab_outpaint"):
                        out = _outpaint_controls(app, hooks)
                    with gr.Tab("Mask only", elem_id="ia_tab_mask"):
                        with gr.Row():
                            get_mask = gr.Button("Mask PNG", elem_id="ia_get_mask")
                            get_alpha = gr.Button("Image with mask as alpha", elem_id="ia_get_alpha")
                        with gr.Row():
                            mask_file = gr.File(label="Mask PNG", elem_id="ia_mask_file")
                            alpha_file = gr.File(label="Image with mask as alpha", elem_id="ia_alpha_file")
                        send = gr.Button(
                            "Send to img2img Inpaint upload", elem_id="ia_send_img2img", visible=hooks.img2img_targets is not None
                        )
                interrupt = gr.Button("Interrupt", variant="stop", elem_id="ia_interrupt")
        with gr.Row():
            results = compat.gallery(label="History (newest first)", elem_id="ia_results", columns=6, height=220)
        with gr.Row():
            infotext = gr.Textbox(label="Parameters", lines=3, interactive=False, elem_id="ia_infotext", scale=4)
            with gr.Column(scale=1, min_width=160):  # a column keeps the button from stretching to the textbox's height
                use_result = gr.Button("Use selected result as input", elem_id="ia_use_result")
                send_extras = gr.Button("Send to extras", elem_id="ia_send_extras", visible=hooks.extras_target is not None)
        selected = gr.State(0)
        # carries a picture from a host gallery (a data: URL read in the browser; see ui/crosstab.py)
        payload = gr.Textbox(value="", label="sent image", elem_id="ia_send_payload", elem_classes=["ia-hidden"])

        # --- wiring
        # A new picture: candidates of the previous one must not stay clickable.
        loaded = comps.input_image.change(
            lambda k, img, m, sel: (ctl.set_image(k, img, m, sel), _candidates(None)),
            inputs=[key, comps.input_image, sam_model, selector],
            outputs=[status, comps.candidates],
            queue=False,
        )
        seg_inputs = [key, sam_model, selector, ignore_unsegmented]

        def on_event(text, *a):
            from inpaint_anything.ui.canvas import boxes_value

            layer, gallery, note = ctl.canvas_event(text, *a)
            return layer, _candidates(gallery), note, boxes_value(ctl.ws(a[0]))

        def on_event_safe(text, *a):  # a selection that cannot run: said in the status line, nothing changes
            try:
                return on_event(text, *a)
            except Exception as exc:
                return compat.update(), compat.update(), error_message(exc), compat.update()

        comps.on_event(on_event_safe, inputs=seg_inputs, outputs=[comps.mask_layer, comps.candidates, status, comps.boxes])
        # the editor's status line (SAM preparing / ready) and the Click tool's hover outline
        comps.on_probe(ctl.probe, inputs=[key, sam_model, selector])
        for comp in (sam_model, selector):  # another model: prepare the shown picture for it
            comp.change(ctl.prepare, inputs=[key, sam_model, selector], outputs=None, queue=False)

        def on_candidate(k, m, s, i, evt: gr.SelectData):
            try:
                layer, gallery, text = ctl.pick_candidate(k, _selected_index(evt), m, s, i)
                return layer, _candidates(gallery), text
            except Exception as exc:
                return compat.update(), compat.update(), error_message(exc)

        comps.candidates.select(on_candidate, inputs=seg_inputs, outputs=[comps.mask_layer, comps.candidates, status])
        _on(
            download.click,
            ctl.download_sam,
            [sam_model, selector],
            [sam_model, selector, sam_hint, status],
            status,
            progress=True,
        )
        refresh_sam = (ctl.refresh_sam, [sam_model, selector], [sam_model, selector, sam_hint])
        _on(sam_refresh.click, refresh_sam[0], refresh_sam[1], refresh_sam[2], status)
        labels = out["labels"]
        refresh_hub = (
            lambda m, b: ctl.refresh_inpaint(m, b, labels["cleaner"], labels["diffusers"]),
            [hub_model, out["backend"]],
            [hub_model, out["backend"], inpaint_hint],
        )
        _on(hub_refresh.click, refresh_hub[0], refresh_hub[1], refresh_hub[2], status)
        tab.ia_refresh = [refresh_sam, refresh_hub]
        _on(
            everything.click,
            ctl.segment_everything,
            [key, sam_model, points_per_side],
            [comps.segments_layer, status],
            status,
            progress=True,
        )
        wire_text_row(_on, text_row, ctl, key, sam_model, selector, comps.mask_layer, status, comps.boxes)
        for op, button in refine_buttons.items():
            _on(button.click, lambda k, px, _op=op: ctl.refine(k, _op, px), [key, amount], [comps.mask_layer, status], status)
        names = list(gen)
        gen_outputs = [results, infotext, status]
        compare = (ctl.compare, [key], [view.before, view.after])
        cn_fields = cnc.field_controls(cn)
        cn_inputs, cn_names = [cn["enabled"], *cn_fields.values()], list(cn_fields)

        def run(k, kind, model, req_names, v):  # v: request values, the ControlNet choice and controls, progress
            n = len(req_names)
            return ctl.inpaint(
                k, kind, model, _request(req_names, v[:n]), v[-1], controlnet=cnc.options(v[n], cn_names, v[n + 1 : -1])
            )

        _on(
            run_hub.click,
            lambda k, m, *v: run(k, "diffusers", m, names, v),
            [key, hub_model, *gen.values(), *cn_inputs],
            gen_outputs,
            status,
            progress=True,
        ).then(*compare, queue=False)
        cnc.wire_controlnet(cn, ctl, hub_model)
        extra_names = names + list(soft)
        for kind, button in run_extra.items():
            _on(
                button.click,
                lambda k, *v, _kind=kind: run(k, _kind, "", extra_names, v),
                [key, *gen.values(), *soft.values(), *cn_inputs],
                gen_outputs,
                status,
                progress=True,
            ).then(*compare, queue=False).then(lambda: [_hint_html(hooks)] * len(hints), None, hints, queue=False)
        if hints:  # the user may switch checkpoints in the WebUI at any time: the hint follows
            loaded.then(lambda: [_hint_html(hooks)] * len(hints), None, hints, queue=False)
            inpaint_tab.select(lambda: [_hint_html(hooks)] * len(hints), None, hints, queue=False)
        if hooks.controlnet_status:  # ControlNet models may be added in the WebUI at any time: the reason follows
            inpaint_tab.select(
                lambda: (cnc.note_html(ctl), compat.update(interactive=ctl.controlnet_unavailable() is None)),
                None,
                [cn["note"], cn["enabled"]],
                queue=False,
            )

        def note(method: str) -> str:
            from inpaint_anything.ui.defaults import remover_note

            return remover_note(app, method, ctl.offline())

        cleaner.change(note, [cleaner], [cleaner_note], queue=False)
        _on(run_remove.click, ctl.remove, [key, cleaner, cleaner_grow], gen_outputs, status, progress=True).then(
            *compare, queue=False
        ).then(note, [cleaner], [cleaner_note], queue=False)
        out["wire"](ctl, key, hub_model, gen, names, gen_outputs, status, loaded, compare)
        _on(get_mask.click, lambda k: ctl.export(k, "mask"), [key], [mask_file], status)
        _on(get_alpha.click, lambda k: ctl.export(k, "alpha"), [key], [alpha_file], status)
        if hooks.img2img_targets is not None:
            base, mask = hooks.img2img_targets
            _on(send.click, ctl.send_to_img2img, [key], [base, mask], status).then(
                None, None, None, **compat.js_kwargs(hooks.img2img_switch_js)
            )
        interrupt.click(ctl.interrupt, inputs=[key], outputs=[status], queue=False)
        results.select(_selected_index, inputs=None, outputs=[selected])
        _on(use_result.click, ctl.use_result, [key, selected], [comps.input_image], status)
        if hooks.extras_target is not None:
            _on(send_extras.click, ctl.send_result_to_extras, [key, selected], [hooks.extras_target], status).then(
                None, None, None, **compat.js_kwargs(hooks.extras_switch_js)
            )
        for source, button in hooks.send_buttons:
            _wire_send_button(ctl, source, button, payload, key, comps, status)
    return tab


def _candidates(gallery) -> Any:
    """The candidate thumbnails over the canvas: shown while there is a choice, hidden otherwise."""
    return compat.update(value=gallery or None, visible=bool(gallery))


def _wire_send_button(ctl: Controller, source: str, button, payload, key, comps, status) -> None:
    """A host "Send to Inpaint Anything" button: the browser reads the picture of ``<source>_gallery``
    and shows our tab (JS), then the picture becomes this session's image (the input's own change
    handler shows it on the canvas). Problems (an empty gallery) are shown as a notice where the
    user is and in our status line."""
    from inpaint_anything.ui.crosstab import gallery_send_js

    def receive(data, k):
        try:
            image, text = ctl.receive_image(k, data, source)
        except Exception as exc:
            _notice(exc)
            return compat.update(), compat.update(), compat.update(), compat.update(), error_message(exc)
        return image, None, None, _candidates(None), text

    button.click(
        receive,
        inputs=[payload, key],
        outputs=[comps.input_image, comps.segments_layer, comps.mask_layer, comps.candidates, status],
        show_progress="hidden",
        **compat.js_kwargs(gallery_send_js(f"{source}_gallery")),
    )


def _notice(exc: Exception) -> None:
    from inpaint_anything.errors import IAError

    with contextlib.suppress(Exception):  # outside a queued event there is nowhere to show it
        gr.Warning(str(exc) if isinstance(exc, IAError) else f"Inpaint Anything: {type(exc).__name__}: {exc}")


def _selected_index(evt: gr.SelectData) -> int:
    return int(evt.index if not isinstance(evt.index, (list, tuple)) else evt.index[0])
