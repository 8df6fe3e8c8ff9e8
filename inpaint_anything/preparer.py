"""SAM encodes in the background: an image is prepared while the user looks at it.

When an image arrives and a SAM model is chosen, :meth:`Preparer.submit` queues its encode; one
worker thread runs the queued encodes in order (they are heavy: one at a time). A click that comes
meanwhile waits on the session's lock for the rest of the encode and then finds the embedding
cached, so it never pays encode + click. A new picture or model for the same workspace cancels the
stale preparation: a queued one is skipped, a running one stops at the next encoder stage
(:mod:`inpaint_anything.segment.progress`) and caches nothing.

The App owns one Preparer; the WebUI adapter wraps each encode in the host's queue lock through
:meth:`~inpaint_anything.app.App.set_job_scope` (so no generation runs on the GPU meanwhile).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from inpaint_anything.errors import IAError, JobInterrupted
from inpaint_anything.jobs import JobControl, WorkerThreads

if TYPE_CHECKING:
    from inpaint_anything.services import PrepareServices

log = logging.getLogger(__name__)


@dataclass
class PrepareState:
    """One preparation: ``status`` queued -> running -> ready | failed | cancelled."""

    model: str
    image: Any  # the workspace's image array it encodes (identity tells a stale preparation)
    status: str = "queued"
    fraction: float = 0.0
    error: str = ""
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "status": self.status, "progress": round(self.fraction, 3), "error": self.error}


class Preparer:
    """The background encode queue of one App (seen through :class:`~inpaint_anything.services.PrepareServices`)."""

    def __init__(self, app: PrepareServices):
        self.app = app
        self._worker: WorkerThreads[tuple[Any, PrepareState]] = WorkerThreads(self._prepare, "ia-sam-prepare")

    def submit(self, ws: Any, model_id: str) -> PrepareState:
        """Queue an encode of ``ws``'s current image with ``model_id`` (cancelling its previous one).
        The model id is checked now, so a missing model is an error at once, not a failed task."""
        self.app.sam_model_path(model_id)  # 404 / 422 / offline errors now
        with ws._lock:
            image = ws.require_image()
            previous = ws.prepare_state
            if (
                previous is not None
                and previous.image is image
                and previous.model == model_id
                and previous.status in ("queued", "running", "ready")
            ):
                return previous  # the same work is already under way (or done)
            if previous is not None:
                previous.cancel.set()
            state = PrepareState(model_id, image)
            ws.prepare_state = state
        self._worker.put((ws, state))
        return state

    def _prepare(self, item: tuple[Any, PrepareState]) -> None:
        ws, state = item
        try:
            self._run(ws, state)
        finally:
            state.done.set()

    def _run(self, ws: Any, state: PrepareState) -> None:
        if state.cancel.is_set() or ws.image is not state.image:
            state.status = "cancelled"
            return
        state.status = "running"

        def progress(j: JobControl) -> None:
            state.fraction = j.fraction
            if state.cancel.is_set() or ws.image is not state.image:
                j.interrupt()

        job = JobControl(progress)
        try:
            with self.app.job_scope("preparing SAM"):
                ws.segment_session(state.model, job)
            if ws.image is state.image:
                state.fraction, state.status = 1.0, "ready"
            else:
                state.status = "cancelled"
        except JobInterrupted:
            state.status = "cancelled"
        except IAError as exc:
            state.status, state.error = "failed", str(exc)
        except Exception as exc:  # a bug: keep the worker alive, say what happened
            log.exception("Inpaint Anything: preparing SAM failed")
            state.status, state.error = "failed", f"Unexpected error: {type(exc).__name__}: {exc}"

    def shutdown(self) -> None:
        self._worker.stop()


def no_scope(name: str) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext()


__all__ = ["PrepareState", "Preparer", "no_scope"]
