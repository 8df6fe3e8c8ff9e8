"""The REST API router (``/inpaint-anything/v1``): models, sessions, tasks; segmenting and generating
routes live in :mod:`.segment_routes`, :mod:`.generate_routes` and :mod:`.batch_routes`.

``build_router(app)`` returns an ``APIRouter`` that the standalone server and the WebUI adapter
include in their FastAPI app. Errors come back as ``{"detail": "<message>"}`` with the status of the
:class:`~inpaint_anything.errors.IAError` (pydantic validation stays FastAPI's 422).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from inpaint_anything.api.context import ApiContext, SaveHook, check_sam_model_id
from inpaint_anything.api.docs import API_PREFIX, ASYNC_DOC, ASYNC_RESPONSES, PNG_RESPONSE, PREPARE_DOC
from inpaint_anything.api.guard import guarded_route_class
from inpaint_anything.api.payloads import mask_payload
from inpaint_anything.api.tasks import JobFactory, NotFoundError, TaskRegistry, plain_job
from inpaint_anything.codec import png_bytes
from inpaint_anything.errors import IAError, InvalidInputError

if TYPE_CHECKING:
    from inpaint_anything.app import App


class UnsupportedMediaError(IAError, status=415):
    """A request body whose content type the route does not take."""


def upload_body(field: str, doc: str) -> dict[str, Any]:
    """OpenAPI request body of a route that takes JSON ``{field: base64}`` or a multipart file."""
    from inpaint_anything.api.schemas import EXAMPLE_IMAGE, EXAMPLE_MASK, example

    sample = example(EXAMPLE_MASK if field == "mask" else EXAMPLE_IMAGE)
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": [field],
                        "additionalProperties": False,
                        "properties": {field: {"type": "string", "description": doc, **sample}},
                    }
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [field],
                        "properties": {field: {"type": "string", "format": "binary"}},
                    }
                },
            },
        }
    }


async def read_upload(request: Request, field: str) -> str | bytes:
    """The ``field`` of a JSON body (base64 text) or of a multipart form (file bytes or text)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        try:
            form = await request.form()
        except Exception as exc:  # starlette raises several types for malformed uploads
            raise InvalidInputError(f"The multipart upload could not be read ({type(exc).__name__}).") from None
        try:
            item = form.get(field)
            if item is None:
                raise InvalidInputError(f"Send the file in a form field named {field!r}.")
            if isinstance(item, str):
                return item
            return await item.read()
        finally:
            await form.close()
    if ctype in ("application/json", ""):
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            raise InvalidInputError("The request body is not valid JSON.") from None
        if not isinstance(body, dict) or not isinstance(body.get(field), str):
            raise InvalidInputError(f'Send JSON {{"{field}": "<base64>"}} or a multipart upload with a {field!r} file.')
        extra = sorted(set(body) - {field})
        if extra:
            raise InvalidInputError(f"Unknown field(s): {', '.join(extra)}.")
        return body[field]
    raise UnsupportedMediaError(f"Send JSON or multipart/form-data, not {ctype}.")


def build_router(
    app: App,
    *,
    auth_dependency: Callable[..., Any] | None = None,
    job_factory: JobFactory | None = None,
    tasks: TaskRegistry | None = None,
    save: SaveHook | None = None,
    output_folder: Callable[[], Any] | None = None,
) -> APIRouter:
    """The API router for ``app``.

    ``auth_dependency`` guards every route; ``job_factory(name)`` is a context manager yielding the
    JobControl of one job (the WebUI adapter holds the host's queue lock in it); ``tasks`` is the
    registry for ``?async=true`` jobs (default: a new one using ``job_factory``). ``save(image,
    infotext, kind) -> path`` and ``output_folder()`` write the results of requests with
    ``save: true`` (default: PNGs in the output folder setting).
    """
    from inpaint_anything.api import batch_routes, generate_routes, model_routes, segment_routes, text_routes

    factory = job_factory or plain_job
    ctx = ApiContext(app, tasks or TaskRegistry(factory), factory, save_hook=save, output_folder=output_folder)
    ctx.tasks.set_ttl(lambda: float(app.settings.task_result_minutes) * 60.0)
    deps = [Depends(auth_dependency)] if auth_dependency is not None else []
    router = APIRouter(prefix=API_PREFIX, route_class=guarded_route_class(app), dependencies=deps, tags=["Inpaint Anything"])
    model_routes.add_routes(router, ctx)
    _session_routes(router, ctx)
    segment_routes.add_routes(router, ctx)
    text_routes.add_routes(router, ctx)
    generate_routes.add_routes(router, ctx)
    batch_routes.add_routes(router, ctx)
    _document_errors(router, with_auth=auth_dependency is not None)
    _method_not_allowed_route(router)
    return router


def _document_errors(router: APIRouter, *, with_auth: bool) -> None:
    """Every route documents the error statuses it can answer, all in one shape (:class:`ErrorBody`);
    this replaces FastAPI's default 422 schema, which does not match what the API sends."""
    from fastapi.routing import APIRoute

    from inpaint_anything.api.schemas import ErrorBody

    statuses = dict(ERROR_STATUSES)
    if with_auth:
        statuses[401] = "Missing or wrong credentials (--api-auth)."
    for route in router.routes:
        if isinstance(route, APIRoute):
            for status, text in statuses.items():
                route.responses.setdefault(status, {"model": ErrorBody, "description": text})


def _method_not_allowed_route(router: APIRouter) -> None:
    """Under the API prefix, a known path with another method answers 405 (with ``Allow``) and an
    unknown path 404, both as JSON, even when a UI mounted at ``/`` would otherwise take them."""
    import re

    from fastapi.routing import APIRoute

    from inpaint_anything.api.context import error_body

    own = [r for r in router.routes if isinstance(r, APIRoute)]
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "TRACE"]

    @router.api_route("/{rest:path}", methods=methods, include_in_schema=False)
    def not_here(rest: str, request: Request) -> Any:
        path = request.scope.get("path", "")
        root = request.scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        allowed = sorted({m for r in own if r.path_regex.match(path) for m in (r.methods or ())})
        if allowed:
            return error_body(
                f"{request.method} is not allowed here; use {', '.join(allowed)}.",
                "method_not_allowed",
                405,
                headers={"Allow": ", ".join(allowed)},
            )
        return error_body(
            f"There is no API route {re.sub(r'[^ -~]', '?', path)[:200]!r}; see /docs or /openapi.json for the routes.",
            "not_found",
            404,
        )


ERROR_STATUSES: dict[int, str] = {
    400: "The request cannot be used (e.g. a malformed header).",
    403: "A cross-site request (Origin not allowed).",
    404: "Unknown session, task, result, model or route.",
    409: "Offline and the file is missing, or the job was interrupted.",
    410: "The session expired to free memory; upload the image again.",
    413: "The body or the image is larger than allowed.",
    415: "Unsupported content type (send JSON or multipart/form-data).",
    422: "Invalid input: the message says which field and why.",
    429: "Too many tasks waiting.",
    500: "Unexpected error (a bug; the server log has the details).",
    501: "A feature this installation does not have (a package or file is missing).",
    502: "A download failed.",
    503: "Not ready (e.g. no WebUI checkpoint loaded).",
}


def _session_routes(router: APIRouter, ctx: ApiContext) -> None:
    @router.post("/sessions")
    def create_session() -> dict[str, Any]:
        return {"session_id": ctx.new_session()}

    @router.delete("/sessions/{session_id}")
    def delete_session(session_id: str) -> dict[str, Any]:
        ctx.drop_session(session_id)
        return {"session_id": session_id, "deleted": True}

    @router.post("/sessions/{session_id}/image", openapi_extra=upload_body("image", "base64 or data URL"))
    async def set_image(
        session_id: str, request: Request, prepare: str | None = Query(None, description=PREPARE_DOC)
    ) -> dict[str, Any]:
        """Upload the session's image (JSON base64 or a multipart file); the mask starts empty. This
        also restarts a session that expired to free memory."""
        ws = ctx.workspace(session_id, revive=True)
        model = check_sam_model_id(prepare) if prepare not in (None, "", "none") else None
        if model:
            ctx.app.sam_model_path(model)  # an unknown or missing model is an error before the upload counts
        data = await read_upload(request, "image")

        def work() -> dict[str, Any]:
            image = ctx.image(data)
            width, height = ws.set_image(image)
            out = {"width": width, "height": height, "has_alpha": image.shape[2] == 4}
            if model:  # encode in the background while the client decides where to click
                ws.prepare(model)
            elif ws.sam_model and prepare != "none":
                with contextlib.suppress(IAError):  # the model used before is gone: the click will say so
                    ws.prepare(ws.sam_model)
            return {**out, "embedding": ws.embedding_state()["embedding"]}

        return await run_in_threadpool(work)

    @router.post("/sessions/{session_id}/mask", openapi_extra=upload_body("mask", "base64 or data URL; white = selected"))
    async def set_mask(session_id: str, request: Request) -> dict[str, Any]:
        """Replace the session's mask (same size as its image)."""
        ws = ctx.workspace(session_id)
        data = await read_upload(request, "mask")

        def work() -> dict[str, Any]:
            shape = ws.require_image().shape[:2]
            return mask_payload(ws.set_mask(ctx.mask(data, shape)))

        return await run_in_threadpool(work)

    @router.get("/sessions/{session_id}/mask", response_class=Response, responses=PNG_RESPONSE)
    def get_mask(session_id: str) -> Response:
        """The mask as a grayscale PNG (255 = selected)."""
        ws = ctx.workspace(session_id)
        img = ws.require_image()
        mask = ws.mask if ws.mask is not None else np.zeros(img.shape[:2], bool)
        return Response(png_bytes(mask), media_type="image/png")

    @router.get("/sessions/{session_id}/mask/alpha", response_class=Response, responses=PNG_RESPONSE)
    def get_mask_alpha(session_id: str) -> Response:
        """The image with the mask as its alpha channel (transparent = not selected)."""
        ws = ctx.workspace(session_id)
        img = ws.require_image()
        mask = ws.mask if ws.mask is not None else np.zeros(img.shape[:2], bool)
        return Response(png_bytes(np.dstack([img, mask.astype(np.uint8) * 255])), media_type="image/png")

    @router.get("/sessions/{session_id}")
    def session_info(session_id: str) -> dict[str, Any]:
        ws = ctx.workspace(session_id)
        size = None if ws.image is None else [ws.image.shape[1], ws.image.shape[0]]
        embedding = ws.embedding_state()
        return {
            "session_id": session_id,
            "size": size,
            "has_alpha": ws.alpha is not None,
            "embedding": embedding["embedding"],
            "embedding_progress": embedding["progress"],
            "embedding_model": embedding["model"],
            "embedding_error": embedding["error"] or None,
            "selected_pixels": 0 if ws.mask is None else int(ws.mask.sum()),
            "sam_model": ws.sam_model,
            "segments": None if ws.segment_map is None else len(ws.segment_map),
            "results": len(ws.results),
            "dropped_results": ws.dropped_results,
        }

    @router.get("/sessions/{session_id}/results")
    def list_results(session_id: str) -> dict[str, Any]:
        ws = ctx.workspace(session_id)
        return {
            "results": [
                {"index": i, "kind": r.kind, "seed": r.seed, "infotext": r.infotext, "size": [r.image.shape[1], r.image.shape[0]]}
                for i, r in enumerate(ws.results)
            ],
            "dropped": ws.dropped_results,
        }

    def _result(session_id: str, index: int):
        ws = ctx.workspace(session_id)
        if not 0 <= index < len(ws.results):
            raise NotFoundError(f"There is no result {index}; this session has {len(ws.results)}.")
        return ws, ws.results[index]

    @router.get("/sessions/{session_id}/results/{index}", response_class=Response, responses=PNG_RESPONSE)
    def get_result(session_id: str, index: int) -> Response:
        """A result as PNG with its infotext."""
        _, result = _result(session_id, index)
        return Response(png_bytes(result.image, result.infotext), media_type="image/png")

    @router.post("/sessions/{session_id}/results/{index}/use")
    def use_result(session_id: str, index: int) -> dict[str, Any]:
        """Make a result the session's image (to chain edits); the mask starts empty."""
        ws, _ = _result(session_id, index)
        width, height = ws.use_result(index)
        return {"width": width, "height": height}


__all__ = ["API_PREFIX", "ASYNC_DOC", "ASYNC_RESPONSES", "build_router", "read_upload", "upload_body"]
