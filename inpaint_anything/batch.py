"""Batch mode: inpaint, remove or outpaint many images (CLI ``python -m inpaint_anything batch`` and
``POST /batch``).

Each item is an image plus where its mask comes from: a mask file (``<stem>.png`` or
``<stem>_mask.png`` in the masks folder), point/box prompts from a manifest (SAM or GrabCut), or
"segment everything" with a :class:`KeepRule`. One bad item (unreadable image, missing mask, wrong
mask size) is reported and skipped; the rest continues. :func:`run_batch` writes ``<stem>.png`` with
the infotext, skips outputs that already exist (resumable), never writes over an input, and leaves a
JSON report next to the outputs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inpaint_anything.errors import IAError, InvalidInputError, JobInterrupted
from inpaint_anything.inpaint.request import InpaintRequest
from inpaint_anything.jobs import ChildJob, JobControl

log = logging.getLogger(__name__)

OPS = ("inpaint", "remove", "outpaint")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
REPORT_NAME = "batch-report.json"


# ---------------------------------------------------------------------------------------------- masks
def mask_from_picture(image: np.ndarray) -> np.ndarray:
    """A mask picture -> bool HxW: its alpha where it has transparency, else luminance >= 128."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        return arr >= 128
    if arr.shape[2] == 4 and (arr[..., 3] < 255).any():
        return arr[..., 3] >= 128
    rgb = arr[..., :3].astype(np.uint32)
    return (rgb[..., 0] * 299 + rgb[..., 1] * 587 + rgb[..., 2] * 114 + 500) // 1000 >= 128


@dataclass
class KeepRule:
    """Which segments of "segment everything" make the mask: exact ``indices``, or every segment
    within the area/score limits, the ``largest`` N of them when set."""

    largest: int | None = None
    min_area: int = 0
    max_area: int | None = None
    min_score: float = 0.0
    indices: Sequence[int] | None = None

    def validated(self) -> KeepRule:
        def whole(v: Any) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        if self.largest is not None and (not whole(self.largest) or not 1 <= self.largest <= 10_000):
            raise InvalidInputError("'Keep the largest N segments' needs N from 1 to 10000.")
        if not whole(self.min_area) or self.min_area < 0:
            raise InvalidInputError("The minimum segment area must be a whole number of pixels (0 or more).")
        if self.max_area is not None and (not whole(self.max_area) or self.max_area < self.min_area):
            raise InvalidInputError("The maximum segment area must be a whole number at least the minimum area.")
        if not 0.0 <= float(self.min_score) <= 1.0:
            raise InvalidInputError("The minimum segment score must be between 0 and 1.")
        if self.indices is not None and not all(whole(i) for i in self.indices):
            raise InvalidInputError("Segment indices must be whole numbers.")
        return self

    def select(self, segment_map: Any) -> list[int]:
        """Indices of the kept segments (ascending)."""
        self.validated()
        n = len(segment_map)
        if self.indices is not None:
            bad = [i for i in self.indices if not 0 <= i < n]
            if bad:
                raise InvalidInputError(f"There is no segment {bad[0]}; the map has {n} segments (0..{n - 1}).")
            return sorted({int(i) for i in self.indices})
        areas, scores = segment_map.areas, segment_map.scores
        keep = [i for i in range(n) if areas[i] >= self.min_area and scores[i] >= self.min_score
                and (self.max_area is None or areas[i] <= self.max_area)]
        keep.sort(key=lambda i: (-int(areas[i]), i))
        if self.largest is not None:
            keep = keep[: self.largest]
        return sorted(keep)

    def mask(self, segment_map: Any) -> np.ndarray:
        """The union of the kept segments at full resolution."""
        out = np.zeros(segment_map.image_size, bool)
        for i in self.select(segment_map):
            segment_map.mask(i, out=out)
        return out


def plan_expansion(spec: dict[str, Any], width: int, height: int):
    """An outpaint :class:`~inpaint_anything.outpaint.geometry.Expansion` for an image of this size from
    ``{"mode": "pixels", left/right/up/down}``, ``{"mode": "aspect", "preset", balance_x/y}`` or
    ``{"mode": "scale", "scale", balance_x/y}``."""
    from inpaint_anything.outpaint import geometry

    mode = spec.get("mode", "pixels")
    bx, by = float(spec.get("balance_x", 0.5)), float(spec.get("balance_y", 0.5))
    if mode == "pixels":
        return geometry.by_pixels(width, height, *(int(spec.get(s, 0)) for s in ("left", "right", "up", "down")))
    if mode == "aspect":
        return geometry.by_aspect(width, height, str(spec.get("preset", "16:9")), bx, by)
    if mode == "scale":
        return geometry.by_scale(width, height, float(spec.get("scale", 1.5)), bx, by)
    raise InvalidInputError(f"Unknown expansion mode {mode!r}; use pixels, aspect or scale.")


# ---------------------------------------------------------------------------------------------- items
@dataclass
class BatchItem:
    """One image to process; ``image``/``mask`` are file paths, arrays, or data the runner's
    :meth:`BatchRunner.load_image` understands (the API's runner reads base64 strings)."""

    name: str
    image: Any
    mask: Any = None
    points: list | None = None  # [[x, y], ...] or [[x, y, label], ...]
    labels: list | None = None
    box: list | None = None
    prompt: str | None = None
    problem: str = ""  # known to be unusable before processing (reported as failed)


@dataclass
class BatchOptions:
    """What to do with every item."""

    op: str = "inpaint"
    request: InpaintRequest = field(default_factory=InpaintRequest)
    method: str = "telea"  # remove: the cleaner
    segmenter: str = "sam"  # items with points/box: sam | grabcut
    sam_model: str | None = None
    everything: dict[str, Any] | None = None  # segment_everything options for items without mask/prompts
    keep: KeepRule | None = None
    mask_grow: int = 0
    expansion: dict[str, Any] = field(default_factory=lambda: {"mode": "pixels", "right": 64})
    prefill: str = "blur"
    overlap_px: int = 16
    strategy: str = "all"

    def validated(self) -> BatchOptions:
        if self.op not in OPS:
            raise InvalidInputError(f"Unknown batch operation {self.op!r}; choose one of: {', '.join(OPS)}.")
        if self.segmenter not in ("sam", "grabcut"):
            raise InvalidInputError("The segmenter must be 'sam' or 'grabcut'.")
        if isinstance(self.mask_grow, bool) or not isinstance(self.mask_grow, int) or not 0 <= self.mask_grow <= 512:
            raise InvalidInputError("Mask grow must be 0..512 pixels.")
        if self.keep is not None:
            self.keep.validated()
        if self.op == "outpaint":
            from inpaint_anything.outpaint.engine import STRATEGIES
            from inpaint_anything.outpaint.prefill import PREFILLS

            spec = self.expansion
            if spec.get("mode", "pixels") == "pixels" and not any(spec.get(s) for s in ("left", "right", "up", "down")):
                raise InvalidInputError("Nothing to outpaint: give the pixels to add on some side, an aspect preset "
                                        "or a scale.")
            if self.prefill not in PREFILLS or self.strategy not in STRATEGIES:
                raise InvalidInputError(f"Pre-fill must be one of {', '.join(PREFILLS)}; strategy one of "
                                        f"{', '.join(STRATEGIES)}.")
        self.request.validated()
        return self


class BatchRunner:
    """Turns one item into result images; raises IAError when the item cannot be processed."""

    def __init__(self, app: Any, options: BatchOptions, backend: Any = None):
        from inpaint_anything.workspace import Workspace

        self.app = app
        self.options = options.validated()
        if backend is None:
            if options.op != "remove":
                raise InvalidInputError("Choose an inpainting backend and model.")
            backend = app.backend("cleaner", options.method)
        self.backend = backend
        self._ws = Workspace(app, "batch-" + uuid.uuid4().hex)

    def load_image(self, source: Any, what: str = "image") -> np.ndarray:
        """An image file or array as uint8 RGB (RGBA when it has alpha)."""
        from inpaint_anything.imaging import decode_image, to_rgb_uint8

        if isinstance(source, np.ndarray):
            rgb, alpha = to_rgb_uint8(source)
        else:
            rgb, alpha = decode_image(Path(source).read_bytes(), self.app.settings.max_image_pixels)
        return rgb if alpha is None else np.dstack([rgb, alpha])

    def mask_for(self, item: BatchItem, image: np.ndarray, job: JobControl) -> np.ndarray:
        """The item's mask: its mask file/array, its prompts, or segment everything + keep rule."""
        from inpaint_anything import masks

        opts, shape = self.options, image.shape[:2]
        if item.mask is not None:
            label = f"mask {item.mask.name}" if isinstance(item.mask, Path) else "mask"
            m = masks.as_bool_mask(mask_from_picture(self.load_image(item.mask, "mask")), shape, name=label)
        elif item.points or item.box is not None:
            m = self._prompted(item, image, job)
        elif opts.everything is not None:
            self._ws.set_image(image)
            segmap = self._ws.segment_everything(opts.sam_model, job, **opts.everything)
            m = (opts.keep or KeepRule()).mask(segmap)
        else:
            raise InvalidInputError("No mask: put <name>.png or <name>_mask.png in the masks folder, give "
                                    "points or a box in a manifest, or use 'segment everything'.")
        if opts.mask_grow:
            m = masks.grow(m, opts.mask_grow)
        if not m.any():
            raise InvalidInputError("The mask is empty (nothing selected), so there is nothing to change.")
        return m

    def _prompted(self, item: BatchItem, image: np.ndarray, job: JobControl) -> np.ndarray:
        try:
            points = [list(p) for p in (item.points or [])]
        except TypeError:
            points = [[]]
        if any(len(p) not in (2, 3) for p in points):
            raise InvalidInputError("Each point is [x, y] or [x, y, label].")
        labels = item.labels if item.labels is not None else [p[2] if len(p) == 3 else 1 for p in points]
        xy = [p[:2] for p in points]
        if self.options.segmenter == "grabcut":
            from inpaint_anything.segment.grabcut import grabcut_mask

            return grabcut_mask(image[..., :3], box=item.box, points=xy or None, labels=labels if xy else None)
        from inpaint_anything.segment.prompts import validate_points

        pts, labs = validate_points(xy or None, labels if xy else None, image.shape[:2])
        self._ws.set_image(image)
        result = self._ws.prompt([(x, y, int(lab)) for (x, y), lab in zip(pts, labs, strict=True)], item.box,
                                 model_id=self.options.sam_model, job=job)
        return result.masks[0]

    def run_item(self, item: BatchItem, job: JobControl | None = None) -> list[tuple[np.ndarray, str]]:
        """(image, infotext) for every result of ``item`` (``batch_count`` of them)."""
        from inpaint_anything.inpaint.engine import run_inpaint

        job = job or JobControl()
        if item.problem:
            raise InvalidInputError(item.problem)
        image = self.load_image(item.image)
        request = self.options.request
        if item.prompt is not None:
            request = dataclasses.replace(request, prompt=item.prompt).validated()
        max_pixels = self.app.settings.max_image_pixels
        if self.options.op == "outpaint":
            from inpaint_anything.outpaint.engine import OutpaintSettings, outpaint

            o = self.options
            settings = OutpaintSettings(plan_expansion(o.expansion, image.shape[1], image.shape[0]), o.prefill,
                                        o.overlap_px, o.strategy)
            result = outpaint(image, settings, request, self.backend, job, max_pixels=max_pixels)
        else:
            mask = self.mask_for(item, image, job)
            result = run_inpaint(image, mask, request, self.backend, job, max_pixels=max_pixels)
        return list(zip(result.images, result.infotexts, strict=True))


# ---------------------------------------------------------------------------------------------- report
@dataclass
class BatchReport:
    op: str
    output_dir: str
    done: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    elapsed: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        counts = {"done": len(self.done), "skipped": len(self.skipped), "failed": len(self.failed)}
        return {**dataclasses.asdict(self), "counts": counts}

    def summary(self) -> str:
        lines = [f"{self.op}: {len(self.done)} done, {len(self.skipped)} skipped, {len(self.failed)} failed"
                 f"{' (interrupted)' if self.interrupted else ''} in {self.elapsed:.1f} s -> {self.output_dir}"]
        lines += [f"  failed  {f['name']}: {f['reason']}" for f in self.failed]
        lines += [f"  skipped {s['name']}: {s['reason']}" for s in self.skipped if s["reason"] != "output exists"]
        return "\n".join(lines)


def write_png(image: np.ndarray, path: Path, infotext: str = "") -> None:
    """Write a PNG with the "parameters" infotext atomically (a temp file renamed into place)."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if infotext:
        info.add_text("parameters", infotext)
    arr = np.ascontiguousarray(image)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        Image.fromarray(arr, "RGBA" if arr.ndim == 3 and arr.shape[2] == 4 else "RGB").save(tmp, "PNG", pnginfo=info)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def output_names(name: str, count: int) -> list[str]:
    return [f"{name}.png"] if count == 1 else [f"{name}-{i}.png" for i in range(count)]


def run_batch(app: Any, items: Sequence[BatchItem], options: BatchOptions, output_dir: str | os.PathLike[str], *,
              backend: Any = None, overwrite: bool = False, job: JobControl | None = None,
              on_item: Callable[[int, int, str, str], None] | None = None,
              report_path: str | os.PathLike[str] | None = None) -> BatchReport:
    """Process ``items`` into ``output_dir``; see the module docstring. ``on_item(index, total, name,
    status)`` is called after each item (status done / skipped / failed)."""
    started = time.monotonic()
    out = Path(output_dir)
    runner = BatchRunner(app, options, backend)
    inputs = {_resolved(p) for it in items for p in (it.image, it.mask) if isinstance(p, (str, Path))}
    if _resolved(out) in {_resolved(Path(p).parent) for p in inputs}:
        raise InvalidInputError(f"The output folder {out} holds input files; choose another folder so inputs are never overwritten.")
    out.mkdir(parents=True, exist_ok=True)
    report = BatchReport(options.op, str(out))
    job = job or JobControl()
    job.begin(f"batch {options.op}", max(1, len(items)))
    count = options.request.batch_count if options.op != "remove" else 1
    for index, item in enumerate(items):
        targets = [out / n for n in output_names(item.name, count)]
        status = "done"
        if job.interrupted:
            report.interrupted = True
        if report.interrupted:
            report.skipped.append({"name": item.name, "reason": "interrupted"})
            status = "skipped"
        elif any(_resolved(t) in inputs for t in targets):
            report.failed.append({"name": item.name, "reason": "the output would overwrite an input file"})
            status = "failed"
        elif not overwrite and all(t.exists() for t in targets):
            report.skipped.append({"name": item.name, "reason": "output exists"})
            status = "skipped"
        else:
            status, value = try_item(runner, item, job)
            if status == "done":
                try:
                    for (image, text), target in zip(value, targets, strict=True):
                        write_png(image, target, text)
                    report.done.append({"name": item.name, "outputs": [str(t) for t in targets]})
                except OSError as exc:
                    status, value = "failed", f"could not write the output: {exc}"
            if status == "interrupted":
                report.interrupted = True
                report.skipped.append({"name": item.name, "reason": "interrupted"})
                status = "skipped"
            elif status == "failed":
                report.failed.append({"name": item.name, "reason": value})
        if on_item is not None:
            on_item(index, len(items), item.name, status)
        if not report.interrupted:
            job.next_job(f"{index + 1}/{len(items)} {item.name}")
    report.elapsed = round(time.monotonic() - started, 3)
    target = Path(report_path) if report_path else out / REPORT_NAME
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(report.as_dict(), indent=2), encoding="utf-8")
    os.replace(tmp, target)
    return report


def try_item(runner: BatchRunner, item: BatchItem, job: JobControl) -> tuple[str, Any]:
    """Run one item under the batch ``job``: ("done", [(image, infotext)]), ("failed", reason) or
    ("interrupted", None). Only an interrupt stops a batch; every other error is the item's."""
    try:
        return "done", runner.run_item(item, ChildJob(job))
    except JobInterrupted:
        return "interrupted", None
    except (IAError, OSError) as exc:
        return "failed", _reason(exc)
    except Exception as exc:  # one broken item must not end the batch
        log.exception("Inpaint Anything batch: %s failed", item.name)
        return "failed", f"unexpected error: {type(exc).__name__}: {exc}"


def _resolved(p: str | os.PathLike[str]) -> str:
    return os.path.normcase(os.path.realpath(os.fspath(p)))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {exc.filename}"
    if isinstance(exc, OSError):
        return f"could not read the file: {exc.strerror or exc}"
    return str(exc)


# Input discovery lives in batch_inputs.py (imported last: it uses BatchItem from this module).
from inpaint_anything.batch_inputs import collect_items, find_mask, list_images, load_manifest  # noqa: E402, F401

__all__ = [
    "IMAGE_EXTS",
    "OPS",
    "REPORT_NAME",
    "BatchItem",
    "BatchOptions",
    "BatchReport",
    "BatchRunner",
    "KeepRule",
    "collect_items",
    "find_mask",
    "list_images",
    "load_manifest",
    "mask_from_picture",
    "output_names",
    "plan_expansion",
    "run_batch",
    "try_item",
    "write_png",
]
