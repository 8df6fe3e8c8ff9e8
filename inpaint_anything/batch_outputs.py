"""Batch outputs: the report, atomic PNG writing, output names, and the checks made before an item
runs (an output folder that holds inputs, outputs already there). Shared by both batch engines
(:mod:`inpaint_anything.batch` and :mod:`inpaint_anything.batch_ray`)."""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inpaint_anything.batch_spec import BatchItem, BatchOptions, _resolved
from inpaint_anything.errors import InvalidInputError

REPORT_NAME = "batch-report.json"


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
    from inpaint_anything.codec import png_bytes

    path.write_bytes(png_bytes(image, infotext))


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


def report_target(out: Path, report_path: str | os.PathLike[str] | None) -> Path:
    return Path(report_path) if report_path else out / REPORT_NAME


__all__ = [
    "REPORT_NAME",
    "BatchReport",
    "check_output_folder",
    "output_names",
    "precheck",
    "report_target",
    "results_per_item",
    "write_outputs",
    "write_png",
]
