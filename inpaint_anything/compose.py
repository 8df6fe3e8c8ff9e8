"""Paste-back: composite a generated picture over the original through a grown, feathered mask.

Guarantee: every pixel whose blend alpha is 0 comes back bit-identical to the original, and the
result always has the original's exact size and dtype. For RGBA originals the original alpha
channel is kept unchanged everywhere (also inside the mask); only the colour channels are blended.

Geometry helpers (only-masked crop planning, padding) live in :mod:`inpaint_anything.geometry` and
are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.geometry import (
    CropPlan,
    Padding,
    check_box,
    check_image,
    crop,
    crop_region,
    pad_to_multiple,
    plan_only_masked,
    resize_image,
    resize_mask,
    unpad,
)
from inpaint_anything.masks import as_bool_mask, bbox, check_radius, feather, grow


class PasteResult(NamedTuple):
    """The composited image and the float32 HxW alpha (full image size) that was used."""

    image: np.ndarray
    alpha: np.ndarray


def blend_alpha(mask: object, grow_px: float = 0, feather_px: float = 0, box: Sequence[int] | None = None) -> np.ndarray:
    """Blend weights ``feather(grow(mask, grow_px), feather_px)`` as float32 HxW in [0, 1].

    With ``box`` the alpha is set to 0 outside the box (the generated crop covers only the box); give
    the only-masked crop enough padding (more than ``grow_px + feather_px``) to keep the band inside.
    """
    m = as_bool_mask(mask)
    g = check_radius(grow_px, "mask grow radius")
    f = check_radius(feather_px, "feather radius")
    h, w = m.shape
    alpha = np.zeros((h, w), np.float32)
    tight = bbox(m)
    if tight is None:
        return alpha
    # Distances are exact inside a window that keeps a background margin around the mask, so the
    # work is limited to the mask's neighbourhood.
    margin = int(math.ceil(g + f)) + 2
    x0, y0 = max(tight[0] - margin, 0), max(tight[1] - margin, 0)
    x1, y1 = min(tight[2] + margin, w), min(tight[3] + margin, h)
    alpha[y0:y1, x0:x1] = feather(grow(m[y0:y1, x0:x1], g), f)
    if box is not None:
        bx0, by0, bx1, by1 = check_box(box, w, h)
        outside = np.ones((h, w), bool)
        outside[by0:by1, bx0:bx1] = False
        alpha[outside] = 0.0
    return alpha


def paste_back(
    original: np.ndarray,
    generated: np.ndarray,
    mask: object,
    *,
    grow_px: float = 0,
    feather_px: float = 0,
    box: Sequence[int] | None = None,
    alpha: np.ndarray | None = None,
) -> PasteResult:
    """Composite ``generated`` over ``original`` with :func:`blend_alpha` (or the caller's own
    weights ``alpha``: float HxW in [0, 1], 0 outside ``box``; outpainting's seam ramp).

    ``original`` is uint8 RGB or RGBA, ``mask`` is in the original's coordinates. Without ``box``,
    ``generated`` has the original's size; with ``box = (x0, y0, x1, y1)`` it is the crop result of
    exactly the box's size (resize it first with :func:`resize_image`). ``generated`` may be RGB or
    RGBA (its alpha is ignored). Returns the new image and the alpha; pixels with alpha 0 are
    bit-identical to ``original``, pixels with alpha 1 take the generated colour exactly.
    """
    orig = check_image(original, "original image")
    gen = check_image(generated, "generated image")
    h, w = orig.shape[:2]
    m = as_bool_mask(mask, (h, w))
    if not m.any():
        raise InvalidInputError("The mask is empty, so there is nothing to paste back.")
    if box is None:
        ox, oy = 0, 0
        want = (h, w)
    else:
        bx0, by0, bx1, by1 = check_box(box, w, h)
        ox, oy = bx0, by0
        want = (by1 - by0, bx1 - bx0)
    if gen.shape[:2] != want:
        raise InvalidInputError(
            f"The generated image is {gen.shape[1]}x{gen.shape[0]} pixels but {want[1]}x{want[0]} "
            "was expected; resize it to the crop/original size before pasting it back."
        )
    if alpha is None:
        alpha = blend_alpha(m, grow_px, feather_px, box)
    else:
        alpha = np.asarray(alpha, np.float32)
        if alpha.shape != (h, w) or not np.isfinite(alpha).all() or alpha.min() < 0 or alpha.max() > 1:
            raise InvalidInputError(f"The blend weights must be a {w}x{h} array of numbers from 0 to 1.")
        if box is not None:
            inside = np.zeros((h, w), bool)
            inside[oy : oy + want[0], ox : ox + want[1]] = True
            if (alpha[~inside] > 0).any():
                raise InvalidInputError("The blend weights reach outside the generated crop; plan a larger crop.")
    result = orig.copy()
    region = bbox(alpha > 0)
    if region is None:
        return PasteResult(result, alpha)
    x0, y0, x1, y1 = region
    a = alpha[y0:y1, x0:x1]
    sel = a > 0
    base = orig[y0:y1, x0:x1, :3].astype(np.float32)
    top = gen[y0 - oy : y1 - oy, x0 - ox : x1 - ox, :3].astype(np.float32)
    mixed = base + (top - base) * a[..., None]
    out = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    window = result[y0:y1, x0:x1, :3]  # a view into result
    window[sel] = out[sel]
    return PasteResult(result, alpha)


__all__ = [
    "CropPlan",
    "Padding",
    "PasteResult",
    "blend_alpha",
    "crop",
    "crop_region",
    "pad_to_multiple",
    "paste_back",
    "plan_only_masked",
    "resize_image",
    "resize_mask",
    "unpad",
]
