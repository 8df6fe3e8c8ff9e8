"""One user's working state: the image, the mask (with undo), segmentation, candidates and results.

Each browser tab (gradio session) and each API session id gets its own :class:`Workspace`, so two
users never see each other's image or mask. Every public method validates its input and raises
:class:`~inpaint_anything.errors.IAError` with a message for the user.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from inpaint_anything import masks as mask_ops
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.jobs import JobControl
from inpaint_anything.selection import Selection, apply_op, check_op, check_stroke, rasterize_strokes
from inpaint_anything.workspace_sam import SamPrompts

if TYPE_CHECKING:
    from inpaint_anything.services import WorkspaceServices


@dataclass
class Selected:
    """What :meth:`Workspace.select` made: the committed mask, SAM's candidates (None without a
    SAM prompt), the index kept, and a note for the user ("" when there is nothing to say)."""

    mask: np.ndarray
    candidates: Any
    index: int
    note: str


@dataclass
class Result:
    image: np.ndarray
    infotext: str
    seed: int
    kind: str  # inpaint | remove | outpaint | zoom


@dataclass
class Workspace(SamPrompts):
    app: WorkspaceServices
    session_id: str
    image: np.ndarray | None = None  # RGB uint8
    alpha: np.ndarray | None = None  # the input's alpha channel, if any
    mask: np.ndarray | None = None  # bool, the current selection
    history: mask_ops.MaskHistory = field(default_factory=mask_ops.MaskHistory)
    segment_map: Any = None
    candidates: Any = None  # PromptResult of the last click/box
    points: list[tuple[float, float, int]] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None
    sam_model: str | None = None
    results: list[Result] = field(default_factory=list)
    selection: np.ndarray | None = None  # raw selection from the canvas (prompts, scribbles, brush)
    refinements: list[tuple[str, int]] = field(default_factory=list)  # mask ops re-applied to it
    ui: dict[str, Any] = field(default_factory=dict)  # front-end state (last canvas event, chosen candidate)
    dropped_results: int = 0  # older results dropped to keep ``results_per_session``
    prepare_state: Any = None  # the latest background SAM preparation (inpaint_anything.preparer)
    text_mask: np.ndarray | None = None  # what "Select by text" found; part of every selection until cleared
    text_query: Any = None  # the TextQuery that found it (recorded in the infotext of results)
    text_layer: Any = None  # its detections and one mask each (text_selection.TextLayer)
    _session: Any = None
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # ------------------------------------------------------------------ image
    def set_image(self, image: Any) -> tuple[int, int]:
        """Start over with a new image; returns (width, height)."""
        from inpaint_anything.imaging import check_size, to_rgb_uint8

        if image is None:
            raise InvalidInputError("Upload an image first.")
        rgb, alpha = to_rgb_uint8(image)
        check_size(rgb.shape[0], rgb.shape[1], self.app.settings.max_image_pixels)
        with self._lock:
            if self.prepare_state is not None:  # the picture it was preparing is gone
                self.prepare_state.cancel.set()
            self.image, self.alpha = rgb, alpha
            self.mask = np.zeros(rgb.shape[:2], bool)
            self.history.clear()
            self.history.push(self.mask)
            self.segment_map = self.candidates = None
            self.points, self.box = [], None
            self.selection, self.refinements = None, []
            self.text_mask = self.text_query = self.text_layer = None
        self._fit_budget()
        return rgb.shape[1], rgb.shape[0]

    def _fit_budget(self) -> None:
        """After this session grew: drop least recently used other sessions if all exceed the budget."""
        self.app.enforce_memory_budget(self.session_id)

    def clear_image(self) -> None:
        """Forget the image and everything derived from it (the page cleared its input)."""
        with self._lock:
            if self.prepare_state is not None:
                self.prepare_state.cancel.set()
            self.image = self.alpha = self.mask = self.selection = self.segment_map = self.candidates = None
            self.points, self.box, self.refinements = [], None, []
            self.text_mask = self.text_query = self.text_layer = None
            self.history.clear()
            self.ui.clear()

    def require_image(self) -> np.ndarray:
        if self.image is None:
            raise InvalidInputError("Upload an image first.")
        return self.image

    @property
    def size(self) -> tuple[int, int]:
        img = self.require_image()
        return img.shape[1], img.shape[0]

    def use_result(self, index: int = -1) -> tuple[int, int]:
        """Make a result the new input image (to chain edits)."""
        if not self.results:
            raise InvalidInputError("There is no result yet.")
        try:
            result = self.results[index]
        except IndexError as exc:
            raise InvalidInputError(f"There is no result number {index}.") from exc
        return self.set_image(result.image)

    # ------------------------------------------------------------------ mask editing
    def _commit(self, mask: np.ndarray) -> np.ndarray:
        self.mask = mask
        self.history.push(mask)
        return mask

    def set_mask(self, mask: Any) -> np.ndarray:
        img = self.require_image()
        with self._lock:
            return self._commit(mask_ops.as_bool_mask(mask, img.shape[:2]))

    def mask_op(self, op: str, px: int = 0) -> np.ndarray:
        """grow / shrink by px, fill_holes (max area px, 0 = any), remove_specks (below px),
        invert, clear, all."""
        img = self.require_image()
        with self._lock:
            m = self.mask if self.mask is not None else np.zeros(img.shape[:2], bool)
            return self._commit(apply_op(m, op, px))

    # The tab's model: the canvas sends its whole selection (a snapshot), and mask operations are a
    # chain of refinements re-applied to every new selection, so browser-side undo and server-side
    # grow/shrink/invert never fight.
    def set_selection(self, selection: Any) -> np.ndarray:
        img = self.require_image()
        with self._lock:
            self.selection = mask_ops.as_bool_mask(selection, img.shape[:2])
            return self._commit(self._refined())

    def set_text_selection(self, masks: Any, query: Any, boxes: Sequence[Any] = ()) -> np.ndarray:
        """What "Select by text" found becomes the selection (refinements re-applied, one undo step)
        and stays part of every later :meth:`select` until :meth:`clear_text` or a new image.
        ``masks``: one mask per detection in ``boxes`` (or one mask, no boxes); the detections can
        then be switched off and on (:meth:`keep_text_boxes`)."""
        from inpaint_anything.text_selection import TextLayer

        img = self.require_image()
        with self._lock:
            self.text_layer = TextLayer.make(masks, boxes, img.shape[:2])
            self.text_mask, self.text_query = self.text_layer.union(), query
            return self.set_selection(self.text_mask)

    def keep_text_boxes(self, kept: Sequence[bool], text_id: int | None = None) -> bool:
        """Which detections count: the text mask becomes the union of the kept ones' masks (no
        detector run). Flags for another text selection (``text_id``) or of the wrong count are
        ignored. True when the text mask changed; the caller commits (:meth:`select` unions it)."""
        with self._lock:
            layer = self.text_layer
            if layer is None or not layer.keep(kept, text_id):
                return False
            self.text_mask = layer.union()
            return True

    def clear_text(self) -> None:
        """Forget the text selection (the mask stays until the next selection)."""
        with self._lock:
            self.text_mask = self.text_query = self.text_layer = None

    def add_refinement(self, op: str, px: int = 0) -> np.ndarray:
        img = self.require_image()
        px = check_op(op, px)
        with self._lock:
            if self.selection is None:
                self.selection = self.mask if self.mask is not None else np.zeros(img.shape[:2], bool)
            self.refinements.append((op, int(px)))
            return self._commit(self._refined())

    def clear_refinements(self) -> np.ndarray | None:
        with self._lock:
            self.refinements = []
            if self.selection is not None:
                return self._commit(self._refined())
            return self.mask

    def _refined(self) -> np.ndarray:
        m = self.selection
        for op, px in self.refinements:
            m = apply_op(m, op, px)
        return m

    def brush(self, strokes: list[dict]) -> np.ndarray:
        """Apply brush strokes {"mode": "add"|"erase", "radius": r, "points": [[x, y], ...]} to the mask."""
        img = self.require_image()
        checked = [
            check_stroke(s.get("mode", "add"), s.get("radius", 8.0), s.get("points"), modes=("add", "erase")) for s in strokes
        ]
        with self._lock:
            m = self.mask if self.mask is not None else np.zeros(img.shape[:2], bool)
            return self._commit(rasterize_strokes(checked, (img.shape[1], img.shape[0]), base=m))

    def undo(self) -> np.ndarray | None:
        return self._step(self.history.undo)

    def redo(self) -> np.ndarray | None:
        return self._step(self.history.redo)

    def _step(self, move) -> np.ndarray | None:
        """Move along the undo history; the mask stays where there is nothing to move to."""
        with self._lock:
            m = move()
            if m is not None:
                self.mask = m
            return self.mask

    def scribble(self, scribble_mask: Any, *, mode: str = "add", ignore_unsegmented: bool = True) -> np.ndarray:
        """Select every segment the scribble touches; ``mode`` add / replace / subtract."""
        from inpaint_anything.segment.everything import select_by_scribble

        img = self.require_image()
        if self.segment_map is None:
            raise InvalidInputError("Run 'Segment everything' first, then scribble on the segment map.")
        picked = select_by_scribble(self.segment_map, scribble_mask, ignore_unsegmented)
        return self._combine(picked, mode, img)

    def _combine(self, picked: np.ndarray, mode: str, img: np.ndarray) -> np.ndarray:
        with self._lock:
            current = self.mask if self.mask is not None else np.zeros(img.shape[:2], bool)
            if mode == "replace":
                out = picked
            elif mode == "add":
                out = current | picked
            elif mode == "subtract":
                out = current & ~picked
            else:
                raise InvalidInputError(f"Unknown selection mode {mode!r}; use add, replace or subtract.")
            return self._commit(out)

    def grabcut(self, box: Any = None, points: Any = None, labels: Any = None, mode: str = "replace") -> np.ndarray:
        """Weight-free selection (no SAM model needed)."""
        from inpaint_anything.segment.grabcut import grabcut_mask

        img = self.require_image()
        return self._combine(grabcut_mask(img, box=box, points=points, labels=labels), mode, img)

    def select(
        self,
        selection: Selection,
        *,
        use_sam: bool = True,
        model_id: str | None = None,
        ignore_unsegmented: bool = True,
        job: JobControl | None = None,
    ) -> Selected:
        """Turn a whole :class:`~inpaint_anything.selection.Selection` into the mask (the tab sends one
        with every editor event, the API with ``PUT /sessions/{id}/selection``).

        The mask is, in order: the prompts' mask (SAM's candidate ``selection.candidate``, or GrabCut
        when ``use_sam`` is False), plus the segments the scribbles touch, plus the text selection
        (:meth:`set_text_selection`), then the brush strokes
        painted and erased in drawing order; the refinement chain is re-applied to it, and the result
        is committed (one entry on the undo history). Scribbles without a segment map are ignored,
        with a note saying so. A follow-up click refines SAM's previous prediction (see :meth:`prompt`)."""
        from inpaint_anything.segment.everything import select_by_scribble

        img = self.require_image()
        size = (img.shape[1], img.shape[0])
        picked = np.zeros(img.shape[:2], bool)
        candidates, index = None, 0
        pts, labels, box = selection.sam_prompt()
        if pts is not None or box is not None:
            if use_sam:
                candidates = self.prompt(selection.points, selection.box, model_id=model_id, job=job)
                index = min(selection.candidate, len(candidates) - 1)
                picked |= candidates.masks[index]
            else:
                from inpaint_anything.segment.grabcut import grabcut_mask

                picked |= grabcut_mask(img, box=box, points=pts, labels=labels)
        else:
            self.prompt([])
        note = ""
        scribbles = selection.strokes_of("scribble")
        if scribbles and self.segment_map is None:
            note = "Scribbles are ignored: run 'Segment everything' first, then scribble on the segment map."
        elif scribbles:
            picked |= select_by_scribble(self.segment_map, rasterize_strokes(scribbles, size), ignore_unsegmented)
        if self.text_mask is not None and self.text_mask.shape == picked.shape:
            picked |= self.text_mask
        picked = rasterize_strokes(selection.strokes_of("add", "erase"), size, base=picked)
        return Selected(self.set_selection(picked), candidates, index, note)

    # ------------------------------------------------------------------ generation
    def source(self) -> np.ndarray:
        """The input as given: RGB, or RGBA when it had an alpha channel."""
        img = self.require_image()
        return img if self.alpha is None else np.dstack([img, self.alpha])

    def require_mask(self) -> np.ndarray:
        if self.mask is None or not self.mask.any():
            raise InvalidInputError("The mask is empty: click, box, scribble or paint the area first.")
        return self.mask

    def inpaint(self, request, backend, job: JobControl | None = None, kind: str = "inpaint", *, mask: Any = None):
        """Generate into the mask (or ``mask``, for this run only) and record the results."""
        from inpaint_anything.inpaint.engine import run_inpaint

        self.require_image()
        use = self.require_mask() if mask is None else mask_ops.as_bool_mask(mask, self.image.shape[:2])
        result = run_inpaint(self.source(), use, request, backend, job, max_pixels=self.app.settings.max_image_pixels)
        return self._record(result, kind)

    def _record(self, result, kind: str):
        """Keep the new results; beyond ``results_per_session`` the oldest are dropped (and counted)."""
        keep = max(1, int(self.app.settings.results_per_session))
        with self._lock:
            if self.text_query is not None and kind not in ("outpaint", "zoom"):  # the mask came from "Select by text"
                result.infotexts[:] = [text + self.text_query.infotext() for text in result.infotexts]
            self.results.extend(
                Result(img, text, seed, kind)
                for img, text, seed in zip(result.images, result.infotexts, result.seeds, strict=True)
            )
            excess = len(self.results) - keep
            if excess > 0:
                del self.results[:excess]
                self.dropped_results += excess
        self._fit_budget()
        return result

    def remove(
        self, method: str = "telea", job: JobControl | None = None, *, mask_blur: int = 2, padding: int = 64, grow_px: int = 0
    ):
        """Prompt-free removal; ``grow_px`` grows the mask for this run only (the selection stays)."""
        from inpaint_anything.inpaint.cleaner import removal_request

        self.require_image()
        mask = self.require_mask()
        backend = self.app.backend("cleaner", method)
        if grow_px:
            mask = mask_ops.grow(mask, int(grow_px))
        return self.inpaint(removal_request(mask_blur=mask_blur, padding=padding), backend, job, kind="remove", mask=mask)

    def outpaint(self, settings, request, backend, job: JobControl | None = None):
        from inpaint_anything.outpaint.engine import outpaint

        return self._record(outpaint(self.source(), settings, request, backend, job), "outpaint")

    def zoom_out(self, steps: int, scale: float, request, backend, job: JobControl | None = None, **options):
        """Zoom-out frames of the image (``options``: prompts, prefill, overlap_px, strategy, max_pixels;
        see :func:`~inpaint_anything.outpaint.engine.zoom_out`), recorded as results of kind "zoom"."""
        from inpaint_anything.outpaint.engine import zoom_out

        return self._record(zoom_out(self.source(), steps, scale, request, backend, job=job, **options), "zoom")

    # ------------------------------------------------------------------ export
    def mask_png(self) -> np.ndarray:
        """The mask as an 8-bit image (255 = selected)."""
        return self.require_mask().astype(np.uint8) * 255

    def alpha_png(self) -> np.ndarray:
        """The image with the mask as its alpha channel (RGBA; transparent = not selected)."""
        return np.dstack([self.require_image(), self.mask_png()])
