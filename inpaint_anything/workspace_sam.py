"""The SAM side of a :class:`~inpaint_anything.workspace.Workspace`: the session for its image (the
embedding, computed once, in the background when asked), the hover preview, point and box prompts
with their candidates, and segment everything.

:class:`SamPrompts` is a mixin of ``Workspace`` and uses its fields (``app``, ``image``, ``points``,
``box``, ``candidates``, ``segment_map``, ``sam_model``, ``prepare_state``, ``_session``, ``_lock``)
and its mask methods (``require_image``, ``_commit``, ``_fit_budget``); it holds no state of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.jobs import JobControl


class SamPrompts:
    """Segment Anything on the workspace's image (see the module docstring)."""

    def segment_session(self, model_id: str | None = None, job: JobControl | None = None):
        """The SAM session for the current image (the embedding is computed once per image).

        The encode runs outside the workspace lock (the session has its own), so a mask edit or a
        new picture never waits for it; ``job`` gets the encoder's progress stage by stage and can
        stop it between stages. A background preparation of the same image (:meth:`prepare`) is
        simply waited for: the click then finds the embedding cached."""
        from inpaint_anything.segment.progress import install_stage_hooks, watching
        from inpaint_anything.segment.session import session_for

        img = self.require_image()
        model_id = model_id or self.sam_model or self.app.settings.default_sam_model
        with self._lock:
            loaded = self.app.load_sam(model_id)
            if self._session is None or self._session.loaded is not loaded:
                # SegmentSession for SAM / HQ-SAM / MobileSAM, Sam2Session for SAM 2 / 2.1
                self._session = session_for(loaded, max_pixels=self.app.settings.max_image_pixels)
            self.sam_model = model_id
            session = self._session
        install_stage_hooks(session.model.image_encoder)

        def on_stage(index: int, total: int) -> None:
            if job is not None:
                job.step(index, total, "computing the image embedding")
                job.check()

        if job is not None:
            job.step(0, 1, "computing the image embedding")
        with watching(on_stage if job is not None else None), self.app.sam_encode_guard(session, img):
            session.set_image(img)  # VRAM for the encoder (WebUI: see webui/memory.py)
        self._fit_budget()
        return session

    # ------------------------------------------------------------------ background preparation
    def prepare(self, model_id: str | None = None):
        """Start encoding the current image with SAM in the background (see :mod:`inpaint_anything.preparer`);
        a later click waits only for what is left. Returns the preparation's state."""
        self.require_image()
        return self.app.preparer.submit(self, model_id or self.sam_model or self.app.settings.default_sam_model)

    def hover(self, x: float, y: float):
        """The low-res mask SAM would pick for a click at (x, y), or None when the embedding is not
        ready or the session is busy (see :mod:`inpaint_anything.segment.hover`). Changes nothing."""
        from inpaint_anything.segment.hover import hover_mask
        from inpaint_anything.segment.prompts import validate_points

        img = self.require_image()
        validate_points([(x, y)], None, img.shape[:2])
        session, model = self._session, self.sam_model
        found = None if session is None else hover_mask(session, img, x, y)
        if found is not None and model:
            self.app.hover_timer.record(model, found.seconds)
        return found

    def embedding_state(self) -> dict[str, Any]:
        """``{"embedding": none|pending|ready|failed, "progress": 0..1, "model": id, "error": text}``
        for the current image."""
        from inpaint_anything.segment.progress import is_encoded

        state = self.prepare_state
        session = self._session
        ready = self.image is not None and session is not None and is_encoded(session, self.image)
        if ready:
            return {"embedding": "ready", "progress": 1.0, "model": self.sam_model, "error": ""}
        if state is None or state.image is not self.image:
            return {"embedding": "none", "progress": 0.0, "model": self.sam_model, "error": ""}
        status = {"queued": "pending", "running": "pending", "ready": "ready"}.get(state.status, state.status)
        return {"embedding": status, "progress": state.fraction, "model": state.model, "error": state.error}

    def segment_everything(self, model_id: str | None = None, job: JobControl | None = None, **options: Any):
        from inpaint_anything.segment.everything import segment_everything

        session = self.segment_session(model_id, job)
        with self._lock:
            self.segment_map = segment_everything(session, job=job, **options)
            segments = self.segment_map
        self._fit_budget()
        return segments

    def click(
        self,
        x: float,
        y: float,
        positive: bool = True,
        *,
        model_id: str | None = None,
        multimask: bool = True,
        reset: bool = False,
        job: JobControl | None = None,
    ):
        """Add a point prompt and predict; the best candidate becomes the mask."""
        with self._lock:
            points = [] if reset else list(self.points)
            box = None if reset else self.box
        result = self.prompt([*points, (x, y, 1 if positive else 0)], box, model_id=model_id, multimask=multimask, job=job)
        with self._lock:
            self._commit(result.masks[0].copy())
        return result

    def set_box(self, box: tuple[float, float, float, float], *, model_id: str | None = None, job: JobControl | None = None):
        """Set the box prompt (with the session's points) and predict; the best candidate becomes the mask."""
        result = self.prompt(list(self.points), box, model_id=model_id, job=job)
        with self._lock:
            self._commit(result.masks[0].copy())
        return result

    def prompt(
        self,
        points: Any = (),
        box: Any = None,
        *,
        model_id: str | None = None,
        multimask: bool = True,
        job: JobControl | None = None,
    ):
        """Predict from a whole prompt snapshot (points ``[(x, y, label)]`` and/or a box) without
        changing the mask; returns the candidates (None for an empty snapshot). When the snapshot
        extends the previous one, the previous low-res logits refine the new prediction. Several
        candidates only for a single point without a box (and ``multimask``)."""
        pts = [(float(p[0]), float(p[1]), int(p[2])) for p in (points or [])]
        new_box = tuple(float(v) for v in box) if box is not None else None
        if not pts and new_box is None:
            with self._lock:
                self.points, self.box, self.candidates = [], None, None
            return None
        session = self.segment_session(model_id, job)
        with self._lock:
            extends = (
                self.candidates is not None
                and new_box == self.box
                and len(pts) > len(self.points)
                and pts[: len(self.points)] == self.points
            )
            refine = self.candidates if extends else None
            self.points, self.box = pts, new_box
            result = session.predict(
                points=[p[:2] for p in pts] or None,
                labels=[p[2] for p in pts] or None,
                box=new_box,
                multimask=multimask and len(pts) == 1 and new_box is None,
                refine_from=refine,
            )
            self.candidates = result
            return result

    def pick_candidate(self, index: int) -> np.ndarray:
        if self.candidates is None or not 0 <= index < len(self.candidates):
            raise InvalidInputError("There is no such candidate mask; click on the image first.")
        with self._lock:
            return self._commit(self.candidates.masks[index].copy())

    def clear_prompts(self) -> None:
        with self._lock:
            self.points, self.box, self.candidates = [], None, None
