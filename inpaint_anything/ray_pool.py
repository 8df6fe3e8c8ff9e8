"""The pool behind the Ray batch engine (:mod:`inpaint_anything.batch_ray`): hands tasks to Ray actors,
keeps at most :data:`QUEUE_PER_WORKER` queued per actor, and retries a task whose actor died.

A task whose outputs the dying actor had already renamed into place is counted as done (each output's
inode, mtime and size are compared with what was there before the task was first sent), so nothing is
written twice. An actor that does not answer within :data:`START_TIMEOUT_S` is given up; one that is
only unavailable for a moment (Ray's ``ActorUnavailableError``: restarting, or a dropped connection under
load) is asked again until then. Ray itself is passed in (``ray``), never imported here.
"""

from __future__ import annotations

import os
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inpaint_anything import errors
from inpaint_anything.batch import BatchItem, EngineOptions
from inpaint_anything.errors import IAError, UnavailableError
from inpaint_anything.jobs import JobControl

QUEUE_PER_WORKER = 2  # items sent to a worker ahead of time: one running, one waiting (no idle round trip)
START_TIMEOUT_S = 300.0  # no worker answered this long after starting / restarting: give up on it
WAIT_S = 0.5  # how often the driver looks at the interrupt flag while it waits


def _signature(targets: Sequence[Path]) -> list[tuple[int, int, int] | None]:
    """Which file each target is now (inode, mtime, size), None where there is none."""
    out: list[tuple[int, int, int] | None] = []
    for t in targets:
        try:
            st = os.stat(t)
        except OSError:
            out.append(None)
        else:
            out.append((st.st_ino, st.st_mtime_ns, st.st_size))
    return out


_ERROR_LINE = re.compile(r"^\s*(?:[\w.]+\.)?\w+(?:Error|Exception): \S")


def _short(exc: BaseException) -> str:
    """One line for a Ray error: the innermost "XError: ..." line of its text, else its first line."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    inner = [ln for ln in lines if _ERROR_LINE.match(ln)]
    if inner:
        return inner[-1][:240]
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


@dataclass(eq=False)
class Task:
    index: int
    item: BatchItem
    targets: list[Path] = field(default_factory=list)  # empty for API items (nothing written)
    before: list | None = None  # the targets' signature before the first try
    attempt: int = 0
    avoid: int = -1  # the worker it last died on
    lost: str = ""  # its worker died: "running" (it was that worker's current item) or "waiting"


@dataclass
class Slot:
    n: int
    handle: Any
    state: str = "starting"  # starting -> alive -> probing (after a death) -> alive | dead
    label: str = ""
    held: deque = field(default_factory=deque)  # its tasks in the order sent: the first one is running
    since: float = field(default_factory=time.monotonic)


class Driver:
    """Hands tasks to a pool of Ray actors (``worker_class``, e.g. :class:`~inpaint_anything.batch_ray.BatchWorker`), retries those whose worker died, and
    calls ``finish(task, status, value, worker)`` once per task (status done / skipped / failed /
    interrupted) and ``retried(task, reason)`` per retry."""

    def __init__(
        self,
        ray: Any,
        engine: EngineOptions,
        size: int,
        actor_args: tuple,
        *,
        inline: bool,
        overwrite: bool,
        job: JobControl,
        finish: Callable[..., None],
        retried: Callable[[Task, str], None],
        worker_class: type,
    ):
        self.ray, self.engine, self.inline, self.overwrite, self.job = ray, engine, inline, overwrite, job
        self.finish, self.retried = finish, retried
        self.max_retries = engine.max_retries
        remote = ray.remote(
            num_cpus=1, num_gpus=engine.gpus_per_worker or 0, max_restarts=max(1, engine.max_retries), max_task_retries=0
        )(worker_class)
        self.slots = [Slot(n, remote.remote(*actor_args)) for n in range(size)]
        self.probes = {s.handle.ready.remote(): s for s in self.slots}
        self.running: dict[Any, tuple[Task, Slot, int]] = {}  # ref -> (task, worker, sequence number)
        self.sent = 0
        self.start_errors: list[tuple[str, str]] = []
        self.last_death = ""
        self.any_alive = False

    # ------------------------------------------------------------------ the loop
    def run(self, tasks: Sequence[Task]) -> bool:
        """Process every task; False when interrupted (the tasks left are finished as interrupted)."""
        queue = deque(tasks)
        try:
            while queue or self.running:
                if self.job.interrupted:
                    self._stop(queue)
                    return False
                self._dispatch(queue)
                self._check_stalled(queue)
                if not self.running and not self.probes:  # no worker left
                    reason = self.last_death or "no worker could start"
                    while queue:
                        task = queue.popleft()
                        self.finish(task, "failed", f"no Ray worker is left to run it ({reason})", "")
                    break
                refs = [*self.running, *self.probes]
                if not self.ray.wait(refs, num_returns=1, timeout=WAIT_S)[0]:
                    continue
                ready = self.ray.wait(refs, num_returns=len(refs), timeout=0)[0]
                # in the order sent, so that an item that finished is seen before its worker's death
                for ref in sorted(ready, key=lambda r: self.running[r][2] if r in self.running else -1):
                    if ref in self.probes:
                        self._answered(ref, self.probes.pop(ref))
                    else:
                        task, slot, _seq = self.running.pop(ref)
                        self._returned(ref, task, slot, queue)
            return True
        finally:
            for slot in self.slots:
                self.ray.kill(slot.handle)

    def _dispatch(self, queue: deque[Task]) -> None:
        while queue:
            free = [s for s in self.slots if s.state == "alive" and len(s.held) < QUEUE_PER_WORKER]
            if not free:
                return
            task = queue[0]
            slot = min(free, key=lambda s: (s.n == task.avoid, len(s.held), s.n))
            queue.popleft()
            if self.inline:
                ref = slot.handle.process_inline.remote(task.item)
            else:
                if task.before is None:
                    task.before = _signature(task.targets)
                ref = slot.handle.process.remote(task.item, [str(t) for t in task.targets], self.overwrite)
            self.running[ref] = (task, slot, self.sent)
            self.sent += 1
            slot.held.append(task)

    def _answered(self, ref: Any, slot: Slot) -> None:
        """A worker answered its ping (started, or restarted after a death), or is gone for good."""
        try:
            info = self.ray.get(ref)
        except Exception as exc:  # dead: ray.kill, or out of restarts; or only unreachable for now
            if self._transient(exc) and time.monotonic() - slot.since < START_TIMEOUT_S:
                time.sleep(WAIT_S / 5)  # restarting, or a dropped connection under load: ask again
                self.probes[slot.handle.ready.remote()] = slot
                return
            self.last_death = self.last_death or _short(exc)
            slot.state = "dead"
            return
        if info["error"]:
            self.start_errors.append(info["error"])
            slot.state = "dead"
            self.ray.kill(slot.handle)
            return
        slot.state, slot.label, self.any_alive = "alive", info["worker"], True

    def _transient(self, exc: BaseException) -> bool:
        """Ray's "actor temporarily unavailable" (restarting, or its connection dropped): not a death."""
        cls = getattr(getattr(self.ray, "exceptions", None), "ActorUnavailableError", None)
        return isinstance(cls, type) and isinstance(exc, cls)

    def _returned(self, ref: Any, task: Task, slot: Slot, queue: deque[Task]) -> None:
        try:
            status, value, worker = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:  # our worker code raised: this item's failure
            release(slot, task)
            self.finish(task, "failed", f"unexpected error: {_short(getattr(exc, 'cause', None) or exc)}", slot.label)
            return
        except Exception as exc:  # the worker died (killed, out of memory, node lost)
            self._died(task, slot, exc, queue)
            return
        release(slot, task)
        if status == "unavailable":  # started with an error (seen by its ping too): another worker takes it
            queue.appendleft(task)
            return
        self.finish(task, status, value, worker)

    def _died(self, task: Task, slot: Slot, exc: BaseException, queue: deque[Task]) -> None:
        """``task``'s worker died. The task it was running is charged a try (and retried or failed);
        those only waiting behind it go back to the queue as they are."""
        reason = f"worker {slot.label or slot.n} died ({_short(exc)})"
        self.last_death = reason
        if not task.lost and slot.state == "alive":  # first news of this death: ping it (Ray may restart it)
            slot.state, slot.since = "probing", time.monotonic()
            self.probes[slot.handle.ready.remote()] = slot
            for n, held in enumerate(slot.held):  # an actor runs its items in the order sent
                held.lost = "waiting" if n else "running"
            slot.held.clear()
        was_running = task.lost != "waiting"
        release(slot, task)
        if not self.inline and task.before is not None:
            now = _signature(task.targets)
            if all(n is not None and n != b for n, b in zip(now, task.before, strict=True)):
                # the dead worker had written every output: done, not run (and written) again
                self.finish(task, "done", {"name": task.item.name, "outputs": [str(t) for t in task.targets]}, slot.label)
                return
        if not was_running:  # never started there: not a try
            task.avoid = slot.n
            queue.appendleft(task)
            return
        if task.attempt >= self.max_retries:
            tries = task.attempt + 1
            self.finish(task, "failed", f"its worker died {tries} time{'s' if tries > 1 else ''}; last: {reason}", slot.label)
            return
        task.attempt += 1
        task.avoid = slot.n
        self.retried(task, reason)
        queue.appendleft(task)

    def _check_stalled(self, queue: deque[Task]) -> None:
        """Give up on workers that have not answered for START_TIMEOUT_S (no resources for them)."""
        now = time.monotonic()
        for ref, slot in list(self.probes.items()):
            if now - slot.since > START_TIMEOUT_S:
                del self.probes[ref]
                slot.state = "dead"
                self.ray.kill(slot.handle)
                self.last_death = self.last_death or (
                    f"no worker started within {START_TIMEOUT_S:.0f} s: the cluster may lack the resources each "
                    f"asks for (1 CPU{f', {self.engine.gpus_per_worker:g} GPU' if self.engine.gpus_per_worker else ''}); "
                    "see `ray status`"
                )
        if not self.any_alive and not self.probes and not self.running:  # not one worker started
            if self.start_errors:
                name, message = self.start_errors[0]
                cls = getattr(errors, name, None)
                raise (cls if isinstance(cls, type) and issubclass(cls, IAError) else IAError)(message)
            raise UnavailableError(f"No Ray worker could start: {self.last_death or 'no answer'}")

    def _stop(self, queue: deque[Task]) -> None:
        for task, _slot, _seq in self.running.values():
            self.finish(task, "interrupted", "interrupted", "")
        self.running.clear()
        while queue:
            self.finish(queue.popleft(), "interrupted", "interrupted", "")


def release(slot: Slot, task: Task) -> None:
    """``task`` is back from ``slot`` (answered or lost)."""
    task.lost = ""
    if task in slot.held:
        slot.held.remove(task)


__all__ = ["QUEUE_PER_WORKER", "START_TIMEOUT_S", "WAIT_S", "Driver", "Slot", "Task", "release"]
