"""'Segment everything': a point grid over the image, filtered on the decoder's low-res logits.

``SamAutomaticMaskGenerator`` upsamples every candidate mask (3 per point) to the full image before
it filters them, which dominates its run time and makes its memory grow with the image. Here the
scores, stability, area and box NMS are computed on the ``S x S`` low-res logits (``S = 256``), and
only the kept segments are upsampled: once to a label map of at most ``max_side`` pixels, and to
full resolution only when a segment is selected (:meth:`SegmentMap.mask`). The embedding is the
session's cached one; nothing is re-encoded.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.masks import as_bool_mask

if TYPE_CHECKING:
    from inpaint_anything.jobs import JobControl
    from inpaint_anything.segment.session import Geometry

_MAX_PENDING = 512  # candidates kept between NMS passes (float16 low-res logits each)


def palette(n: int) -> np.ndarray:
    """``n`` distinct, deterministic colours (uint8 ``[n, 3]``): golden-ratio hues, varied saturation/value."""
    i = np.arange(n, dtype=np.float64)
    hue = (i * 0.618033988749895 + 0.1) % 1.0
    sat = 0.55 + 0.15 * (i % 3)
    val = 0.95 - 0.15 * ((i // 3) % 2)
    k = (hue * 6.0)[:, None] + np.array([5.0, 3.0, 1.0])  # HSV -> RGB, one formula per channel
    k = k % 6.0
    rgb = val[:, None] - val[:, None] * sat[:, None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return np.round(rgb * 255.0).astype(np.uint8)


@dataclass
class SegmentMap:
    """The segments of one image, smallest first.

    ``labels`` (int32, ``map_size``) holds at every pixel the index of the smallest segment covering
    it (-1: none), so small segments painted over large ones stay selectable. ``areas`` are pixel
    counts at full resolution (measured on the label-map grid and scaled when it is smaller),
    ``boxes`` are ``(x0, y0, x1, y1)`` full-resolution pixel edges, ``scores`` the predicted IoU.
    """

    image_size: tuple[int, int]
    labels: np.ndarray
    areas: np.ndarray
    scores: np.ndarray
    stability: np.ndarray
    boxes: np.ndarray
    _logits: np.ndarray = field(repr=False)  # float16 [K, hv, wv] low-res logits of the segments
    _lowres_boxes: np.ndarray = field(repr=False)  # int [K, 4] inclusive low-res bounds
    _scale: tuple[float, float] = field(repr=False)  # low-res units per full-res pixel (x, y)

    def __len__(self) -> int:
        return int(self.areas.shape[0])

    @property
    def map_size(self) -> tuple[int, int]:
        return int(self.labels.shape[0]), int(self.labels.shape[1])

    def color_map(self, background: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
        """The label map as an RGB image (uint8, ``map_size``), one fixed colour per segment."""
        colours = np.vstack([palette(len(self)), np.array([background], np.uint8)])
        return colours[self.labels]  # -1 picks the last row: the background colour

    def mask(self, index: int, size: tuple[int, int] | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """Segment ``index`` as a bool mask at full resolution (or ``size``), upsampled on demand.

        With ``out`` (a bool array of that size) the segment is OR-ed into it instead.
        """
        if not 0 <= int(index) < len(self):
            raise InvalidInputError(f"There is no segment {index}; this map has {len(self)} segments.")
        h, w = self.image_size
        out_h, out_w = size if size is not None else (h, w)
        if out is None:
            out = np.zeros((out_h, out_w), dtype=bool)
        sx = self._scale[0] * w / out_w
        sy = self._scale[1] * h / out_h
        crop = _upscaled_crop(self._logits[index], self._lowres_boxes[index], sx, sy, out_w, out_h)
        if crop is not None:
            x0, y0, piece = crop
            out[y0 : y0 + piece.shape[0], x0 : x0 + piece.shape[1]] |= piece
        return out


def _target_span(lo: int, hi: int, scale: float, limit: int) -> tuple[int, int]:
    """Target pixels whose sample position ``(t + 0.5) * scale - 0.5`` lies in ``(lo - 1, hi + 1)``."""
    start = math.floor((lo - 0.5) / scale - 0.5)
    stop = math.ceil((hi + 1.5) / scale - 0.5) + 1
    return max(0, start), min(limit, stop)


def _upscaled_crop(
    logits: np.ndarray, box: np.ndarray, sx: float, sy: float, out_w: int, out_h: int
) -> tuple[int, int, np.ndarray] | None:
    """The part of the upsampled mask that can be non-empty: ``(x0, y0, bool crop)``, or None.

    Bilinear sampling of the low-res logits with pixel centres aligned (``align_corners=False``),
    done by ``cv2.warpAffine`` only over the segment's bounding box, so memory follows the segment.
    """
    import cv2

    x0, x1 = _target_span(int(box[0]), int(box[2]), sx, out_w)
    y0, y1 = _target_span(int(box[1]), int(box[3]), sy, out_h)
    if x1 <= x0 or y1 <= y0:
        return None
    matrix = np.array([[sx, 0.0, (x0 + 0.5) * sx - 0.5], [0.0, sy, (y0 + 0.5) * sy - 0.5]], np.float64)
    src = np.ascontiguousarray(logits, dtype=np.float32)
    plane = cv2.warpAffine(
        src, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    return x0, y0, plane > 0.0


def _point_grid(n: int, h: int, w: int) -> np.ndarray:
    """``n x n`` points at cell centres, as (x, y) pixels of an ``h x w`` image."""
    offsets = (np.arange(n, dtype=np.float64) + 0.5) / n
    xs, ys = np.meshgrid(offsets * w, offsets * h)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _nms(boxes: Any, scores: Any, thresh: float) -> Any:
    import torch
    from torchvision.ops import nms

    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long)
    return nms(boxes.float(), scores.float(), float(thresh))


def _filter_batch(low: Any, scores: Any, geo: Geometry, opts: dict[str, float]) -> dict[str, Any]:
    """Score, stability, area and emptiness filters on one batch of low-res logits."""
    import torch

    hv = math.ceil(geo.input_size[0] * geo.lowres / geo.img_size)
    wv = math.ceil(geo.input_size[1] * geo.lowres / geo.img_size)
    low = low[..., :hv, :wv].flatten(0, 1)
    scores = scores.flatten()
    keep = scores >= opts["pred_iou_thresh"]
    low, scores = low[keep], scores[keep]
    inter = (low > 1.0).sum(dim=(1, 2)).float()
    union = (low > -1.0).sum(dim=(1, 2)).float()
    stability = torch.where(union > 0, inter / union.clamp(min=1.0), torch.zeros_like(union))
    masks = low > 0.0
    area = masks.sum(dim=(1, 2))
    valid_area = geo.input_size[0] * geo.input_size[1] * (geo.lowres / geo.img_size) ** 2
    keep = (stability >= opts["stability_thresh"]) & (area > 0) & (area >= opts["min_area_frac"] * valid_area)
    low, scores, stability, masks = low[keep], scores[keep], stability[keep], masks[keep]
    rows, cols = masks.any(dim=2), masks.any(dim=1)
    ar_h = torch.arange(hv).expand_as(rows)
    ar_w = torch.arange(wv).expand_as(cols)
    y0 = torch.where(rows, ar_h, hv).min(dim=1).values
    y1 = torch.where(rows, ar_h, -1).max(dim=1).values
    x0 = torch.where(cols, ar_w, wv).min(dim=1).values
    x1 = torch.where(cols, ar_w, -1).max(dim=1).values
    boxes = torch.stack([x0, y0, x1, y1], dim=1)
    return {"logits": low.to(torch.float16), "scores": scores, "stability": stability, "boxes": boxes}


def _concat(parts: list[dict[str, Any]]) -> dict[str, Any]:
    import torch

    return {k: torch.cat([p[k] for p in parts]) for k in ("logits", "scores", "stability", "boxes")}


def _prune(pool: dict[str, Any], thresh: float) -> dict[str, Any]:
    """Box NMS over the pool (best predicted IoU wins)."""
    import torch

    # boxes hold inclusive pixel indexes: +1 on the far edges so a one-pixel mask has an area
    edges = pool["boxes"].float() + torch.tensor([0.0, 0.0, 1.0, 1.0])
    keep = _nms(edges, pool["scores"], thresh)
    return {k: v[keep] for k, v in pool.items()}


def segment_everything(
    session: Any,
    image: Any = None,
    *,
    points_per_side: int = 16,
    points_per_batch: int | None = None,
    pred_iou_thresh: float = 0.86,
    stability_thresh: float = 0.90,
    min_area_frac: float = 0.0005,
    box_nms_thresh: float = 0.7,
    max_side: int = 1024,
    job: JobControl | None = None,
) -> SegmentMap:
    """Segment the session's current image (or ``image``, set through the session's cache).

    ``points_per_side``: grid size (16 -> 256 clicks); ``points_per_batch``: clicks decoded together
    (default: 64 on CUDA, 1 elsewhere: on a CPU the decoder is memory-bound and larger batches are
    slower per click and use ~27 MB per click); ``pred_iou_thresh`` / ``stability_thresh``:
    drop uncertain masks; ``min_area_frac``: drop segments smaller than this fraction of the image;
    ``max_side``: long side of the returned label map. ``job`` receives progress per batch.
    """
    if points_per_batch is None:
        points_per_batch = 64 if str(getattr(session, "device", "cpu")).startswith("cuda") else 1
    if int(points_per_side) < 1 or int(points_per_batch) < 1:
        raise InvalidInputError("Points per side and points per batch must be at least 1.")
    if int(max_side) < 1:
        raise InvalidInputError("The segment map size must be at least 1 pixel.")
    opts = {
        "pred_iou_thresh": float(pred_iou_thresh),
        "stability_thresh": float(stability_thresh),
        "min_area_frac": float(min_area_frac),
    }
    with getattr(session, "lock", None) or nullcontext():  # keep the image fixed during the run
        if image is not None:
            session.set_image(image)
        return _segment(session, int(points_per_side), int(points_per_batch), opts, float(box_nms_thresh), int(max_side), job)


def _segment(
    session: Any,
    points_per_side: int,
    points_per_batch: int,
    opts: dict[str, float],
    box_nms_thresh: float,
    max_side: int,
    job: JobControl | None,
) -> SegmentMap:
    import torch

    geo = session.geometry
    h, w = geo.original_size
    points = _point_grid(points_per_side, h, w)
    n_batches = math.ceil(len(points) / points_per_batch)
    parts: list[dict[str, Any]] = []
    pending = 0
    for b in range(n_batches):
        if job is not None:
            job.step(b, n_batches, "Segmenting everything")
        chunk = points[b * points_per_batch : (b + 1) * points_per_batch]
        with torch.inference_mode():
            low, scores = session.decode_points(chunk, multimask=True)
            part = _filter_batch(low.float().cpu(), scores.float().cpu(), geo, opts)
        del low, scores
        parts.append(part)
        pending += int(part["scores"].shape[0])
        if pending > _MAX_PENDING:  # bound the memory held by candidates
            parts = [_prune(_concat(parts), box_nms_thresh)]
            pending = int(parts[0]["scores"].shape[0])
    if job is not None:
        job.step(n_batches, n_batches, "Painting the segment map")
    return _build_map(_prune(_concat(parts), box_nms_thresh), geo, max_side)


def _build_map(pool: dict[str, Any], geo: Geometry, max_side: int) -> SegmentMap:
    h, w = geo.original_size
    factor = min(1.0, max_side / max(h, w))
    mh, mw = max(1, round(h * factor)), max(1, round(w * factor))
    scale_x = geo.input_size[1] * geo.lowres / (geo.img_size * w)  # low-res units per full-res pixel
    scale_y = geo.input_size[0] * geo.lowres / (geo.img_size * h)
    sx, sy = scale_x * w / mw, scale_y * h / mh
    logits = pool["logits"].numpy()
    lr_boxes = pool["boxes"].numpy().astype(np.int64)
    scores = pool["scores"].numpy().astype(np.float32)
    stability = pool["stability"].numpy().astype(np.float32)

    found = []  # pass 1: area and box of each mask on the map grid
    for i in range(len(scores)):
        crop = _upscaled_crop(logits[i], lr_boxes[i], sx, sy, mw, mh)
        if crop is None or not crop[2].any():
            continue
        x0, y0, piece = crop
        ys, xs = np.nonzero(piece.any(axis=1))[0], np.nonzero(piece.any(axis=0))[0]
        box = (x0 + xs[0], y0 + ys[0], x0 + xs[-1] + 1, y0 + ys[-1] + 1)
        found.append((int(piece.sum()), -float(scores[i]), i, box))
    found.sort(key=lambda t: (t[0], t[1], t[2]))  # smallest first; ties: better score first

    labels = np.full((mh, mw), -1, dtype=np.int32)
    for new_index in range(len(found) - 1, -1, -1):  # pass 2: paint large to small
        i = found[new_index][2]
        crop = _upscaled_crop(logits[i], lr_boxes[i], sx, sy, mw, mh)
        assert crop is not None
        x0, y0, piece = crop
        labels[y0 : y0 + piece.shape[0], x0 : x0 + piece.shape[1]][piece] = new_index

    order = np.array([t[2] for t in found], dtype=np.int64)
    area_scale = (h * w) / float(mh * mw)
    boxes = np.array([t[3] for t in found], dtype=np.float32).reshape(-1, 4)
    boxes *= np.array([w / mw, h / mh, w / mw, h / mh], np.float32)
    return SegmentMap(
        image_size=(h, w),
        labels=labels,
        areas=np.array([round(t[0] * area_scale) for t in found], dtype=np.int64),
        scores=scores[order] if len(order) else np.zeros(0, np.float32),
        stability=stability[order] if len(order) else np.zeros(0, np.float32),
        boxes=boxes,
        _logits=logits[order] if len(order) else logits[:0],
        _lowres_boxes=lr_boxes[order] if len(order) else lr_boxes[:0],
        _scale=(scale_x, scale_y),
    )


def select_by_scribble(segment_map: SegmentMap, scribble_mask: Any, ignore_unsegmented: bool = True) -> np.ndarray:
    """The full-resolution mask of every segment the scribble touches.

    ``scribble_mask`` is bool/uint8 at the image size or at ``segment_map.map_size`` (drawn on the
    colour map). A touched segment is the one visible (smallest) under a scribbled pixel. With
    ``ignore_unsegmented=False`` scribbled pixels not covered by any segment are selected too.
    """
    import cv2

    h, w = segment_map.image_size
    mh, mw = segment_map.map_size
    arr = np.asarray(scribble_mask) if scribble_mask is not None else None
    shape = arr.shape[:2] if arr is not None and arr.ndim >= 2 else None
    on_map = shape == (mh, mw) and (mh, mw) != (h, w)
    scribble = as_bool_mask(scribble_mask, (mh, mw) if on_map else (h, w), name="scribble")
    ys, xs = np.nonzero(scribble)
    if on_map:
        my, mx = ys, xs
    else:  # nearest label-map pixel of each scribbled pixel
        my = np.minimum(((ys + 0.5) * mh / h).astype(np.int64), mh - 1)
        mx = np.minimum(((xs + 0.5) * mw / w).astype(np.int64), mw - 1)
    under = segment_map.labels[my, mx]
    result = np.zeros((h, w), dtype=bool)
    for index in np.unique(under[under >= 0]):
        segment_map.mask(int(index), out=result)
    if not ignore_unsegmented:
        loose = under < 0
        if on_map:
            extra = np.zeros((mh, mw), np.uint8)
            extra[ys[loose], xs[loose]] = 1
            result |= cv2.resize(extra, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        else:
            result[ys[loose], xs[loose]] = True
    return result


__all__ = ["SegmentMap", "palette", "segment_everything", "select_by_scribble"]
