"""The mask canvas: event schema, stroke rasterisation and the gradio components behind it.

The editor itself is plain JavaScript (``javascript/inpaint_anything_2_editor.js``; the channels
below are in ``..._1_bridge.js``, mounting and layer watching in ``..._5_mount.js``) mounted into a
``gr.HTML``.
It talks to Python only through ordinary gradio components:

JS -> Python
    Every user action writes one JSON event into the hidden textbox ``#ia_canvas_events`` and clicks
    the hidden button ``#ia_canvas_submit``. The handler receives the text; :func:`parse_event`
    validates it. Schema (version 1)::

        {"version": 1,
         "kind": "click" | "box" | "scribble" | "brush" | "clear" | "undo" | "redo",
         "image_size": [w, h],                       # size of the image shown on the canvas
         "points": [[x, y, label], ...],             # label 1 = include, 0 = exclude
         "box": [x0, y0, x1, y1] | null,
         "strokes": [{"mode": "scribble" | "add" | "erase", "radius": r, "points": [[x, y], ...]}],
         "seq": n}                                   # increases with every event of a page

    An event is a *snapshot*: ``points``, ``box`` and ``strokes`` are the complete prompt state after
    the action (undo/redo happen in the browser), ``kind`` says which action produced it. A handler
    can therefore recompute everything from one event, and a dropped intermediate event is harmless.
    Coordinates are IMAGE pixels with (0, 0) at the centre of the top-left pixel (the SAM / OpenCV
    convention), whatever the zoom, pan or CSS scaling of the canvas.

JS <-> Python, the probe channel (cheap, never queued)
    While a picture is shown, the editor asks :meth:`CanvasComponents.on_probe`'s handler how the
    SAM preparation goes and, with the Click tool over the picture, for the hover outline: it
    writes ``{"version": 1, "seq": n, "image_size": [w, h], "point": [x, y] | null}`` into
    ``#ia_canvas_probe`` and clicks ``#ia_canvas_probe_submit``; the answer is JSON in
    ``#ia_canvas_probe_answer``: ``{"seq": n, "embedding": "none" | "pending" | "ready" | "failed",
    "progress": 0..1, "model": label, "hover": {"polygons": [[x0, y0, ...], ...], "score": s} | null,
    "hover_off": why or "", "busy": bool, "error": text or ""}``; ``busy`` means SAM was held by
    other work, so no outline this time (the editor keeps the one it shows and asks again). One probe is in flight at a time; a newer pointer
    position replaces a waiting one. These events bypass gradio's queue, so a running job never
    delays them, and they never change the session.

Python -> JS
    The editor shows what the hidden ``gr.Image`` layers hold: ``image_layer`` (the picture),
    ``segments_layer`` (colour segment map, drawn with adjustable opacity) and ``mask_layer`` (a
    grey/binary mask; pixels > 127 are drawn in the theme's mask colour). Return numpy arrays to them
    (see :func:`layer_from_mask`); ``None`` clears a layer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inpaint_anything.errors import InvalidInputError

SCHEMA_VERSION = 1
KINDS = ("click", "box", "scribble", "brush", "clear", "undo", "redo")
STROKE_MODES = ("scribble", "add", "erase")
MAX_SIDE = 16384
MAX_EVENT_CHARS = 8_000_000
MAX_POINTS = 1000
MAX_STROKE_POINTS = 200_000
MAX_RADIUS = 4096.0

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
}

ROOT_HTML = '<div class="ia-canvas-mount"><div class="ia-cv-loading">Loading the mask editor…</div></div>'


@dataclass(frozen=True)
class Stroke:
    """One freehand stroke in image pixels; ``mode`` is scribble (segment selection), add or erase."""

    mode: str
    radius: float
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class CanvasEvent:
    """A validated canvas event (see the module docstring for the JSON schema)."""

    kind: str
    image_size: tuple[int, int]
    points: tuple[tuple[float, float, int], ...] = ()
    box: tuple[float, float, float, float] | None = None
    strokes: tuple[Stroke, ...] = ()
    seq: int = 0
    version: int = SCHEMA_VERSION

    @property
    def width(self) -> int:
        return self.image_size[0]

    @property
    def height(self) -> int:
        return self.image_size[1]

    def strokes_of(self, *modes: str) -> tuple[Stroke, ...]:
        """The strokes whose mode is one of ``modes``, in drawing order."""
        return tuple(s for s in self.strokes if s.mode in modes)

    def sam_prompt(self) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """``(point_coords Nx2 float32, point_labels N int32, box (4,) float32)``; None where absent."""
        coords = labels = None
        if self.points:
            coords = np.array([p[:2] for p in self.points], np.float32)
            labels = np.array([p[2] for p in self.points], np.int32)
        box = None if self.box is None else np.array(self.box, np.float32)
        return coords, labels, box

    def to_json(self) -> str:
        """Serialise back to the wire format (used by tests and the demo app)."""
        return json.dumps({
            "version": self.version, "kind": self.kind, "image_size": list(self.image_size),
            "points": [list(p) for p in self.points], "box": None if self.box is None else list(self.box),
            "strokes": [{"mode": s.mode, "radius": s.radius, "points": [list(p) for p in s.points]} for s in self.strokes],
            "seq": self.seq,
        })


def _bad(message: str) -> InvalidInputError:
    return InvalidInputError(f"The mask editor sent an unusable event ({message}). Reload the page if this keeps happening.")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _pairs(raw: Any, what: str, size: int, limit: int) -> list[list[Any]]:
    if not isinstance(raw, list):
        raise _bad(f"{what} must be a list")
    if len(raw) > limit:
        raise _bad(f"too many {what}: {len(raw)} > {limit}")
    for item in raw:
        if not isinstance(item, list) or len(item) != size:
            raise _bad(f"each of {what} must be a list of {size} numbers")
    return raw


def _check_inside(x: float, y: float, w: int, h: int, what: str) -> None:
    if not (-1.0 <= x <= w and -1.0 <= y <= h):
        raise _bad(f"{what} ({x:g}, {y:g}) lies outside the {w}x{h} image")


def parse_event(text: str | bytes | None) -> CanvasEvent:
    """Parse and validate the JSON written by the editor; raise InvalidInputError when malformed."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if isinstance(text, str) and len(text) > MAX_EVENT_CHARS:
        raise _bad(f"it is too large: {len(text)} characters")
    if not isinstance(text, str) or not text.strip():
        raise _bad("it is empty")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _bad(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _bad("it is not a JSON object")
    if data.get("version") != SCHEMA_VERSION:
        raise _bad(f"schema version {data.get('version')!r}, expected {SCHEMA_VERSION}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise _bad(f"unknown kind {kind!r}")
    seq = data.get("seq", 0)
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise _bad(f"seq must be a non-negative integer, got {seq!r}")

    size = data.get("image_size")
    if not isinstance(size, list) or len(size) != 2:
        raise _bad("image_size must be [width, height]")
    w, h = (_number(v, "image_size") for v in size)
    if w != int(w) or h != int(h) or not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE):
        raise _bad(f"image_size {size!r} is not a valid image size")
    w, h = int(w), int(h)

    points = []
    for x, y, label in _pairs(data.get("points") or [], "points", 3, MAX_POINTS):
        x, y = _number(x, "point x"), _number(y, "point y")
        if label not in (0, 1) or isinstance(label, bool):
            raise _bad(f"point label must be 0 or 1, got {label!r}")
        _check_inside(x, y, w, h, "point")
        points.append((x, y, int(label)))

    box = None
    raw_box = data.get("box")
    if raw_box is not None:
        if not isinstance(raw_box, list) or len(raw_box) != 4:
            raise _bad("box must be [x0, y0, x1, y1]")
        x0, y0, x1, y1 = (_number(v, "box coordinate") for v in raw_box)
        x0, x1 = sorted((min(max(x0, 0.0), w - 1.0), min(max(x1, 0.0), w - 1.0)))
        y0, y1 = sorted((min(max(y0, 0.0), h - 1.0), min(max(y1, 0.0), h - 1.0)))
        box = (x0, y0, x1, y1)

    strokes = []
    raw_strokes = data.get("strokes") or []
    if not isinstance(raw_strokes, list):
        raise _bad("strokes must be a list")
    total = 0
    for raw in raw_strokes:
        if not isinstance(raw, dict):
            raise _bad("each stroke must be an object")
        mode = raw.get("mode")
        if mode not in STROKE_MODES:
            raise _bad(f"unknown stroke mode {mode!r}")
        radius = _number(raw.get("radius"), "stroke radius")
        if not 0 < radius <= MAX_RADIUS:
            raise _bad(f"stroke radius {radius:g} is out of range")
        pts = _pairs(raw.get("points"), "stroke points", 2, MAX_STROKE_POINTS)
        if not pts:
            raise _bad("a stroke has no points")
        total += len(pts)
        if total > MAX_STROKE_POINTS:
            raise _bad("the strokes have too many points")
        strokes.append(Stroke(mode, radius, tuple((_number(x, "stroke x"), _number(y, "stroke y")) for x, y in pts)))
    return CanvasEvent(kind, (w, h), tuple(points), box, tuple(strokes), seq)


def rasterize_strokes(
    strokes: Sequence[Stroke],
    size: tuple[int, int],
    base: np.ndarray | None = None,
) -> np.ndarray:
    """Paint ``strokes`` in order onto a ``size = (w, h)`` bool mask (or a copy of ``base``).

    ``add`` and ``scribble`` strokes set pixels whose centre lies within ``radius`` of the stroke's
    polyline; ``erase`` strokes clear them. To get only the scribble area for segment selection,
    pass ``event.strokes_of("scribble")``.
    """
    from inpaint_anything import masks

    w, h = int(size[0]), int(size[1])
    if w < 1 or h < 1:
        raise InvalidInputError(f"Cannot draw strokes on an image of size {w}x{h}.")
    out = np.zeros((h, w), bool) if base is None else masks.as_bool_mask(base, (h, w)).copy()
    for stroke in strokes:
        painted = masks.stroke_mask((h, w), stroke.points, stroke.radius)
        if stroke.mode == "erase":
            out &= ~painted
        else:
            out |= painted
    return out


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

        return self.probe_submit.click(handler, inputs=[self.probe, *inputs], outputs=[answer], show_progress="hidden", queue=False)


@dataclass(frozen=True)
class Probe:
    """A validated probe: the picture's size and the pointer (image pixels, centre convention) or None."""

    seq: int
    image_size: tuple[int, int]
    point: tuple[float, float] | None = None


def parse_probe(text: str | None) -> Probe:
    """Parse the editor's probe JSON; InvalidInputError when malformed."""
    if not isinstance(text, str) or not text.strip() or len(text) > 10_000:
        raise _bad("the probe is empty or too large")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _bad(f"the probe is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != SCHEMA_VERSION:
        raise _bad("the probe is not a version 1 object")
    seq = data.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise _bad(f"probe seq must be a non-negative integer, got {seq!r}")
    size = data.get("image_size")
    if not isinstance(size, list) or len(size) != 2:
        raise _bad("probe image_size must be [width, height]")
    w, h = (_number(v, "image_size") for v in size)
    if w != int(w) or h != int(h) or not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE):
        raise _bad(f"probe image_size {size!r} is not a valid image size")
    point = data.get("point")
    if point is not None:
        if not isinstance(point, list) or len(point) != 2:
            raise _bad("probe point must be [x, y] or null")
        x, y = _number(point[0], "probe x"), _number(point[1], "probe y")
        _check_inside(x, y, int(w), int(h), "probe point")
        point = (x, y)
    return Probe(seq, (int(w), int(h)), point)


def _seq_of(text: Any) -> str:
    try:
        seq = json.loads(text).get("seq")
        return str(int(seq))
    except (TypeError, ValueError, AttributeError):
        return "-1"


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


def _show_input(image: Any) -> tuple[Any, None, None]:
    """New upload: show it on the canvas and drop the previous segment map and mask."""
    return image, None, None


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
    input_image = compat.image(label=input_label, sources=("upload", "clipboard"), elem_id=ELEM_IDS["input_image"], height=input_height)
    style = "" if height is None else f' style="--ia-cv-height:{int(height)}px"'
    # The candidate thumbnails float over the lower right of the editor (style.css); the column is
    # their positioning context. Return gr.update(value=..., visible=True) to show them.
    with compat.column(elem_id=ELEM_IDS["wrap"], elem_classes=["ia-canvas-wrap"]) as wrap:
        root = gr.HTML(value=ROOT_HTML.replace('class="ia-canvas-mount"', f'class="ia-canvas-mount"{style}'), elem_id=ELEM_IDS["root"])
        candidates = compat.gallery(label=candidates_label, elem_id=ELEM_IDS["candidates"], columns=3, height="auto",
                                    visible=False, allow_preview=False, object_fit="contain", show_download_button=False,
                                    show_share_button=False, elem_classes=["ia-candidates"])
    with compat.column(elem_classes=["ia-hidden"], elem_id="ia_canvas_bridge"):
        events = gr.Textbox(value="", label="canvas event", elem_id=ELEM_IDS["events"], elem_classes=["ia-hidden"], lines=2)
        submit = gr.Button("canvas submit", elem_id=ELEM_IDS["submit"], elem_classes=["ia-hidden"])
        image_layer = compat.image(label="canvas image", interactive=False, elem_id=ELEM_IDS["image_layer"], elem_classes=["ia-hidden"])
        segments_layer = compat.image(label="canvas segments", interactive=False, elem_id=ELEM_IDS["segments_layer"], elem_classes=["ia-hidden"])
        mask_layer = compat.image(label="canvas mask", interactive=False, image_mode="L", elem_id=ELEM_IDS["mask_layer"], elem_classes=["ia-hidden"])
        ack = gr.Textbox(value="", label="canvas ack", elem_id=ELEM_IDS["ack"], elem_classes=["ia-hidden"], interactive=False)
        probe = gr.Textbox(value="", label="canvas probe", elem_id=ELEM_IDS["probe"], elem_classes=["ia-hidden"])
        probe_submit = gr.Button("canvas probe", elem_id=ELEM_IDS["probe_submit"], elem_classes=["ia-hidden"])
        probe_answer = gr.Textbox(value="", label="canvas probe answer", elem_id=ELEM_IDS["probe_answer"],
                                  elem_classes=["ia-hidden"], interactive=False)
    comps = CanvasComponents(input_image, root, events, submit, image_layer, segments_layer, mask_layer, candidates, ack, wrap,
                             probe, probe_submit, probe_answer)
    if wire_input:
        input_image.change(_show_input, inputs=[input_image], outputs=comps.layers, show_progress="hidden", queue=False)
    return comps


__all__ = [
    "ELEM_IDS",
    "KINDS",
    "STROKE_MODES",
    "CanvasComponents",
    "CanvasEvent",
    "Probe",
    "Stroke",
    "build_canvas",
    "layer_from_mask",
    "parse_event",
    "parse_probe",
    "rasterize_strokes",
]
