"""The outpainting engine: grow the canvas, pre-fill the new area, let a backend repaint it.

Built on :func:`inpaint_anything.inpaint.engine.run_inpaint`, so every backend (diffusers, classical
cleaners, the WebUI checkpoint) outpaints the same way. One pass:

1. place the image on the larger canvas (:func:`~inpaint_anything.prefill.place_on_canvas`)
   and pre-fill the new area with the chosen method (default "blur");
2. the mask is the new area plus an *overlap* band of ``overlap_px`` pixels reaching into the image
   on every side that grows, so the model repaints the seam instead of butting against it;
3. the backend's result is composited over the canvas with a seam alpha that is 1 in the new area and
   falls smoothly (smoothstep) to 0 across the overlap band. Every original pixel farther than
   ``overlap_px`` from a grown side is bit-identical to the input, and the result is exactly the
   expansion's canvas size.

Strategies: ``"all"`` is one pass over the whole new area. ``"per_side"`` runs one pass per grown
side in the fixed order :data:`PER_SIDE_ORDER` (left, right, up, down): the canvas grows one side at
a time, each pass sees the previous pass's result (so up/down, done last, span the corners with the
left/right content already there), and each pass uses an "only masked" crop around its strip, so
the model works near its native resolution even on large canvases.

Request fields: prompt, negative prompt, steps, CFG, sampler, schedule, denoising strength, padding
(context around only-masked crops), colour match and model are used as given. ``seed`` is resolved
once; image ``i`` of a batch uses ``seed + i`` for every pass and for seeded pre-fills (noise,
PatchMatch). ``masked_content`` is always "original" (the canvas is already pre-filled). ``"all"``
uses the request's ``inpaint_area``; ``"per_side"`` always uses "only masked". ``mask_blur`` has no
effect: the engine pastes each pass back once, through the overlap ramp (:func:`seam_alpha`).

RGBA input: the RGB channels are outpainted; the original alpha is kept exactly (also in the overlap
band) and the new area gets alpha 255 (opaque).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from inpaint_anything import fields
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.inpaint.engine import InpaintBackend, run_inpaint
from inpaint_anything.inpaint.request import MAX_SEED, InpaintRequest
from inpaint_anything.jobs import ChildJob, JobControl
from inpaint_anything.outpaint.geometry import SIDES, Expansion
from inpaint_anything.outpaint.params import DEFAULT_OVERLAP_PX, MAX_OVERLAP_PX, STRATEGIES, ZOOM_FIELDS
from inpaint_anything.prefill import DEFAULT_PREFILL, PREFILLS, SEEDED_PREFILLS, place_on_canvas
from inpaint_anything.prefill import prefill as prefill_canvas

PER_SIDE_ORDER = ("left", "right", "up", "down")


@dataclass(frozen=True)
class OutpaintSettings:
    """What to outpaint and how (the generation parameters come from an :class:`InpaintRequest`).

    ``overlap_px`` is how far the mask reaches into the original (feathered to 0 across it); it is
    limited to half the image's width/height so the bands of opposite sides never meet.
    """

    expansion: Expansion
    prefill: str = DEFAULT_PREFILL
    overlap_px: int = DEFAULT_OVERLAP_PX
    strategy: str = "all"

    def validated(self, image_size: tuple[int, int] | None = None) -> OutpaintSettings:
        """Return self after checking every field (and that the expansion fits ``image_size``)."""
        exp = self.expansion
        if not isinstance(exp, Expansion):
            raise InvalidInputError("Outpainting needs an expansion (pixels to add per side); none was given.")
        sides = exp.sides()
        if any(not isinstance(v, (int, np.integer)) or v < 0 for v in sides.values()):
            raise InvalidInputError(f"Pixels to add per side must be whole numbers of at least 0, not {sides}.")
        if not any(sides.values()):
            raise InvalidInputError("Nothing to outpaint: every side adds 0 pixels. Choose at least one side and an amount.")
        if image_size is not None and (exp.width, exp.height) != tuple(image_size):
            raise InvalidInputError(
                f"The outpaint expansion was planned for a {exp.width}x{exp.height} image, but the image is "
                f"{image_size[0]}x{image_size[1]}. Plan it again for this image."
            )
        if self.prefill not in PREFILLS:
            raise InvalidInputError(f"Unknown pre-fill {self.prefill!r}. Choose one of: {', '.join(PREFILLS)}.")
        if (
            isinstance(self.overlap_px, bool)
            or not isinstance(self.overlap_px, (int, np.integer))
            or not 0 <= self.overlap_px <= MAX_OVERLAP_PX
        ):
            raise InvalidInputError(
                f"The overlap must be a whole number of pixels from 0 to {MAX_OVERLAP_PX}, not {self.overlap_px!r}."
            )
        if self.strategy not in STRATEGIES:
            raise InvalidInputError(f"Unknown outpaint strategy {self.strategy!r}. Choose 'all' (one pass) or 'per_side'.")
        return self

    def passes(self) -> list[Expansion]:
        """The expansion of each pass: the whole one for "all", one side at a time for "per_side"."""
        exp = self.expansion
        if self.strategy == "all":
            return [exp]
        out, w, h = [], exp.width, exp.height
        for side in PER_SIDE_ORDER:
            amount = getattr(exp, side)
            if amount:
                step = Expansion(w, h, **{side: amount})
                out.append(step)
                w, h = step.canvas_size
        return out

    def overlap(self) -> tuple[int, int]:
        """Effective (x, y) overlap: ``overlap_px`` limited to half the original's width/height."""
        return min(int(self.overlap_px), self.expansion.width // 2), min(int(self.overlap_px), self.expansion.height // 2)

    def pass_request(self, request: InpaintRequest, seed: int) -> InpaintRequest:
        """The request every pass hands to :func:`run_inpaint` (see the module docstring)."""
        area = "only masked" if self.strategy == "per_side" else request.inpaint_area
        return dataclasses.replace(request, seed=int(seed), batch_count=1, masked_content="original", inpaint_area=area)

    def infotext_fields(self) -> dict[str, object]:
        exp = self.expansion
        return {
            "Outpaint": f"left {exp.left}, right {exp.right}, up {exp.up}, down {exp.down}",
            "Outpaint pre-fill": self.prefill,
            "Outpaint overlap": int(self.overlap_px),
            "Outpaint strategy": self.strategy,
        }


@dataclass
class OutpaintResult:
    images: list[np.ndarray]  # uint8, canvas size; RGBA when the input had alpha
    seeds: list[int]
    infotexts: list[str]
    canvas_size: tuple[int, int]  # (width, height)
    expansion: Expansion
    request: InpaintRequest | None = None  # zoom-out: the request with its seed resolved


def _ramp(n: int, overlap: int, reverse: bool) -> np.ndarray:
    """Alpha along one axis of the original for a grown side at index 0 (or at the end): 1 at the
    edge, smoothstep down to exactly 0 from ``overlap`` pixels in."""
    if overlap <= 0:
        return np.zeros(n, np.float32)
    d = np.arange(n, dtype=np.float64) + 0.5
    t = np.clip(d / overlap, 0.0, 1.0)
    a = (1.0 - t * t * (3.0 - 2.0 * t)).astype(np.float32)
    a[np.arange(n) >= overlap] = 0.0
    return a[::-1] if reverse else a


def seam_alpha(expansion: Expansion, overlap: tuple[int, int]) -> np.ndarray:
    """Float32 canvas-size blend alpha: 1 in the new area, a smooth ramp across the overlap band of
    every grown side, exactly 0 on the rest of the original. ``alpha > 0`` is the inpaint mask."""
    w, h = expansion.canvas_size
    x0, y0, x1, y1 = expansion.original_box
    ox, oy = overlap
    ax = np.zeros(x1 - x0, np.float32)
    if expansion.left:
        ax = np.maximum(ax, _ramp(x1 - x0, ox, False))
    if expansion.right:
        ax = np.maximum(ax, _ramp(x1 - x0, ox, True))
    ay = np.zeros(y1 - y0, np.float32)
    if expansion.up:
        ay = np.maximum(ay, _ramp(y1 - y0, oy, False))
    if expansion.down:
        ay = np.maximum(ay, _ramp(y1 - y0, oy, True))
    alpha = np.ones((h, w), np.float32)
    alpha[y0:y1, x0:x1] = np.maximum(ay[:, None], ax[None, :])
    return alpha


def _run_passes(
    rgb: np.ndarray,
    settings: OutpaintSettings,
    request: InpaintRequest,
    seed: int,
    backend: InpaintBackend,
    job: JobControl,
    extra: dict[str, object],
) -> tuple[np.ndarray, str]:
    """All passes for one image; the caller has called ``job.begin``. Returns (RGB result, infotext)."""
    overlap = settings.overlap()
    req = settings.pass_request(request, seed)
    current, text = rgb, ""
    passes = settings.passes()
    for k, exp in enumerate(passes):
        job.check()  # interrupt between passes
        canvas, known = place_on_canvas(current, exp)
        filled = prefill_canvas(canvas, known, settings.prefill, seed=seed)
        alpha = seam_alpha(exp, overlap)
        fields = {**settings.infotext_fields(), **extra}
        if (
            not getattr(backend, "samples", True)
            and not getattr(backend, "seeded", False)
            and settings.prefill in SEEDED_PREFILLS
        ):
            fields["Seed"] = seed  # no model, but a random pre-fill: its seed made the pixels
        result = run_inpaint(filled, alpha > 0, req, backend, ChildJob(job), extra_infotext=fields, blend=alpha)
        current = result.images[0]  # blended once, by the engine, through the seam ramp
        text = result.infotexts[0]
        side = next((s for s in SIDES if getattr(exp, s)), "") if settings.strategy == "per_side" else "all sides"
        job.next_job(f"outpaint pass {k + 1}/{len(passes)} ({side})")
    return current, text


def _with_alpha(rgb: np.ndarray, alpha: np.ndarray | None, expansion: Expansion) -> np.ndarray:
    """RGBA with the original alpha in its box and 255 in the new area (or ``rgb`` when no alpha)."""
    if alpha is None:
        return rgb
    w, h = expansion.canvas_size
    x0, y0, x1, y1 = expansion.original_box
    a = np.full((h, w), 255, np.uint8)
    a[y0:y1, x0:x1] = alpha
    return np.dstack([rgb, a])


def outpaint(
    image: object,
    settings: OutpaintSettings,
    request: InpaintRequest,
    backend: InpaintBackend,
    job: JobControl | None = None,
    *,
    max_pixels: int | None = None,
) -> OutpaintResult:
    """Outpaint ``image`` (uint8 RGB/RGBA array or PIL image) by ``settings.expansion``.

    Returns ``request.batch_count`` images of exactly the canvas size. Progress: one sub-job per pass
    (``job_count`` = passes per image x batch count); an interrupt stops before the next pass and
    raises :class:`~inpaint_anything.errors.JobInterrupted`.
    """
    from inpaint_anything.imaging import check_size, to_rgb_uint8

    job = job or JobControl()
    rgb, alpha = to_rgb_uint8(image)
    h, w = rgb.shape[:2]
    if not isinstance(settings, OutpaintSettings):
        raise InvalidInputError("Outpainting needs OutpaintSettings (expansion, pre-fill, overlap, strategy).")
    settings = settings.validated((w, h))
    cw, ch = settings.expansion.canvas_size
    check_size(ch, cw, max_pixels)
    req = request.resolved()
    job.begin(f"outpaint ({backend.name})", len(settings.passes()) * req.batch_count)
    images, seeds, texts = [], [], []
    for i in range(req.batch_count):
        seed = (req.seed + i) % (MAX_SEED + 1)
        out, text = _run_passes(rgb, settings, req, seed, backend, job, {})
        images.append(_with_alpha(out, alpha, settings.expansion))
        seeds.append(seed)
        texts.append(text)
    return OutpaintResult(images, seeds, texts, (cw, ch), settings.expansion)


def zoom_expansion(width: int, height: int, scale: float) -> Expansion:
    """The expansion that puts a frame shrunk by ``1/scale`` back to ``width`` x ``height`` (centred)."""
    iw, ih = max(1, round(width / scale)), max(1, round(height / scale))
    if iw >= width or ih >= height:
        raise InvalidInputError(f"A zoom of {scale} adds no border to a {width}x{height} image; use a larger zoom per step.")
    left, up = (width - iw) // 2, (height - ih) // 2
    return Expansion(iw, ih, left=left, right=width - iw - left, up=up, down=height - ih - up)


def plan_zoom(
    width: int,
    height: int,
    steps: int,
    scale: float,
    prompts: list[str | None] | None = None,
    *,
    prefill: str = DEFAULT_PREFILL,
    overlap_px: int = DEFAULT_OVERLAP_PX,
    strategy: str = "all",
) -> tuple[OutpaintSettings, list[str | None] | None]:
    """Check a zoom-out of a ``width`` x ``height`` image (steps and zoom by :data:`ZOOM_FIELDS`, one
    prompt per step, a zoom that adds a border, the outpaint settings); returns the settings of every
    step's outpaint and the prompts as a list. The API calls it before its job starts."""
    fields.validate(ZOOM_FIELDS, {"steps": steps, "scale": scale})
    if prompts is not None:
        prompts = list(prompts)
        if len(prompts) != steps:
            raise InvalidInputError(f"Give one prompt per zoom-out step: {steps} steps but {len(prompts)} prompts.")
        if any(p is not None and not isinstance(p, str) for p in prompts):
            raise InvalidInputError("Zoom-out prompts must be text (or empty to keep the main prompt).")
    settings = OutpaintSettings(zoom_expansion(width, height, float(scale)), prefill, overlap_px, strategy)
    return settings.validated(), prompts


def zoom_out(
    image: object,
    steps: int,
    scale_per_step: float,
    request: InpaintRequest,
    backend: InpaintBackend,
    prompts: list[str | None] | None = None,
    job: JobControl | None = None,
    *,
    prefill: str = DEFAULT_PREFILL,
    overlap_px: int = DEFAULT_OVERLAP_PX,
    strategy: str = "all",
    max_pixels: int | None = None,
) -> OutpaintResult:
    """Infinite-zoom frames: each step shrinks the previous frame by ``1/scale_per_step`` into the
    centre of a canvas of the same size and outpaints the border.

    Returns ``steps`` frames (the input is not included), each the input's size (RGBA in, RGBA out),
    with their seeds and infotexts (``Zoom out step: k/n``, ``Zoom per step``) and the resolved
    request. ``prompts``, when given, has one entry per step; ``None`` keeps the request's prompt.
    Step ``k`` uses seed ``seed + k``; the batch count is ignored (one frame per step).
    """
    from inpaint_anything.compose import resize_image
    from inpaint_anything.imaging import check_size, to_rgb_uint8

    job = job or JobControl()
    rgb, alpha = to_rgb_uint8(image)
    h, w = rgb.shape[:2]
    settings, prompts = plan_zoom(w, h, steps, scale_per_step, prompts, prefill=prefill, overlap_px=overlap_px, strategy=strategy)
    check_size(h, w, max_pixels)
    exp = settings.expansion
    req = request.resolved()
    job.begin(f"zoom out ({backend.name})", steps * len(settings.passes()))
    frame = rgb if alpha is None else np.dstack([rgb, alpha])
    frames, seeds, texts = [], [], []
    for k in range(steps):
        small = resize_image(frame, (exp.width, exp.height))
        step_req = req if prompts is None or prompts[k] is None else dataclasses.replace(req, prompt=prompts[k])
        seed = (req.seed + k) % (MAX_SEED + 1)
        extra = {"Zoom out step": f"{k + 1}/{steps}", "Zoom per step": scale_per_step}
        out, text = _run_passes(small[..., :3], settings, step_req, seed, backend, job, extra)
        frame = _with_alpha(out, None if alpha is None else small[..., 3], exp)
        frames.append(frame)
        seeds.append(seed)
        texts.append(text)
    return OutpaintResult(frames, seeds, texts, (w, h), exp, req)


__all__ = [
    "PER_SIDE_ORDER",
    "STRATEGIES",
    "OutpaintResult",
    "OutpaintSettings",
    "outpaint",
    "plan_zoom",
    "seam_alpha",
    "zoom_expansion",
    "zoom_out",
]
