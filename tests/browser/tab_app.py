"""The complete "Inpaint Anything" tab as a standalone gradio page, for browser tests and by hand.

    $VENV/bin/python tests/browser/tab_app.py [--host] [PORT]   # prints the URL, Ctrl+C to stop

:func:`make_app` builds an :class:`~inpaint_anything.app.App` over a models folder holding one tiny
SAM checkpoint (``file:tiny_sam.pth``), offline, on the CPU. Its diffusers backend processes at
:data:`TEST_NATIVE_SIZE` px (``$IA_TEST_NATIVE_SIZE`` overrides; 0 = the model's own size) by
wrapping the instance's ``backend`` method, so production code is unchanged.

:func:`build_page` wraps :func:`~inpaint_anything.ui.tab.build_tab` in ``compat.standalone_blocks``
+ ``compat.inject_assets``. With ``host=True`` the page imitates the WebUI: a tab bar with a fake
"img2img" tab holding two ``gr.Image`` (``#img_inpaint_base`` / ``#img_inpaint_mask``, like
img2img's Inpaint upload) passed as ``HostHooks.img2img_targets``, and ``img2img_switch_js``
clicking that tab.

:class:`TabPage` drives that page in Playwright (tests/browser/test_browser_tab.py).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import numpy as np
from browser_kit import CanvasPage

from inpaint_anything.app import App
from inpaint_anything.config import Settings
from inpaint_anything.ui import compat

SAM_ID = "file:tiny_sam.pth"
TEST_NATIVE_SIZE = 64
# Random-weight SAM models predict low-confidence masks; keep every segment so "Segment everything" finds some.
EVERYTHING_OPTIONS = {"pred_iou_thresh": 0.0, "stability_thresh": 0.0}
HOST_TABS_ID = "ia_fake_host_tabs"
HOST_TARGET_IDS = ("img_inpaint_base", "img_inpaint_mask")
# Stands in for the WebUI's switch_to_img2img_tab(): click the fake "img2img" tab's button.
SWITCH_JS = """() => {
    const root = document.querySelector('gradio-app');
    const scope = (root && root.shadowRoot) || document;
    const nav = scope.querySelector('#HOST .tab-nav') || scope.querySelector('#HOST');
    const button = nav && Array.from(nav.querySelectorAll('button')).find((b) => b.textContent.trim() === 'img2img');
    if (button) button.click();
}""".replace("HOST", HOST_TABS_ID)


def native_size() -> int:
    """The processing size the tests use for the diffusers backend (``$IA_TEST_NATIVE_SIZE``)."""
    return int(os.environ.get("IA_TEST_NATIVE_SIZE", TEST_NATIVE_SIZE))


def make_app(root: str | Path, sam_checkpoint: str | Path, *, size: int | None = None, keep_all_segments: bool = True) -> App:
    """An offline CPU App under ``root`` (models/, out/) with ``sam_checkpoint`` as tiny_sam.pth.

    Test-only adjustments are made by wrapping methods of this instance: the diffusers backend
    runs at ``size`` px (default :func:`native_size`), and with ``keep_all_segments`` every
    workspace's ``segment_everything`` uses :data:`EVERYTHING_OPTIONS`.
    """
    root = Path(root)
    models = root / "models"
    models.mkdir(parents=True, exist_ok=True)
    shutil.copy(sam_checkpoint, models / "tiny_sam.pth")
    app = App(
        Settings(models_dir=str(models), output_dir=str(root / "out"), offline=True, sam_device="cpu", default_sam_model=SAM_ID)
    )
    size = native_size() if size is None else size
    if size:
        plain = app.backend

        def backend(kind: str, model: str = "", **options: Any) -> Any:
            if kind == "diffusers":
                options.setdefault("native_size", size)
            return plain(kind, model, **options)

        app.backend = backend  # type: ignore[method-assign]  # this instance only
    if keep_all_segments:
        plain_workspace = app.workspace

        def workspace(session_id: str, **kwargs: Any) -> Any:
            ws = plain_workspace(session_id, **kwargs)
            if "segment_everything" not in vars(ws):
                ws.segment_everything = functools.partial(type(ws).segment_everything, ws, **EVERYTHING_OPTIONS)
            return ws

        app.workspace = workspace  # type: ignore[method-assign]
    return app


def build_page(app: App, *, host: bool = False) -> Any:
    """The tab in a standalone page; ``host`` adds the fake img2img tab and its hooks."""
    import gradio as gr

    from inpaint_anything.ui.handlers import HostHooks
    from inpaint_anything.ui.tab import build_tab

    with compat.standalone_blocks(title="Inpaint Anything tab test") as page:
        compat.inject_assets(page)
        if not host:
            build_tab(app)
            return page
        with gr.Tabs(elem_id=HOST_TABS_ID, selected="ia_fake_tab_ia"):
            with gr.Tab("img2img", id="ia_fake_tab_img2img", elem_id="ia_fake_tab_img2img"):
                gr.Markdown("Fake img2img › Inpaint upload")
                with gr.Row():
                    base = gr.Image(label="Image", type="pil", image_mode="RGBA", elem_id=HOST_TARGET_IDS[0])
                    mask = gr.Image(label="Mask", type="pil", image_mode="RGBA", elem_id=HOST_TARGET_IDS[1])
            with gr.Tab("Inpaint Anything", id="ia_fake_tab_ia", elem_id="ia_fake_tab_ia"):
                build_tab(app, HostHooks(img2img_targets=(base, mask), img2img_switch_js=SWITCH_JS))
    return page


# ---------------------------------------------------------------- page object for the browser tests
TIMEOUT = 60000  # ms; generous for a loaded 2-core machine, never a timing assertion
TAB_IDS = {
    "Inpaint": "ia_tab_inpaint",
    "Remove object": "ia_tab_remove",
    "Outpaint": "ia_tab_outpaint",
    "Mask only": "ia_tab_mask",
}
# the input image's clear (x) button: gradio 3 ModifyUpload / gradio 4 IconButton
CLEAR_BUTTON = "#ia_input_image button[aria-label='Clear'], #ia_input_image button[title='Clear'], #ia_input_image button[aria-label='Remove Image']"


class TabPage(CanvasPage):
    """A page of the tab app with helpers for its controls (elem ids from inpaint_anything/ui/tab.py)."""

    def __init__(self, page: Any, artifacts: str, name: str, app: Any):
        super().__init__(page, artifacts, name)
        self.app = app

    # -- the canvas must be on screen for real mouse events and clipped screenshots
    def ensure_canvas_visible(self) -> None:
        inside = self.page.evaluate("""() => { const r = document.querySelector('#ia_canvas_root .ia-cv-stage').getBoundingClientRect();
            return r.top >= 0 && r.bottom <= window.innerHeight; }""")
        if not inside:
            self.scroll_into_view()

    def to_client(self, x: float, y: float) -> tuple[float, float]:
        self.ensure_canvas_visible()
        return super().to_client(x, y)

    def shot(self, step: str) -> tuple[np.ndarray, dict]:
        self.ensure_canvas_visible()
        return super().shot(step)

    # -- server side
    def workspace(self) -> Any:
        """This page's workspace: the most recently used one (tests drive one session at a time)."""
        return list(self.app._workspaces.values())[-1]

    # -- reading
    def text(self, elem_id: str) -> str:
        return self.page.evaluate("(id) => { const e = document.getElementById(id); return e ? e.innerText : ''; }", elem_id)

    def value(self, elem_id: str) -> str:
        return self.page.evaluate(
            "(id) => { const e = document.getElementById(id); const f = e && e.querySelector('textarea, input'); return f ? f.value : ''; }",
            elem_id,
        )

    def status(self) -> str:
        return self.text("ia_status")

    def wait_text(self, elem_id: str, needle: str, timeout: float = TIMEOUT) -> str:
        try:
            self.page.wait_for_function(
                "([id, s]) => { const e = document.getElementById(id); return !!e && e.innerText.includes(s); }",
                arg=[elem_id, needle],
                timeout=timeout,
            )
        except Exception as exc:
            raise AssertionError(f"#{elem_id} never showed {needle!r}; it shows {self.text(elem_id)!r}") from exc
        return self.text(elem_id)

    def wait_status(self, needle: str, timeout: float = TIMEOUT) -> str:
        return self.wait_text("ia_status", needle, timeout)

    def gallery_count(self, elem_id: str) -> int:
        return self.page.locator(f"#{elem_id} .thumbnail-item").count()

    def wait_gallery(self, elem_id: str, n: int) -> None:
        self.page.wait_for_function(
            "([id, n]) => document.querySelectorAll('#' + id + ' .thumbnail-item img').length >= n",
            arg=[elem_id, n],
            timeout=TIMEOUT,
        )

    def image_size(self, selector: str) -> list[int]:
        """Natural size of the first loaded <img> under ``selector``."""
        self.page.wait_for_function(
            "(sel) => { const i = document.querySelector(sel + ' img'); return !!i && i.complete && i.naturalWidth > 0; }",
            arg=selector,
            timeout=TIMEOUT,
        )
        return self.page.evaluate(
            "(sel) => { const i = document.querySelector(sel + ' img'); return [i.naturalWidth, i.naturalHeight]; }", selector
        )

    def image_pixels(self, selector: str) -> np.ndarray:
        """The first <img> under ``selector`` decoded in the browser, as an RGBA array."""
        self.image_size(selector)
        data = self.page.evaluate(
            """(sel) => { const i = document.querySelector(sel + ' img');
            const c = document.createElement('canvas'); c.width = i.naturalWidth; c.height = i.naturalHeight;
            const x = c.getContext('2d'); x.drawImage(i, 0, 0); return {w: c.width, h: c.height, d: Array.from(x.getImageData(0, 0, c.width, c.height).data)}; }""",
            selector,
        )
        return np.array(data["d"], np.uint8).reshape(data["h"], data["w"], 4)

    # -- controls
    def click(self, elem_id: str) -> None:
        self.page.locator(f"#{elem_id}").first.click()

    def open_tab(self, label: str) -> None:
        """A sub-tab of the tab, by its exact label ("Inpaint" must not match "Inpaint Anything")."""
        exact = re.compile(rf"^\s*{re.escape(label)}\s*$")
        self.page.locator(".tab-nav button").filter(has_text=exact).first.click()
        self.page.wait_for_function(
            "(id) => { const e = document.getElementById(id); return !!e && e.offsetParent !== null; }",
            arg=TAB_IDS[label],
            timeout=TIMEOUT,
        )

    def set_number(self, elem_id: str, value: float) -> None:
        """A slider's or number's input box (gradio stores it on input/blur)."""
        box = self.page.locator(f"#{elem_id} input[type=number]").first
        box.fill(str(value))
        box.press("Enter")
        box.blur()

    def set_text(self, elem_id: str, value: str) -> None:
        box = self.page.locator(f"#{elem_id} textarea, #{elem_id} input").first
        box.fill(value)
        box.press("Enter")
        box.blur()

    def choose(self, elem_id: str, label: str) -> None:
        """A radio choice, by its label."""
        self.page.locator(f"#{elem_id} label", has_text=label).first.click()

    def full_shot(self, step: str) -> str:
        self.shots += 1
        path = os.path.join(self.artifacts, f"{self.name}_{self.shots:02d}_{step}.png")
        self.page.screenshot(path=path, full_page=True)
        return path

    def element_shot(self, elem_id: str, step: str) -> str:
        self.shots += 1
        path = os.path.join(self.artifacts, f"{self.name}_{self.shots:02d}_{step}.png")
        self.page.locator(f"#{elem_id}").first.screenshot(path=path)
        return path

    def region_shot(self, selectors: list[str], step: str) -> str:
        """A screenshot of the smallest page area that holds the first match of every selector
        (e.g. a dropdown and its open list, which overflows the dropdown's own box)."""
        boxes = [self.page.locator(sel).first.bounding_box() for sel in selectors]
        boxes = [b for b in boxes if b]
        x0, y0 = min(b["x"] for b in boxes), min(b["y"] for b in boxes)
        x1, y1 = max(b["x"] + b["width"] for b in boxes), max(b["y"] + b["height"] for b in boxes)
        self.shots += 1
        path = os.path.join(self.artifacts, f"{self.name}_{self.shots:02d}_{step}.png")
        self.page.screenshot(path=path, clip={"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0})
        return path

    # -- flows
    def segment_everything(self, points_per_side: int = 4) -> dict:
        self.set_number("ia_pps", points_per_side)
        self.click("ia_everything")
        self.wait_status("segments.")
        return self.wait_info("i.segments")

    def mask_after(self, version: int) -> dict:
        """Wait for the mask layer to change after ``version`` and the server to report the mask."""
        info = self.wait_info(f"i.maskVersion > {version}")
        self.wait_status("pixels")
        return info


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(app: App, *, host: bool = False, port: int | None = None, block: bool = False) -> tuple[Any, str]:
    """Serve the page on 127.0.0.1; returns ``(page, url)``. Call ``page.close()`` when done."""
    page = build_page(app, host=host)
    page.queue()
    port = port or free_port()
    page.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=not block, quiet=True)
    return page, f"http://127.0.0.1:{port}/"


def main(argv: list[str]) -> None:
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from fixtures.tiny_sam import save_tiny_sam

    root = Path(tempfile.mkdtemp(prefix="ia-tab-app-"))
    sam = save_tiny_sam("sam", root / "tiny.pth")
    args = [a for a in argv if a != "--host"]
    app = make_app(root, sam)
    print(f"models: {app.models_dir}  outputs: {root / 'out'}")
    launch(app, host="--host" in argv, port=int(args[0]) if args else None, block=True)


if __name__ == "__main__":
    main(sys.argv[1:])
