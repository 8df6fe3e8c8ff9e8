"""Outpainting canvas geometry: how many pixels to add on each side.

Three ways to ask, one answer (:class:`Expansion`): explicit pixels per side, a target aspect
preset, or a scale factor with a balance per axis. Every amount is snapped to a multiple of 8 and
the final canvas size is known before anything is generated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.fields import Field

MAX_SIDE_PX = 2048
SNAP = 8
MAX_CANVAS_PIXELS = 64_000_000

ASPECT_PRESETS: dict[str, tuple[int, int]] = {
    "1:1": (1, 1),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "3:2": (3, 2),
    "2:3": (2, 3),
    "16:9": (16, 9),
    "9:16": (9, 16),
    "21:9": (21, 9),
    "9:21": (9, 21),
}
SIDES = ("left", "right", "up", "down")
# the outpaint table's expansion part (:mod:`inpaint_anything.outpaint.params` holds the rest):
# Expansion.from_spec reads it, so it lives here
MODES = ("pixels", "aspect", "scale")
MODE_WORDS = {"pixels": "pixels per side", "aspect": "aspect ratio", "scale": "scale"}


def _side(side: str) -> Field:
    return Field(side, int, 0, f"{side.capitalize()} (px)", 0, MAX_SIDE_PX, step=8, noun=f"Pixels to add on the {side} side")


EXPANSION_FIELDS: tuple[Field, ...] = (
    Field("mode", str, "pixels", "Expand by", choices=MODES, words=MODE_WORDS, noun="outpaint mode", control="radio"),
    *(_side(s) for s in SIDES),
    Field(
        "preset",
        str,
        "16:9",
        "Aspect ratio",
        choices=tuple(ASPECT_PRESETS),
        control="dropdown",
        api_literal=False,
        help="aspect mode: " + ", ".join(ASPECT_PRESETS),
        noun="aspect preset",
    ),
    Field("scale", float, 1.5, "Scale (× the input size)", 1.25, 2.0, step=0.05, help="scale mode: 1.25 .. 2"),
    Field(
        "balance_x",
        float,
        0.5,
        "Balance left/right",
        0.0,
        1.0,
        step=0.05,
        elem="bx",
        help="0 = all on the left, 1 = all on the right",
        noun="Balance",
    ),
    Field(
        "balance_y",
        float,
        0.5,
        "Balance up/down",
        0.0,
        1.0,
        step=0.05,
        elem="by",
        help="0 = all at the top, 1 = all at the bottom",
        noun="Balance",
    ),
)


@dataclass(frozen=True)
class Expansion:
    """Pixels added on each side of an image of ``width`` x ``height``."""

    width: int
    height: int
    left: int = 0
    right: int = 0
    up: int = 0
    down: int = 0

    @property
    def canvas_size(self) -> tuple[int, int]:
        """(width, height) of the outpainted result."""
        return self.width + self.left + self.right, self.height + self.up + self.down

    @property
    def original_box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the original inside the canvas."""
        return self.left, self.up, self.left + self.width, self.up + self.height

    def sides(self) -> dict[str, int]:
        return {s: getattr(self, s) for s in SIDES}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], width: int, height: int) -> Expansion:
        """The expansion for an image of ``width`` x ``height`` from a spec of
        :data:`EXPANSION_FIELDS` (missing keys take the table's
        defaults; choices as ids or the words the UI shows, numbers as gradio's floats):
        ``{"mode": "pixels", left/right/up/down}``, ``{"mode": "aspect", "preset", balance_x/y}`` or
        ``{"mode": "scale", "scale", balance_x/y}``. The API, batch, the tab and the img2img script
        all plan through here."""
        d = {f.name: f.from_ui(spec.get(f.name, f.default)) for f in EXPANSION_FIELDS}
        if d["mode"] == "pixels":
            return by_pixels(width, height, *(d[s] for s in SIDES))
        if d["mode"] == "aspect":
            return by_aspect(width, height, str(d["preset"]), d["balance_x"], d["balance_y"])
        return by_scale(width, height, d["scale"], d["balance_x"], d["balance_y"])

    def describe(self) -> str:
        w, h = self.canvas_size
        return f"{self.width}x{self.height} -> {w}x{h} (left {self.left}, right {self.right}, up {self.up}, down {self.down})"


def snap(px: float) -> int:
    """Round to the nearest multiple of 8, halves up (never negative)."""
    return max(0, int(px / SNAP + 0.5) * SNAP)


def _check_image(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise InvalidInputError(f"The image is empty ({width}x{height}).")


def _finish(exp: Expansion) -> Expansion:
    for side, px in exp.sides().items():
        if px > MAX_SIDE_PX:
            raise InvalidInputError(f"Cannot add {px} pixels on the {side} side; at most {MAX_SIDE_PX} per side.")
    if not any(exp.sides().values()):
        raise InvalidInputError("Nothing to outpaint: every side adds 0 pixels. Choose at least one side and an amount.")
    w, h = exp.canvas_size
    if w * h > MAX_CANVAS_PIXELS:
        raise InvalidInputError(f"The outpainted canvas would be {w}x{h}, over the {MAX_CANVAS_PIXELS:,} pixel limit.")
    return exp


def by_pixels(width: int, height: int, left: int = 0, right: int = 0, up: int = 0, down: int = 0) -> Expansion:
    """Explicit pixels per side (0..2048, snapped to multiples of 8)."""
    _check_image(width, height)
    amounts = {"left": left, "right": right, "up": up, "down": down}
    for side, px in amounts.items():
        if px < 0:
            raise InvalidInputError(f"Pixels to add on the {side} side cannot be negative ({px}).")
    return _finish(Expansion(width, height, **{k: snap(v) for k, v in amounts.items()}))


def _split(total: int, balance: float) -> tuple[int, int]:
    """Split ``total`` pixels between the two sides of an axis; balance 0 = all on the first side,
    0.5 = even, 1 = all on the second. Both parts are multiples of 8."""
    if not 0.0 <= balance <= 1.0:
        raise InvalidInputError(f"Balance must be between 0 and 1, not {balance}.")
    total = snap(total) if total % SNAP else total
    second = snap(total * balance)
    second = min(second, total)
    return total - second, second


def by_aspect(width: int, height: int, preset: str, balance_x: float = 0.5, balance_y: float = 0.5) -> Expansion:
    """Grow the image (never crop it) until it reaches the aspect ratio ``preset`` (e.g. "16:9")."""
    _check_image(width, height)
    if preset not in ASPECT_PRESETS:
        raise InvalidInputError(f"Unknown aspect preset {preset!r}. Choose one of: {', '.join(ASPECT_PRESETS)}.")
    aw, ah = ASPECT_PRESETS[preset]
    target_w, target_h = width, height
    if width * ah < height * aw:  # too narrow: widen
        target_w = -(-height * aw // ah)
    else:  # too wide (or equal): heighten
        target_h = -(-width * ah // aw)
    add_w = -(-(target_w - width) // SNAP) * SNAP
    add_h = -(-(target_h - height) // SNAP) * SNAP
    left, right = _split(add_w, balance_x)
    up, down = _split(add_h, balance_y)
    return _finish(Expansion(width, height, left, right, up, down))


def by_scale(width: int, height: int, scale: float, balance_x: float = 0.5, balance_y: float = 0.5) -> Expansion:
    """Grow both axes by ``scale`` (1.25x .. 2x), distributing each axis by its balance."""
    _check_image(width, height)
    if not 1.25 <= scale <= 2.0:
        raise InvalidInputError(f"Scale must be between 1.25 and 2, not {scale}.")
    left, right = _split(snap(width * (scale - 1)), balance_x)
    up, down = _split(snap(height * (scale - 1)), balance_y)
    return _finish(Expansion(width, height, left, right, up, down))
