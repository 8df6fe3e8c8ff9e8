""" "Select by text": a detector finds the phrases, SAM (or GrabCut) turns each box into a mask.

:func:`select_by_text` is what the tab's "Select by text" row and ``POST /sessions/{id}/text`` run:
the detector (:mod:`inpaint_anything.segment.text_detect`) finds boxes in the workspace's image; each
box goes through the workspace's own prompt path (:meth:`Workspace.prompt`, any SAM family) and the
masks are united (each kept on the workspace, so a detection can be switched off and on without
running the detector again: :meth:`Workspace.keep_text_boxes`); without a usable SAM model (or with ``use_sam=False``) GrabCut makes them. CLIPSeg
gives a mask directly. The result becomes the selection in one undo step with the refinements
re-applied (:meth:`Workspace.set_text_selection`), and results generated from it record the text,
detector, threshold and mode in their infotext.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inpaint_anything.errors import ModelNotFoundError, OfflineError, UnavailableError
from inpaint_anything.jobs import JobControl
from inpaint_anything.segment.text_fields import TextQuery


@dataclass
class TextSelected:
    """The committed mask, what was found, the query and a note ("" when there is nothing to say)."""

    mask: np.ndarray
    found: Any  # segment.text_detect.Found
    query: TextQuery
    note: str = ""
    method: str = "sam"  # how boxes became masks: sam | grabcut | clipseg

    def describe(self) -> str:
        """For the status line: ``"2 × 'dog' (0.41, 0.37). Mask: 1,234 pixels."``"""
        pixels = f" Mask: {int(self.mask.sum()):,} pixels." if self.found.detections else ""
        return (self.found.describe().rstrip(".") + "." + pixels + (" " + self.note if self.note else "")).strip()

    def payload(self) -> dict[str, Any]:
        """The JSON view (without the mask image): detections, the query and how masks were made."""
        return {
            "detections": [d.as_dict() for d in self.found.detections],
            "found": self.found.describe(),
            "boxes": [list(d.as_dict()["box"]) for d in self.found.detections],
            "scores": [d.as_dict()["score"] for d in self.found.detections],
            "labels": [d.label for d in self.found.detections],
            "query": self.query.as_dict(),
            "method": self.method,
            "note": self.note,
        }


_ids = itertools.count(1)


@dataclass
class TextLayer:
    """The text selection's detections with one mask each, and which of them are kept (the text
    mask is the union of the kept ones). ``id`` names it for the editor, which sends the kept flags
    back with its events (see :mod:`inpaint_anything.ui.wire`)."""

    parts: list[np.ndarray]
    boxes: list[Any]  # segment.text_detect.Detection, one per part, or none
    kept: list[bool] = field(default_factory=list)
    id: int = field(default_factory=lambda: next(_ids))

    @classmethod
    def make(cls, masks: Any, boxes: Sequence[Any], shape: tuple[int, int]) -> TextLayer:
        from inpaint_anything.errors import InvalidInputError
        from inpaint_anything.masks import as_bool_mask

        parts = [masks] if isinstance(masks, np.ndarray) else list(masks)
        if boxes and len(boxes) != len(parts):
            raise InvalidInputError(f"{len(boxes)} detections but {len(parts)} masks.")
        parts = [as_bool_mask(m, shape) for m in parts] or [np.zeros(shape, bool)]
        return cls(parts, list(boxes), [True] * len(parts))

    def union(self) -> np.ndarray:
        out = np.zeros_like(self.parts[0])
        for part, kept in zip(self.parts, self.kept, strict=True):
            if kept:
                out |= part
        return out

    def keep(self, kept: Sequence[bool], text_id: int | None = None) -> bool:
        """Set the kept flags (one per box); False (nothing changes) when they are for another
        layer, of the wrong count, or the same as before."""
        flags = [bool(k) for k in kept]
        if (text_id is not None and text_id != self.id) or not self.boxes or len(flags) != len(self.boxes):
            return False
        changed, self.kept = flags != self.kept, flags
        return changed

    def payload(self) -> dict[str, Any] | None:
        """What the editor draws: ``{"id", "image_size": [w, h], "boxes": [{"box": [x0, y0, x1, y1]
        (image pixels), "label", "score", "kept"}, ...]}``; None without boxes."""
        if not self.boxes:
            return None
        h, w = self.parts[0].shape
        return {
            "id": self.id,
            "image_size": [w, h],
            "boxes": [{**d.as_dict(), "kept": k} for d, k in zip(self.boxes, self.kept, strict=True)],
        }


def box_masks(
    ws: Any,
    boxes: list[tuple[float, float, float, float]],
    *,
    use_sam: bool = True,
    model_id: str | None = None,
    job: JobControl | None = None,
) -> tuple[list[np.ndarray], str, str]:
    """One mask per box (image pixels) -> (masks, method, note). SAM through the workspace's
    prompt path; GrabCut when ``use_sam`` is False or no SAM model can be used."""
    from inpaint_anything.segment.grabcut import grabcut_mask

    ws.require_image()
    note = ""
    if use_sam and boxes:
        try:
            return [np.asarray(ws.prompt([], box, model_id=model_id, job=job).masks[0], bool) for box in boxes], "sam", ""
        except (ModelNotFoundError, OfflineError, UnavailableError) as exc:
            note = f"GrabCut made the masks: no SAM model could be used ({str(exc).splitlines()[0]})"
        finally:
            ws.clear_prompts()  # a later click starts a new object
    return [grabcut_mask(ws.image, box=box) for box in boxes], "grabcut", note


def select_by_text(
    ws: Any, query: TextQuery, *, use_sam: bool = True, model_id: str | None = None, job: JobControl | None = None
) -> TextSelected:
    """Find ``query`` in the workspace's image and make it the selection (see the module doc).
    Nothing found: the selection is emptied too (one undo step), and the status says so."""
    from inpaint_anything.segment.text_detect import find

    img = ws.require_image()
    if job is not None:
        job.step(0, 2, f"looking for {query.text!r}")
    loaded = ws.app.text_detector(query.detector)
    found = find(loaded, img, query)
    if job is not None:
        job.step(1, 2, "making the masks")
        job.check()
    if found.mask is not None:
        parts, method, note = list(found.regions or [found.mask]), "clipseg", ""
    else:
        parts, method, note = box_masks(ws, [d.box for d in found.detections], use_sam=use_sam, model_id=model_id, job=job)
    if not found.detections:
        note = f"Try a lower threshold (now {query.threshold:g}) or another detector."
    boxes = found.detections if len(parts) == len(found.detections) else []
    committed = ws.set_text_selection(parts, query if found.detections else None, boxes)
    return TextSelected(committed, found, query, note, method)


__all__ = ["TextLayer", "TextSelected", "box_masks", "select_by_text"]
