"""What every route needs: the App, API sessions, the task registry, error mapping and model checks."""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from inpaint_anything.api.tasks import JobFactory, NotFoundError, TaskRegistry
from inpaint_anything.codec import decode_image_data, decode_mask_data
from inpaint_anything.errors import IAError, InvalidInputError, ModelNotFoundError, SessionExpiredError, error_code
from inpaint_anything.sessions import EXPIRED_MESSAGE

if TYPE_CHECKING:
    from inpaint_anything.app import App
    from inpaint_anything.workspace import Workspace

log = logging.getLogger(__name__)

_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
WORKSPACE_PREFIX = "api:"  # API sessions never share a workspace with a browser tab


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "session_expired",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "busy",
    500: "internal_error",
    501: "unavailable",
    502: "download_failed",
    503: "not_ready",
}


def error_body(detail: str, code: str, status: int, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """Every error this API answers: ``{"detail": <message for a person>, "code": <stable id>}``."""
    return JSONResponse({"detail": detail, "code": code, **extra}, status_code=status, headers=headers)


def error_response(exc: IAError) -> JSONResponse:
    return error_body(str(exc), error_code(exc), int(exc.status_code))


def http_error_response(exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return error_body(detail, HTTP_CODES.get(exc.status_code, "error"), exc.status_code, headers=getattr(exc, "headers", None))


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN / Infinity in the echoed input: not representable in strict JSON
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def validation_response(exc: RequestValidationError) -> JSONResponse:
    """A 422 in the API's one error shape: ``detail`` says in words which fields are wrong, ``errors``
    lists pydantic's entries (``loc``, ``msg``, ``type``). Rendered here so that an echoed NaN input
    (pydantic 2 includes the input) cannot turn it into a 500."""
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    parts = []
    for e in errors[:8]:
        loc = [p for p in e["loc"] if p != "body"] or e["loc"]
        parts.append(f"{'.'.join(loc) or 'body'}: {e['msg']}")
    more = f" (and {len(errors) - 8} more)" if len(errors) > 8 else ""
    detail = "Invalid request: " + "; ".join(parts) + more + "." if parts else "Invalid request."
    return error_body(detail, "validation_error", 422, errors=_json_safe(errors))


def looks_like_path(name: str) -> bool:
    """True for names that point into the file system rather than naming a catalogue entry."""
    return (
        name.startswith(("/", "~", "."))
        or "\\" in name
        or ".." in name.replace("\\", "/").split("/")
        or bool(re.match(r"^[A-Za-z]:", name))
        or "\x00" in name
    )


def check_sam_model_id(model: str | None) -> str | None:
    """A SAM model id as the API accepts it: a catalogue id or ``file:<name>`` / ``file:<subfolder>/<name>``
    relative to the models folder (never a path outside it)."""
    if model is None or model == "":
        return None
    name = model[5:] if model.startswith("file:") else model
    parts = name.split("/")
    bad = looks_like_path(name) or (model.startswith("file:") and (len(parts) > 2 or any(not p for p in parts)))
    if bad or ("/" in name and not model.startswith("file:")):
        raise InvalidInputError(
            f"{model!r} is not a SAM model id. Use an id from GET /models/sam (e.g. 'sam_vit_b' or "
            f"'file:<name in the models folder>'), not a file path."
        )
    return model


class OutputFolderError(IAError, status=503):
    """A result asked for with ``save: true`` could not be written."""


SaveHook = Callable[[np.ndarray, str, str], str]  # (image, infotext, kind) -> saved file path


@dataclass
class ApiContext:
    """Shared state of one router: the App, its API sessions and its task registry.

    ``save_hook``/``output_folder`` are how results asked for with ``save: true`` are written (the
    WebUI adapter passes its own image saving); by default :func:`inpaint_anything.outputs.save_png`
    into the output folder setting (standalone: ``./outputs/inpaint-anything``).
    """

    app: App
    tasks: TaskRegistry
    job_factory: JobFactory
    max_sessions: int = 4096
    save_hook: SaveHook | None = None
    output_folder: Callable[[], str | os.PathLike[str]] | None = None
    _sessions: OrderedDict[str, None] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------ sessions
    def new_session(self) -> str:
        session_id = uuid.uuid4().hex
        with self._lock:
            self._sessions[session_id] = None
            while len(self._sessions) > self.max_sessions:
                old, _ = self._sessions.popitem(last=False)
                self.app.sessions.expire(WORKSPACE_PREFIX + old)  # its next request answers 410, not 404
        return session_id

    def drop_session(self, session_id: str) -> None:
        self._known(session_id)
        with self._lock:
            self._sessions.pop(session_id, None)
        self.app.drop_workspace(WORKSPACE_PREFIX + session_id)

    def _known(self, session_id: str) -> None:
        with self._lock:
            known = isinstance(session_id, str) and _SESSION_ID.match(session_id) and session_id in self._sessions
            if known:
                self._sessions.move_to_end(session_id)
        if not known:
            if isinstance(session_id, str) and self.app.sessions.expired(WORKSPACE_PREFIX + session_id):
                raise SessionExpiredError(EXPIRED_MESSAGE)
            raise NotFoundError(f"There is no session {session_id!r}; create one with POST /sessions.")

    def workspace(self, session_id: str, *, revive: bool = False) -> Workspace:
        """The workspace of an API session (404 for ids this server did not hand out, 410 for a
        session dropped to free memory unless ``revive``: a new image starts it over)."""
        if revive and isinstance(session_id, str) and self.app.sessions.expired(WORKSPACE_PREFIX + session_id):
            with self._lock:
                self._sessions[session_id] = None
        self._known(session_id)
        return self.app.workspace(WORKSPACE_PREFIX + session_id, revive=revive)

    def scratch(self) -> Workspace:
        """A throwaway workspace for one stateless request (never registered with the App)."""
        from inpaint_anything.workspace import Workspace

        return Workspace(self.app, "api-scratch-" + uuid.uuid4().hex)

    # ------------------------------------------------------------------ images
    @property
    def max_pixels(self) -> int:
        return int(self.app.settings.max_image_pixels)

    def image(self, data: str | bytes, what: str = "image") -> np.ndarray:
        return decode_image_data(data, self.max_pixels, what)

    def mask(self, data: str | bytes, shape: tuple[int, int] | None, what: str = "mask") -> np.ndarray:
        return decode_mask_data(data, shape, self.max_pixels, what)

    # ------------------------------------------------------------------ running jobs
    def run(self, name: str, fn: Callable[[Any], Any], asynchronous: bool = False) -> Any:
        """Run ``fn(job)`` now inside the job factory, or (``asynchronous``) as a task: 202 + task."""
        if asynchronous:
            task = self.tasks.submit(name, fn)
            return JSONResponse(task.snapshot(), status_code=202)
        with self.job_factory(name) as job:
            return fn(job)

    # ------------------------------------------------------------------ saving
    def results_folder(self) -> Path:
        from inpaint_anything.outputs import output_folder

        return Path(os.path.abspath(self.output_folder() if self.output_folder else output_folder(self.app.settings)))

    def save_results(self, images: list[np.ndarray], infotexts: list[str], kind: str) -> list[str]:
        """Write each image with its infotext; the paths relative to the output folder (never an
        absolute server path). A failed write is a 500-free error saying which folder to check."""
        from inpaint_anything.outputs import save_png

        folder = self.results_folder()
        saved = []
        for image, text in zip(images, infotexts, strict=True):
            try:
                path = self.save_hook(image, text, kind) if self.save_hook else save_png(image, folder, text, suffix=kind)
            except OSError as exc:
                raise OutputFolderError(
                    f"The result could not be saved in the output folder ({exc.strerror or exc}); "
                    "check that the folder is writable, or send the request without 'save'."
                ) from None
            absolute = Path(os.path.abspath(path))
            try:
                saved.append(absolute.relative_to(folder).as_posix())
            except ValueError:  # the host saved elsewhere (e.g. its own folder setting): the name only
                saved.append(absolute.name)
        return saved

    # ------------------------------------------------------------------ models
    def diffusers_model(self, model: str) -> str:
        """A listed diffusers model: a Hub id from the list, a local name, or a listed local path."""
        if not model:
            raise InvalidInputError("Choose an inpainting model (GET /models/inpaint lists them).")
        if model in {e.name for e in self.app.inpaint_model_entries()}:
            return model  # App.backend resolves the name, or says why that model cannot be used
        if looks_like_path(model):
            raise InvalidInputError(
                f"{model!r} looks like a file path. Put the model in the 'diffusers' folder inside the models folder "
                "(or in the --ia-ckpt-dir folder) and use its name, or a model id from GET /models/inpaint."
            )
        raise ModelNotFoundError(f"Unknown inpainting model {model!r}. GET /models/inpaint lists the available ones.")

    def backend(self, kind: str, model: str, options: dict[str, Any] | None = None):
        """The inpainting backend for an API request (model names checked, no paths)."""
        from inpaint_anything.inpaint.cleaner import CLEANERS

        kinds = self.app.available_backends()
        if kind not in kinds:
            raise InvalidInputError(f"Unknown backend {kind!r}; available here: {', '.join(kinds)}.")
        opts = {k: v for k, v in (options or {}).items() if v is not None}
        if kind in ("diffusers", "controlnet"):
            return self.app.backend(kind, self.diffusers_model(model), **opts)
        if kind == "cleaner":
            method = model or "telea"
            if method not in CLEANERS:
                raise InvalidInputError(f"Unknown cleaner {method!r}; choose one of: {', '.join(CLEANERS)}.")
            self.check_cleaner(method)
            return self.app.backend(kind, method)
        if model and looks_like_path(model):
            raise InvalidInputError(f"{model!r} looks like a file path; use a model name the backend lists.")
        return self.app.backend(kind, model, **opts)

    def check_cleaner(self, method: str) -> None:
        """A learned remover whose file is missing is downloaded on first use; offline, refuse now
        (OfflineError: which file to put where) rather than inside the job."""
        from inpaint_anything.models.removers import REMOVERS

        if method in REMOVERS and self.app.settings.offline:
            self.app.remover_path(method, download=True)


__all__ = ["WORKSPACE_PREFIX", "ApiContext", "SaveHook", "check_sam_model_id", "error_response", "looks_like_path"]
