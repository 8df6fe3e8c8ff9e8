"""The REST API (FastAPI) of Inpaint Anything, mounted at ``/inpaint-anything/v1``.

``build_router(app, auth_dependency=None, job_factory=None)`` gives the ``APIRouter`` that the
standalone server (:mod:`inpaint_anything.server`) and the WebUI adapter include in their app. The
only package that imports fastapi/pydantic; importing ``inpaint_anything.api`` itself stays cheap
(the router module loads on first use).
"""

from __future__ import annotations

from typing import Any

from inpaint_anything.api.docs import API_PREFIX


def __getattr__(name: str) -> Any:
    if name == "build_router":
        from inpaint_anything.api.routes import build_router

        return build_router
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["API_PREFIX", "build_router"]
