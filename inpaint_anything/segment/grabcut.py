"""A weight-free object selection: OpenCV GrabCut seeded by a box and/or clicked points.

Used when no Segment Anything model is available (or wanted). Large images are segmented at a
reduced size (``max_side``) and the mask is scaled back, so the cost stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inpaint_anything.errors import InvalidInputError


def grabcut_mask(
    rgb: np.ndarray,
    box: Sequence[float] | np.ndarray | None = None,
    points: Sequence[Sequence[float]] | np.ndarray | None = None,
    labels: Sequence[int] | np.ndarray | None = None,
    iterations: int = 5,
    *,
    radius: float | None = None,
    max_side: int = 1024,
) -> np.ndarray:
    """Select an object with GrabCut; returns a bool HxW mask.

    ``box`` is ``(x0, y0, x1, y1)`` in pixels (outside it is background, inside probably object);
    ``points`` are ``(x, y)`` with ``labels`` 1 (object) or 0 (background), painted as definite
    seeds of ``radius`` pixels (default: 1 % of the long side, at least 3). At least a box or one
    object point is required. Images larger than ``max_side`` are segmented at that size.
    """
    import cv2

    from inpaint_anything.imaging import to_rgb_uint8
    from inpaint_anything.segment.prompts import validate_box, validate_points

    image, _ = to_rgb_uint8(rgb)
    h, w = image.shape[:2]
    if int(iterations) < 1:
        raise InvalidInputError("GrabCut needs at least one iteration.")
    pts, labs = validate_points(points, labels, (h, w))
    clipped = validate_box(box, (h, w))
    rect = None
    if clipped is not None:
        rect = (int(np.floor(clipped[0])), int(np.floor(clipped[1])), int(np.ceil(clipped[2])), int(np.ceil(clipped[3])))
    if rect is None and not (labs == 1).any():
        raise InvalidInputError("Draw a box around the object or click on it at least once.")

    scale = min(1.0, float(max_side) / max(h, w))
    work = image
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        work = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    wh, ww = work.shape[:2]

    if rect is None:
        seeds = np.full((wh, ww), cv2.GC_PR_BGD, np.uint8)
    else:
        seeds = np.full((wh, ww), cv2.GC_BGD, np.uint8)
        x0, y0, x1, y1 = (round(v * scale) for v in rect)
        seeds[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)] = cv2.GC_PR_FGD
    r = max(3.0, max(h, w) / 100.0) if radius is None else float(radius)
    r_work = max(1, round(r * scale))
    for (x, y), lab in zip(pts, labs, strict=True):
        value = cv2.GC_FGD if lab == 1 else cv2.GC_BGD
        centre = (min(round(x * scale), ww - 1), min(round(y * scale), wh - 1))
        cv2.circle(seeds, centre, r_work, int(value), -1)

    background = (seeds == cv2.GC_BGD) | (seeds == cv2.GC_PR_BGD)
    if not background.any():
        # The box covers the whole image: let the border pixels model the background.
        seeds[[0, -1], :] = cv2.GC_PR_BGD
        seeds[:, [0, -1]] = cv2.GC_PR_BGD
    foreground = (seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)
    if not foreground.any():
        raise InvalidInputError("The box and points leave nothing to select; click on the object.")

    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    cv2.grabCut(np.ascontiguousarray(work[:, :, ::-1]), seeds, None, bgd_model, fgd_model, int(iterations), cv2.GC_INIT_WITH_MASK)
    selected = (seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)
    if scale < 1.0:
        soft = cv2.resize(selected.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        selected = soft >= 0.5
    return np.ascontiguousarray(selected)


__all__ = ["grabcut_mask"]
