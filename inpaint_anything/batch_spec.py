"""What a batch asks for: the items, the options, which segments to keep, and how to read a mask
picture. Checked before anything runs (see :mod:`inpaint_anything.batch`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.fields import Field, by_name, validate
from inpaint_anything.inpaint.request import InpaintRequest
from inpaint_anything.outpaint.params import OUTPAINT

OPS = ("inpaint", "remove", "outpaint")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
ENGINES = ("local", "ray")

# Where a batch runs. One table: the CLI flags (``--engine``, ``--ray-address``, ...), the fields of
# ``POST /batch`` and :class:`EngineOptions` are made from it (tests/test_fields_sync.py).
ENGINE_FIELDS: tuple[Field, ...] = (
    Field(
        "engine",
        str,
        "local",
        "Engine",
        choices=ENGINES,
        help="local: this process, one item after another; ray: a pool of Ray workers, each loading the "
        "models once (needs Ray: pip install -r requirements/ray.txt).",
    ),
    Field(
        "ray_address",
        str,
        "",
        "Ray address",
        help="ray: the cluster to join (host:port of `ray start --head`, or auto); empty: $RAY_ADDRESS, "
        "else a Ray started for this batch on this machine.",
    ),
    Field(
        "workers",
        int,
        0,
        "Workers",
        minimum=0,
        maximum=4096,
        help="ray: how many workers (Ray actors); 0: as many as the cluster's GPUs hold when each worker "
        "reserves GPUs, else one per CPU core (never more than the items to do).",
    ),
    Field(
        "gpus_per_worker",
        float,
        0.0,
        "GPUs per worker",
        minimum=0.0,
        maximum=64.0,
        help="ray: GPUs each worker reserves (1: one worker per GPU; 0.5: two share a GPU); 0: CPU workers (classical removal).",
    ),
    Field(
        "max_retries",
        int,
        2,
        "Retries",
        minimum=0,
        maximum=100,
        help="ray: how often an item whose worker died (killed, out of memory) is tried again on another "
        "worker before it is reported as failed.",
    ),
)
ENGINE = by_name(ENGINE_FIELDS)


# ---------------------------------------------------------------------------------------------- masks
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
        keep = [
            i
            for i in range(n)
            if areas[i] >= self.min_area and scores[i] >= self.min_score and (self.max_area is None or areas[i] <= self.max_area)
        ]
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
    """An outpaint :class:`~inpaint_anything.outpaint.geometry.Expansion` for an image of this size
    (kept for callers of the batch module; see :meth:`Expansion.from_spec`)."""
    from inpaint_anything.outpaint.geometry import Expansion

    return Expansion.from_spec(spec, width, height)


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
    text: str | None = None  # "Select by text": what to select (the mask comes from the detector)
    problem: str = ""  # known to be unusable before processing (reported as failed)


@dataclass
class BatchOptions:
    """What to do with every item."""

    op: str = "inpaint"
    request: InpaintRequest = field(default_factory=InpaintRequest)
    method: str = ""  # remove: the cleaner ("": the table's default where usable, see cleaner.default_cleaner)
    segmenter: str = "sam"  # items with points/box: sam | grabcut
    sam_model: str | None = None
    everything: dict[str, Any] | None = None  # segment_everything options for items without mask/prompts
    keep: KeepRule | None = None
    mask_grow: int = 0
    # "Select by text" for items with text (TEXT_FIELDS values: detector, threshold, mode, and "text"
    # for the items without their own); None: the table's defaults
    text: dict[str, Any] | None = None
    expansion: dict[str, Any] = field(default_factory=lambda: {"mode": "pixels", "right": 64})
    prefill: str = OUTPAINT["prefill"].default
    overlap_px: int = OUTPAINT["overlap_px"].default
    strategy: str = OUTPAINT["strategy"].default

    def validated(self) -> BatchOptions:
        if self.op not in OPS:
            raise InvalidInputError(f"Unknown batch operation {self.op!r}; choose one of: {', '.join(OPS)}.")
        if self.segmenter not in ("sam", "grabcut"):
            raise InvalidInputError("The segmenter must be 'sam' or 'grabcut'.")
        if isinstance(self.mask_grow, bool) or not isinstance(self.mask_grow, int) or not 0 <= self.mask_grow <= 512:
            raise InvalidInputError("Mask grow must be 0..512 pixels.")
        if self.keep is not None:
            self.keep.validated()
        if self.text is not None:
            self.text_query(self.text.get("text") or "-")  # the detector, threshold and mode, checked now
        if self.op == "outpaint":
            spec = self.expansion
            if spec.get("mode", "pixels") == "pixels" and not any(spec.get(s) for s in ("left", "right", "up", "down")):
                raise InvalidInputError("Nothing to outpaint: give the pixels to add on some side, an aspect preset or a scale.")
            for name in ("prefill", "overlap_px", "strategy"):
                OUTPAINT[name].check(getattr(self, name))
        self.request.validated()
        return self

    def text_of(self, item: BatchItem) -> str:
        """What ``item`` selects by text: its own text, else the options' ("" when none)."""
        return (item.text or (self.text or {}).get("text") or "").strip()

    def text_query(self, text: str) -> Any:
        """The checked :class:`~inpaint_anything.segment.text_fields.TextQuery` for ``text`` with these
        options' detector, threshold and mode; the detector must run on this installation."""
        from inpaint_anything.models.text_models import available_detectors, get_detector, unavailable_reason
        from inpaint_anything.segment.text_fields import check_text_query

        query = check_text_query({**(self.text or {}), "text": text})
        reason = unavailable_reason(get_detector(query.detector))
        if reason:
            raise InvalidInputError(f"{reason} Choose another text detector: {', '.join(available_detectors())}.")
        return query


class ItemSkipped(InvalidInputError):
    """An item with nothing to do (its text found nothing): reported as skipped with the reason, and
    the batch goes on."""


@dataclass
class EngineOptions:
    """Where a batch runs (see :data:`ENGINE_FIELDS`); the ray fields are ignored by the local engine."""

    engine: str = "local"
    ray_address: str = ""
    workers: int = 0
    gpus_per_worker: float = 0.0
    max_retries: int = 2

    def validated(self) -> EngineOptions:
        validate(ENGINE_FIELDS, self)
        return self


def _resolved(p: str | os.PathLike[str]) -> str:
    """A path compared as the file system sees it (symlinks resolved, case folded where it is)."""
    return os.path.normcase(os.path.realpath(os.fspath(p)))
