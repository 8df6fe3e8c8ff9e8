"""The tab's "Select by text" row: text box, detector dropdown (only the detectors this transformers
can run), score threshold, all/best matches, Select and Download buttons. The controls are made from
:data:`~inpaint_anything.segment.text_fields.TEXT_FIELDS`; the selection runs
:func:`inpaint_anything.text_selection.select_by_text` and changes the mask like the other tools
(one undo step, refinements re-applied); the status line says what was found."""

from __future__ import annotations

from typing import Any

import gradio as gr

from inpaint_anything.segment.text_fields import TEXT, TEXT_FIELDS


def detector_choices(app: Any) -> tuple[list[str], str | None]:
    """The words of the detectors this installation runs, and the one to start with (the first one
    downloaded, else the first one)."""
    from inpaint_anything.models.text_models import available_detectors, is_downloaded

    ids = available_detectors()
    first = next((d for d in ids if is_downloaded(app.models_dir, d)), ids[0] if ids else None)
    return [TEXT["detector"].shown(d) for d in ids], None if first is None else TEXT["detector"].shown(first)


def build_text_row(app: Any) -> dict[str, Any]:
    from inpaint_anything.ui.field_controls import control

    choices, value = detector_choices(app)
    c: dict[str, Any] = {}
    with gr.Group(elem_id="ia_text_group"):
        with gr.Row(elem_id="ia_text_row"):
            c["text"] = control(TEXT["text"], elem_id="ia_text_query", scale=1, min_width=160, placeholder="dog, ball  (or: sky)")
            c["detector"] = control(
                TEXT["detector"], elem_id="ia_text_detector", choices=choices, value=value, scale=1, min_width=180
            )
        with gr.Row(elem_id="ia_text_row2"):  # wide enough for one-line labels and the radio side by side
            c["threshold"] = control(TEXT["threshold"], elem_id="ia_text_threshold", scale=1, min_width=215)
            c["mode"] = control(TEXT["mode"], elem_id="ia_text_mode", scale=1, min_width=285)
        with gr.Row(elem_id="ia_text_row3"):
            c["run"] = gr.Button("Select", scale=2, min_width=100, elem_id="ia_text_select")
            c["download"] = gr.Button("Download detector", size="sm", scale=1, min_width=150, elem_id="ia_text_download")
    return c


def select_text(ctl: Any, key: Any, sam_model: str, selector: str, *values: Any, progress: Any = None):
    """(mask layer, status, boxes) after "Select" was pressed with the row's ``values`` (table
    order); ``boxes`` is the JSON the editor draws the detections from (``ui.canvas.boxes_value``)."""
    from inpaint_anything import fields
    from inpaint_anything.segment.text_fields import check_text_query
    from inpaint_anything.text_selection import select_by_text
    from inpaint_anything.ui.canvas import boxes_value, layer_from_mask
    from inpaint_anything.ui.defaults import GRABCUT
    from inpaint_anything.ui.handlers import message, warning

    query = check_text_query(fields.from_ui(TEXT_FIELDS, dict(zip([f.name for f in TEXT_FIELDS], values, strict=True))))
    ws = ctl.ws(key)
    ws.require_image()
    with ctl.job(key, "select by text", progress) as job:
        got = select_by_text(ws, query, use_sam=selector != GRABCUT, model_id=ctl.sam_id(sam_model), job=job)
    text = got.describe()
    return layer_from_mask(got.mask), (message(text) if got.found.detections else warning(text)), boxes_value(ws)


def download_detector(ctl: Any, detector: str, progress: Any = None) -> str:
    from inpaint_anything.ui.handlers import message

    detector_id = TEXT["detector"].choice_id(detector)

    def report(done: int, total: int | None) -> None:
        if progress is not None and total:
            progress(done / total, desc=f"downloading {detector_id}")

    folder = ctl.app.download_text_detector(detector_id, progress=report)
    return message(f"Ready: {TEXT['detector'].shown(detector_id)} in {folder}. Type what to select and press Select.")


def wire_text_row(
    on, c: dict[str, Any], ctl: Any, key: Any, sam_model: Any, selector: Any, mask_layer: Any, status: Any, boxes: Any
) -> None:
    """``on``: the tab's event helper (:func:`inpaint_anything.ui.events.on`); ``boxes``: the canvas' ``#ia_canvas_boxes``."""
    values = [c[f.name] for f in TEXT_FIELDS]
    for event in (c["run"].click, c["text"].submit):  # the button, or Enter in the text box
        on(
            event,
            lambda k, m, s, *v: select_text(ctl, k, m, s, *v[:-1], progress=v[-1]),
            [key, sam_model, selector, *values],
            [mask_layer, status, boxes],
            status,
            progress=True,
        )
    on(c["download"].click, lambda d, p: download_detector(ctl, d, p), [c["detector"]], [status], status, progress=True)


__all__ = ["build_text_row", "detector_choices", "download_detector", "select_text", "wire_text_row"]
