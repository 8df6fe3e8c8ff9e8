"""The mask canvas: the gradio components behind the editor.

The editor itself is plain JavaScript (``javascript/inpaint_anything_2_editor.js``; the channels
are in ``..._1_bridge.js``, mounting and layer watching in ``..._5_mount.js``) mounted into a
``gr.HTML``. It talks to Python only through ordinary gradio components: hidden textboxes and
buttons carry its events and probes (their format and parsing: :mod:`inpaint_anything.ui.wire`).

Python -> JS
    The editor shows what the hidden ``gr.Image`` layers hold: ``image_layer`` (the picture),
    ``segments_layer`` (colour segment map, drawn with adjustable opacity) and ``mask_layer`` (a
    grey/binary mask; pixels > 127 are drawn in the theme's mask colour). Return numpy arrays to them
    (see :func:`layer_from_mask`); ``None`` clears a layer.

    ``boxes`` (hidden textbox ``#ia_canvas_boxes``) holds the "Select by text" detections as JSON
    (:func:`boxes_value`; the schema is in :mod:`inpaint_anything.ui.wire`), or "" for none. The
    editor draws them (box, phrase and score, in screen space) and sends which are kept with its
    events. Return :func:`boxes_value` of the workspace from every handler that changes the text
    selection (Select by text, canvas events: the editor's Clear drops it); a new upload empties it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inpaint_anything.selection import STROKE_MODES, Stroke, rasterize_strokes  # noqa: F401  (this module's face)
from inpaint_anything.ui.wire import KINDS, CanvasEvent, Probe, _seq_of, parse_event, parse_probe  # noqa: F401

ELEM_IDS = {
    "input_image": "ia_input_image",
    "root": "ia_canvas_root",
    "events": "ia_canvas_events",
    "submit": "ia_canvas_submit",
    "image_layer": "ia_layer_image",
    "segments_layer": "ia_layer_segments",
    "mask_layer": "ia_layer_mask",
    "candidates": "ia_canvas_candidates",
    "wrap": "ia_canvas_wrap",
    "ack": "ia_canvas_ack",
    "probe": "ia_canvas_probe",
    "probe_submit": "ia_canvas_probe_submit",
    "probe_answer": "ia_canvas_probe_answer",
    "boxes": "ia_canvas_boxes",
}

ROOT_HTML = '<div class="ia-canvas-mount"><div class="ia-cv-loading">Loading the mask editor…</div></div>'


def boxes_value(ws: Any) -> str:
    """The text selection's boxes for ``#ia_canvas_boxes`` (JSON, "" when there are none)."""
    layer = getattr(ws, "text_layer", None)
    payload = layer.payload() if layer is not None and getattr(ws, "image", None) is not None else None
    return json.dumps(payload) if payload else ""


def layer_from_mask(mask: np.ndarray | None) -> np.ndarray | None:
    """A mask as a uint8 0/255 HxW image for ``mask_layer`` (None clears the layer)."""
    if mask is None:
        return None
    arr = np.asarray(mask)
    if arr.ndim == 3:
        arr = arr.max(axis=2)
    threshold = 0 if arr.dtype == bool or arr.max(initial=0) <= 1 else 127
    return np.where(arr > threshold, 255, 0).astype(np.uint8)


@dataclass
class CanvasComponents:
    """Handles returned by :func:`build_canvas` (all live in the caller's ``gr.Blocks``)."""

    input_image: Any  # gr.Image, upload; numpy RGB
    root: Any  # gr.HTML the editor mounts into
    events: Any  # hidden gr.Textbox carrying the JSON event
    submit: Any  # hidden gr.Button the editor clicks after writing an event
    image_layer: Any  # hidden gr.Image: the picture shown on the canvas
    segments_layer: Any  # hidden gr.Image: colour segment map
    mask_layer: Any  # hidden gr.Image: mask preview (uint8 0/255)
    candidates: Any  # gr.Gallery of candidate masks over the canvas, hidden until shown (wire .select yourself)
    ack: Any  # hidden gr.Textbox: seq of the last handled event (written by on_event's wrapper)
    wrap: Any = None  # the column holding root and candidates (the candidates' positioning context)
    probe: Any = None  # hidden gr.Textbox: the editor's probe (see the module docstring)
    probe_submit: Any = None  # hidden gr.Button the editor clicks after writing a probe
    probe_answer: Any = None  # hidden gr.Textbox: the JSON answer
    boxes: Any = None  # hidden gr.Textbox: the "Select by text" boxes the editor draws (module docstring)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def layers(self) -> list[Any]:
        """``[image_layer, segments_layer, mask_layer]``, the canvas' Python -> JS outputs."""
        return [self.image_layer, self.segments_layer, self.mask_layer]

    def on_event(self, fn: Callable[..., Any], inputs: Sequence[Any] = (), outputs: Sequence[Any] = (), **kwargs: Any) -> Any:
        """Register ``fn(event_text, *inputs) -> values for outputs`` for every canvas event.

        Always use this rather than ``submit.click``: the wrapper also writes the handled ``seq``
        to :attr:`ack`, which the editor waits for before it sends the next event. Errors raised
        by ``fn`` are shown as a gradio warning (IAError messages verbatim) and leave the outputs
        unchanged, so the editor never waits for an answer that will not come.
        """
        from inpaint_anything.ui import compat

        outs = list(outputs)
        ack = self.ack

        def handler(text: str, *args: Any) -> Any:
            seq = _seq_of(text)
            try:
                result = fn(text, *args)
            except Exception as exc:  # reported to the user, not raised: see the docstring
                _warn(exc)
                result = {}
            if isinstance(result, dict):
                return {**result, ack: seq}
            if not outs:
                return seq  # a single output is returned bare, never as a 1-tuple
            if len(outs) == 1:
                return (result, seq)
            return (*result, seq)

        options = {"show_progress": "hidden", **compat.event_kwargs(trigger_mode="always_last"), **kwargs}
        return self.submit.click(handler, inputs=[self.events, *inputs], outputs=[*outs, ack], **options)

    def on_probe(self, fn: Callable[..., dict[str, Any]], inputs: Sequence[Any] = ()) -> Any:
        """Register ``fn(probe: Probe, *inputs) -> dict`` for the editor's probes (module docstring).

        The wrapper parses the probe, adds ``seq`` to the answer and turns any error into
        ``{"error": message}``: a probe never shows a toast (the editor's status line says it)."""
        answer = self.probe_answer

        def handler(text: str, *args: Any) -> str:
            seq = -1
            try:
                probe = parse_probe(text)
                seq = probe.seq
                result = dict(fn(probe, *args))
            except Exception as exc:
                from inpaint_anything.errors import IAError

                if not isinstance(exc, IAError):
                    import logging

                    logging.getLogger(__name__).exception("Inpaint Anything: the canvas probe failed")
                result = {"embedding": "none", "error": str(exc) if isinstance(exc, IAError) else f"{type(exc).__name__}: {exc}"}
            return json.dumps({"seq": seq, **result})

        return self.probe_submit.click(
            handler, inputs=[self.probe, *inputs], outputs=[answer], show_progress="hidden", queue=False
        )


def _warn(exc: Exception) -> None:
    import logging

    import gradio as gr

    from inpaint_anything.errors import IAError

    if isinstance(exc, (IAError, gr.Error)):
        message = str(exc)
    else:
        logging.getLogger(__name__).exception("Inpaint Anything: the canvas handler failed")
        message = f"Inpaint Anything: unexpected error ({type(exc).__name__}: {exc}); see the console."
    gr.Warning(message)


def _show_input(image: Any) -> tuple[Any, None, None, str]:
    """New upload: show it on the canvas and drop the previous segment map, mask and boxes."""
    return image, None, None, ""


def build_canvas(
    *,
    input_label: str = "Input image",
    height: int | None = None,
    wire_input: bool = True,
    candidates_label: str = "Candidates (pick one)",
    input_height: int | None = 240,
) -> CanvasComponents:
    """Create the canvas components inside the current ``gr.Blocks`` context.

    With ``wire_input`` an upload (or clear) of the input image is shown on the canvas and clears
    the segment/mask layers; register your own ``input_image.change`` for anything else.
    ``input_height`` is the upload box's height in CSS pixels (None: gradio's default).
    """
    import gradio as gr

    from inpaint_anything.ui import compat

    # A fixed height: gradio 4 would grow the upload box to the picture's size and push the editor
    # (which shows the same picture) below the fold.
    input_image = compat.image(
        label=input_label, sources=("upload", "clipboard"), elem_id=ELEM_IDS["input_image"], height=input_height
    )
    style = "" if height is None else f' style="--ia-cv-height:{int(height)}px"'
    # The candidate thumbnails float over the lower right of the editor (style.css); the column is
    # their positioning context. Return gr.update(value=..., visible=True) to show them.
    with compat.column(elem_id=ELEM_IDS["wrap"], elem_classes=["ia-canvas-wrap"]) as wrap:
        root = gr.HTML(
            value=ROOT_HTML.replace('class="ia-canvas-mount"', f'class="ia-canvas-mount"{style}'), elem_id=ELEM_IDS["root"]
        )
        candidates = compat.gallery(
            label=candidates_label,
            elem_id=ELEM_IDS["candidates"],
            columns=3,
            height="auto",
            visible=False,
            allow_preview=False,
            object_fit="contain",
            show_download_button=False,
            show_share_button=False,
            elem_classes=["ia-candidates"],
        )
    with compat.column(elem_classes=["ia-hidden"], elem_id="ia_canvas_bridge"):
        events = gr.Textbox(value="", label="canvas event", elem_id=ELEM_IDS["events"], elem_classes=["ia-hidden"], lines=2)
        submit = gr.Button("canvas submit", elem_id=ELEM_IDS["submit"], elem_classes=["ia-hidden"])
        image_layer = compat.image(
            label="canvas image", interactive=False, elem_id=ELEM_IDS["image_layer"], elem_classes=["ia-hidden"]
        )
        segments_layer = compat.image(
            label="canvas segments", interactive=False, elem_id=ELEM_IDS["segments_layer"], elem_classes=["ia-hidden"]
        )
        mask_layer = compat.image(
            label="canvas mask", interactive=False, image_mode="L", elem_id=ELEM_IDS["mask_layer"], elem_classes=["ia-hidden"]
        )
        ack = gr.Textbox(value="", label="canvas ack", elem_id=ELEM_IDS["ack"], elem_classes=["ia-hidden"], interactive=False)
        probe = gr.Textbox(value="", label="canvas probe", elem_id=ELEM_IDS["probe"], elem_classes=["ia-hidden"])
        probe_submit = gr.Button("canvas probe", elem_id=ELEM_IDS["probe_submit"], elem_classes=["ia-hidden"])
        probe_answer = gr.Textbox(
            value="", label="canvas probe answer", elem_id=ELEM_IDS["probe_answer"], elem_classes=["ia-hidden"], interactive=False
        )
        boxes = gr.Textbox(
            value="", label="canvas boxes", elem_id=ELEM_IDS["boxes"], elem_classes=["ia-hidden"], interactive=False
        )
    comps = CanvasComponents(
        input_image,
        root,
        events,
        submit,
        image_layer,
        segments_layer,
        mask_layer,
        candidates,
        ack,
        wrap,
        probe,
        probe_submit,
        probe_answer,
        boxes,
    )
    if wire_input:
        input_image.change(_show_input, inputs=[input_image], outputs=[*comps.layers, boxes], show_progress="hidden", queue=False)
    return comps


__all__ = [
    "ELEM_IDS",
    "KINDS",
    "STROKE_MODES",
    "CanvasComponents",
    "CanvasEvent",
    "Probe",
    "Stroke",
    "boxes_value",
    "build_canvas",
    "layer_from_mask",
    "parse_event",
    "parse_probe",
    "rasterize_strokes",
]
