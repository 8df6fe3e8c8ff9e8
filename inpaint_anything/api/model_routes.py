"""The API's routes about the installation: ``/version``, the model lists (SAM, inpainting, removers,
text detectors, ControlNets) and their download routes, which run as tasks with progress."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query

from inpaint_anything import __version__
from inpaint_anything.api.context import ApiContext, check_sam_model_id
from inpaint_anything.api.docs import ASYNC_DOC, ASYNC_RESPONSES

API_VERSION = 1


def _download_task(
    fetch: Callable[..., Path], what: str, answer: dict[str, Any], relative: Callable[[Path], str]
) -> Callable[[Any], dict[str, Any]]:
    """The task of a download route: ``fetch(download=True, progress=, cancel=)`` with the job's
    progress and interrupt; answers ``answer`` plus the file's path (relative) and size."""

    def work(job) -> dict[str, Any]:
        def progress(done: int, total: int | None) -> bool:
            if job.interrupted:
                return False
            job.step(int(done), int(total or 0), f"downloading {what}")
            return True

        path = fetch(download=True, progress=progress, cancel=lambda: job.interrupted)
        return {**answer, "path": relative(path), "size_bytes": path.stat().st_size}

    return work


def add_routes(router: APIRouter, ctx: ApiContext) -> None:
    app = ctx.app

    @router.get("/version")
    def version() -> dict[str, Any]:
        return {"version": __version__, "api_version": API_VERSION}

    @router.get("/models/sam")
    def sam_models() -> dict[str, Any]:
        models = [{**m.as_dict(), "path": app.relative(Path(m.path)) if m.path else None} for m in app.sam_models()]
        return {"models": models, "default": app.settings.default_sam_model, "offline": bool(app.settings.offline)}

    @router.post("/models/sam/{model_id:path}/download", responses=ASYNC_RESPONSES)
    def download_sam(model_id: str, asynchronous: bool = Query(True, alias="async", description=ASYNC_DOC)) -> Any:
        """Download a catalogue model (a task; ``async=false`` waits for it)."""
        from inpaint_anything.models.catalogue import get_entry

        check_sam_model_id(model_id)
        if model_id.startswith("file:"):
            app.sam_model_path(model_id)  # 404 when the file is not there
        else:
            get_entry(model_id)  # 404 for unknown ids
            if app.settings.offline:
                app.sam_model_path(model_id, download=True)  # offline: present, or OfflineError now

        fetch = partial(app.sam_model_path, model_id)
        return ctx.run(f"download {model_id}", _download_task(fetch, model_id, {"model": model_id}, app.relative), asynchronous)

    @router.get("/models/inpaint")
    def inpaint_models() -> dict[str, Any]:
        from inpaint_anything.inpaint.cleaner import available_cleaners
        from inpaint_anything.inpaint.controlnet_backend import base_model_names
        from inpaint_anything.prefill import PREFILLS

        entries = app.inpaint_model_entries()
        return {
            "diffusers": [e.name for e in entries if e.usable],
            # the controlnet backend: any listed checkpoint, inpainting or not, and the inpaint ControlNets
            "controlnet": {"models": base_model_names(entries), "controlnets": app.controlnet_models()},
            "diffusers_models": [e.as_dict() for e in entries],  # unusable ones too, with the reason
            "cleaner": available_cleaners(),
            "removers": app.removers(),
            "prefills": list(PREFILLS),
        }

    @router.get("/models/removers")
    def removers() -> dict[str, Any]:
        """The learned removers (cleaner methods lama, migan): file, size, whether downloaded. A missing
        file is downloaded on first use (not in offline mode), or beforehand with POST .../download."""
        return {"removers": app.removers(), "offline": bool(app.settings.offline)}

    @router.post("/models/removers/{method}/download", responses=ASYNC_RESPONSES)
    def download_remover(method: str, asynchronous: bool = Query(True, alias="async", description=ASYNC_DOC)) -> Any:
        """Download a learned remover's file (a task; ``async=false`` waits for it)."""
        from inpaint_anything.models.removers import remover

        entry = remover(method).entry  # 404 for unknown methods
        if app.settings.offline:
            app.remover_path(method, download=True)  # offline: present, or OfflineError now

        fetch = partial(app.remover_path, method)
        return ctx.run(
            f"download {entry.filename}", _download_task(fetch, entry.filename, {"method": method}, app.relative), asynchronous
        )

    @router.get("/status")
    def status() -> dict[str, Any]:
        """Sessions (browser tabs and API) and the memory they hold against the session budget."""
        stats = app.sessions.stats()
        return {
            "sessions": stats.sessions,
            "api_sessions": stats.api_sessions,
            "ui_sessions": stats.sessions - stats.api_sessions,
            "bytes_used": stats.bytes_used,
            "budget_bytes": stats.budget_bytes,
            "expired_sessions": stats.expired,
            "results_per_session": int(app.settings.results_per_session),
            "tasks": len(ctx.tasks.list()),
        }

    @router.get("/backends")
    def backends() -> dict[str, Any]:
        return {"backends": app.available_backends()}

    @router.get("/tasks")
    def list_tasks() -> dict[str, Any]:
        return {"tasks": [t.snapshot(include_result=False) for t in ctx.tasks.list()]}

    @router.get("/tasks/{task_id}")
    def get_task(task_id: str, include_result: bool = True) -> dict[str, Any]:
        return ctx.tasks.get(task_id).snapshot(include_result)

    @router.post("/tasks/{task_id}/interrupt")
    def interrupt_task(task_id: str) -> dict[str, Any]:
        return ctx.tasks.interrupt(task_id).snapshot(include_result=False)
