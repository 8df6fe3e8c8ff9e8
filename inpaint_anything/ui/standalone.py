"""Mount the Inpaint Anything tab into the standalone FastAPI app (``python -m inpaint_anything``).

The page is the tab built once inside a full-page ``gr.Blocks`` (building a Blocks inside another
renders it there; calling ``.render()`` as well would put a second, dead copy on the page).

Nothing of the page comes from another host: analytics are off, the theme uses system fonts
(gradio's default theme loads Google Fonts), and :class:`LocalPageMiddleware` drops the external
``<script src>`` / ``<link href>`` tags gradio's page template carries (an iframe-resizer script
from cdnjs, only needed when the page is embedded in an iframe, and Google Fonts preconnects).
"""

from __future__ import annotations

import re
from typing import Any

PAGE_TITLE = "Inpaint Anything"
# the standalone page only (the WebUI has its own): use the window's width, so that the editor and the
# controls stay side by side down to 1000 px (gradio's container would stop at 768 px there)
PAGE_CSS = """
.gradio-container { max-width: min(1600px, 100%) !important; padding-left: 12px !important; padding-right: 12px !important; }
"""
# a tag that loads something from another host: <script src="http(s)://..."></script> or <link href="http(s)://...">
_EXTERNAL_TAGS = re.compile(
    rb"<script\b[^>]*\bsrc=[\"']https?://[^\"']*[\"'][^>]*>\s*</script>|<link\b[^>]*\bhref=[\"']https?://[^\"']*[\"'][^>]*>",
    re.IGNORECASE,
)


def strip_external_tags(html: bytes) -> bytes:
    """``html`` without tags that make the browser contact another host (the page works without them)."""
    return _EXTERNAL_TAGS.sub(b"", html)


class LocalPageMiddleware:
    """ASGI middleware: the UI page (``paths``) loses its external ``<script src>`` / ``<link href>``
    tags. Other pages (``/docs``) are left alone."""

    def __init__(self, app: Any, paths: tuple[str, ...] = ("/",)) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "GET" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        start: dict | None = None
        chunks: list[bytes] = []

        async def filtered_send(message: dict) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                html = headers.get(b"content-type", b"").startswith(b"text/html")
                if not html or headers.get(b"content-encoding"):
                    start = None
                    await send(message)
                    return
                start = message
                return
            if message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = strip_external_tags(b"".join(chunks))
                headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, filtered_send)


def build_blocks(core: Any):
    """The tab as a full page, with a title, our JS and CSS (the WebUI injects them itself when hosted)."""
    import gradio as gr

    from inpaint_anything import __version__
    from inpaint_anything.ui import compat
    from inpaint_anything.ui.tab import build_tab

    with compat.standalone_blocks(PAGE_TITLE, css=PAGE_CSS) as blocks:
        gr.HTML(
            f'<h1 class="ia-page-title">{PAGE_TITLE} <span class="ia-page-version">{__version__}</span></h1>',
            elem_id="ia_page_title",
        )
        tab = build_tab(core)
        for fn, inputs, outputs in getattr(tab, "ia_refresh", []):  # a reload sees model files added since the start
            blocks.load(fn, inputs=inputs, outputs=outputs, queue=False)
        compat.inject_assets(blocks)
    return blocks


def mount_ui(fastapi_app: Any, core: Any, path: str = "/") -> Any:
    """``ui_builder`` for :func:`inpaint_anything.server.create_app`: the tab at ``path``."""
    import gradio as gr

    blocks = build_blocks(core)
    blocks.queue()
    page = "/" + path.strip("/")
    fastapi_app.add_middleware(LocalPageMiddleware, paths=(page, page.rstrip("/") + "/"))
    return gr.mount_gradio_app(fastapi_app, blocks, path=path)
