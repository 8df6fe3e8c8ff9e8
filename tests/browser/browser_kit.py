"""Helpers for the browser tests: locating Chromium/Playwright and a page object for the editor.

Chromium is /usr/bin/chromium (or $IA_CHROMIUM); Playwright is imported from the venv or from the
directory tools/browser_setup.sh installs it into ($IA_BROWSER_TOOLS, default
~/.cache/inpaint-anything/browser-tools/py<major><minor>). Without either the tests are skipped with a reason.
Screenshots go to artifacts/browser/gradio<major>/.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from typing import Any

import numpy as np

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MARKER = (301, 157)  # centre of the 7x7 magenta square painted on the astronaut
MAGENTA = (255, 0, 255)
VIEWPORT = {"width": 1280, "height": 1000}


def tools_dir() -> str:
    """Where tools/browser_setup.sh puts the Playwright package (a pip --target directory)."""
    cache = os.environ.get("IA_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "inpaint-anything")
    tag = f"py{sys.version_info[0]}{sys.version_info[1]}"
    return os.environ.get("IA_BROWSER_TOOLS") or os.path.join(cache, "browser-tools", tag)


def chromium_path() -> str | None:
    candidates = [os.environ.get("IA_CHROMIUM"), "/usr/bin/chromium"]
    candidates += [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")]
    return next((c for c in candidates if c and os.path.isfile(c) and os.access(c, os.X_OK)), None)


def local_only(route: Any) -> None:
    """Block everything but the demo server (gradio themes ask Google Fonts; there is no network)."""
    url = route.request.url
    if url.startswith(("http://127.0.0.1", "data:", "blob:")):
        route.continue_()
    else:
        route.abort()


class CanvasPage:
    """The demo page plus helpers to drive and inspect the mask editor."""

    def __init__(self, page: Any, artifacts: str, name: str):
        self.page = page
        self.artifacts = artifacts
        self.name = name
        self.shots = 0

    # -- state
    def info(self) -> dict:
        return self.page.evaluate("() => window.InpaintAnything.canvas.info()")

    def echo(self) -> dict:
        text = self.page.evaluate(
            "() => { const t = document.querySelector('#ia_demo_echo textarea'); return t ? t.value : ''; }"
        )
        return json.loads(text) if text.strip() else {}

    def wait_echo(self, seq: int, timeout: float = 20000) -> dict:
        """Wait until the Python side has answered event ``seq`` (or a later one); return the echo."""
        self.page.wait_for_function(
            """(seq) => { const t = document.querySelector('#ia_demo_echo textarea');
                 if (!t || !t.value) return false; try { return JSON.parse(t.value).seq >= seq; } catch (e) { return false; } }""",
            arg=seq,
            timeout=timeout,
        )
        return self.echo()

    def wait_info(self, js_condition: str, timeout: float = 20000) -> dict:
        self.page.wait_for_function(
            f"() => {{ const i = window.InpaintAnything.canvas.info(); return !!i && ({js_condition}); }}", timeout=timeout
        )
        return self.info()

    # -- actions
    def upload(self, path: str) -> dict:
        before = (self.info() or {}).get("image")
        self.page.set_input_files("#ia_input_image input[type=file]", path)
        from PIL import Image

        with Image.open(path) as im:
            size = list(im.size)
        info = self.wait_info(f"i.image && i.image[0] === {size[0]} && i.image[1] === {size[1]}")
        assert info["image"] != before or before == size
        self.scroll_into_view()
        return info

    def scroll_into_view(self) -> None:
        self.page.evaluate("() => document.querySelector('#ia_canvas_root .ia-cv-stage').scrollIntoView({block: 'center'})")
        self.page.wait_for_timeout(100)

    def set_tool(self, tool: str) -> None:
        self.page.click(f"#ia_canvas_root [data-ia-tool={tool}]")
        assert self.info()["tool"] == tool

    def set_brush(self, size: int) -> None:
        self.page.evaluate(
            "(v) => { const r = document.querySelector('#ia_canvas_root .ia-cv-size'); r.value = String(v); r.dispatchEvent(new Event('input', {bubbles: true})); }",
            size,
        )
        assert self.info()["brush"] == size

    def to_client(self, x: float, y: float) -> tuple[float, float]:
        """Viewport position of image pixel (x, y) according to the editor's own transform."""
        p = self.page.evaluate("([x, y]) => window.InpaintAnything.canvas.editor().imageToClient(x, y)", [x, y])
        return p["x"], p["y"]

    def drag(self, points: list[tuple[float, float]], steps: int = 8, button: str = "left") -> None:
        m = self.page.mouse
        m.move(*points[0])
        m.down(button=button)
        for p in points[1:]:
            m.move(*p, steps=steps)
        m.up(button=button)

    # -- pixels
    def canvas_rect(self) -> dict:
        return self.page.evaluate(
            "() => { const r = document.querySelector('#ia_canvas_root .ia-cv-canvas').getBoundingClientRect(); return {x: r.left, y: r.top, width: r.width, height: r.height}; }"
        )

    def shot(self, step: str) -> tuple[np.ndarray, dict]:
        """Screenshot of the canvas area in CSS pixels (RGB array) and its viewport rect; saved to artifacts."""
        from PIL import Image

        self.page.wait_for_timeout(80)  # let the requestAnimationFrame redraw land
        rect = self.canvas_rect()
        png = self.page.screenshot(clip=rect, scale="css")
        self.shots += 1
        with open(os.path.join(self.artifacts, f"{self.name}_{self.shots:02d}_{step}.png"), "wb") as fh:
            fh.write(png)
        with Image.open(io.BytesIO(png)) as im:
            return np.asarray(im.convert("RGB")).copy(), rect

    def page_shot(self, step: str) -> None:
        self.shots += 1
        self.page.screenshot(path=os.path.join(self.artifacts, f"{self.name}_{self.shots:02d}_{step}_page.png"))

    def find_marker(self) -> tuple[float, float, int]:
        """Viewport centre and pixel count of the magenta marker, found in a screenshot."""
        arr, rect = self.shot("find_marker")
        hit = (arr[..., 0] > 235) & (arr[..., 1] < 25) & (arr[..., 2] > 235)
        ys, xs = np.nonzero(hit)
        assert len(xs) > 0, "the magenta marker is not visible on the canvas"
        sx = rect["width"] / arr.shape[1]
        sy = rect["height"] / arr.shape[0]
        return rect["x"] + (xs.mean() + 0.5) * sx, rect["y"] + (ys.mean() + 0.5) * sy, int(len(xs))
