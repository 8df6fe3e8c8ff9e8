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

from inpaint_anything.batch_inputs import collect_items, find_mask, list_images, load_manifest
from inpaint_anything.batch_spec import (
    IMAGE_EXTS,
    OPS,
    BatchItem,
    BatchOptions,
    EngineOptions,
    ItemSkipped,
    KeepRule,
    _resolved,
    mask_from_picture,
    plan_expansion,
)
from inpaint_anything.errors import IAError, InvalidInputError, JobInterrupted
from inpaint_anything.jobs import ChildJob, JobControl

log = logging.getLogger(__name__)

REPORT_NAME = "batch-report.json"


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


# ---------------------------------------------------------------------------------------------- report
@dataclass
class BatchReport:
    """What a batch did, item by item (in the items' order whatever the engine). ``retries``: each time
    an item was tried again because its worker died (Ray engine); ``workers``: items each worker ran."""

    op: str
    output_dir: str
    done: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    elapsed: float = 0.0
    engine: str = "local"
    retries: list[dict[str, Any]] = field(default_factory=list)
    workers: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        counts = {"done": len(self.done), "skipped": len(self.skipped), "failed": len(self.failed)}
        return {**dataclasses.asdict(self), "counts": counts}

    def add(self, status: str, entry: dict[str, Any]) -> None:
        """File ``entry`` under done / skipped / failed."""
        {"done": self.done, "skipped": self.skipped, "failed": self.failed}[status].append(entry)

    def summary(self) -> str:
        retried = f", {len(self.retries)} retried" if self.retries else ""
        lines = [
            f"{self.op}: {len(self.done)} done, {len(self.skipped)} skipped, {len(self.failed)} failed{retried}"
            f"{' (interrupted)' if self.interrupted else ''} in {self.elapsed:.1f} s -> {self.output_dir}"
        ]
        lines += [f"  failed  {f['name']}: {f['reason']}" for f in self.failed]
        lines += [f"  skipped {s['name']}: {s['reason']}" for s in self.skipped if s["reason"] != "output exists"]
        return "\n".join(lines)

    def write(self, target: Path) -> None:
        """Save as JSON atomically (a temp file in the same folder renamed into place)."""
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            tmp.write_text(json.dumps(self.as_dict(), indent=2), encoding="utf-8")
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()


def _temp_name(path: Path) -> Path:
    """A hidden temp file beside ``path`` that no other process (or machine) picks: ``.<name>.<id>.tmp``."""
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")


def _encode_png(image: np.ndarray, path: Path, infotext: str) -> None:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if infotext:
        info.add_text("parameters", infotext)
    arr = np.ascontiguousarray(image)
    Image.fromarray(arr, "RGBA" if arr.ndim == 3 and arr.shape[2] == 4 else "RGB").save(path, "PNG", pnginfo=info)


def write_png(image: np.ndarray, path: Path, infotext: str = "") -> None:
    """Write a PNG with the "parameters" infotext atomically (a temp file renamed into place)."""
    write_outputs([(image, infotext)], [Path(path)])


def write_outputs(results: Sequence[tuple[np.ndarray, str]], targets: Sequence[Path]) -> None:
    """Write an item's results atomically: every PNG goes to a temp name in its target's folder first,
    then all are renamed into place (``os.replace``) one right after the other. A crash never leaves a
    half-written file under a finished name; temp files are removed when writing fails."""
    temps = [_temp_name(t) for t in targets]
    try:
        for (image, text), tmp in zip(results, temps, strict=True):
            _encode_png(image, tmp, text)
        for tmp, target in zip(temps, targets, strict=True):
            os.replace(tmp, target)
    finally:
        for tmp in temps:
            if tmp.exists():
                tmp.unlink()


def output_names(name: str, count: int) -> list[str]:
    return [f"{name}.png"] if count == 1 else [f"{name}-{i}.png" for i in range(count)]


def results_per_item(options: BatchOptions) -> int:
    return options.request.batch_count if options.op != "remove" else 1


def check_output_folder(items: Sequence[BatchItem], out: Path) -> set[str]:
    """The inputs' resolved paths; refuses an output folder that holds inputs."""
    inputs = {_resolved(p) for it in items for p in (it.image, it.mask) if isinstance(p, (str, Path))}
    if _resolved(out) in {_resolved(Path(p).parent) for p in inputs}:
        raise InvalidInputError(
            f"The output folder {out} holds input files; choose another folder so inputs are never overwritten."
        )
    return inputs


def precheck(item: BatchItem, targets: Sequence[Path], inputs: set[str], overwrite: bool) -> tuple[str, dict] | None:
    """What the driver decides without running the item: ("failed", entry) when an output would
    overwrite an input, ("skipped", entry) when every output exists (and not ``overwrite``), else None."""
    if any(_resolved(t) in inputs for t in targets):
        return "failed", {"name": item.name, "reason": "the output would overwrite an input file"}
    if not overwrite and all(t.exists() for t in targets):
        return "skipped", {"name": item.name, "reason": "output exists"}
    return None


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


def report_target(out: Path, report_path: str | os.PathLike[str] | None) -> Path:
    return Path(report_path) if report_path else out / REPORT_NAME


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
    "try_item",
    "write_outputs",
    "write_png",
]
