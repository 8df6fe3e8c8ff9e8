"""What the API refuses at the door, before a route runs: state-changing requests from a foreign
``Origin`` (403), and bodies past the size limit (413 while they are read, JSON and multipart). The
route class of the API router (:func:`guarded_route_class`) applies both, and maps errors as
:mod:`inpaint_anything.api.context` does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from inpaint_anything.api.context import error_body, error_response, http_error_response, validation_response
from inpaint_anything.errors import IAError

if TYPE_CHECKING:
    from inpaint_anything.app import App

log = logging.getLogger(__name__)


class BodyTooLarge(StarletteHTTPException):
    """Raised while a request body is read, as soon as it passes the limit (FastAPI answers 413)."""


def _origin_host(origin: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(origin)
    except ValueError:
        return None
    return parts.netloc.lower() if parts.scheme in ("http", "https") and parts.netloc else None


def refuse_request(request: Any, max_body_bytes: int, allowed_origins: tuple[str, ...]) -> JSONResponse | None:
    """The answer for a request we must not serve, before its body is read (None: serve it).

    - 403 for a request whose ``Origin`` is another site (a page the user visits must not start
      downloads or jobs here); same-origin pages, tools without an Origin (curl, scripts) and the
      origins in ``allowed_origins`` (Settings: "Allowed origins") pass. Preflights are left alone.
    - 413 when the declared Content-Length is over the limit; bodies without one are counted as
      they arrive (:func:`limit_body`).
    """
    if request.method == "OPTIONS":
        return None
    origin = request.headers.get("origin")
    if origin is not None:
        host = (request.headers.get("host") or "").lower()
        same = _origin_host(origin) is not None and _origin_host(origin) == host
        if not same and "*" not in allowed_origins and origin.rstrip("/") not in allowed_origins:
            return error_body(
                f"Requests from {origin[:100]!r} are not allowed: this API only answers its own "
                "pages and tools without an Origin (add the site to --ia-allowed-origins to allow it).",
                "cross_site",
                403,
            )
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            return error_body("Invalid Content-Length header.", "bad_request", 400)
        if declared > max_body_bytes:
            return error_body(too_large_text(max_body_bytes), "too_large", 413)
    return None


def too_large_text(limit: int) -> str:
    return (
        f"The request body is larger than {limit // 2**20} MB (Settings: 'Largest API request'); send a smaller "
        f"image (PNG/JPEG of at most that size) or raise --ia-max-request-mb."
    )


def limit_body(request: Any, max_body_bytes: int) -> None:
    """Make reading ``request``'s body raise BodyTooLarge (413) once more than the limit has arrived,
    so an oversized chunked upload is never buffered whole."""
    receive = request._receive
    seen = 0

    async def counted() -> dict:
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > max_body_bytes:
                raise BodyTooLarge(status_code=413, detail=too_large_text(max_body_bytes))
        return message

    request._receive = counted


class IARoute(APIRoute):
    """A route whose IAError becomes ``{"detail": message}`` with the error's status code.

    Installed per route (not as an app-wide handler or middleware) because inside the WebUI the host
    owns the app. Unexpected exceptions become a JSON 500 and are logged; request validation stays
    FastAPI's 422. Before anything is read, :func:`refuse_request` turns away cross-site requests and
    oversized bodies (limits from :attr:`limits`, set by :func:`guarded_route_class`).
    """

    limits: Callable[[], tuple[int, tuple[str, ...]]] = staticmethod(lambda: (64 * 2**20, ()))

    def get_route_handler(self) -> Callable[..., Any]:
        original = super().get_route_handler()
        limits = self.limits

        async def handler(request):
            max_body, origins = limits()
            refused = refuse_request(request, max_body, origins)
            if refused is not None:
                return refused
            limit_body(request, max_body)
            try:
                return await original(request)
            except IAError as exc:
                return error_response(exc)
            except RequestValidationError as exc:
                return validation_response(exc)
            except StarletteHTTPException as exc:  # auth (401), a body over the limit (413), ...
                return http_error_response(exc)
            except Exception as exc:
                log.exception("Inpaint Anything API: unexpected error in %s %s", request.method, request.url.path)
                return error_body(f"Unexpected error: {type(exc).__name__}: {exc}", "internal_error", 500)

        return handler


def guarded_route_class(app: App) -> type[IARoute]:
    """IARoute reading the body limit and allowed origins from ``app``'s settings at each request."""

    def limits() -> tuple[int, tuple[str, ...]]:
        origins = tuple(o.strip().rstrip("/") for o in str(app.settings.allowed_origins or "").split(",") if o.strip())
        return int(app.settings.max_request_mb) * 2**20, origins

    return type("GuardedIARoute", (IARoute,), {"limits": staticmethod(limits)})


__all__ = ["BodyTooLarge", "IARoute", "guarded_route_class", "refuse_request"]
