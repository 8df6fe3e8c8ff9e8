"""Progress reporting and interruption for long jobs (segmentation, generation, downloads).

Core code receives a :class:`JobControl` and calls ``step()``/``check()``; the UI, the REST API, the
batch runner and the WebUI adapter each provide one that forwards progress to their own display
(the WebUI's progress bar via shared.state, a tqdm bar, a task record polled over HTTP).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from inpaint_anything.errors import JobInterrupted

T = TypeVar("T")
_STOP = object()  # the item that tells one worker of a WorkerThreads to end


class JobControl:
    """Progress sink and interrupt flag for one job. Thread-safe; cheap to call every step."""

    def __init__(self, on_progress: Callable[[JobControl], None] | None = None):
        self._interrupt = threading.Event()
        self._lock = threading.Lock()
        self._on_progress = on_progress
        self.job = ""
        self.job_no = 0
        self.job_count = 1
        self.step_no = 0
        self.step_count = 0
        self.text = ""
        self.started = time.monotonic()

    # --- producer side (core code) ---
    def begin(self, job: str, job_count: int = 1) -> None:
        with self._lock:
            self.job, self.job_count, self.job_no = job, max(1, job_count), 0
            self.step_no = self.step_count = 0
        self._emit()

    def next_job(self, text: str = "") -> None:
        with self._lock:
            self.job_no = min(self.job_no + 1, self.job_count)
            self.step_no = self.step_count = 0
            if text:
                self.text = text
        self._emit()

    def step(self, step_no: int, step_count: int, text: str = "") -> None:
        """Report progress inside the current sub-job; raises JobInterrupted if interrupted."""
        with self._lock:
            self.step_no, self.step_count = step_no, step_count
            if text:
                self.text = text
        self._emit()
        self.check()

    def check(self) -> None:
        if self._interrupt.is_set():
            raise JobInterrupted("Interrupted.")

    # --- consumer side (UI, API, host) ---
    def interrupt(self) -> None:
        self._interrupt.set()

    @property
    def interrupted(self) -> bool:
        return self._interrupt.is_set()

    @property
    def fraction(self) -> float:
        with self._lock:
            inner = self.step_no / self.step_count if self.step_count else 0.0
            return min(1.0, (self.job_no + inner) / self.job_count)

    def _emit(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self)


def noop() -> JobControl:
    """A JobControl nobody watches (scripts, tests)."""
    return JobControl()


class ChildJob(JobControl):
    """The job handed to one inner run (a batch item, an outpaint pass): steps, checks and interrupts
    go to the parent job, while the parent's sub-job counter stays with the outer loop."""

    def __init__(self, parent: JobControl):
        super().__init__()
        self._parent = parent

    def begin(self, job: str, job_count: int = 1) -> None:  # the outer loop owns the job counts
        return None

    def next_job(self, text: str = "") -> None:
        return None

    def step(self, step_no: int, step_count: int, text: str = "") -> None:
        self._parent.step(step_no, step_count, text)

    def check(self) -> None:
        self._parent.check()

    def interrupt(self) -> None:
        self._parent.interrupt()

    @property
    def interrupted(self) -> bool:
        return self._parent.interrupted


def run_interruptible(job: JobControl, fn: Callable[..., T], *args: Any, poll_s: float = 0.05) -> T:
    """``fn(*args)`` for one long call into native code that cannot look at ``job`` (OpenCV's and
    PatchMatch's fills release the GIL while they work). It runs in a helper thread; this waits for it
    and raises JobInterrupted as soon as the job is interrupted, so the user gets control back at
    once. An interrupted call finishes in the background and its result is dropped."""
    job.check()
    done = threading.Event()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="ia-native-call", daemon=True).start()
    while not done.wait(poll_s):
        if job.interrupted:
            raise JobInterrupted("Interrupted (the fill still running in the background is discarded).")
    if "error" in box:
        raise box["error"]
    return box["value"]


class WorkerThreads(Generic[T]):
    """A queue served by up to ``max_workers`` daemon threads that call ``handle(item)`` for each item
    put, in the order they were put (one at a time with one worker).

    A worker starts when an item is put while fewer than ``max_workers`` are alive, so one that died
    is replaced; daemon threads never keep the process alive at exit. ``handle`` should catch its own
    errors: one it lets through ends that worker (the item is lost, the next ``put`` starts another).
    Threads are named ``{name}-{n}``.
    """

    def __init__(self, handle: Callable[[T], Any], name: str, max_workers: int = 1):
        self._handle = handle
        self._name = name
        self._max_workers = max(1, max_workers)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def put(self, item: T) -> None:
        """Queue ``item`` for ``handle`` (starting a worker when fewer than ``max_workers`` are alive)."""
        self._queue.put(item)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            if len(self._threads) < self._max_workers:
                name = f"{self._name}-{len(self._threads)}"
                worker = threading.Thread(target=self._serve, name=name, daemon=True)
                self._threads.append(worker)
                worker.start()

    def stop(self) -> None:
        """Let the workers handle what is queued already, then end; returns at once (no join). An item
        put afterwards starts new workers."""
        with self._lock:
            workers, self._threads = self._threads, []
        for _ in workers:
            self._queue.put(_STOP)

    def _serve(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            self._handle(item)
