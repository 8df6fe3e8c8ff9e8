"""Prompt validation shared by SAM sessions, GrabCut and batch manifests.

Points are ``(x, y)`` pixels of the original image with labels 1 (object) / 0 (background);
boxes are ``(x0, y0, x1, y1)``.
"""

from __future__ import annotations

import numpy as np

from inpaint_anything.errors import InvalidInputError


def validate_points(points: object, labels: object, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Points as float64 ``[N, 2]`` (x, y) inside an image of ``size`` (H, W); labels int ``[N]`` of 0/1.

    Missing labels mean "object" for every point.
    """
    h, w = size
    if points is None:
        if labels is not None and np.asarray(labels).size:
            raise InvalidInputError("Point labels were given without points.")
        return np.zeros((0, 2), np.float64), np.zeros(0, np.int64)
    try:
        pts = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError("Points must be a list of (x, y) pixel positions.") from None
    if pts.size == 0:
        return np.zeros((0, 2), np.float64), np.zeros(0, np.int64)
    if pts.ndim == 1 and pts.size == 2:
        pts = pts.reshape(1, 2)
    if pts.ndim != 2 or pts.shape[1] != 2 or not np.isfinite(pts).all():
        raise InvalidInputError(f"Points must be a list of (x, y) pixel positions, got shape {pts.shape}.")
    labs = np.ones(len(pts), np.int64) if labels is None else np.asarray(labels).reshape(-1)
    if labs.shape != (len(pts),):
        raise InvalidInputError(f"There are {len(pts)} points but {labs.size} labels; give one label per point.")
    if not np.isin(labs, (0, 1)).all():
        raise InvalidInputError("Point labels must be 1 (object) or 0 (background).")
    outside = (pts[:, 0] < 0) | (pts[:, 0] > w) | (pts[:, 1] < 0) | (pts[:, 1] > h)
    if outside.any():
        x, y = pts[int(np.argmax(outside))]
        raise InvalidInputError(f"The point ({x:g}, {y:g}) is outside the {w}x{h} image; click on the image.")
    return pts, labs.astype(np.int64)


def validate_box(box: object, size: tuple[int, int]) -> np.ndarray | None:
    """A box as float64 ``[4]`` (x0, y0, x1, y1), ordered and clipped to the image, or None.

    Raises InvalidInputError for a box that is not four numbers or has no area inside the image.
    """
    if box is None:
        return None
    try:
        arr = np.asarray(box, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        arr = np.zeros(0)
    if arr.size != 4 or not np.isfinite(arr).all():
        raise InvalidInputError("A box must be four numbers: x0, y0, x1, y1 (pixels).")
    h, w = size
    x0, x1 = sorted(arr[[0, 2]])
    y0, y1 = sorted(arr[[1, 3]])
    cx0, cx1 = np.clip([x0, x1], 0, w)
    cy0, cy1 = np.clip([y0, y1], 0, h)
    if cx1 - cx0 < 1 or cy1 - cy0 < 1:
        raise InvalidInputError(
            f"The box ({arr[0]:g}, {arr[1]:g}, {arr[2]:g}, {arr[3]:g}) has no area inside the {w}x{h} "
            f"image; drag a larger box over the object."
        )
    return np.array([cx0, cy0, cx1, cy1], np.float64)
