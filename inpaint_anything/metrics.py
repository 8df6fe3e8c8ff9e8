"""Seam metrics for inpainting results: how visible is the mask boundary?

* :func:`seam_delta_e` — mean CIEDE2000 colour difference between the local mean colour just inside
  and just outside the mask boundary (0 = no colour step at the seam).
* :func:`boundary_gradient_ratio` — mean gradient magnitude on the boundary divided by the mean in
  nearby rings inside and outside (about 1 = the boundary is no edgier than its surroundings).
"""

from __future__ import annotations

import math

import numpy as np

from inpaint_anything.colormatch import rgb_to_lab
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.geometry import check_image
from inpaint_anything.masks import as_bool_mask, bbox, check_radius, grow, shrink


def delta_e_ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference (kL = kC = kH = 1) between Lab arrays (last axis 3)."""
    lab1 = np.asarray(lab1, np.float64)
    lab2 = np.asarray(lab2, np.float64)
    L1, a1, b1 = np.moveaxis(lab1, -1, 0)
    L2, a2, b2 = np.moveaxis(lab2, -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2.0
    c_bar7 = c_bar**7
    g = 0.5 * (1.0 - np.sqrt(c_bar7 / (c_bar7 + 25.0**7)))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0
    chroma_zero = (c1p * c2p) == 0

    dL = L2 - L1
    dC = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dh = np.where(chroma_zero, 0.0, dh)
    dH = 2.0 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2.0)

    L_bar = (L1 + L2) / 2.0
    cp_bar = (c1p + c2p) / 2.0
    h_sum = h1p + h2p
    h_bar = np.where(
        np.abs(h1p - h2p) <= 180.0, h_sum / 2.0, np.where(h_sum < 360.0, (h_sum + 360.0) / 2.0, (h_sum - 360.0) / 2.0)
    )
    h_bar = np.where(chroma_zero, h_sum, h_bar)
    t = (
        1.0
        - 0.17 * np.cos(np.radians(h_bar - 30.0))
        + 0.24 * np.cos(np.radians(2.0 * h_bar))
        + 0.32 * np.cos(np.radians(3.0 * h_bar + 6.0))
        - 0.20 * np.cos(np.radians(4.0 * h_bar - 63.0))
    )
    d_theta = 30.0 * np.exp(-(((h_bar - 275.0) / 25.0) ** 2))
    cp_bar7 = cp_bar**7
    r_c = 2.0 * np.sqrt(cp_bar7 / (cp_bar7 + 25.0**7))
    s_l = 1.0 + 0.015 * (L_bar - 50.0) ** 2 / np.sqrt(20.0 + (L_bar - 50.0) ** 2)
    s_c = 1.0 + 0.045 * cp_bar
    s_h = 1.0 + 0.015 * cp_bar * t
    r_t = -np.sin(np.radians(2.0 * d_theta)) * r_c
    tl, tc, th = dL / s_l, dC / s_c, dH / s_h
    return np.sqrt(np.maximum(tl * tl + tc * tc + th * th + r_t * tc * th, 0.0))


def _prepare(image: object, mask: object, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate and cut both to the mask's neighbourhood (exact for the morphology used here)."""
    img = check_image(image)
    m = as_bool_mask(mask, img.shape)
    box = bbox(m)
    if box is None:
        raise InvalidInputError("The mask is empty, so it has no seam to measure.")
    if m.all():
        raise InvalidInputError("The mask covers the whole image, so it has no seam to measure.")
    h, w = m.shape
    x0, y0 = max(box[0] - margin, 0), max(box[1] - margin, 0)
    x1, y1 = min(box[2] + margin, w), min(box[3] + margin, h)
    return img[y0:y1, x0:x1, :3], m[y0:y1, x0:x1]


def seam_delta_e(image: np.ndarray, mask: object, ring_px: float = 3) -> float:
    """Mean CIEDE2000 across the mask boundary.

    At every boundary pixel of the mask, the mean Lab colour of the band of ``ring_px`` pixels just
    inside the mask and of the band just outside it are taken over a local window of
    ``(4 * ring_px + 1)`` pixels, and their CIEDE2000 difference is averaged over the boundary.
    """
    import cv2

    r = check_radius(ring_px, "seam ring width")
    if r < 1:
        raise InvalidInputError("The seam ring must be at least 1 pixel wide.")
    half = int(math.ceil(2 * r))
    img, m = _prepare(image, mask, half + int(math.ceil(r)) + 2)
    inside = m & ~shrink(m, r)
    outside = grow(m, r) & ~m
    edge = m & ~shrink(m, 1)
    lab = rgb_to_lab(img).astype(np.float32)
    k = (2 * half + 1, 2 * half + 1)

    def local_mean(band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        weight = band.astype(np.float32)
        count = cv2.boxFilter(weight, -1, k, normalize=False, borderType=cv2.BORDER_CONSTANT)
        total = cv2.boxFilter(lab * weight[..., None], -1, k, normalize=False, borderType=cv2.BORDER_CONSTANT)
        return total, count

    sum_in, n_in = local_mean(inside)
    sum_out, n_out = local_mean(outside)
    valid = edge & (n_in > 0.5) & (n_out > 0.5)
    if not valid.any():
        raise InvalidInputError("The mask has no boundary inside the image to measure.")
    mean_in = sum_in[valid] / n_in[valid][:, None]
    mean_out = sum_out[valid] / n_out[valid][:, None]
    return float(delta_e_ciede2000(mean_in, mean_out).mean())


def gradient_magnitude(image: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude (float32 HxW) of the Lab lightness of a uint8 RGB(A) image."""
    import cv2

    light = rgb_to_lab(check_image(image)[..., :3])[..., 0]
    gx = cv2.Sobel(light, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT_101)
    gy = cv2.Sobel(light, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT_101)
    return cv2.magnitude(gx, gy)


def boundary_gradient_ratio(
    image: np.ndarray, mask: object, band_px: float = 1, context_px: float = 4, gap_px: float = 1
) -> float:
    """Mean gradient magnitude within ``band_px`` of the mask boundary (both sides) divided by the
    mean of the average gradient in the rings ``context_px`` wide that start ``gap_px`` beyond the
    band, inside and outside. A hard or haloed seam gives values well above 1; a flat image gives 1.
    """
    band = check_radius(band_px, "boundary band width")
    ctx = check_radius(context_px, "context ring width")
    gap = check_radius(gap_px, "gap")
    if band < 1 or ctx < 1:
        raise InvalidInputError("The boundary band and the context rings must be at least 1 pixel wide.")
    img, m = _prepare(image, mask, int(math.ceil(band + gap + ctx)) + 3)
    grad = gradient_magnitude(img)
    boundary = grow(m, band) & ~shrink(m, band)
    inner = shrink(m, band + gap) & ~shrink(m, band + gap + ctx)
    outer = grow(m, band + gap + ctx) & ~grow(m, band + gap)
    rings = [grad[ring].mean() for ring in (inner, outer) if ring.any()]
    if not boundary.any() or not rings:
        raise InvalidInputError("The mask has no boundary inside the image to measure.")
    eps = 1e-6
    return float((grad[boundary].mean() + eps) / (float(np.mean(rings)) + eps))


__all__ = ["boundary_gradient_ratio", "delta_e_ciede2000", "gradient_magnitude", "seam_delta_e"]
