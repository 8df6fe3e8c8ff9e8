"""Long REST jobs run in the background: a task registry with progress, results and interrupt.

A route called with ``?async=true`` submits its work here and answers at once with the task id;
``GET /tasks/{id}`` reports ``status`` (queued, running, done, failed, interrupted), ``progress``
(0..1) and ``text`` from the job's :class:`~inpaint_anything.jobs.JobControl`, and the result once
done. Every job runs inside ``job_factory(name)``, a context manager yielding the JobControl: the
WebUI adapter passes one that holds the host's queue lock and mirrors progress to its progress bar.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from inpaint_anything.errors import IAError, JobInterrupted, error_code
from inpaint_anything.jobs import JobControl, WorkerThreads

log = logging.getLogger(__name__)

JobFactory = Callable[[str], AbstractContextManager[JobControl]]
TASK_STATES = ("queued", "running", "done", "failed", "interrupted")


class NotFoundError(IAError, status=404):
    """A task or session id the server does not know (any more)."""


class BusyError(IAError, status=429):
    """Too many tasks are waiting."""


@contextlib.contextmanager
def plain_job(name: str) -> Iterator[JobControl]:
    """The default job factory: a JobControl nobody else watches."""
    yield JobControl()


@dataclass
class Task:
    """One background job and what it produced."""

    id: str
    name: str
    status: str = "queued"
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result: Any = None
    error: dict[str, Any] | None = None
    job: JobControl | None = None
    interrupt_requested: bool = False

    @property
    def finished_ok(self) -> bool:
        return self.status == "done"

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    def snapshot(self, include_result: bool = True) -> dict[str, Any]:
        """The JSON view of the task (``result`` only when done and asked for)."""
        job = self.job
        if self.status == "done":
            progress, text = 1.0, (job.text if job else "")
        elif job is not None:
            progress, text = float(job.fraction), job.text
        else:
            progress, text = 0.0, ""
        end = self.finished or time.time()
        out: dict[str, Any] = {
            "task_id": self.id,
            "name": self.name,
            "status": self.status,
            "progress": round(progress, 4),
            "text": text,
            "created": self.created,
            "elapsed": round(end - (self.started or end), 3),
        }
        if self.error is not None:
            out["error"] = self.error
        if include_result and self.status == "done":
            out["result"] = self.result
        return out


class TaskRegistry:
    """Runs submitted jobs on a small worker pool and remembers the latest ``keep`` tasks."""

    def __init__(self, job_factory: JobFactory | None = None, *, max_workers: int = 1, keep: int = 64, max_waiting: int = 32):
        self.job_factory: JobFactory = job_factory or plain_job
        self._tasks: OrderedDict[str, Task] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = max(1, keep)
        self._max_waiting = max(1, max_waiting)
        self._workers: WorkerThreads[tuple[Task, Callable[[JobControl], Any]]] = WorkerThreads(
            lambda entry: self._run(*entry), "ia-task", max_workers
        )
        self._ttl: Callable[[], float] = lambda: float("inf")

    def set_ttl(self, seconds: Callable[[], float]) -> None:
        """Forget finished tasks ``seconds()`` after they finished (read at every look-up)."""
        self._ttl = seconds

    def submit(self, name: str, fn: Callable[[JobControl], Any]) -> Task:
        """Queue ``fn(job)``; its return value (JSON-able) becomes the task's result."""
        task = Task(uuid.uuid4().hex, name)
        with self._lock:
            waiting = sum(1 for t in self._tasks.values() if t.status == "queued")
            if waiting >= self._max_waiting:
                raise BusyError(f"{waiting} tasks are already waiting; try again when some have finished.")
            self._tasks[task.id] = task
            self._evict()
        self._workers.put((task, fn))  # daemon threads: a job still running never keeps the process alive
        return task

    def _evict(self) -> None:
        """Drop finished tasks past their time to live, then the oldest finished beyond ``keep``."""
        cutoff = time.time() - float(self._ttl())
        for task_id in [t.id for t in self._tasks.values() if not t.active and (t.finished or 0) < cutoff]:
            del self._tasks[task_id]
        finished = [t.id for t in self._tasks.values() if not t.active]
        excess = len(self._tasks) - self._keep
        for task_id in finished[: max(0, excess)]:
            del self._tasks[task_id]

    def get(self, task_id: str) -> Task:
        with self._lock:
            self._evict()
            task = self._tasks.get(task_id)
        if task is None:
            raise NotFoundError(f"There is no task {task_id!r} (finished tasks are kept for a while, then forgotten).")
        return task

    def list(self) -> list[Task]:
        with self._lock:
            self._evict()
            return list(self._tasks.values())

    def interrupt(self, task_id: str) -> Task:
        """Ask a queued or running task to stop (a finished task is left as it is)."""
        task = self.get(task_id)
        with self._lock:
            if task.active:
                task.interrupt_requested = True
                job = task.job
            else:
                job = None
        if job is not None:
            job.interrupt()
        return task

    def _run(self, task: Task, fn: Callable[[JobControl], Any]) -> None:
        try:
            if task.interrupt_requested:
                raise JobInterrupted("Interrupted before it started.")
            with self.job_factory(task.name) as job:
                with self._lock:
                    task.job = job
                    task.status, task.started = "running", time.time()
                    stop = task.interrupt_requested
                if stop:
                    job.interrupt()
                job.check()
                result = fn(job)
            task.result, task.status = result, "done"
        except JobInterrupted as exc:
            task.status, task.error = "interrupted", {"status_code": exc.status_code, "detail": str(exc), "code": error_code(exc)}
        except IAError as exc:
            task.status, task.error = "failed", {"status_code": exc.status_code, "detail": str(exc), "code": error_code(exc)}
        except Exception as exc:  # a bug, not bad input: keep the server alive and say what happened
            log.exception("Inpaint Anything: task %s (%s) failed", task.id, task.name)
            task.status = "failed"
            task.error = {
                "status_code": 500,
                "detail": f"Unexpected error: {type(exc).__name__}: {exc}",
                "code": "internal_error",
            }
        finally:
            task.finished = time.time()
            if task.started is None:
                task.started = task.finished

    def shutdown(self) -> None:
        """Interrupt everything and stop the workers (running jobs stop at their next step)."""
        for task in self.list():
            if task.active:
                self.interrupt(task.id)
        self._workers.stop()


__all__ = ["TASK_STATES", "BusyError", "JobFactory", "NotFoundError", "Task", "TaskRegistry", "plain_job"]
