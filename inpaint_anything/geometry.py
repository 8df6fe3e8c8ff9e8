"""Image geometry for inpainting: input validation, the "only masked" crop plan, padding to a
multiple of the latent grid, and resizing.

Sizes are ``(width, height)``; boxes are ``(x0, y0, x1, y1)`` in pixels with exclusive ``x1``/``y1``;
arrays are indexed ``[y, x]``. The whole-image path pads and never centre-crops, so
``unpad(pad_to_multiple(image, m)...)`` gives back exactly the input size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.masks import Box, as_bool_mask, bbox

Size = tuple[int, int]


def check_image(image: object, name: str = "image") -> np.ndarray:
    """Return ``image`` as a uint8 HxWx3 (RGB) or HxWx4 (RGBA) array, or raise InvalidInputError."""
    if image is None:
        raise InvalidInputError(f"No {name} was given.")
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise InvalidInputError(f"The {name} must be 8-bit (uint8) RGB or RGBA, not {arr.dtype}.")
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InvalidInputError(
            f"The {name} must be an RGB or RGBA picture (HxWx3 or HxWx4), but it has shape {tuple(arr.shape)}."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInputError(f"The {name} has no pixels.")
    return arr


def check_box(box: Sequence[int], width: int, height: int) -> Box:
    """Validate a non-empty ``(x0, y0, x1, y1)`` box inside a ``width`` x ``height`` image."""
    try:
        x0, y0, x1, y1 = (int(v) for v in box)
    except (TypeError, ValueError):
        raise InvalidInputError(f"A crop box must be four whole numbers (x0, y0, x1, y1), not {box!r}.") from None
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise InvalidInputError(f"The crop box {box!r} is empty or not inside the {width}x{height} image.")
    return x0, y0, x1, y1


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidInputError(f"The {what} must be a positive whole number, not {value!r}.")
    return int(value)


def _check_size(size: Sequence[int], what: str = "image size") -> Size:
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise InvalidInputError(f"The {what} must be (width, height), not {size!r}.") from None
    if w < 1 or h < 1:
        raise InvalidInputError(f"The {what} must be positive, not {size!r}.")
    return w, h


# --------------------------------------------------------------------------- only-masked crop


def _expand(lo: int, hi: int, length: int, limit: int) -> tuple[int, int]:
    """Grow ``[lo, hi)`` to ``length`` (at most ``limit``) around its centre, shifted to fit ``[0, limit)``."""
    length = min(max(length, hi - lo), limit)
    extra = length - (hi - lo)
    lo -= extra // 2
    lo = min(max(lo, 0), limit - length)
    return lo, lo + length


def crop_region(
    mask: object, padding: int, image_size: Sequence[int], target_aspect: float | None = None, multiple: int = 8
) -> Box:
    """Box around the mask's bounding box plus ``padding`` pixels, clipped to the image.

    ``image_size`` is ``(width, height)``. The box is then widened or heightened towards
    ``target_aspect`` (width / height) and each side grown to a multiple of ``multiple``, both only as
    far as the image allows; the box never shrinks, so it always covers the padded mask bbox.
    """
    w, h = _check_size(image_size)
    m = as_bool_mask(mask, (h, w))
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise InvalidInputError(f"The mask padding must be zero or a positive whole number, not {padding!r}.")
    multiple = _positive_int(multiple, "size multiple")
    box = bbox(m)
    if box is None:
        raise InvalidInputError("The mask is empty; paint or select the area to inpaint first.")
    x0, y0, x1, y1 = box
    x0, y0, x1, y1 = max(x0 - padding, 0), max(y0 - padding, 0), min(x1 + padding, w), min(y1 + padding, h)
    if target_aspect is not None:
        aspect = float(target_aspect)
        if not math.isfinite(aspect) or aspect <= 0:
            raise InvalidInputError(f"The target aspect ratio must be a positive number, not {target_aspect!r}.")
        bw, bh = x1 - x0, y1 - y0
        if bw / bh < aspect:
            x0, x1 = _expand(x0, x1, round(bh * aspect), w)
        else:
            y0, y1 = _expand(y0, y1, round(bw / aspect), h)
    x0, x1 = _expand(x0, x1, -(-(x1 - x0) // multiple) * multiple, w)
    y0, y1 = _expand(y0, y1, -(-(y1 - y0) // multiple) * multiple, h)
    return x0, y0, x1, y1


@dataclass(frozen=True)
class CropPlan:
    """Where to crop for "only masked" inpainting and at which size to process the crop."""

    box: Box  # (x0, y0, x1, y1) in the original image
    process_size: Size  # (width, height) given to the model, multiples of ``multiple``

    @property
    def crop_size(self) -> Size:
        return self.box[2] - self.box[0], self.box[3] - self.box[1]

    @property
    def scale(self) -> tuple[float, float]:
        """Processing size divided by crop size, per axis (x, y)."""
        cw, ch = self.crop_size
        return self.process_size[0] / cw, self.process_size[1] / ch


def plan_only_masked(image_size: Sequence[int], mask: object, padding: int, native_size: int, multiple: int = 8) -> CropPlan:
    """Plan an "only masked" pass: crop the padded mask region and scale it so its long side is
    ``native_size`` (the model's native resolution), both sides rounded to ``multiple``.

    The box is then widened towards the processing aspect ratio (where the image allows) so the
    resize distorts as little as possible.
    """
    multiple = _positive_int(multiple, "size multiple")
    native = _positive_int(native_size, "native resolution")
    if native < multiple:
        raise InvalidInputError(f"The native resolution {native} is smaller than the size multiple {multiple}.")
    first = crop_region(mask, padding, image_size, None, multiple=1)
    cw, ch = first[2] - first[0], first[3] - first[1]
    scale = native / max(cw, ch)
    pw = max(multiple, round(cw * scale / multiple) * multiple)
    ph = max(multiple, round(ch * scale / multiple) * multiple)
    box = crop_region(mask, padding, image_size, pw / ph, multiple=1)
    return CropPlan(box=box, process_size=(pw, ph))


def crop(image: np.ndarray, box: Sequence[int]) -> np.ndarray:
    """A copy of ``image[y0:y1, x0:x1]`` (image or mask)."""
    arr = np.asarray(image)
    if arr.ndim not in (2, 3):
        raise InvalidInputError(f"Cannot crop an array of shape {tuple(arr.shape)}.")
    x0, y0, x1, y1 = check_box(box, arr.shape[1], arr.shape[0])
    return arr[y0:y1, x0:x1].copy()


def resize_image(image: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Resize a uint8 image to ``(width, height)``: area averaging when shrinking, Lanczos when
    enlarging. Returns a copy even when the size is unchanged."""
    import cv2

    arr = check_image(image)
    w, h = _check_size(size, "target size")
    if (w, h) == (arr.shape[1], arr.shape[0]):
        return arr.copy()
    shrinking = w * h < arr.shape[0] * arr.shape[1]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    return np.ascontiguousarray(cv2.resize(arr, (w, h), interpolation=interp))


def resize_mask(mask: object, size: Sequence[int]) -> np.ndarray:
    """Resize a mask to ``(width, height)`` (bilinear, thresholded at one half)."""
    import cv2

    m = as_bool_mask(mask)
    w, h = _check_size(size, "target size")
    if (w, h) == (m.shape[1], m.shape[0]):
        return m.copy()
    soft = cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return soft >= 0.5


# --------------------------------------------------------------------------- padding


@dataclass(frozen=True)
class Padding:
    """Pixels added on each side by :func:`pad_to_multiple`."""

    top: int
    bottom: int
    left: int
    right: int


_PAD_MODES = {"reflect": "reflect", "edge": "edge"}


def pad_to_multiple(image: np.ndarray, multiple: int = 8, mode: str = "reflect") -> tuple[np.ndarray, Padding]:
    """Pad an image (HxWxC) or mask (HxW) so both sides are multiples of ``multiple``.

    The padding is split between the two sides of each axis. ``mode`` is ``"reflect"`` (mirror
    without repeating the edge pixel) or ``"edge"`` (repeat the edge pixel). Undo with :func:`unpad`.
    """
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInputError(f"Cannot pad an array of shape {tuple(arr.shape)}; expected HxW or HxWxC.")
    multiple = _positive_int(multiple, "size multiple")
    if mode not in _PAD_MODES:
        raise InvalidInputError(f"Unknown padding mode {mode!r}; use 'reflect' or 'edge'.")
    h, w = arr.shape[:2]
    dh, dw = -h % multiple, -w % multiple
    pad = Padding(top=dh // 2, bottom=dh - dh // 2, left=dw // 2, right=dw - dw // 2)
    if dh == 0 and dw == 0:
        return arr.copy(), pad
    widths = [(pad.top, pad.bottom), (pad.left, pad.right)] + [(0, 0)] * (arr.ndim - 2)
    np_mode = _PAD_MODES[mode]
    if np_mode == "reflect" and min(h, w) == 1:
        np_mode = "edge"  # a single row/column has nothing to mirror
    return np.pad(arr, widths, mode=np_mode), pad


def unpad(image: np.ndarray, padding: Padding) -> np.ndarray:
    """Remove the border added by :func:`pad_to_multiple` (returns a copy)."""
    arr = np.asarray(image)
    if arr.ndim not in (2, 3):
        raise InvalidInputError(f"Cannot unpad an array of shape {tuple(arr.shape)}.")
    h, w = arr.shape[:2]
    if padding.top + padding.bottom >= h or padding.left + padding.right >= w:
        raise InvalidInputError(f"The {w}x{h} result is too small for the recorded padding {padding}; was it resized?")
    return arr[padding.top : h - padding.bottom, padding.left : w - padding.right].copy()


__all__ = [
    "CropPlan",
    "Padding",
    "Size",
    "check_box",
    "check_image",
    "crop",
    "crop_region",
    "pad_to_multiple",
    "plan_only_masked",
    "resize_image",
    "resize_mask",
    "unpad",
]
