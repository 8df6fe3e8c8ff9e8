"""The inpainting engine: geometry, masked-content preparation, generation and exact paste-back.

Every backend (diffusers Hub models, classical cleaners, the WebUI's checkpoint) implements
:class:`InpaintBackend` and only ever sees a processing-size image and mask; the engine does the rest
the same way for all of them:

1. "only masked": crop the mask's box plus padding and scale it to the backend's native resolution;
   "whole": scale the image to the native resolution and pad (never crop) to the size multiple;
2. "fill": pre-fill the masked pixels from their surroundings before generation;
3. generate ``batch_count`` images (seed, seed+1, ...);
4. scale back, optionally colour-match, and paste through a grown + feathered mask, so every pixel
   outside the blend band is bit-identical to the input (RGBA alpha kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from inpaint_anything import compose, masks
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.inpaint.request import InpaintRequest, infotext
from inpaint_anything.jobs import JobControl


class InpaintBackend(Protocol):
    """A generator of pixels for a masked area."""

    name: str
    native_size: int  # long side the model works at (512, 1024, ...); 0 = any size, no scaling
    multiple: int  # processing sizes must be multiples of this (8 for latent models)
    # optional ``max_size``: with native_size 0, a crop whose long side is larger is scaled down to it
    # (never up); the fill is scaled back and pasted through the same band, so the guarantee holds

    def generate(self, image: np.ndarray, mask: np.ndarray, request: InpaintRequest, seed: int, job: JobControl) -> np.ndarray:
        """Return an RGB uint8 image of ``image``'s size; ``mask`` (bool) marks what to repaint."""
        ...


@dataclass
class InpaintResult:
    images: list[np.ndarray]
    seeds: list[int]
    infotexts: list[str]
    request: InpaintRequest
    alpha: np.ndarray  # blend alpha in the input's coordinates
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _Plan:
    box: tuple[int, int, int, int]  # region of the input that is processed
    process_size: tuple[int, int]  # (w, h) handed to the backend before padding


def backend_infotext(backend: InpaintBackend) -> dict[str, object]:
    """The infotext fields naming what generated the pixels: the backend's own ``infotext_fields()``
    (the pre-fill only outpaint: none, its pre-fill is named by the outpaint fields), else
    ``Inpaint backend: <name>`` (a model, or a cleaner such as ``cleaner:telea``)."""
    fields = getattr(backend, "infotext_fields", None)
    return dict(fields()) if callable(fields) else {"Inpaint backend": backend.name}


def _plan(size: tuple[int, int], mask: np.ndarray, req: InpaintRequest, backend: InpaintBackend, band: int) -> _Plan:
    w, h = size
    multiple = max(1, int(getattr(backend, "multiple", 8)))
    native = int(getattr(backend, "native_size", 0))
    if not native and int(getattr(backend, "max_size", 0) or 0):
        longest = _longest_side((w, h), mask, req, band)
        native = int(backend.max_size) if longest > int(backend.max_size) else 0
    if req.inpaint_area == "only masked":
        # keep the whole blend band inside the crop
        padding = req.padding + band
        if native:
            plan = compose.plan_only_masked((w, h), mask, padding, native, multiple)
            return _Plan(plan.box, plan.process_size)
        box = compose.crop_region(mask, padding, (w, h), None, multiple=1)
        bw, bh = box[2] - box[0], box[3] - box[1]
        return _Plan(box, (bw, bh))
    if native:
        scale = native / max(w, h)
        pw, ph = max(1, round(w * scale)), max(1, round(h * scale))
    else:
        pw, ph = w, h
    return _Plan((0, 0, w, h), (pw, ph))


def _longest_side(size: tuple[int, int], mask: np.ndarray, req: InpaintRequest, band: int) -> int:
    """The long side of what an unscaled pass would process (the padded crop, or the whole image)."""
    if req.inpaint_area != "only masked":
        return max(size)
    box = compose.crop_region(mask, req.padding + band, size, None, multiple=1)
    return max(box[2] - box[0], box[3] - box[1])


def _prepare(
    rgb: np.ndarray, mask: np.ndarray, plan: _Plan, multiple: int
) -> tuple[np.ndarray, np.ndarray, compose.Padding | None]:
    x0, y0, x1, y1 = plan.box
    img = rgb[y0:y1, x0:x1]
    m = mask[y0:y1, x0:x1]
    if (x1 - x0, y1 - y0) != plan.process_size:
        img = compose.resize_image(img, plan.process_size)
        m = compose.resize_mask(m, plan.process_size)
    padding = None
    if multiple > 1 and (img.shape[0] % multiple or img.shape[1] % multiple):
        img, padding = compose.pad_to_multiple(img, multiple, mode="reflect")
        m, _ = compose.pad_to_multiple(m, multiple, mode="edge")
    return np.ascontiguousarray(img), m, padding


def _prefill(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Masked content "fill": replace masked pixels by a smooth extension of their surroundings."""
    from inpaint_anything.prefill import prefill

    if mask.all():
        return np.full_like(image, image.reshape(-1, 3).mean(axis=0).round().astype(np.uint8))
    return prefill(image, ~mask, "blur")


def run_inpaint(
    image: object,
    mask: object,
    request: InpaintRequest,
    backend: InpaintBackend,
    job: JobControl | None = None,
    *,
    max_pixels: int | None = None,
    extra_infotext: dict | None = None,
    blend: np.ndarray | None = None,
) -> InpaintResult:
    """Inpaint ``mask`` of ``image`` with ``backend``; see the module docstring for the steps.

    ``blend``: the caller's own paste-back weights (float HxW in [0, 1], > 0 exactly on ``mask``),
    used instead of the request's grow + feather ramp; outpainting passes its seam ramp, so its
    result is blended once."""
    from inpaint_anything.imaging import check_size, to_rgb_uint8

    job = job or JobControl()
    rgb, alpha_channel = to_rgb_uint8(image)
    h, w = rgb.shape[:2]
    if max_pixels:
        check_size(h, w, max_pixels)
    m = masks.as_bool_mask(mask, (h, w))
    if not m.any():
        raise InvalidInputError("The mask is empty: select or paint the area to inpaint first.")
    req = request.resolved()
    if blend is not None and not np.array_equal(np.asarray(blend) > 0, m):
        raise InvalidInputError("The blend weights must be above 0 exactly where the mask is.")
    band = 2 + (0 if blend is not None else 2 * req.mask_blur)
    plan = _plan((w, h), m, req, backend, band)
    multiple = max(1, int(getattr(backend, "multiple", 8)))
    proc_img, proc_mask, padding = _prepare(rgb, m, plan, multiple)
    if not proc_mask.any():
        raise InvalidInputError("The mask is too small to survive scaling to the model's resolution; grow it a little.")
    if req.masked_content == "fill":
        proc_img = _prefill(proc_img, proc_mask)
    x0, y0, x1, y1 = plan.box
    original = rgb if alpha_channel is None else np.dstack([rgb, alpha_channel])
    job.begin(f"inpaint ({backend.name})", req.batch_count)
    images, seeds, texts, alpha = [], [], [], None
    for i in range(req.batch_count):
        seed = (req.seed + i) % 2**32
        out = backend.generate(proc_img, proc_mask, req, seed, job)
        out = np.asarray(out)
        if out.shape[:2] != proc_img.shape[:2] or out.dtype != np.uint8:
            raise RuntimeError(f"Backend {backend.name} returned {out.shape}/{out.dtype}, expected {proc_img.shape[:2]} uint8.")
        out = out[..., :3]
        if padding is not None:
            out = compose.unpad(out, padding)
        if (x1 - x0, y1 - y0) != (out.shape[1], out.shape[0]):
            out = compose.resize_image(out, (x1 - x0, y1 - y0))
        if req.color_match:
            from inpaint_anything.colormatch import match_colors

            local_mask = m[y0:y1, x0:x1]
            if local_mask.any() and not local_mask.all():
                region = (
                    compose.blend_alpha(local_mask, req.mask_blur, req.mask_blur)
                    if blend is None
                    else np.asarray(blend, np.float32)[y0:y1, x0:x1]
                )
                out = match_colors(rgb[y0:y1, x0:x1], out, local_mask, ring_px=max(4, band), region=region)
        pasted = compose.paste_back(original, out, m, grow_px=req.mask_blur, feather_px=req.mask_blur, box=plan.box, alpha=blend)
        alpha = pasted.alpha
        images.append(pasted.image)
        seeds.append(seed)
        texts.append(
            infotext(
                InpaintRequest(**{**req.to_dict(), "seed": seed}),
                (w, h),
                {**backend_infotext(backend), **(extra_infotext or {})},
                sampling=getattr(backend, "samples", True),
                seeded=getattr(backend, "seeded", False),
            )
        )
        job.next_job()
    return InpaintResult(images, seeds, texts, req, alpha)
