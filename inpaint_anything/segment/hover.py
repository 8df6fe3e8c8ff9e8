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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class HoverMask:
    mask: np.ndarray  # bool [h, w], low resolution, covering the whole original image
    score: float
    scale: tuple[float, float]  # original pixels per mask cell (x, y)


def hover_mask(session: Any, image: np.ndarray, x: float, y: float) -> HoverMask | None:
    """The low-res best mask for a click at (x, y) on ``image``; None when the session is busy or
    holds no embedding of ``image``."""
    from inpaint_anything.segment.progress import is_encoded

    if not session.lock.acquire(blocking=False):
        return None
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
    return HoverMask(low[:rows, :cols].copy(), float(scores[0, best]), (w / cols, h / rows))


__all__ = ["HoverMask", "hover_mask"]
