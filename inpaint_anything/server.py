"""The standalone server: a FastAPI app with the REST API and (later) the tab's UI, run by uvicorn.

``create_app(settings, ui_builder=None)`` builds the app; ``ui_builder(fastapi_app, app)`` is the hook
where the gradio UI gets mounted (it then owns ``/``; without it ``/`` is a small placeholder page).
``python -m inpaint_anything`` (or ``serve``) calls :func:`serve`, which binds 127.0.0.1 by default.
"""

from __future__ import annotations

import html
import logging
import secrets
import socket
from collections.abc import Callable
from typing import Any

from inpaint_anything import __version__
from inpaint_anything.config import Settings

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7870

UiBuilder = Callable[[Any, Any], None]  # (fastapi_app, App) -> None; mounts the UI on the app


def basic_auth_dependency(credentials: str) -> Callable[..., None]:
    """A FastAPI dependency that requires HTTP Basic auth with one of ``user:pass[,user2:pass2]``
    (the format of the WebUI's ``--api-auth``)."""
    from fastapi import Depends, HTTPException
    from fastapi.security import HTTPBasic

    pairs = []
    for item in credentials.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user:
            raise ValueError("--api-auth expects user:password[,user2:password2]")
        pairs.append((user, password))
    basic = HTTPBasic()

    def check(creds=Depends(basic)) -> None:  # no annotation: FastAPI 0.94 would look it up in module globals
        ok = False
        for user, password in pairs:  # compare all, in constant time
            same_user = secrets.compare_digest(creds.username.encode(), user.encode())
            same_password = secrets.compare_digest(creds.password.encode(), password.encode())
            ok |= same_user & same_password
        if not ok:
            raise HTTPException(status_code=401, detail="Incorrect username or password.",
                                headers={"WWW-Authenticate": "Basic"})

    return check


def _placeholder_page() -> str:
    from inpaint_anything.api import API_PREFIX

    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Inpaint Anything</title></head><body>"
        f"<h1>Inpaint Anything {html.escape(__version__)}</h1>"
        "<p>The REST API is running. The interactive interface is not part of this server build yet.</p>"
        f"<ul><li><a href='docs'>API documentation</a></li><li><a href='openapi.json'>OpenAPI schema</a></li>"
        f"<li><a href='{API_PREFIX.lstrip('/')}/version'>{API_PREFIX}/version</a></li></ul></body></html>"
    )


def create_app(settings: Settings | None = None, ui_builder: UiBuilder | None = None, *, app: Any = None,
               api_auth: str | None = None, job_factory: Any = None) -> Any:
    """The standalone FastAPI app: the REST API router, then the UI via ``ui_builder`` (or a
    placeholder page at ``/``). ``app`` reuses an existing :class:`~inpaint_anything.app.App`."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    from inpaint_anything.api.routes import build_router
    from inpaint_anything.api.tasks import TaskRegistry, plain_job
    from inpaint_anything.app import App

    core = app if app is not None else App(settings)
    tasks = TaskRegistry(job_factory or plain_job)

    # startup/shutdown events rather than a lifespan function: gradio's mount registers a startup
    # event (its queue) that a custom lifespan would skip on gradio 3.
    fastapi_app = FastAPI(title="Inpaint Anything", version=__version__)
    fastapi_app.add_event_handler("shutdown", tasks.shutdown)
    fastapi_app.state.ia_app = core
    fastapi_app.state.ia_tasks = tasks
    auth = basic_auth_dependency(api_auth) if api_auth else None
    fastapi_app.include_router(build_router(core, auth_dependency=auth, job_factory=job_factory, tasks=tasks))
    if ui_builder is not None:
        ui_builder(fastapi_app, core)
    else:
        @fastapi_app.get("/", response_class=HTMLResponse, include_in_schema=False)
        def root() -> str:
            return _placeholder_page()
    return fastapi_app


def make_server(fastapi_app: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, log_level: str = "info"):
    """A uvicorn Server for the app (``server.run()`` blocks; set ``server.should_exit`` to stop)."""
    import uvicorn

    config = uvicorn.Config(fastapi_app, host=host, port=port, log_level=log_level, lifespan="on")
    return uvicorn.Server(config)


def bind_socket(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> socket.socket:
    """A listening socket (port 0 = a free one); pass it to ``server.run(sockets=[sock])``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def url_for(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"


def serve(settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, ui_builder: UiBuilder | None = None,
          api_auth: str | None = None, log_level: str = "info", announce: Callable[[str], None] | None = None) -> None:
    """Build the app and serve it until interrupted; ``announce(url)`` is called once it listens."""
    fastapi_app = create_app(settings, ui_builder, api_auth=api_auth)
    sock = bind_socket(host, port)
    actual = sock.getsockname()[1]
    if announce is not None:
        announce(url_for(host, actual))
    server = make_server(fastapi_app, host, actual, log_level=log_level)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "basic_auth_dependency", "bind_socket", "create_app", "make_server",
           "serve", "url_for"]
