"""Thumbnails of SAM's candidate masks, shown over the canvas after a single click.

Each thumbnail is the picture (scaled down) with that candidate tinted in the editor's mask colour,
the rest dimmed and the outline drawn in white, captioned with its number and predicted score; the
candidate that is currently the mask is marked with a check mark. Picking one (the gallery's select
event) makes it the mask (``Controller.pick_candidate``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

THUMB_SIDE = 160  # px, longest side
MASK_RGB = (255, 40, 120)  # the editor's light-theme mask colour (javascript/inpaint_anything_2_editor.js)
ACTIVE_MARK = "\u2713 "


def _resize(arr: np.ndarray, w: int, h: int, nearest: bool) -> np.ndarray:
    import cv2

    return cv2.resize(arr, (w, h), interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def thumbnail_size(w: int, h: int, side: int = THUMB_SIDE) -> tuple[int, int]:
    """``(w, h)`` scaled so that the longest side is at most ``side`` (never enlarged, at least 1)."""
    scale = min(1.0, side / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _scaled(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    tw, th = thumbnail_size(w, h, side)
    return _resize(np.ascontiguousarray(image[..., :3]), tw, th, nearest=False).astype(np.float32)


def _tint(small: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import cv2

    th, tw = small.shape[:2]
    m = _resize(np.asarray(mask).astype(np.uint8), tw, th, nearest=True) > 0
    out = small * 0.45  # dimmed outside
    out[m] = small[m] * 0.45 + np.array(MASK_RGB, np.float32) * 0.55
    edge = m & ~cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(
        bool
    )
    out[edge] = 255.0
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def overlay(image: np.ndarray, mask: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """One thumbnail: ``image`` (HxWx3 uint8) with ``mask`` (HxW) tinted, the rest dimmed, outlined."""
    return _tint(_scaled(image, side), mask)


def caption(index: int, score: float, active: bool) -> str:
    return f"{ACTIVE_MARK if active else ''}{index + 1}: {float(score):.2f}"


def thumbnails(
    image: np.ndarray, masks: Sequence[np.ndarray], scores: Sequence[float], active: int, side: int = THUMB_SIDE
) -> list[tuple[np.ndarray, str]]:
    """Gallery value ``[(thumbnail, caption), ...]``, one per candidate, in SAM's order."""
    small = _scaled(image, side)  # scaled once for every candidate
    return [(_tint(small, m), caption(i, s, i == active)) for i, (m, s) in enumerate(zip(masks, scores, strict=True))]


__all__ = ["ACTIVE_MARK", "MASK_RGB", "THUMB_SIDE", "caption", "overlay", "thumbnail_size", "thumbnails"]
