"""The wire format between the mask editor (JavaScript) and Python: events and probes.

Pure parsing: no gradio here (``ui/canvas.py`` holds the components that carry these messages).

JS -> Python, events
    Every user action writes one JSON event into the hidden textbox ``#ia_canvas_events`` and clicks
    the hidden button ``#ia_canvas_submit``. The handler receives the text; :func:`parse_event`
    validates it. Schema (version 1)::

        {"version": 1,
         "kind": "click" | "box" | "scribble" | "brush" | "clear" | "undo" | "redo" | "text_box",
         "image_size": [w, h],                       # size of the image shown on the canvas
         "points": [[x, y, label], ...],             # label 1 = include, 0 = exclude
         "box": [x0, y0, x1, y1] | null,
         "strokes": [{"mode": "scribble" | "add" | "erase", "radius": r, "points": [[x, y], ...]}],
         "text": {"id": n, "kept": [true, false, ...]} | null,   # optional, see below
         "seq": n}                                   # increases with every event of a page

    An event is a *snapshot*: ``points``, ``box`` and ``strokes`` are the complete selection after
    the action (undo/redo happen in the browser), ``kind`` says which action produced it; the
    handler turns it into a :class:`~inpaint_anything.selection.Selection` and recomputes the mask
    from it, so a dropped intermediate event is harmless. Coordinates are IMAGE pixels with (0, 0)
    at the centre of the top-left pixel (the SAM / OpenCV convention), whatever the zoom, pan or CSS
    scaling of the canvas.

    ``text`` carries which boxes of "Select by text" are kept: the editor draws the detections the
    hidden textbox ``#ia_canvas_boxes`` holds (Python -> JS, JSON from
    :meth:`inpaint_anything.text_selection.TextLayer.payload`: ``{"id", "image_size", "boxes": [{"box",
    "label", "score", "kept"}]}``, or empty), and clicking a box's label toggles it, a ``"text_box"``
    event. The flags are part of the editor's snapshot, so undo/redo restore them; the handler
    applies them to the text selection with that ``id`` (others are ignored) before it recomputes
    the mask from the kept detections' masks, which the workspace keeps (no detector run).

JS <-> Python, probes (cheap, never queued)
    While a picture is shown, the editor asks how the SAM preparation goes and, with the Click tool
    over the picture, for the hover outline: it writes ``{"version": 1, "seq": n, "image_size":
    [w, h], "point": [x, y] | null}`` into ``#ia_canvas_probe`` and clicks
    ``#ia_canvas_probe_submit``; the answer is JSON in ``#ia_canvas_probe_answer``: ``{"seq": n,
    "embedding": "none" | "pending" | "ready" | "failed", "progress": 0..1, "model": label,
    "hover": {"polygons": [[x0, y0, ...], ...], "score": s} | null, "hover_off": why or "",
    "busy": bool, "error": text or ""}``; ``busy`` means SAM was held by other work, so no outline
    this time (the editor keeps the one it shows and asks again). One probe is in flight at a time;
    a newer pointer position replaces a waiting one. Probes bypass gradio's queue, so a running job
    never delays them, and they never change the session.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.selection import MAX_STROKE_POINTS, Selection, Stroke, check_stroke

SCHEMA_VERSION = 1
KINDS = ("click", "box", "scribble", "brush", "clear", "undo", "redo", "text_box")
MAX_TEXT_BOXES = 1000
MAX_SIDE = 16384
MAX_EVENT_CHARS = 8_000_000
MAX_POINTS = 1000


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
    text_id: int | None = None  # the text selection the kept flags are for
    text_kept: tuple[bool, ...] | None = None  # which of its boxes are kept (None: not sent)

    @property
    def width(self) -> int:
        return self.image_size[0]

    @property
    def height(self) -> int:
        return self.image_size[1]

    def selection(self, candidate: int = 0) -> Selection:
        """The selection this event carries (already checked), keeping SAM's candidate ``candidate``."""
        return Selection(self.points, self.box, self.strokes, candidate)

    def strokes_of(self, *modes: str) -> tuple[Stroke, ...]:
        """The strokes whose mode is one of ``modes``, in drawing order."""
        return self.selection().strokes_of(*modes)

    def sam_prompt(self) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """``(point_coords Nx2 float32, point_labels N int32, box (4,) float32)``; None where absent."""
        return self.selection().sam_prompt()

    def to_json(self) -> str:
        """Serialise back to the wire format (used by tests and the demo app)."""
        return json.dumps(
            {
                "version": self.version,
                "kind": self.kind,
                "image_size": list(self.image_size),
                "points": [list(p) for p in self.points],
                "box": None if self.box is None else list(self.box),
                "strokes": [{"mode": s.mode, "radius": s.radius, "points": [list(p) for p in s.points]} for s in self.strokes],
                "text": None if self.text_kept is None else {"id": self.text_id, "kept": list(self.text_kept)},
                "seq": self.seq,
            }
        )


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


def _envelope(text: str | bytes | None, limit: int, what: str) -> tuple[dict[str, Any], int, int, int]:
    """``(data, seq, width, height)`` of an editor message (an event or a probe): a version 1 JSON
    object of at most ``limit`` characters with a non-negative ``seq`` and a valid ``image_size``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if isinstance(text, str) and len(text) > limit:
        raise _bad(f"{what} is too large: {len(text)} characters")
    if not isinstance(text, str) or not text.strip():
        raise _bad(f"{what} is empty")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _bad(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _bad(f"{what} is not a JSON object (version {SCHEMA_VERSION})")
    if data.get("version") != SCHEMA_VERSION:
        raise _bad(f"{what} has schema version {data.get('version')!r}, expected {SCHEMA_VERSION}")
    seq = data.get("seq", 0)
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise _bad(f"seq must be a non-negative integer, got {seq!r}")
    size = data.get("image_size")
    if not isinstance(size, list) or len(size) != 2:
        raise _bad("image_size must be [width, height]")
    w, h = (_number(v, "image_size") for v in size)
    if w != int(w) or h != int(h) or not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE):
        raise _bad(f"image_size {size!r} is not a valid image size")
    return data, seq, int(w), int(h)


def parse_event(text: str | bytes | None) -> CanvasEvent:
    """Parse and validate the JSON written by the editor; raise InvalidInputError when malformed."""
    data, seq, w, h = _envelope(text, MAX_EVENT_CHARS, "the event")
    kind = data.get("kind")
    if kind not in KINDS:
        raise _bad(f"unknown kind {kind!r}")

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
        try:
            stroke = check_stroke(raw.get("mode"), raw.get("radius"), raw.get("points"))
        except InvalidInputError as exc:
            raise _bad(str(exc)) from None
        total += len(stroke.points)
        if total > MAX_STROKE_POINTS:
            raise _bad("the strokes have too many points")
        strokes.append(stroke)
    text_id, kept = _text_flags(data.get("text"))
    return CanvasEvent(kind, (w, h), tuple(points), box, tuple(strokes), seq, text_id=text_id, text_kept=kept)


def _text_flags(raw: Any) -> tuple[int | None, tuple[bool, ...] | None]:
    """``(id, kept flags)`` of an event's ``text`` (module docstring); ``(None, None)`` without one."""
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise _bad("text must be an object {id, kept}")
    text_id, kept = raw.get("id"), raw.get("kept")
    if isinstance(text_id, bool) or not isinstance(text_id, int) or text_id < 0:
        raise _bad(f"text id must be a non-negative integer, got {text_id!r}")
    if not isinstance(kept, list) or len(kept) > MAX_TEXT_BOXES or not all(isinstance(k, bool) for k in kept):
        raise _bad("text kept must be a list of true/false")
    return text_id, tuple(kept)


@dataclass(frozen=True)
class Probe:
    """A validated probe: the picture's size and the pointer (image pixels, centre convention) or None."""

    seq: int
    image_size: tuple[int, int]
    point: tuple[float, float] | None = None


def parse_probe(text: str | None) -> Probe:
    """Parse the editor's probe JSON; InvalidInputError when malformed."""
    data, seq, w, h = _envelope(text, 10_000, "the probe")
    point = data.get("point")
    if point is not None:
        if not isinstance(point, list) or len(point) != 2:
            raise _bad("probe point must be [x, y] or null")
        x, y = _number(point[0], "probe x"), _number(point[1], "probe y")
        _check_inside(x, y, w, h, "probe point")
        point = (x, y)
    return Probe(seq, (w, h), point)


def _seq_of(text: Any) -> str:
    try:
        seq = json.loads(text).get("seq")
        return str(int(seq))
    except (TypeError, ValueError, AttributeError):
        return "-1"
