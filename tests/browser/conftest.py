"""Browser-test fixtures: headless Chromium (via Playwright) driving the canvas demo app.

Chromium is /usr/bin/chromium (or $IA_CHROMIUM); Playwright is imported from the venv or from the
directory tools/browser_setup.sh installs it into ($IA_BROWSER_TOOLS, default
~/.cache/inpaint-anything/browser-tools/py<major><minor>). Without either the tests are skipped with a reason.
Screenshots go to artifacts/browser/gradio<major>/.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from browser_kit import BROWSER_ARGS, MAGENTA, MARKER, ROOT, VIEWPORT, CanvasPage, chromium_path, local_only, tools_dir


@pytest.fixture(scope="module")
def browser() -> Any:
    exe = chromium_path()
    if exe is None:
        pytest.skip("Chromium not found (/usr/bin/chromium or $IA_CHROMIUM); run tools/browser_setup.sh")
    extra = tools_dir()
    if os.path.isdir(extra) and extra not in sys.path:
        sys.path.append(extra)  # appended: the venv's own packages win
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.skip(f"playwright is not importable ({exc}); run tools/browser_setup.sh")
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=exe, args=BROWSER_ARGS)
    except Exception as exc:  # a broken Chromium install is an environment problem, not a failure
        pw.stop()
        pytest.skip(f"Chromium did not start: {exc}")
    yield chromium
    chromium.close()
    pw.stop()


@pytest.fixture(scope="session")
def artifacts_dir() -> str:
    import gradio

    path = os.path.join(ROOT, "artifacts", "browser", "gradio" + gradio.__version__.split(".")[0])
    os.makedirs(path, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def marker_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The astronaut (512x512) with a 7x7 pure-magenta square centred on MARKER, as a PNG path."""
    import skimage.data
    from PIL import Image

    image = skimage.data.astronaut().copy()
    x, y = MARKER
    image[y - 3 : y + 4, x - 3 : x + 4] = MAGENTA
    path = tmp_path_factory.mktemp("browser") / "astronaut_marker.png"
    Image.fromarray(image).save(path)
    return str(path)


@pytest.fixture(scope="session")
def coffee_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    import skimage.data
    from PIL import Image

    path = tmp_path_factory.mktemp("browser") / "coffee.png"
    Image.fromarray(skimage.data.coffee()).save(path)
    return str(path)


@pytest.fixture(scope="module")
def demo_url(browser: Any) -> Any:
    import demo_app

    demo, url = demo_app.launch()
    yield url
    demo.close()


@pytest.fixture
def canvas_page(browser: Any, demo_url: str, artifacts_dir: str, request: pytest.FixtureRequest) -> Any:
    """A fresh page of the demo app with the editor mounted (viewport 1280x1000, DPR 1)."""
    params = getattr(request, "param", {}) or {}
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=params.get("dpr", 1))
    context.route("**/*", local_only)
    page = context.new_page()
    page.goto(demo_url + params.get("query", ""))
    page.wait_for_selector("#ia_canvas_root .ia-cv canvas", timeout=30000)
    yield CanvasPage(page, artifacts_dir, request.node.name.replace("[", "_").replace("]", ""))
    context.close()
