"""The Ray engine of batch mode: ``python -m inpaint_anything batch --engine ray`` and ``POST /batch``
with ``"engine": "ray"``.

The driver (this process) checks the items exactly as the local engine does (the output folder, outputs
that exist, outputs that would overwrite an input) and hands the rest to a pool of Ray actors
(:class:`BatchWorker`). Each actor builds one :class:`~inpaint_anything.app.App` and one
:class:`~inpaint_anything.batch.BatchRunner`, so SAM, the diffusers pipeline or the cleaner is loaded
once per actor, and then runs many items, each through the local engine's own
:func:`~inpaint_anything.batch.process_item`: the worker reads the item's image from its path and
writes the outputs atomically (temp name in the output folder + ``os.replace``) into the output folder,
which must therefore be on a file system that every worker shares. The driver sends items (paths and
manifest rows, never pixels), keeps at most :data:`~inpaint_anything.ray_pool.QUEUE_PER_WORKER` of them queued per worker,
receives small records, and writes nothing but the report (``batch-report.json``, the same as the local
engine's, entries in the items' order).

Faults. When a worker dies (``ray.kill``, the out-of-memory killer, a lost node) every item it held is
tried again on another worker, up to ``max_retries`` times, then reported as failed; the other items go
on. An item whose outputs the dying worker had already renamed into place is counted as done and not
run again (the driver compares each output's inode, mtime and size with what was there before the item
was first sent), so nothing is lost and nothing is written twice. Ray restarts a crashed actor (up to
``max(1, max_retries)`` times); the driver pings it and gives it items again once it answers.

Where: :func:`connect` joins the cluster at ``ray_address`` (or ``$RAY_ADDRESS``) and ships this
package's code with the job (``runtime_env`` ``py_modules``; its dependencies must be installed on
every machine), or starts a Ray for the batch that listens on 127.0.0.1 only.

Ray is optional (``requirements/ray.txt``) and imported only inside functions: importing this module,
or anything the WebUI loads, never imports Ray. fsspec URLs (``s3://...``) for inputs or outputs are
not supported: items are read and outputs written through the local file system of each worker.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from inpaint_anything import errors
from inpaint_anything.batch import (
    BatchItem,
    BatchOptions,
    BatchReport,
    BatchRunner,
    EngineOptions,
    check_output_folder,
    output_names,
    precheck,
    process_item,
    report_target,
    results_per_item,
    try_item,
)
from inpaint_anything.errors import IAError, UnavailableError
from inpaint_anything.jobs import JobControl
from inpaint_anything.ray_pool import Driver, Task

log = logging.getLogger(__name__)

RAY_VERSION = "2.48.0"  # requirements/ray.txt; the newest Ray that accepts the WebUI's protobuf 3.20.0
INSTALL_COMMAND = f'pip install "ray[default]=={RAY_VERSION}"'


def import_ray() -> Any:
    """The ``ray`` module, or UnavailableError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UnavailableError(
            f"The Ray engine needs Ray, which is not installed in this Python. Install it with {INSTALL_COMMAND} "
            "(or: pip install -r requirements/ray.txt in the extension's folder), or use the local engine."
        ) from None
    return ray


def connect(address: str = "") -> Any:
    """Join the Ray cluster at ``address`` (``host:port`` of ``ray start --head``, or ``auto``; empty:
    ``$RAY_ADDRESS``, else a Ray started on this machine), once per process. A Ray that is already
    initialised here (by an earlier batch, a test, a notebook) is used as it is."""
    ray = import_ray()
    if ray.is_initialized():
        if address:
            log.info("Ray is already initialised in this process; %r is not joined again", address)
        return ray
    try:
        if address or os.environ.get("RAY_ADDRESS"):
            # this package travels with the job, so every machine runs the driver's code (its
            # dependencies must be installed there)
            ray.init(
                address=address or None,
                logging_level=logging.WARNING,
                runtime_env={"py_modules": [str(Path(__file__).resolve().parent)]},
            )
        else:  # a Ray for this batch, reachable from this machine only (Ray's ports have no authentication)
            ray.init(logging_level=logging.WARNING, _node_ip_address="127.0.0.1")
    except (ConnectionError, ValueError, RuntimeError) as exc:
        where = address or os.environ.get("RAY_ADDRESS")
        what = f"join the Ray cluster at {where}" if where else "start Ray on this machine"
        raise UnavailableError(f"Could not {what}: {exc}") from None
    return ray


def check_server_request(engine: EngineOptions, op: str, backend: str) -> None:
    """``POST /batch`` asking for the Ray engine: no cluster address from the request, a backend the
    workers can build ('diffusers' or 'cleaner'; removal always), and a Ray the operator set up
    (:func:`check_server_can_use_ray`). Refusals are InvalidInputError (4xx)."""
    if engine.ray_address:
        raise errors.InvalidInputError(
            "The server does not join a Ray cluster named in a request: leave 'ray_address' out; the server "
            "uses the cluster its operator named in RAY_ADDRESS."
        )
    if op != "remove" and backend not in ("diffusers", "cleaner"):
        raise errors.InvalidInputError(
            "The Ray engine runs the 'diffusers' and 'cleaner' backends; use the local engine for the others."
        )
    check_server_can_use_ray()


def check_server_can_use_ray() -> None:
    """``POST /batch`` with the Ray engine: Ray installed, and a cluster the server's operator chose
    ($RAY_ADDRESS when the server started, or a Ray already running in the server's process). A request
    never makes the server start a Ray (its ports have no authentication) or join an address it names.
    Refusals are InvalidInputError (4xx): the request asked for what this server does not offer."""
    try:
        ray = import_ray()
    except UnavailableError:
        raise errors.InvalidInputError(
            f"This server has no Ray for the Ray engine; its operator can install it with {INSTALL_COMMAND} "
            '(or pip install -r requirements/ray.txt). Send "engine": "local" to run the batch here.'
        ) from None
    if not (ray.is_initialized() or os.environ.get("RAY_ADDRESS")):
        raise errors.InvalidInputError(
            "This server has no Ray cluster for the Ray engine: its operator starts one (ray start --head) and sets "
            'RAY_ADDRESS before starting the server. Send "engine": "local" to run the batch here.'
        )


def worker_settings(app: Any) -> Any:
    """The App settings for the workers, the models folder resolved the way this App resolved it."""
    return dataclasses.replace(app.settings, models_dir=str(app.models_dir))


# ---------------------------------------------------------------------------------------------- worker
class _InlineRunner(BatchRunner):
    """The API's runner: images and masks arrive as base64 strings."""

    max_pixels: int | None = None

    def load_image(self, source: Any, what: str = "image") -> Any:
        if isinstance(source, str):
            from inpaint_anything.codec import decode_image_data

            return decode_image_data(source, self.max_pixels, what)
        return super().load_image(source, what)


class BatchWorker:
    """One Ray actor: an App and a BatchRunner made once, then many items.

    ``backend_spec`` is ``(kind, model, options)`` for :meth:`App.backend` (None: the op's default,
    the cleaner of a removal). ``inline_max_pixels`` set: API mode, base64 in and base64 PNG out
    (:meth:`process_inline`), nothing written. An error while starting (a missing model, ...) is kept
    and answered by :meth:`ready`, so the driver can say it instead of a Ray traceback."""

    def __init__(
        self,
        settings: Any,
        options: BatchOptions,
        backend_spec: tuple[str, str, dict] | None = None,
        inline_max_pixels: int | None = None,
        runner_class: type | None = None,
    ):
        self.label = f"{socket.gethostname()}:{os.getpid()}"
        self.error: tuple[str, str] | None = None
        self.runner: Any = None
        try:
            from inpaint_anything.app import App

            app = App(settings)
            backend = None
            if backend_spec is not None:
                kind, model, opts = backend_spec
                backend = app.backend(kind, model, **opts)
            cls = runner_class or (_InlineRunner if inline_max_pixels is not None else BatchRunner)
            self.runner = cls(app, options, backend)
            self.runner.max_pixels = inline_max_pixels
        except Exception as exc:  # said by the driver (ready), never a dead actor
            self.error = (type(exc).__name__, str(exc) if isinstance(exc, IAError) else f"{type(exc).__name__}: {exc}")

    def ready(self) -> dict[str, Any]:
        return {"worker": self.label, "error": self.error}

    def process(self, item: BatchItem, targets: list[str], overwrite: bool) -> tuple[str, dict[str, Any], str]:
        """One item into the output folder: (status, report entry, this worker)."""
        if self.error:
            return "unavailable", {"name": item.name, "reason": self.error[1]}, self.label
        try:
            status, entry = process_item(self.runner, item, [Path(t) for t in targets], JobControl(), overwrite=overwrite)
        except Exception as exc:  # e.g. an image the PNG writer refuses: this item's failure
            log.exception("Inpaint Anything batch: %s failed", item.name)
            status, entry = "failed", {"name": item.name, "reason": f"unexpected error: {type(exc).__name__}: {exc}"}
        return status, entry, self.label

    def process_inline(self, item: BatchItem) -> tuple[str, Any, str]:
        """One API item: ("done", [(base64 PNG, infotext)]), ("failed", reason), plus this worker."""
        from inpaint_anything.codec import png_b64

        if self.error:
            return "unavailable", self.error[1], self.label
        status, value = try_item(self.runner, item, JobControl())
        if status == "done":
            value = [(png_b64(image, text), text) for image, text in value]
        return status, value, self.label


def pool_size(ray: Any, engine: EngineOptions, todo: int) -> int:
    """``engine.workers``, or (0) one per GPU share / CPU core of the cluster; never more than ``todo``."""
    if engine.workers:
        n = engine.workers
    else:
        resources = ray.cluster_resources()
        if engine.gpus_per_worker > 0:
            gpus = float(resources.get("GPU", 0))
            n = math.floor(gpus / engine.gpus_per_worker + 1e-9)
            if n < 1:
                raise errors.InvalidInputError(
                    f"The Ray cluster has {gpus:g} GPUs, not enough for one worker with "
                    f"{engine.gpus_per_worker:g} GPU; use --gpus-per-worker 0 for CPU workers."
                )
        else:
            n = int(resources.get("CPU", 1))
    return max(1, min(n, todo))


# ---------------------------------------------------------------------------------------------- entry points
def run_batch_ray(
    app: Any,
    items: Sequence[BatchItem],
    options: BatchOptions,
    output_dir: str | os.PathLike[str],
    *,
    engine: EngineOptions | None = None,
    backend_spec: tuple[str, str, dict] | None = None,
    overwrite: bool = False,
    job: JobControl | None = None,
    on_item: Callable[[int, int, str, str], None] | None = None,
    report_path: str | os.PathLike[str] | None = None,
    on_pool: Callable[[list[Any]], None] | None = None,
    worker_class: type | None = None,
    runner_class: type | None = None,
) -> BatchReport:
    """:func:`~inpaint_anything.batch.run_batch` on a pool of Ray workers (same items, options, outputs
    and report). ``backend_spec`` is ``(kind, model, options)`` of :meth:`App.backend` (None for removal).
    ``on_item(index, total, name, status)`` is called as items finish (in the order they finish) with
    done / skipped / failed, and with ``retried`` each time an item is sent again after its worker died.
    ``on_pool(handles)`` is called with the workers' actor handles once they are asked for;
    ``worker_class``/``runner_class`` replace :class:`BatchWorker`/:class:`BatchRunner` (tests)."""
    started = time.monotonic()
    engine = (engine or EngineOptions(engine="ray")).validated()
    options = options.validated()
    out = Path(output_dir)
    inputs = check_output_folder(items, out)
    import_ray()  # missing Ray is said before anything happens, even when there is nothing to do
    out.mkdir(parents=True, exist_ok=True)
    report = BatchReport(options.op, str(out), engine="ray")
    job = job or JobControl()
    total = len(items)
    job.begin(f"batch {options.op}", max(1, total))
    results: dict[int, tuple[str, dict[str, Any]]] = {}
    finished = 0

    def record(index: int, name: str, status: str, entry: dict[str, Any]) -> None:
        nonlocal finished
        results[index] = (status, entry)
        finished += 1
        if on_item is not None:
            on_item(index, total, name, status)
        job.next_job(f"{finished}/{total} {name}")

    count = results_per_item(options)
    tasks = []
    for index, item in enumerate(items):  # decided here without running: outputs exist, would overwrite an input
        targets = [out / n for n in output_names(item.name, count)]
        decided = precheck(item, targets, inputs, overwrite)
        if decided is not None:
            record(index, item.name, *decided)
        else:
            tasks.append(Task(index, item, targets))

    def finish(task: Task, status: str, value: Any, worker: str) -> None:
        if status == "interrupted":
            report.interrupted = True
            status, value = "skipped", {"name": task.item.name, "reason": "interrupted"}
        elif status == "failed" and isinstance(value, str):
            value = {"name": task.item.name, "reason": value}
        if worker and status != "skipped":
            report.workers[worker] = report.workers.get(worker, 0) + 1
        record(task.index, task.item.name, status, value)

    def retried(task: Task, reason: str) -> None:
        report.retries.append({"name": task.item.name, "attempt": task.attempt, "reason": reason})
        if on_item is not None:
            on_item(task.index, total, task.item.name, "retried")

    if tasks:  # a rerun with every output there never starts Ray
        ray = connect(engine.ray_address)
        size = pool_size(ray, engine, len(tasks))
        actor_args = (worker_settings(app), options, backend_spec, None, runner_class)
        driver = Driver(
            ray,
            engine,
            size,
            actor_args,
            inline=False,
            overwrite=overwrite,
            job=job,
            finish=finish,
            retried=retried,
            worker_class=worker_class or BatchWorker,
        )
        if on_pool is not None:
            on_pool([s.handle for s in driver.slots])
        driver.run(tasks)
    for index in sorted(results):
        report.add(*results[index])
    report.elapsed = round(time.monotonic() - started, 3)
    report.write(report_target(out, report_path))
    return report


def run_inline_ray(
    app: Any,
    items: Sequence[BatchItem],
    options: BatchOptions,
    *,
    engine: EngineOptions,
    backend_spec: tuple[str, str, dict] | None,
    max_pixels: int | None,
    job: JobControl,
) -> tuple[list[tuple[str, Any]], bool]:
    """The API's batch on Ray: items carry base64 images; returns ``(status, value)`` per item in order
    (done: [(base64 PNG, infotext)], failed: reason, interrupted: None) and whether it was interrupted."""
    ray = connect(engine.ray_address)
    options = options.validated()
    out: list[tuple[str, Any]] = [("interrupted", None)] * len(items)
    done = 0
    job.begin(f"batch {options.op}", max(1, len(items)))

    def finish(task: Task, status: str, value: Any, worker: str) -> None:
        nonlocal done
        out[task.index] = (status, value if status != "interrupted" else None)
        done += 1
        if status != "interrupted":
            job.next_job(f"{done}/{len(items)} {task.item.name}")

    tasks = [Task(i, item) for i, item in enumerate(items)]
    size = pool_size(ray, engine, len(tasks))
    driver = Driver(
        ray,
        engine,
        size,
        (worker_settings(app), options, backend_spec, max_pixels, None),
        inline=True,
        overwrite=False,
        job=job,
        finish=finish,
        retried=lambda task, reason: None,
        worker_class=BatchWorker,
    )
    completed = driver.run(tasks)
    return out, not completed


__all__ = [
    "INSTALL_COMMAND",
    "RAY_VERSION",
    "BatchWorker",
    "check_server_can_use_ray",
    "check_server_request",
    "connect",
    "import_ray",
    "pool_size",
    "run_batch_ray",
    "run_inline_ray",
    "worker_settings",
]
