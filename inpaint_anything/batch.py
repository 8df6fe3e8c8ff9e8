"""Batch mode: inpaint, remove or outpaint many images (CLI ``python -m inpaint_anything batch`` and
``POST /batch``).

Each item is an image plus where its mask comes from: a mask file (``<stem>.png`` or
``<stem>_mask.png`` in the masks folder), point/box prompts from a manifest (SAM or GrabCut), a text
("Select by text": a manifest's ``text`` column or one text for every item; the detector's boxes
become SAM or GrabCut masks), or "segment everything" with a :class:`KeepRule`. One bad item
(unreadable image, missing mask, wrong mask size) is reported as failed, an item whose text finds
nothing as skipped; the rest continues. :func:`run_batch` writes ``<stem>.png`` with
the infotext, skips outputs that already exist (resumable), never writes over an input, and leaves a
JSON report next to the outputs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inpaint_anything.batch_inputs import collect_items, find_mask, list_images, load_manifest
from inpaint_anything.batch_outputs import (
    REPORT_NAME,
    BatchReport,
    check_output_folder,
    output_names,
    precheck,
    report_target,
    results_per_item,
    write_outputs,
    write_png,
)
from inpaint_anything.batch_spec import (
    IMAGE_EXTS,
    OPS,
    BatchItem,
    BatchOptions,
    EngineOptions,
    ItemSkipped,
    KeepRule,
    plan_expansion,
)
from inpaint_anything.errors import IAError, InvalidInputError, JobInterrupted
from inpaint_anything.jobs import ChildJob, JobControl
from inpaint_anything.masks import mask_from_picture

log = logging.getLogger(__name__)


class BatchRunner:
    """Turns one item into result images; raises IAError when the item cannot be processed."""

    def __init__(self, app: Any, options: BatchOptions, backend: Any = None):
        from inpaint_anything.workspace import Workspace

        self.app = app
        self.options = options.validated()
        if backend is None:
            if options.op != "remove":
                raise InvalidInputError("Choose an inpainting backend and model.")
            from inpaint_anything.inpaint.cleaner import default_cleaner

            backend = app.backend("cleaner", default_cleaner(options.method))
        self.backend = backend
        self._ws = Workspace(app, "batch-" + uuid.uuid4().hex)
        self.text_query: Any = None  # the TextQuery that made the last mask (None: not from text)

    def check_text(self, items: Sequence[BatchItem]) -> None:
        """Before the first item: when some item selects by text, its detector must be usable (loaded
        now), so that a missing detector is one clear error instead of one failure per item."""
        texts = [
            self.options.text_of(it) for it in items if not it.problem and it.mask is None and not it.points and it.box is None
        ]
        if any(texts) and self.options.op != "outpaint":
            query = self.options.text_query(next(t for t in texts if t))
            self.app.text_detector(query.detector)

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
        self.text_query = None
        if item.mask is not None:
            label = f"mask {item.mask.name}" if isinstance(item.mask, Path) else "mask"
            m = masks.as_bool_mask(mask_from_picture(self.load_image(item.mask, "mask")), shape, name=label)
        elif item.points or item.box is not None:
            m = self._prompted(item, image, job)
        elif opts.text_of(item):
            m = self._texted(opts.text_of(item), image, job)
        elif opts.everything is not None:
            self._ws.set_image(image)
            segmap = self._ws.segment_everything(opts.sam_model, job, **opts.everything)
            m = (opts.keep or KeepRule()).mask(segmap)
        else:
            raise InvalidInputError(
                "No mask: put <name>.png or <name>_mask.png in the masks folder, give "
                "points, a box or a text in a manifest, or use 'segment everything'."
            )
        if opts.mask_grow:
            m = masks.grow(m, opts.mask_grow)
        if not m.any():
            raise InvalidInputError("The mask is empty (nothing selected), so there is nothing to change.")
        return m

    def _texted(self, text: str, image: np.ndarray, job: JobControl) -> np.ndarray:
        """The mask of what ``text`` names (:func:`~inpaint_anything.text_selection.select_by_text`);
        ItemSkipped when the detector finds nothing."""
        from inpaint_anything.text_selection import select_by_text

        query = self.options.text_query(text)
        self._ws.set_image(image)
        got = select_by_text(self._ws, query, use_sam=self.options.segmenter == "sam", model_id=self.options.sam_model, job=job)
        if not got.found.detections:
            from inpaint_anything.segment.text_fields import TEXT

            raise ItemSkipped(
                f"{TEXT['detector'].shown(query.detector)} found nothing for "
                f"{', '.join(repr(p) for p in query.phrases)} at threshold {query.threshold:g}; "
                "try a lower threshold or another detector."
            )
        self.text_query = query
        return got.mask

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
        result = self._ws.prompt(
            [(x, y, int(lab)) for (x, y), lab in zip(pts, labs, strict=True)], item.box, model_id=self.options.sam_model, job=job
        )
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
            from inpaint_anything.outpaint.geometry import Expansion

            o = self.options
            settings = OutpaintSettings(
                Expansion.from_spec(o.expansion, image.shape[1], image.shape[0]), o.prefill, o.overlap_px, o.strategy
            )
            result = outpaint(image, settings, request, self.backend, job, max_pixels=max_pixels)
        else:
            mask = self.mask_for(item, image, job)
            result = run_inpaint(image, mask, request, self.backend, job, max_pixels=max_pixels)
            if self.text_query is not None:  # the mask came from "Select by text": say so in the infotext
                result.infotexts[:] = [t + self.text_query.infotext() for t in result.infotexts]
        return list(zip(result.images, result.infotexts, strict=True))


def process_item(
    runner: BatchRunner, item: BatchItem, targets: Sequence[Path], job: JobControl, *, overwrite: bool = False
) -> tuple[str, dict[str, Any]]:
    """Run one item and write its outputs (both engines): ("done", {name, outputs}), ("skipped", {name,
    reason}) when its outputs appeared meanwhile or its text found nothing, ("failed", {name, reason})
    or ("interrupted", ...)."""
    if not overwrite and all(t.exists() for t in targets):
        return "skipped", {"name": item.name, "reason": "output exists"}
    status, value = try_item(runner, item, job)
    if status == "done":
        try:
            write_outputs(value, targets)
        except OSError as exc:
            return "failed", {"name": item.name, "reason": f"could not write the output: {exc}"}
        return "done", {"name": item.name, "outputs": [str(t) for t in targets]}
    if status == "interrupted":
        return "interrupted", {"name": item.name, "reason": "interrupted"}
    if status == "skipped":  # its text found nothing
        return "skipped", {"name": item.name, "reason": value}
    return "failed", {"name": item.name, "reason": value}


def run_batch(
    app: Any,
    items: Sequence[BatchItem],
    options: BatchOptions,
    output_dir: str | os.PathLike[str],
    *,
    backend: Any = None,
    overwrite: bool = False,
    job: JobControl | None = None,
    on_item: Callable[[int, int, str, str], None] | None = None,
    report_path: str | os.PathLike[str] | None = None,
) -> BatchReport:
    """Process ``items`` into ``output_dir``; see the module docstring. ``on_item(index, total, name,
    status)`` is called after each item (status done / skipped / failed)."""
    started = time.monotonic()
    out = Path(output_dir)
    runner = BatchRunner(app, options, backend)
    runner.check_text(items)
    inputs = check_output_folder(items, out)
    out.mkdir(parents=True, exist_ok=True)
    report = BatchReport(options.op, str(out))
    job = job or JobControl()
    job.begin(f"batch {options.op}", max(1, len(items)))
    count = results_per_item(options)
    for index, item in enumerate(items):
        targets = [out / n for n in output_names(item.name, count)]
        if job.interrupted:
            report.interrupted = True
        if report.interrupted:
            status, entry = "skipped", {"name": item.name, "reason": "interrupted"}
        else:
            status, entry = precheck(item, targets, inputs, overwrite) or process_item(
                runner, item, targets, job, overwrite=overwrite
            )
            if status == "interrupted":
                report.interrupted = True
                status = "skipped"
        report.add(status, entry)
        if on_item is not None:
            on_item(index, len(items), item.name, status)
        if not report.interrupted:
            job.next_job(f"{index + 1}/{len(items)} {item.name}")
    report.elapsed = round(time.monotonic() - started, 3)
    report.write(report_target(out, report_path))
    return report


def try_item(runner: BatchRunner, item: BatchItem, job: JobControl) -> tuple[str, Any]:
    """Run one item under the batch ``job``: ("done", [(image, infotext)]), ("failed", reason),
    ("skipped", reason) or ("interrupted", None). Only an interrupt stops a batch; every other error
    is the item's."""
    try:
        return "done", runner.run_item(item, ChildJob(job))
    except JobInterrupted:
        return "interrupted", None
    except ItemSkipped as exc:
        return "skipped", str(exc)
    except (IAError, OSError) as exc:
        return "failed", _reason(exc)
    except Exception as exc:  # one broken item must not end the batch
        log.exception("Inpaint Anything batch: %s failed", item.name)
        return "failed", f"unexpected error: {type(exc).__name__}: {exc}"


def run_items(
    runner: BatchRunner, items: Sequence[BatchItem], job: JobControl, encode: Callable[[np.ndarray, str], Any] | None = None
) -> tuple[list[tuple[str, Any]], bool]:
    """The batch in memory (``POST /batch`` on the local engine): ``(status, value)`` per item in order
    (done: ``[(encode(image, text), text)]``, failed or skipped: the reason, interrupted: None) and
    whether the batch was interrupted; the shape :func:`inpaint_anything.batch_ray.run_inline_ray`
    returns too. After an interrupt the remaining items are "interrupted" without running."""
    job.begin(f"batch {runner.options.op}", max(1, len(items)))
    results: list[tuple[str, Any]] = []
    stopped = False
    for n, item in enumerate(items):
        status, value = ("interrupted", None) if stopped or job.interrupted else try_item(runner, item, job)
        if status == "done" and encode is not None:
            value = [(encode(image, text), text) for image, text in value]
        stopped = stopped or status == "interrupted"
        results.append((status, value))
        if not stopped:
            job.next_job(f"{n + 1}/{len(items)} {item.name}")
    return results, stopped


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {exc.filename}"
    if isinstance(exc, OSError):
        return f"could not read the file: {exc.strerror or exc}"
    return str(exc)


__all__ = [
    "IMAGE_EXTS",
    "OPS",
    "REPORT_NAME",
    "BatchItem",
    "BatchOptions",
    "BatchReport",
    "BatchRunner",
    "EngineOptions",
    "ItemSkipped",
    "KeepRule",
    "collect_items",
    "find_mask",
    "list_images",
    "load_manifest",
    "mask_from_picture",
    "output_names",
    "plan_expansion",
    "precheck",
    "process_item",
    "results_per_item",
    "run_batch",
    "run_items",
    "try_item",
    "write_outputs",
    "write_png",
]
