"""What a person selected: one value for the tab and the API, and the table of mask operations.

A :class:`Selection` holds the prompts (points, a box), the freehand strokes (scribbles over the
segment map, brush add / erase) and which SAM candidate was picked. The tab's editor sends the
whole selection with every event (parsed and checked once at the edge, ``ui/wire.parse_event``);
the API sends the same value to ``PUT /sessions/{id}/selection`` (``api/segment_routes``). Either
way :meth:`inpaint_anything.workspace.Workspace.select` turns it into the mask, then re-applies the
workspace's chain of refinements (mask operations) to it, so an undo in the browser and a grow on
the server never fight. The API's step-by-step edits (click, box, brush, mask op) change the same
mask and push onto the same server-side undo history.

Mask operations are declared once, in :data:`MASK_OPS`: the API's ``op`` enum, the tab's buttons,
the refinement chain's words and the check of the amount are all derived from it. Adding one is a
one-file change (``docs/ARCHITECTURE.md``).

Guarantees: every mask here is a bool HxW array; operations return new arrays and never modify
their input; a :class:`Stroke` that exists has passed :func:`check_stroke`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inpaint_anything import masks
from inpaint_anything.errors import InvalidInputError

# ---------------------------------------------------------------------------------------------- mask ops
MAX_AMOUNT = 4096


@dataclass(frozen=True)
class MaskOp:
    """One mask operation. ``amount``: what its pixel amount means ("" = it takes none);
    ``in_tab``: whether the tab shows it as a refinement button."""

    name: str
    label: str
    apply: Callable[[np.ndarray, int], np.ndarray]
    amount: str = ""
    in_tab: bool = True


MASK_OPS: dict[str, MaskOp] = {
    op.name: op
    for op in (
        MaskOp("grow", "Grow", lambda m, px: masks.grow(m, px), "radius in pixels"),
        MaskOp("shrink", "Shrink", lambda m, px: masks.shrink(m, px), "radius in pixels"),
        MaskOp("fill_holes", "Fill holes", lambda m, px: masks.fill_holes(m, px or None), "largest hole area in pixels, 0 = any"),
        MaskOp("remove_specks", "Remove specks", lambda m, px: masks.remove_specks(m, px), "smallest kept area in pixels"),
        MaskOp("invert", "Invert", lambda m, px: masks.invert(m)),
        MaskOp("clear", "Clear", lambda m, px: np.zeros_like(m), in_tab=False),
        MaskOp("all", "Select all", lambda m, px: np.ones_like(m), in_tab=False),
    )
}


def check_op(op: str, px: Any = 0) -> int:
    """The amount as an int when ``op`` is a known operation and ``px`` a whole number 0..4096."""
    if op not in MASK_OPS:
        raise InvalidInputError(f"Unknown mask operation {op!r}. Choose one of: {', '.join(MASK_OPS)}.")
    if isinstance(px, bool) or not isinstance(px, (int, np.integer)) or not 0 <= px <= MAX_AMOUNT:
        raise InvalidInputError(f"The amount for '{op}' must be a whole number from 0 to {MAX_AMOUNT}, not {px!r}.")
    return int(px)


def apply_op(mask: np.ndarray, op: str, px: int = 0) -> np.ndarray:
    """``mask`` after operation ``op`` (checked by :func:`check_op`); a new array."""
    px = check_op(op, px)
    return MASK_OPS[op].apply(mask, px)


def describe_chain(refinements: Sequence[tuple[str, int]]) -> str:
    """The refinement chain in words, e.g. ``"grow 8, invert"`` (amounts only where an op takes one)."""
    return ", ".join(f"{op} {px}" if MASK_OPS[op].amount else op for op, px in refinements)


def ops_help() -> str:
    """One line per operation, for the API's description."""
    return "; ".join(f"{op.name}" + (f" (px: {op.amount})" if op.amount else "") for op in MASK_OPS.values())


# ---------------------------------------------------------------------------------------------- strokes
STROKE_MODES = ("scribble", "add", "erase")
MAX_RADIUS = 4096.0
MAX_STROKE_POINTS = 200_000


@dataclass(frozen=True)
class Stroke:
    """One freehand stroke in image pixels; ``mode`` is scribble (segment selection), add or erase."""

    mode: str
    radius: float
    points: tuple[tuple[float, float], ...]


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def check_stroke(mode: Any, radius: Any, points: Any, modes: Sequence[str] = STROKE_MODES) -> Stroke:
    """A :class:`Stroke` from raw values: ``mode`` in ``modes``, 0 <= radius <= 4096 (0 paints the
    pixels the polyline passes through), 1..200,000 ``[x, y]`` finite points. Raises
    InvalidInputError saying which part is wrong."""
    if mode not in modes:
        raise InvalidInputError(f"unknown stroke mode {mode!r}; use one of {', '.join(modes)}")
    r = _finite(radius, "stroke radius")
    if not 0 <= r <= MAX_RADIUS:
        raise InvalidInputError(f"stroke radius {r:g} is out of range (0 to {MAX_RADIUS:g} pixels)")
    if not isinstance(points, (list, tuple)):
        raise InvalidInputError("stroke points must be a list of [x, y]")
    if not points:
        raise InvalidInputError("a stroke has no points")
    if len(points) > MAX_STROKE_POINTS:
        raise InvalidInputError(f"too many stroke points: {len(points)} > {MAX_STROKE_POINTS}")
    out = []
    for p in points:
        if not isinstance(p, (list, tuple)) or len(p) != 2:
            raise InvalidInputError("each of stroke points must be a list of 2 numbers [x, y]")
        out.append((_finite(p[0], "stroke x"), _finite(p[1], "stroke y")))
    return Stroke(str(mode), r, tuple(out))


def rasterize_strokes(strokes: Sequence[Stroke], size: tuple[int, int], base: np.ndarray | None = None) -> np.ndarray:
    """Paint ``strokes`` in order onto a ``size = (w, h)`` bool mask (or a copy of ``base``).

    ``add`` and ``scribble`` strokes set pixels whose centre lies within ``radius`` of the stroke's
    polyline; ``erase`` strokes clear them."""
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


# ---------------------------------------------------------------------------------------------- selection
@dataclass(frozen=True)
class Selection:
    """Prompts, strokes and the picked candidate, in image pixels (centre of the top-left pixel = 0, 0).

    ``points``: ``(x, y, label)`` with label 1 (include) or 0 (exclude); ``box``: ``(x0, y0, x1, y1)``
    with x0 <= x1, y0 <= y1; ``candidate``: which of SAM's candidates a single click keeps."""

    points: tuple[tuple[float, float, int], ...] = ()
    box: tuple[float, float, float, float] | None = None
    strokes: tuple[Stroke, ...] = ()
    candidate: int = 0

    def strokes_of(self, *modes: str) -> tuple[Stroke, ...]:
        """The strokes whose mode is one of ``modes``, in drawing order."""
        return tuple(s for s in self.strokes if s.mode in modes)

    @property
    def prompted(self) -> bool:
        """Whether anything here asks a model (or GrabCut, or the segment map) to select."""
        return bool(self.points) or self.box is not None or bool(self.strokes_of("scribble"))

    def sam_prompt(self) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """``(point_coords Nx2 float32, point_labels N int32, box (4,) float32)``; None where absent."""
        coords = labels = None
        if self.points:
            coords = np.array([p[:2] for p in self.points], np.float32)
            labels = np.array([p[2] for p in self.points], np.int32)
        box = None if self.box is None else np.array(self.box, np.float32)
        return coords, labels, box


def check_selection(
    points: Any = (), box: Any = None, strokes: Any = (), candidate: Any = 0, *, image_size: tuple[int, int]
) -> Selection:
    """A :class:`Selection` from raw values (the API's body) for an image of ``image_size = (w, h)``:
    points ``[x, y, label]`` inside the image, the box ordered and clipped to it (it must keep an
    area), strokes checked by :func:`check_stroke`, ``candidate`` 0..15."""
    from inpaint_anything.segment.prompts import validate_box, validate_points

    w, h = image_size
    raw = list(points or ())
    if any(not isinstance(p, (list, tuple)) or len(p) != 3 for p in raw):
        raise InvalidInputError("Each point is [x, y, label] with label 1 (include) or 0 (exclude).")
    pts, labels = validate_points([p[:2] for p in raw] or None, [p[2] for p in raw] or None, (h, w))
    checked_box = validate_box(box, (h, w))
    checked = tuple(
        s if isinstance(s, Stroke) else check_stroke(s.get("mode"), s.get("radius"), s.get("points")) for s in strokes or ()
    )
    if isinstance(candidate, bool) or not isinstance(candidate, int) or not 0 <= candidate < 16:
        raise InvalidInputError(f"candidate must be a whole number from 0 to 15, not {candidate!r}")
    return Selection(
        tuple((float(x), float(y), int(lab)) for (x, y), lab in zip(pts, labels, strict=True)),
        None if checked_box is None else tuple(float(v) for v in checked_box),
        checked,
        candidate,
    )
