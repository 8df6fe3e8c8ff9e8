"""The standalone server: a FastAPI app with the REST API and the tab's UI, run by uvicorn.

``create_app(settings, ui_builder=None)`` builds the app; ``ui_builder(fastapi_app, app)`` is the hook
where the gradio UI gets mounted (it then owns ``/``; without it ``/`` is a small placeholder page).
``python -m inpaint_anything`` (or ``serve``) calls :func:`serve`, which binds 127.0.0.1 by default.

With credentials (``--api-auth``/``--auth``) :class:`BasicAuthMiddleware` wraps the whole app: the
UI (page, ``/config``, event and queue endpoints, files), ``/docs``, ``/openapi.json`` and the API
all answer 401 without them. Browsers resend Basic credentials for the page's own requests and
websockets once the user has logged in. :func:`check_exposure` refuses a non-loopback address
without auth unless ``insecure`` is set.

``/docs`` is Swagger UI served from this machine (the files of the ``swagger-ui-py`` package under
``/docs-assets/``), never from a CDN, so it works offline; without that package ``/docs`` is a plain
page listing the routes. There is no ReDoc page.
"""

from __future__ import annotations

import html
import importlib.util
import logging
import os
import secrets
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inpaint_anything import __version__
from inpaint_anything.config import Settings
from inpaint_anything.server_memory import TrimAfterLargeRequests, libc_malloc_trim, settle_malloc  # noqa: F401

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7870

DOCS_URL = "/docs"
DOCS_ASSETS_URL = "/docs-assets"
SWAGGER_PACKAGE = "swagger-ui-py"  # PyPI name; imported as swagger_ui (Swagger UI 5: OpenAPI 3.0 and 3.1)
UiBuilder = Callable[[Any, Any], None]  # (fastapi_app, App) -> None; mounts the UI on the app


AUTH_REALM = "Inpaint Anything"
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def parse_credentials(credentials: str) -> list[tuple[str, str]]:
    """``user:pass[,user2:pass2]`` (the format of the WebUI's ``--api-auth``) as pairs."""
    pairs = []
    for item in credentials.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user:
            raise ValueError("--api-auth expects user:password[,user2:password2]")
        pairs.append((user, password))
    return pairs


def credentials_match(pairs: list[tuple[str, str]], username: str, password: str) -> bool:
    """True when (username, password) is one of ``pairs``; every pair is compared in constant time."""
    ok = False
    for user, secret in pairs:
        same_user = secrets.compare_digest(username.encode(), user.encode())
        same_password = secrets.compare_digest(password.encode(), secret.encode())
        ok |= same_user & same_password
    return ok


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic ...`` header, or None."""
    import base64
    import binascii

    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, sep, password = text.partition(":")
    return (user, password) if sep else None


def basic_auth_dependency(credentials: str) -> Callable[..., None]:
    """A FastAPI dependency that requires HTTP Basic auth with one of ``user:pass[,user2:pass2]``
    (used on the API router; inside the WebUI it is the only guard, standalone the middleware is)."""
    from fastapi import Depends, HTTPException
    from fastapi.security import HTTPBasic

    pairs = parse_credentials(credentials)
    basic = HTTPBasic()

    def check(creds=Depends(basic)) -> None:  # no annotation: FastAPI 0.94 would look it up in module globals
        if not credentials_match(pairs, creds.username, creds.password):
            raise HTTPException(
                status_code=401,
                detail="Incorrect username or password.",
                headers={"WWW-Authenticate": f'Basic realm="{AUTH_REALM}"'},
            )

    return check


class BasicAuthMiddleware:
    """ASGI middleware: every HTTP request and websocket of the app needs HTTP Basic credentials.

    A request without (or with wrong) credentials gets 401 ``{"detail", "code": "unauthorized"}``
    with ``WWW-Authenticate: Basic``, so a browser asks the user once and then sends them with every
    request of the page (fetches, the event queue's websocket or event stream, files). A websocket
    without them is closed before it is accepted (the server answers the handshake with 403). CORS
    preflights (``OPTIONS`` with ``Access-Control-Request-Method``) carry no credentials by design
    and pass; the request that follows them does not.
    """

    def __init__(self, app: Any, credentials: str, realm: str = AUTH_REALM):
        self.app = app
        self.pairs = parse_credentials(credentials)
        self.realm = realm.replace('"', "")

    def authorized(self, scope: dict) -> bool:
        header = None
        for name, value in scope.get("headers") or ():
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        creds = basic_credentials(header)
        return creds is not None and credentials_match(self.pairs, *creds)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        kind = scope.get("type")
        if kind not in ("http", "websocket") or self.authorized(scope):
            await self.app(scope, receive, send)
            return
        headers = {name.lower() for name, _ in scope.get("headers") or ()}
        if kind == "http" and scope.get("method") == "OPTIONS" and b"access-control-request-method" in headers:
            await self.app(scope, receive, send)
            return
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        from starlette.responses import JSONResponse

        response = JSONResponse(
            {"detail": "This server needs a user name and password (it was started with --auth).", "code": "unauthorized"},
            status_code=401,
            headers={"WWW-Authenticate": f'Basic realm="{self.realm}", charset="UTF-8"'},
        )
        await response(scope, receive, send)


def is_loopback(host: str) -> bool:
    """True when ``host`` only reaches this machine (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:  # a host name: loopback only if every address it resolves to is
        infos = socket.getaddrinfo(name, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


class ExposedWithoutAuthError(ValueError):
    """A non-loopback address without credentials and without ``insecure``."""


def exposure_warning(host: str) -> str:
    return (
        f"warning: --host {host} makes this server reachable from other machines, and without --auth anyone who "
        "can reach the port can use it (run jobs, download models, read results)."
    )


def check_exposure(host: str, auth: str | None, insecure: bool = False) -> str | None:
    """None when ``host`` is fine as it is; a warning when it is exposed without auth but ``insecure``
    allows it; raises :class:`ExposedWithoutAuthError` when it is exposed without either."""
    if auth or is_loopback(host):
        return None
    if insecure:
        return exposure_warning(host)
    raise ExposedWithoutAuthError(
        exposure_warning(host) + " Refusing to start: add --auth USER:PASSWORD, listen on 127.0.0.1, or pass "
        "--insecure if this network is trusted."
    )


def _placeholder_page() -> str:
    from inpaint_anything.api import API_PREFIX

    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Inpaint Anything</title></head><body>"
        f"<h1>Inpaint Anything {html.escape(__version__)}</h1>"
        "<p>The REST API is running. The interactive interface is not part of this server build yet.</p>"
        f"<ul><li><a href='docs'>API documentation</a></li><li><a href='openapi.json'>OpenAPI schema</a></li>"
        f"<li><a href='{API_PREFIX.lstrip('/')}/version'>{API_PREFIX}/version</a></li></ul></body></html>"
    )


def swagger_assets_dir() -> Path | None:
    """The folder of Swagger UI's JS/CSS inside the installed ``swagger_ui`` package, or None. Found
    without importing the package (it imports its web-framework handlers)."""
    try:
        spec = importlib.util.find_spec("swagger_ui")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        static = Path(location) / "static"
        if (static / "swagger-ui-bundle.js").is_file() and (static / "swagger-ui.css").is_file():
            return static
    return None


def _routes_page(fastapi_app: Any) -> str:
    """/docs without Swagger UI's files: the routes as a plain list (no script, nothing remote)."""
    rows = []
    for path, ops in sorted(fastapi_app.openapi().get("paths", {}).items()):
        for method, op in ops.items():
            summary = html.escape(op.get("summary") or "")
            rows.append(f"<li><code>{html.escape(method.upper())} {html.escape(path)}</code> {summary}</li>")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Inpaint Anything API</title></head><body>"
        f"<h1>Inpaint Anything {html.escape(__version__)}: REST API</h1>"
        f"<p>The interactive documentation needs the Python package <code>{SWAGGER_PACKAGE}</code> "
        f"(<code>pip install {SWAGGER_PACKAGE}</code>). The full schema is at <a href='openapi.json'>openapi.json</a>.</p>"
        f"<ul>{''.join(rows)}</ul></body></html>"
    )


def add_offline_docs(fastapi_app: Any) -> bool:
    """``GET /docs``: Swagger UI with every script, style sheet and icon served by this app (True),
    or the plain list of routes when the package is missing (False)."""
    from fastapi.responses import HTMLResponse

    assets = swagger_assets_dir()
    if assets is None:

        @fastapi_app.get(DOCS_URL, response_class=HTMLResponse, include_in_schema=False)
        def plain_docs() -> str:
            return _routes_page(fastapi_app)

        return False

    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    fastapi_app.mount(DOCS_ASSETS_URL, StaticFiles(directory=str(assets)), name="docs-assets")

    @fastapi_app.get(DOCS_URL, include_in_schema=False)
    def swagger_docs() -> Any:
        return get_swagger_ui_html(
            openapi_url=fastapi_app.openapi_url,
            title=f"{fastapi_app.title} - API",
            swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_URL}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )  # no badge fetched from validator.swagger.io

    return True


def create_app(
    settings: Settings | None = None,
    ui_builder: UiBuilder | None = None,
    *,
    app: Any = None,
    api_auth: str | None = None,
    job_factory: Any = None,
) -> Any:
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
    fastapi_app = FastAPI(title="Inpaint Anything", version=__version__, docs_url=None, redoc_url=None)
    fastapi_app.add_event_handler("shutdown", tasks.shutdown)
    fastapi_app.state.ia_app = core
    fastapi_app.state.ia_tasks = tasks
    auth = basic_auth_dependency(api_auth) if api_auth else None
    fastapi_app.include_router(build_router(core, auth_dependency=auth, job_factory=job_factory, tasks=tasks))
    add_offline_docs(fastapi_app)  # before the UI: gradio mounted at / would answer /docs otherwise
    if ui_builder is not None:
        ui_builder(fastapi_app, core)
    else:

        @fastapi_app.get("/", response_class=HTMLResponse, include_in_schema=False)
        def root() -> str:
            return _placeholder_page()

    tune = os.environ.get("IA_MALLOC_TRIM", "1") != "0"  # glibc tuning: this process only, never the WebUI's
    if tune:
        settle_malloc()  # no fresh page faults for each SAM click's feature maps
    trim = libc_malloc_trim() if tune else None
    if trim is not None:
        fastapi_app.add_middleware(TrimAfterLargeRequests, trim=trim)
    if api_auth:  # last: it wraps everything mounted above (UI, docs, API)
        fastapi_app.add_middleware(BasicAuthMiddleware, credentials=api_auth)
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


def serve(
    settings: Settings,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    ui_builder: UiBuilder | None = None,
    api_auth: str | None = None,
    log_level: str = "info",
    announce: Callable[[str], None] | None = None,
    insecure: bool = False,
    warn: Callable[[str], None] | None = None,
) -> None:
    """Build the app and serve it until interrupted; ``announce(url)`` is called once it listens.
    Raises :class:`ExposedWithoutAuthError` for a non-loopback ``host`` without ``api_auth`` (unless
    ``insecure``; then ``warn(text)`` gets the warning)."""
    warning = check_exposure(host, api_auth, insecure)
    if warning and warn is not None:
        warn(warning)
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


__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DOCS_ASSETS_URL",
    "DOCS_URL",
    "BasicAuthMiddleware",
    "ExposedWithoutAuthError",
    "add_offline_docs",
    "basic_auth_dependency",
    "bind_socket",
    "check_exposure",
    "create_app",
    "is_loopback",
    "make_server",
    "serve",
    "swagger_assets_dir",
    "url_for",
]
