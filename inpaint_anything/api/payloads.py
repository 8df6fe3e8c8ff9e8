"""JSON views of core results (masks, candidates, segment maps, generated images) and the parsing of
request parts that several route modules share (prompt points, segment-everything options, a generate
body's request and backend)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from inpaint_anything.api.context import ApiContext, check_sam_model_id
from inpaint_anything.api.schemas import EverythingOptions, GenerateBody, dump
from inpaint_anything.batch import KeepRule
from inpaint_anything.codec import png_b64
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.inpaint.request import InpaintRequest

MAX_POINTS = 256
CONTROLNET_BACKENDS = ("controlnet", "webui_controlnet")  # generate bodies whose "controlnet" is used


def _num(value: Any) -> float | None:
    """A JSON-safe rounded number (None for NaN/inf, which strict JSON cannot carry)."""
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None


def mask_payload(mask: np.ndarray | None) -> dict[str, Any]:
    """The current selection: PNG (255 = selected) and its pixel count."""
    if mask is None:
        return {"mask": None, "selected_pixels": 0}
    return {"mask": png_b64(mask), "selected_pixels": int(np.count_nonzero(mask))}


def candidates_payload(result: Any) -> dict[str, Any]:
    """SAM candidates, best first: masks as PNG base64 and their predicted IoU scores."""
    return {"masks": [png_b64(m) for m in result.masks], "scores": [_num(s) for s in result.scores]}


def segments_payload(segmap: Any, *, include_masks: bool, max_masks: int) -> dict[str, Any]:
    """The colour segment map, each segment's area/score/box and (optionally) its full-size mask."""
    n = len(segmap)
    segments = [
        {
            "index": i,
            "area": int(segmap.areas[i]),
            "score": _num(segmap.scores[i]),
            "stability": _num(segmap.stability[i]),
            "box": [_num(v) for v in segmap.boxes[i]],
        }
        for i in range(n)
    ]
    out: dict[str, Any] = {
        "count": n,
        "segment_map": png_b64(segmap.color_map()),
        "map_size": [segmap.map_size[1], segmap.map_size[0]],
        "segments": segments,
    }
    if include_masks:
        out["masks"] = [png_b64(segmap.mask(i)) for i in range(min(n, max_masks))]
    return out


def result_payload(images: list[np.ndarray], infotexts: list[str], seeds: list[int], **extra: Any) -> dict[str, Any]:
    """Generated images as base64 PNG, each with its infotext in the "parameters" chunk."""
    return {
        "images": [png_b64(img, text) for img, text in zip(images, infotexts, strict=True)],
        "infotexts": list(infotexts),
        "seeds": [int(s) for s in seeds],
        **extra,
    }


def prompt_points(points: list[list[float]] | None, labels: list[int] | None) -> list[tuple[float, float, int]]:
    """API points ``[[x, y], ...]`` (+ labels) or ``[[x, y, label], ...]`` -> ``[(x, y, label)]``."""
    if points is None:
        if labels:
            raise InvalidInputError("Point labels were given without points.")
        return []
    if len(points) > MAX_POINTS:
        raise InvalidInputError(f"At most {MAX_POINTS} points per request.")
    if any(len(p) not in (2, 3) for p in points):
        raise InvalidInputError("Each point is [x, y] or [x, y, label].")
    inline = any(len(p) == 3 for p in points)
    if labels is not None:
        if inline:
            raise InvalidInputError("Give the labels either inside the points or in 'labels', not both.")
        if len(labels) != len(points):
            raise InvalidInputError(f"There are {len(points)} points but {len(labels)} labels; give one label per point.")
        labs = list(labels)
    else:
        labs = [p[2] if len(p) == 3 else 1 for p in points]
    if any(lab not in (0, 1) for lab in labs):
        raise InvalidInputError("Point labels must be 1 (object) or 0 (background).")
    return [(float(p[0]), float(p[1]), int(lab)) for p, lab in zip(points, labs, strict=True)]


def everything_options(body: EverythingOptions) -> tuple[str | None, dict[str, Any], KeepRule | None]:
    """(model, segment_everything kwargs, keep rule) from a body, checked up front by the table."""
    from inpaint_anything import fields
    from inpaint_anything.segment.everything_fields import ENGINE_OPTIONS, EVERYTHING_FIELDS

    model = check_sam_model_id(body.model)
    fields.validate(EVERYTHING_FIELDS, body)
    opts = {k: getattr(body, k) for k in ENGINE_OPTIONS}
    keep = KeepRule(**dump(body.keep)).validated() if body.keep is not None else None
    return model, opts, keep


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    native = options.get("native_size")
    if native is not None and not (native == 0 or (64 <= native <= 4096 and native % 8 == 0)):
        raise InvalidInputError("native_size must be 0 (the model's) or a multiple of 8 from 64 to 4096.")
    device = options.get("device")
    if device in ("cuda", "mps"):
        import torch

        ok = (
            torch.cuda.is_available()
            if device == "cuda"
            else bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
        )
        if not ok:
            raise InvalidInputError(f"The device {device!r} is not available here; use 'auto' or 'cpu'.")
    return {k: v for k, v in options.items() if v is not None}


def prepare(ctx: ApiContext, body: GenerateBody) -> tuple[InpaintRequest, Any]:
    """The validated request and the backend of a generate body."""
    request = InpaintRequest.from_dict(dump(body.request, exclude_unset=True))
    options = check_options(dump(body.options))
    if body.backend in CONTROLNET_BACKENDS:
        options["controlnet"] = dump(body.controlnet, exclude_unset=True)
    backend = ctx.backend(body.backend, body.model, options)
    if body.backend in ("diffusers", "controlnet"):  # the infotext names the model (listed name or Hub id), never a server path
        request = dataclasses.replace(request, model=str(getattr(backend, "model_name", "") or Path(body.model).name))
    return request, backend


__all__ = [
    "candidates_payload",
    "check_options",
    "everything_options",
    "mask_payload",
    "prepare",
    "prompt_points",
    "result_payload",
    "segments_payload",
]
