"""Colour matching of generated content to its surroundings (CIE Lab mean/std transfer).

Diffusion models (and their VAEs) often shift the colour of a repainted area slightly. The shift is
measured in a ring just outside the mask, where the generated picture should look like the
original, and undone inside the region that will be blended back.
"""

from __future__ import annotations

import numpy as np

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.geometry import check_image
from inpaint_anything.masks import as_bool_mask, check_radius, grow

# Standard deviations are only rescaled within this range, so a flat or busy ring cannot blow up
# or flatten the fill.
_STD_RATIO_LIMITS = (0.5, 2.0)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB values (any leading shape, last axis 3) to float32 CIE Lab (D65; L in 0..100)."""
    import cv2

    arr = np.asarray(rgb)
    flat = arr.reshape(-1, 1, 3).astype(np.float32) / 255.0
    return cv2.cvtColor(flat, cv2.COLOR_RGB2Lab).reshape(arr.shape[:-1] + (3,))


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """float Lab values (last axis 3) back to uint8 RGB (rounded and clipped)."""
    import cv2

    arr = np.asarray(lab, np.float32)
    rgb = cv2.cvtColor(arr.reshape(-1, 1, 3), cv2.COLOR_Lab2RGB).reshape(arr.shape)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def match_colors(
    original: np.ndarray, generated: np.ndarray, mask: object, ring_px: float = 8, *, region: object = None, strength: float = 1.0
) -> np.ndarray:
    """Return a copy of ``generated`` whose colours inside ``region`` are corrected so that the ring
    of ``ring_px`` pixels just outside ``mask`` has the original's Lab mean and (clamped) std.

    ``original`` and ``generated`` have the same height and width (RGB or RGBA; alpha channels are
    left alone). ``region`` (bool mask or float alpha, > 0 = may change; default the mask itself) is
    usually the paste-back alpha; pixels outside it are bit-identical to ``generated``. ``strength``
    in [0, 1] scales the correction. If the ring is empty (the mask covers the image) nothing changes.
    """
    orig = check_image(original, "original image")
    gen = check_image(generated, "generated image")
    if gen.shape[:2] != orig.shape[:2]:
        raise InvalidInputError(
            f"The generated image is {gen.shape[1]}x{gen.shape[0]} but the original is "
            f"{orig.shape[1]}x{orig.shape[0]}; colour matching needs both at the same size."
        )
    m = as_bool_mask(mask, orig.shape)
    if not m.any():
        raise InvalidInputError("The mask is empty; there is nothing to colour-match.")
    ring_r = check_radius(ring_px, "colour-match ring width")
    if ring_r < 1:
        raise InvalidInputError("The colour-match ring must be at least 1 pixel wide.")
    try:
        s = float(strength)
    except (TypeError, ValueError):
        raise InvalidInputError(f"The colour-match strength must be a number, not {strength!r}.") from None
    if not 0.0 <= s <= 1.0:
        raise InvalidInputError(f"The colour-match strength must be between 0 and 1, not {strength!r}.")
    if region is None:
        target = m
    else:
        arr = np.asarray(region)
        if arr.ndim != 2 or arr.shape != m.shape:
            raise InvalidInputError("The colour-match region must be a HxW array the size of the image.")
        target = arr > 0

    out = gen.copy()
    ring = grow(m, ring_r) & ~m
    if not ring.any() or not target.any() or s == 0.0:
        return out
    lab_o = rgb_to_lab(orig[ring][:, :3]).astype(np.float64)
    lab_g = rgb_to_lab(gen[ring][:, :3]).astype(np.float64)
    mu_o, sd_o = lab_o.mean(0), lab_o.std(0)
    mu_g, sd_g = lab_g.mean(0), lab_g.std(0)
    ratio = np.where(sd_g > 1e-3, sd_o / np.maximum(sd_g, 1e-3), 1.0)
    ratio = np.clip(ratio, *_STD_RATIO_LIMITS)
    pixels = rgb_to_lab(gen[target][:, :3]).astype(np.float64)
    corrected = (pixels - mu_g) * ratio + mu_o
    mixed = pixels + s * (corrected - pixels)
    mixed[:, 0] = np.clip(mixed[:, 0], 0.0, 100.0)
    out_rgb = out[..., :3]  # a view into out
    out_rgb[target] = lab_to_rgb(mixed)
    return out


__all__ = ["lab_to_rgb", "match_colors", "rgb_to_lab"]
