"""What every route needs: the App, API sessions, the task registry, error mapping and model checks."""

from __future__ import annotations

import logging
import math
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from inpaint_anything.api.codec import decode_image_data, decode_mask_data
from inpaint_anything.api.tasks import JobFactory, NotFoundError, TaskRegistry
from inpaint_anything.errors import IAError, InvalidInputError, ModelNotFoundError

if TYPE_CHECKING:
    from inpaint_anything.app import App
    from inpaint_anything.workspace import Workspace

log = logging.getLogger(__name__)

_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
WORKSPACE_PREFIX = "api:"  # API sessions never share a workspace with a browser tab


def error_response(exc: IAError) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=int(exc.status_code))


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN / Infinity in the echoed input: not representable in strict JSON
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def validation_response(exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 ``{"detail": [...]}``, rendered here so that an echoed NaN input (pydantic 2
    includes the input) cannot turn it into a 500."""
    from fastapi.encoders import jsonable_encoder

    try:
        detail = jsonable_encoder(exc.errors())
    except Exception:  # an error context that cannot be encoded: keep the essentials
        detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in exc.errors()]
    return JSONResponse({"detail": _json_safe(detail)}, status_code=422)


class IARoute(APIRoute):
    """A route whose IAError becomes ``{"detail": message}`` with the error's status code.

    Installed per route (not as an app-wide handler) because inside the WebUI the host owns the app.
    Unexpected exceptions become a JSON 500 and are logged; request validation stays FastAPI's 422.
    """

    def get_route_handler(self) -> Callable[..., Any]:
        original = super().get_route_handler()

        async def handler(request):
            try:
                return await original(request)
            except IAError as exc:
                return error_response(exc)
            except RequestValidationError as exc:
                return validation_response(exc)
            except StarletteHTTPException:
                raise
            except Exception as exc:
                log.exception("Inpaint Anything API: unexpected error in %s %s", request.method, request.url.path)
                return JSONResponse({"detail": f"Unexpected error: {type(exc).__name__}: {exc}"}, status_code=500)

        return handler


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
    """A SAM model id as the API accepts it: a catalogue id or ``file:<name>`` (never a path)."""
    if model is None or model == "":
        return None
    name = model[5:] if model.startswith("file:") else model
    if looks_like_path(name) or "/" in name:
        raise InvalidInputError(
            f"{model!r} is not a SAM model id. Use an id from GET /models/sam (e.g. 'sam_vit_b' or "
            f"'file:<name in the models folder>'), not a file path."
        )
    return model


@dataclass
class ApiContext:
    """Shared state of one router: the App, its API sessions and its task registry."""

    app: App
    tasks: TaskRegistry
    job_factory: JobFactory
    max_sessions: int = 256
    _sessions: OrderedDict[str, None] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------ sessions
    def new_session(self) -> str:
        session_id = uuid.uuid4().hex
        with self._lock:
            self._sessions[session_id] = None
            while len(self._sessions) > self.max_sessions:
                old, _ = self._sessions.popitem(last=False)
                self.app.drop_workspace(WORKSPACE_PREFIX + old)
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
            raise NotFoundError(f"There is no session {session_id!r}; create one with POST /sessions.")

    def workspace(self, session_id: str) -> Workspace:
        """The workspace of an API session (404 for ids this server did not hand out)."""
        self._known(session_id)
        return self.app.workspace(WORKSPACE_PREFIX + session_id)

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

    # ------------------------------------------------------------------ models
    def diffusers_model(self, model: str) -> str:
        """A listed diffusers model: a Hub id from the list, a local name, or a listed local path."""
        if not model:
            raise InvalidInputError("Choose an inpainting model (GET /models/inpaint lists them).")
        if model in {e.name for e in self.app.inpaint_model_entries()}:
            return model  # App.backend resolves the name, or says why that model cannot be used
        if looks_like_path(model):
            raise InvalidInputError(
                f"{model!r} looks like a file path. Put the model in {self.app.models_dir / 'diffusers'} and use "
                f"its name, or a model id from GET /models/inpaint."
            )
        raise ModelNotFoundError(f"Unknown inpainting model {model!r}. GET /models/inpaint lists the available ones.")

    def backend(self, kind: str, model: str, options: dict[str, Any] | None = None):
        """The inpainting backend for an API request (model names checked, no paths)."""
        from inpaint_anything.inpaint.cleaner import CLEANERS

        kinds = self.app.available_backends()
        if kind not in kinds:
            raise InvalidInputError(f"Unknown backend {kind!r}; available here: {', '.join(kinds)}.")
        opts = {k: v for k, v in (options or {}).items() if v is not None}
        if kind == "diffusers":
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
        if method == "lama" and not (self.app.models_dir / "big-lama.pt").is_file():
            raise ModelNotFoundError(f"LaMa needs its model file big-lama.pt in {self.app.models_dir}.")


__all__ = ["WORKSPACE_PREFIX", "ApiContext", "IARoute", "check_sam_model_id", "error_response", "looks_like_path"]
