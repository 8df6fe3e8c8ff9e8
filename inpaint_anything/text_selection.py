""""Select by text": a detector finds the phrases, SAM (or GrabCut) turns each box into a mask.

:func:`select_by_text` is what the tab's "Select by text" row and ``POST /sessions/{id}/text`` run:
the detector (:mod:`inpaint_anything.segment.text_detect`) finds boxes in the workspace's image; each
box goes through the workspace's own prompt path (:meth:`Workspace.prompt`, any SAM family) and the
masks are united; without a usable SAM model (or with ``use_sam=False``) GrabCut makes them. CLIPSeg
gives a mask directly. The result becomes the selection in one undo step with the refinements
re-applied (:meth:`Workspace.set_text_selection`), and results generated from it record the text,
detector, threshold and mode in their infotext.
"""

from __future__ import annotations

from dataclasses import dataclass
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
        return {"detections": [d.as_dict() for d in self.found.detections], "found": self.found.describe(),
                "boxes": [list(d.as_dict()["box"]) for d in self.found.detections],
                "scores": [d.as_dict()["score"] for d in self.found.detections],
                "labels": [d.label for d in self.found.detections], "query": self.query.as_dict(),
                "method": self.method, "note": self.note}


def box_masks(ws: Any, boxes: list[tuple[float, float, float, float]], *, use_sam: bool = True,
              model_id: str | None = None, job: JobControl | None = None) -> tuple[np.ndarray, str, str]:
    """The union of one mask per box (image pixels) -> (mask, method, note). SAM through the
    workspace's prompt path; GrabCut when ``use_sam`` is False or no SAM model can be used."""
    from inpaint_anything.segment.grabcut import grabcut_mask

    img = ws.require_image()
    picked = np.zeros(img.shape[:2], bool)
    note = ""
    if use_sam and boxes:
        try:
            for box in boxes:
                picked |= ws.prompt([], box, model_id=model_id, job=job).masks[0]
            return picked, "sam", ""
        except (ModelNotFoundError, OfflineError, UnavailableError) as exc:
            picked[:] = False
            note = f"GrabCut made the masks: no SAM model could be used ({str(exc).splitlines()[0]})"
        finally:
            ws.clear_prompts()  # a later click starts a new object
    for box in boxes:
        picked |= grabcut_mask(img, box=box)
    return picked, "grabcut", note


def select_by_text(ws: Any, query: TextQuery, *, use_sam: bool = True, model_id: str | None = None,
                   job: JobControl | None = None) -> TextSelected:
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
        mask, method, note = found.mask, "clipseg", ""
    else:
        mask, method, note = box_masks(ws, [d.box for d in found.detections], use_sam=use_sam,
                                       model_id=model_id, job=job)
    if not found.detections:
        note = f"Try a lower threshold (now {query.threshold:g}) or another detector."
    committed = ws.set_text_selection(mask, query if found.detections else None)
    return TextSelected(committed, found, query, note, method)


__all__ = ["TextSelected", "box_masks", "select_by_text"]
