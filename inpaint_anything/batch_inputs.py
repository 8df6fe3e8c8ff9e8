"""Batch inputs: image folders / file lists, matching masks, and JSON/CSV manifests of prompts."""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inpaint_anything.batch_spec import IMAGE_EXTS, BatchItem, _resolved
from inpaint_anything.errors import InvalidInputError


def _safe_name(text: str) -> str:
    return re.sub(r"[^\w.+-]+", "_", text).strip("._") or "item"


def _name_items(paths: Sequence[Path]) -> list[str]:
    """Output names: the stem, or stem_ext where two inputs share a stem."""
    stems: dict[str, int] = {}
    for p in paths:
        stems[p.stem] = stems.get(p.stem, 0) + 1
    return [_safe_name(p.stem if stems[p.stem] == 1 else f"{p.stem}_{p.suffix.lstrip('.')}") for p in paths]


def _unique(names: Sequence[str]) -> list[str]:
    """Make repeated names distinct (name, name-2, name-3, ...) so no output is shared."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name}-{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def list_images(source: str | os.PathLike[str], *, skip_masks: bool = False) -> list[Path]:
    """Images of a folder (sorted), or the paths listed in a text file (one per line, relative to it)."""
    src = Path(source)
    if src.is_dir():
        found = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
        return [p for p in found if not (skip_masks and p.stem.endswith("_mask"))]
    if src.is_file():
        lines = [ln.strip() for ln in src.read_text(encoding="utf-8").splitlines()]
        return [(src.parent / ln) for ln in lines if ln and not ln.startswith("#")]
    raise InvalidInputError(f"The input {src} is neither a folder of images nor a file list.")


def find_mask(image: Path, masks_dir: Path) -> Path | None:
    """``<stem>_mask.<ext>`` or ``<stem>.<ext>`` (never the image itself) in ``masks_dir``."""
    for stem in (image.stem + "_mask", image.stem):
        for ext in IMAGE_EXTS:
            for candidate in (masks_dir / (stem + ext), masks_dir / (stem + ext.upper())):
                if candidate.is_file() and _resolved(candidate) != _resolved(image):
                    return candidate
    return None


def collect_items(source: str | os.PathLike[str], masks_dir: str | os.PathLike[str] | None = None) -> list[BatchItem]:
    """Items from a folder / file list; with ``masks_dir`` each gets its mask (or a "no mask" problem)."""
    masks = Path(masks_dir) if masks_dir else None
    same = masks is not None and Path(source).is_dir() and _resolved(masks) == _resolved(source)
    paths = list_images(source, skip_masks=same)
    items = []
    for path, name in zip(paths, _name_items(paths), strict=True):
        item = BatchItem(name, path)
        if masks is not None:
            item.mask = find_mask(path, masks)
            if item.mask is None:
                item.problem = f"no mask found ({path.stem}.png or {path.stem}_mask.png in {masks})"
        items.append(item)
    return items


def _numbers(cell: Any, what: str) -> list[float] | None:
    if cell is None or cell == "":
        return None
    if isinstance(cell, str):
        text = cell.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                raise InvalidInputError(f"The {what} {cell!r} is not valid JSON.") from None
        try:
            return [float(v) for v in re.split(r"[\s,;]+", text) if v]
        except ValueError:
            raise InvalidInputError(f"The {what} {cell!r} must be numbers.") from None
    return cell


def _pairs(values: list | None, what: str) -> list | None:
    if values is None or not values or isinstance(values[0], (list, tuple)):
        return values
    if len(values) % 2:
        raise InvalidInputError(f"The {what} need pairs of numbers (x y; x y ...).")
    return [values[i : i + 2] for i in range(0, len(values), 2)]


def load_manifest(path: str | os.PathLike[str]) -> list[BatchItem]:
    """Items from a JSON list (or ``{"items": [...]}``) or a CSV with columns image, mask, points,
    labels, box, prompt, text, name. Paths are relative to the manifest; points "x,y;x,y" or JSON.
    ``prompt`` is what to paint (inpaint); ``text`` selects by text (the mask comes from a detector)."""
    src = Path(path)
    try:
        if src.suffix.lower() == ".csv":
            with open(src, newline="", encoding="utf-8") as fh:
                rows: list[Any] = list(csv.DictReader(fh))
        else:
            data = json.loads(src.read_text(encoding="utf-8"))
            rows = data.get("items", []) if isinstance(data, dict) else data
    except (OSError, ValueError, csv.Error) as exc:
        raise InvalidInputError(f"Could not read the manifest {src}: {exc}") from None
    if not isinstance(rows, list):
        raise InvalidInputError('The manifest must be a list of items (or {"items": [...]}).')
    items, paths = [], []
    for n, row in enumerate(rows):
        if not isinstance(row, dict) or not row.get("image"):
            items.append(BatchItem(f"row-{n + 1}", src, problem=f"manifest row {n + 1} has no 'image'"))
            paths.append(None)
            continue
        image = src.parent / str(row["image"]).strip()
        text = str(row.get("text") or "").strip() or None
        item = BatchItem("", image, prompt=row.get("prompt") or None, text=text)
        try:
            item.mask = src.parent / str(row["mask"]).strip() if row.get("mask") else None
            labels = _numbers(row.get("labels"), "labels")
            item.labels = [int(v) for v in labels] if labels is not None else None
            item.points = _pairs(_numbers(row.get("points"), "points"), "points")
            item.box = _numbers(row.get("box"), "box")
        except (InvalidInputError, TypeError, ValueError) as exc:
            item.problem = f"manifest row {n + 1}: {exc}"
        items.append(item)
        paths.append(image)
    names = iter(_name_items([p for p in paths if p is not None]))
    for item, row, p in zip(items, rows, paths, strict=True):
        if p is not None:
            auto = next(names)
            item.name = _safe_name(str(row.get("name"))) if row.get("name") else auto
    for item, name in zip(items, _unique([i.name for i in items]), strict=True):
        item.name = name
    return items


__all__ = ["collect_items", "find_mask", "list_images", "load_manifest"]
