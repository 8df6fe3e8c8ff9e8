"""Mount the Inpaint Anything tab into the standalone FastAPI app (``python -m inpaint_anything``)."""

from __future__ import annotations

from typing import Any


def build_blocks(core: Any):
    """The tab as a full page, with our JS and CSS (the WebUI injects them itself when hosted)."""
    from inpaint_anything.ui import compat
    from inpaint_anything.ui.tab import build_tab

    with compat.standalone_blocks("Inpaint Anything") as blocks:
        build_tab(core).render()
        compat.inject_assets(blocks)
    return blocks


def mount_ui(fastapi_app: Any, core: Any, path: str = "/") -> Any:
    """``ui_builder`` for :func:`inpaint_anything.server.create_app`: the tab at ``path``."""
    import gradio as gr

    blocks = build_blocks(core)
    blocks.queue()
    return gr.mount_gradio_app(fastapi_app, blocks, path=path)
