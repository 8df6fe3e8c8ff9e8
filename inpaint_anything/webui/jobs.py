"""Our JobControl mirrored into the WebUI's shared.state (progress bar, Interrupt, Skip)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from inpaint_anything.jobs import JobControl

# Which threads hold the host's queue lock through queued_job (the FIFO lock has no owner to ask);
# the memory guard must not wait for a lock its own thread holds.
_QUEUE_HOLDERS = threading.local()


def holds_queue_lock() -> bool:
    """True inside :func:`queued_job` on this thread."""
    return getattr(_QUEUE_HOLDERS, "depth", 0) > 0


class HostJobControl(JobControl):
    """Progress goes to shared.state (the WebUI's progress bar); the host's Interrupt stops us."""

    def __init__(self) -> None:
        super().__init__(on_progress=self._mirror)

    @staticmethod
    def _state():
        from modules import shared

        return shared.state

    def _mirror(self, job: JobControl) -> None:
        state = self._state()
        state.job = job.job
        state.job_count = job.job_count
        state.job_no = job.job_no
        state.sampling_step = job.step_no
        state.sampling_steps = job.step_count
        if job.text and "\n" not in job.text:
            state.textinfo = job.text

    def check(self) -> None:
        state = self._state()
        if getattr(state, "interrupted", False) or getattr(state, "stopping_generation", False):
            super().interrupt()
        super().check()

    def interrupt(self) -> None:
        super().interrupt()
        self._state().interrupt()


@contextlib.contextmanager
def queued_job(name: str) -> Iterator[HostJobControl]:
    """Run a job as the host runs img2img: under the shared FIFO queue lock, with state.begin/end.

    Used by the REST API and batch routes; UI events get the same through wrap_gradio_gpu_call.
    """
    from modules import call_queue, shared

    with call_queue.queue_lock:
        _QUEUE_HOLDERS.depth = getattr(_QUEUE_HOLDERS, "depth", 0) + 1
        shared.state.begin(job=name)
        try:
            yield HostJobControl()
        finally:
            _QUEUE_HOLDERS.depth -= 1
            shared.state.end()


@contextlib.contextmanager
def background_scope(name: str) -> Iterator[None]:
    """Work the extension starts by itself (preparing SAM for a picture the user just opened): under
    the host's queue lock, so it never shares the GPU with a generation, but without claiming the
    WebUI's progress bar (shared.state) that belongs to the user's own jobs."""
    from modules import call_queue

    with call_queue.queue_lock:
        _QUEUE_HOLDERS.depth = getattr(_QUEUE_HOLDERS, "depth", 0) + 1
        try:
            yield
        finally:
            _QUEUE_HOLDERS.depth -= 1
