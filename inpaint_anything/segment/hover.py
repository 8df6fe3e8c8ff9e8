"""The mask under the pointer, cheaply: SAM's low-resolution answer for one click, never upsampled.

A hover must cost one decoder pass and nothing more. :func:`hover_mask` therefore

- never encodes: without the current image's embedding it answers ``None`` (the caller says
  "not ready"), and while the session is busy (an encode or a click holds its lock) it answers
  ``None`` at once instead of queueing behind it (a stale hover is worthless);
- returns the best candidate's low-res mask (at most ``lowres`` x ``lowres``, 256 for SAM) cropped
  to the part that covers the image, with the scale to the original pixels; the browser draws it
  stretched over the picture.

Guarantee: for the same point, the hover mask is the click's best candidate at low resolution
(same logits, thresholded at 0 before upsampling), so what the pointer shows is what a click picks.

:func:`outline` turns it into polygons in image pixels (what the editor strokes), and
:class:`HoverTimer` decides the ``auto`` setting: hover is offered while the decoder's measured p95
stays under :data:`AUTO_LIMIT_S`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class HoverMask:
    mask: np.ndarray  # bool [h, w], low resolution, covering the whole original image
    score: float
    scale: tuple[float, float]  # original pixels per mask cell (x, y)
    seconds: float = 0.0  # how long the decoder pass took


def hover_mask(session: Any, image: np.ndarray, x: float, y: float) -> HoverMask | None:
    """The low-res best mask for a click at (x, y) on ``image``; None when the session is busy or
    holds no embedding of ``image``."""
    from inpaint_anything.segment.progress import is_encoded

    if not session.lock.acquire(blocking=False):
        return None
    started = time.perf_counter()
    try:
        if not is_encoded(session, image) or not session.image_set:
            return None
        session.set_image(image)  # cached: makes it current, no encoder run
        logits, scores = session.decode_points(np.array([[float(x), float(y)]]), multimask=True)
    finally:
        session.lock.release()
    best = int(scores[0].argmax())
    low = (logits[0, best] > 0).cpu().numpy()
    geo = session.geometry
    rows = max(1, min(low.shape[0], math.ceil(geo.input_size[0] * low.shape[0] / geo.img_size)))
    cols = max(1, min(low.shape[1], math.ceil(geo.input_size[1] * low.shape[1] / geo.img_size)))
    h, w = geo.original_size
    found = HoverMask(low[:rows, :cols].copy(), float(scores[0, best]), (w / cols, h / rows))
    found.seconds = time.perf_counter() - started
    return found


MAX_OUTLINE_POINTS = 4000


def outline(found: HoverMask) -> list[list[float]]:
    """The hover mask's borders as flat polygons ``[x0, y0, x1, y1, ...]`` in continuous image
    coordinates (pixel i spans [i, i + 1)): outer borders and holes alike (draw them with the
    even-odd rule). A border runs through the centres of the mask's edge cells, so it is accurate to
    half a cell (``scale`` / 2 original pixels). At most :data:`MAX_OUTLINE_POINTS` points in all
    (tiny specks first dropped, then borders simplified)."""
    import cv2

    cells = np.ascontiguousarray(found.mask, dtype=np.uint8)
    if not cells.any():
        return []
    contours, _ = cv2.findContours(cells, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    contours = sorted(contours, key=len, reverse=True)
    epsilon = 0.0
    while sum(len(c) for c in contours) > MAX_OUTLINE_POINTS:
        epsilon = epsilon * 2 or 0.5
        contours = [cv2.approxPolyDP(c, epsilon, True) for c in contours if len(c) > 2]
    sx, sy = found.scale
    polygons = []
    for contour in contours:
        pts = contour.reshape(-1, 2).astype(np.float64) + 0.5
        pts[:, 0] *= sx
        pts[:, 1] *= sy
        polygons.append([round(float(v), 1) for v in pts.reshape(-1)])
    return polygons


HOVER_MODES = ("auto", "on", "off")
AUTO_LIMIT_S = 0.060  # the rule: hover on "auto" while the decoder's p95 is under 60 ms
WARMUP = 5  # hovers measured before "auto" may turn the preview off
WINDOW = 40


class HoverTimer:
    """The measured hover times per model (the App owns one), and the ``auto`` decision."""

    def __init__(self) -> None:
        self._times: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def record(self, model: str, seconds: float) -> None:
        """Count one hover of ``model``; its first one (cold caches, lazy allocations) is not counted."""
        with self._lock:
            if model not in self._times:
                self._times[model] = deque(maxlen=WINDOW)
                return
            self._times[model].append(float(seconds))

    def p95(self, model: str) -> float | None:
        with self._lock:
            times = sorted(self._times.get(model, ()))
        if not times:
            return None
        return times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]

    def decide(self, mode: str, model: str) -> str:
        """'' when the preview is offered, else why not (a short sentence for the editor's status line)."""
        if mode == "off":
            return "hover preview is off in Settings"
        if mode == "on":
            return ""
        with self._lock:
            count = len(self._times.get(model, ()))
        p95 = self.p95(model)
        if count >= WARMUP and p95 is not None and p95 >= AUTO_LIMIT_S:
            return f"hover preview off: {p95 * 1000:.0f} ms per mask here (auto needs under {AUTO_LIMIT_S * 1000:.0f} ms)"
        return ""


__all__ = ["AUTO_LIMIT_S", "HOVER_MODES", "HoverMask", "HoverTimer", "hover_mask", "outline"]
