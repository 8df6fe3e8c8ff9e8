"""Mask toolkit: validation, morphology, feathering, clean-up, brush strokes and undo history.

Masks are numpy ``bool`` arrays of shape HxW (True = selected / to repaint). Every public function
accepts ``bool`` masks or ``uint8``-style 0/255 masks (converted by :func:`as_bool_mask`) and returns
a new array; inputs are never modified.

Morphology uses the exact Euclidean disk ``D_r = {(dx, dy) : dx² + dy² <= r²}`` as structuring
element, computed through an exact distance transform, so the cost does not depend on the radius.
``grow`` is a dilation clipped to the image; ``shrink`` is an erosion that treats the area outside
the image as selected, so a mask touching the image border is not pulled away from it. (One
consequence: ``shrink(grow(m, r), r)`` also closes gaps of at most ``r`` pixels between the mask and
the border; away from the border it returns convex shapes such as disks and rectangles exactly.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from inpaint_anything.errors import InvalidInputError

Box = tuple[int, int, int, int]


# --------------------------------------------------------------------------- validation


def as_bool_mask(mask: object, shape: Sequence[int] | None = None, *, name: str = "mask") -> np.ndarray:
    """Return ``mask`` as a C-contiguous ``bool`` HxW array (non-zero = selected).

    Accepts bool, integer (e.g. 0/255 uint8) and float arrays. A HxWx1 array is squeezed. When
    ``shape`` is given (HxW or an image's HxWxC) the mask must have that height and width.
    """
    if mask is None:
        raise InvalidInputError(f"No {name} was given; paint or select the area first.")
    arr = np.asarray(mask)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise InvalidInputError(f"The {name} must be a single-channel HxW array, but it has shape {tuple(arr.shape)}.")
    if arr.dtype != np.bool_:
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise InvalidInputError(f"The {name} has unsupported dtype {arr.dtype}; use bool or uint8 0/255.")
        if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
            raise InvalidInputError(f"The {name} contains NaN or infinite values.")
        arr = arr != 0
    if shape is not None:
        want = (int(shape[0]), int(shape[1]))
        if arr.shape != want:
            raise InvalidInputError(
                f"The {name} is {arr.shape[1]}x{arr.shape[0]} pixels but the image is "
                f"{want[1]}x{want[0]}; they must have the same size."
            )
    return np.ascontiguousarray(arr)


def check_radius(px: float, name: str = "radius") -> float:
    """Validate a non-negative finite radius in pixels."""
    try:
        value = float(px)
    except (TypeError, ValueError):
        raise InvalidInputError(f"The {name} must be a number of pixels, not {px!r}.") from None
    if not np.isfinite(value) or value < 0:
        raise InvalidInputError(f"The {name} must be zero or a positive number of pixels, not {px!r}.")
    return value


# --------------------------------------------------------------------------- distances


def squared_distance(mask: np.ndarray) -> np.ndarray:
    """Exact squared Euclidean distance (float64, integer-valued) from each pixel to the nearest
    False pixel; 0 on False pixels. Outside the image counts as True. ``inf`` if there is no
    False pixel at all."""
    import cv2

    if mask.all():
        return np.full(mask.shape, np.inf)
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    # The precise transform is exact; squared distances between lattice points are integers.
    return np.rint(dist.astype(np.float64) ** 2)


# --------------------------------------------------------------------------- morphology


def grow(mask: object, px: float) -> np.ndarray:
    """Dilate by a Euclidean disk of radius ``px``: every pixel within distance ``px`` of the mask."""
    m = as_bool_mask(mask)
    r = check_radius(px, "grow radius")
    if r == 0 or not m.any():
        return m.copy()
    return squared_distance(~m) <= r * r


def shrink(mask: object, px: float) -> np.ndarray:
    """Erode by a Euclidean disk of radius ``px``: keep pixels farther than ``px`` from any unselected
    pixel. The image border does not erode the mask."""
    m = as_bool_mask(mask)
    r = check_radius(px, "shrink radius")
    if r == 0:
        return m.copy()
    return squared_distance(m) > r * r


def feather(mask: object, px: float) -> np.ndarray:
    """Soft ``float32`` alpha in [0, 1] with a linear edge across the mask boundary.

    Alpha is exactly 1 on ``shrink(mask, px)``, exactly 0 farther than ``px`` from the mask, strictly
    between 0 and 1 in the band in between, at least 0.5 on the mask and below 0.5 outside it.
    ``px == 0`` gives the hard mask.
    """
    m = as_bool_mask(mask)
    r = check_radius(px, "feather radius")
    if r == 0 or not m.any() or m.all():
        return m.astype(np.float32)
    d_in = np.sqrt(squared_distance(m))
    d_out2 = squared_distance(~m)
    # Signed distance to the boundary, which lies half a pixel beyond the outermost selected pixel.
    signed = np.where(m, d_in - 0.5, 0.5 - np.sqrt(d_out2))
    alpha = np.clip(0.5 + signed / (2.0 * r + 1.0), 0.0, 1.0)
    alpha[m & (d_in * d_in > r * r)] = 1.0
    alpha[~m & (d_out2 > r * r)] = 0.0
    return alpha.astype(np.float32)


def invert(mask: object) -> np.ndarray:
    """Select what was not selected."""
    return ~as_bool_mask(mask)


def union(masks: Iterable[object], shape: Sequence[int] | None = None) -> np.ndarray:
    """Pixel-wise OR of masks of the same size. ``shape`` is required when ``masks`` is empty."""
    items = list(masks)
    if not items:
        if shape is None:
            raise InvalidInputError("No masks to combine.")
        return np.zeros((int(shape[0]), int(shape[1])), bool)
    first = as_bool_mask(items[0], shape, name="mask 1")
    out = first.copy()
    for i, item in enumerate(items[1:], start=2):
        out |= as_bool_mask(item, first.shape, name=f"mask {i}")
    return out


# --------------------------------------------------------------------------- clean-up


def _components(mask: np.ndarray, connectivity: int) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=connectivity)
    return labels, stats[:, cv2.CC_STAT_AREA].astype(np.int64)


def fill_holes(mask: object, max_area: int | None = None) -> np.ndarray:
    """Fill unselected regions that are fully enclosed by the mask (4-connected background, not
    touching the image border). With ``max_area`` only holes of at most that many pixels are filled."""
    m = as_bool_mask(mask)
    if max_area is not None and (not isinstance(max_area, (int, np.integer)) or max_area < 0):
        raise InvalidInputError(f"The maximum hole area must be a non-negative whole number, not {max_area!r}.")
    if m.all() or not m.any():
        return m.copy()
    labels, areas = _components(~m, 4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    is_hole = np.ones(len(areas), bool)
    is_hole[0] = False  # label 0 is the mask itself
    is_hole[border] = False
    if max_area is not None:
        is_hole &= areas <= max_area
    return m | is_hole[labels]


def remove_specks(mask: object, min_area: int) -> np.ndarray:
    """Drop selected regions (8-connected) with fewer than ``min_area`` pixels."""
    m = as_bool_mask(mask)
    if not isinstance(min_area, (int, np.integer)) or min_area < 0:
        raise InvalidInputError(f"The minimum area must be a non-negative whole number, not {min_area!r}.")
    if min_area <= 1 or not m.any():
        return m.copy()
    labels, areas = _components(m, 8)
    keep = areas >= min_area
    keep[0] = False
    return keep[labels]


# --------------------------------------------------------------------------- brush


def stroke_mask(shape: Sequence[int], points: object, radius: float) -> np.ndarray:
    """Pixels whose centre lies within ``radius`` of the polyline through ``points`` ((x, y) pixel
    coordinates, floats allowed, may lie outside the image). One point paints a disk."""
    r = check_radius(radius, "brush radius")
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim == 1 and pts.size == 2:
        pts = pts[None]
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
        raise InvalidInputError("A brush stroke needs at least one (x, y) point.")
    if not np.isfinite(pts).all():
        raise InvalidInputError("A brush stroke point is not a finite number.")
    h, w = int(shape[0]), int(shape[1])
    out = np.zeros((h, w), bool)
    starts = pts if len(pts) == 1 else pts[:-1]
    ends = pts if len(pts) == 1 else pts[1:]
    for a, b in zip(starts, ends, strict=True):
        x0 = max(int(np.floor(min(a[0], b[0]) - r)), 0)
        x1 = min(int(np.ceil(max(a[0], b[0]) + r)) + 1, w)
        y0 = max(int(np.floor(min(a[1], b[1]) - r)), 0)
        y1 = min(int(np.ceil(max(a[1], b[1]) + r)) + 1, h)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        d = b - a
        length2 = float(d @ d)
        if length2 > 0:
            t = np.clip(((xx - a[0]) * d[0] + (yy - a[1]) * d[1]) / length2, 0.0, 1.0)
        else:
            t = 0.0
        dx = xx - (a[0] + t * d[0])
        dy = yy - (a[1] + t * d[1])
        out[y0:y1, x0:x1] |= dx * dx + dy * dy <= r * r + 1e-9
    return out


def apply_stroke(mask: object, points: object, radius: float, mode: str = "add") -> np.ndarray:
    """Paint (``mode="add"``) or erase (``"subtract"``) a round brush stroke along ``points``."""
    m = as_bool_mask(mask)
    if mode not in ("add", "subtract"):
        raise InvalidInputError(f"Unknown brush mode {mode!r}; use 'add' or 'subtract'.")
    painted = stroke_mask(m.shape, points, radius)
    return (m | painted) if mode == "add" else (m & ~painted)


# --------------------------------------------------------------------------- boxes


def bbox(mask: object) -> Box | None:
    """``(x0, y0, x1, y1)`` of the selected pixels with exclusive ``x1``/``y1``; None if empty."""
    m = as_bool_mask(mask)
    rows = np.flatnonzero(m.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(m.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def bbox_with_padding(mask: object, pad: int, shape: Sequence[int] | None = None) -> Box | None:
    """:func:`bbox` grown by ``pad`` pixels on every side and clipped to the image (``shape`` = HxW
    or HxWxC of the image, default the mask's); None if the mask is empty."""
    m = as_bool_mask(mask, shape)
    if not isinstance(pad, (int, np.integer)) or pad < 0:
        raise InvalidInputError(f"The padding must be a non-negative whole number of pixels, not {pad!r}.")
    box = bbox(m)
    if box is None:
        return None
    h, w = m.shape
    x0, y0, x1, y1 = box
    return max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, w), min(y1 + pad, h)


# --------------------------------------------------------------------------- history


class MaskHistory:
    """Undo/redo of one session's mask edits, keeping at most ``max_depth`` undo steps.

    States are stored as bit-packed copies, so later changes to the caller's arrays do not leak in.
    ``push`` records a new current state (and forgets the redo states); pushing a mask equal to the
    current one is ignored. ``undo``/``redo`` return the new current mask, or None (changing
    nothing) when there is nothing to undo/redo.
    """

    def __init__(self, max_depth: int = 30):
        if not isinstance(max_depth, (int, np.integer)) or max_depth < 0:
            raise InvalidInputError(f"The undo depth must be a non-negative whole number, not {max_depth!r}.")
        self.max_depth = int(max_depth)
        self._past: list[tuple[tuple[int, int], bytes]] = []  # last item = current state
        self._future: list[tuple[tuple[int, int], bytes]] = []

    @staticmethod
    def _pack(mask: object) -> tuple[tuple[int, int], bytes]:
        m = as_bool_mask(mask)
        return (int(m.shape[0]), int(m.shape[1])), np.packbits(m, axis=None).tobytes()

    @staticmethod
    def _unpack(state: tuple[tuple[int, int], bytes]) -> np.ndarray:
        shape, data = state
        bits = np.unpackbits(np.frombuffer(data, np.uint8), count=shape[0] * shape[1])
        return bits.reshape(shape).astype(bool)

    def push(self, mask: object) -> None:
        state = self._pack(mask)
        if self._past and self._past[-1] == state:
            return
        self._past.append(state)
        del self._past[: max(len(self._past) - self.max_depth - 1, 0)]
        self._future.clear()

    def current(self) -> np.ndarray | None:
        return self._unpack(self._past[-1]) if self._past else None

    def can_undo(self) -> bool:
        return len(self._past) > 1

    def can_redo(self) -> bool:
        return bool(self._future)

    def undo(self) -> np.ndarray | None:
        if not self.can_undo():
            return None
        self._future.append(self._past.pop())
        return self.current()

    def redo(self) -> np.ndarray | None:
        if not self._future:
            return None
        self._past.append(self._future.pop())
        return self.current()

    def clear(self) -> None:
        self._past.clear()
        self._future.clear()

    def __len__(self) -> int:
        return len(self._past)


def mask_from_picture(image: np.ndarray) -> np.ndarray:
    """A mask picture -> bool HxW: its alpha where it has transparency, else luminance >= 128."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        return arr >= 128
    if arr.shape[2] == 4 and (arr[..., 3] < 255).any():
        return arr[..., 3] >= 128
    rgb = arr[..., :3].astype(np.uint32)
    return (rgb[..., 0] * 299 + rgb[..., 1] * 587 + rgb[..., 2] * 114 + 500) // 1000 >= 128


__all__ = [
    "Box",
    "MaskHistory",
    "apply_stroke",
    "as_bool_mask",
    "mask_from_picture",
    "bbox",
    "bbox_with_padding",
    "check_radius",
    "feather",
    "fill_holes",
    "grow",
    "invert",
    "remove_specks",
    "shrink",
    "squared_distance",
    "stroke_mask",
    "union",
]
