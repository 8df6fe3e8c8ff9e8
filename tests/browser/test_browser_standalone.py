"""The standalone app as a new user meets it: ``python -m inpaint_anything`` with an EMPTY models folder.

The server is started exactly as the README says (a subprocess running ``python -m inpaint_anything``:
``__main__`` -> ``server.serve`` -> ``create_app`` + ``ui.standalone.mount_ui``; no test-only page), and
the browser is used as a person would: upload a photo, draw a box with the default selection settings,
see a mask, Remove, see the result, Outpaint with the default backend, download both mask files.
Everything is checked from what the page shows and what the server hands out (HTTP), not from
server internals. Runs on gradio 3.41 (A1111 venv) and 4.40 (Forge venv).
"""

from __future__ import annotations

import io
import shutil
from typing import Any

import numpy as np
import pytest
from browser_kit import VIEWPORT
from tab_app import TIMEOUT, TabPage

pytestmark = [pytest.mark.browser, pytest.mark.both_stacks]

BOX = (150, 100, 420, 480)  # around the astronaut's head and shoulders in the 512x512 photo


@pytest.fixture(scope="module")
def standalone(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import standalone_app

    server = standalone_app.start(tmp_path_factory.mktemp("standalone"))
    assert not any(server.models.iterdir()), "the models folder must start empty"
    yield server
    server.stop()


class Visit:
    """A browser context on the standalone page that records every request it makes."""

    def __init__(self, browser: Any, url: str, artifacts: str, name: str, viewport: dict | None = None):
        self.requests: list[str] = []
        self.context = browser.new_context(viewport=viewport or VIEWPORT)
        self.context.route("**/*", self._route)
        page = self.context.new_page()
        page.goto(url)
        page.wait_for_selector("#ia_canvas_root .ia-cv canvas", timeout=TIMEOUT)
        self.tab = TabPage(page, artifacts, name, None)

    def _route(self, route: Any) -> None:
        url = route.request.url
        self.requests.append(url)
        if url.startswith(("http://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            route.abort()

    def external(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: Any, standalone: Any, artifacts_dir: str, request: pytest.FixtureRequest) -> Any:
    v = Visit(browser, standalone.url, artifacts_dir, "standalone_" + request.node.name.removeprefix("test_"))
    yield v
    v.close()


def _checked(tab: TabPage, elem_id: str) -> str:
    """The label of the checked radio button of ``elem_id``."""
    return tab.page.evaluate(
        """(id) => { const i = document.querySelector('#' + id + ' input[type=radio]:checked');
        const l = i && i.closest('label'); return l ? l.innerText.trim() : ''; }""",
        elem_id,
    )


def _download(tab: TabPage, elem_id: str) -> bytes:
    link = tab.page.locator(f"#{elem_id} a").first
    try:
        link.wait_for(timeout=TIMEOUT)
    except Exception as exc:  # say what the page showed instead
        tab.full_shot(f"no_{elem_id}")
        raise AssertionError(f"no download link in #{elem_id}; status: {tab.status()!r}") from exc
    href = link.get_attribute("href")
    assert href and ".png" in href, href
    return tab.page.request.get(href if "://" in href else tab.page.url.rstrip("/") + "/" + href.lstrip("/")).body()


def _png(body: bytes) -> Any:
    from PIL import Image

    with Image.open(io.BytesIO(body)) as im:
        im.load()
        return im.copy()


def _wait_result(tab: TabPage, count: int) -> dict:
    tab.page.wait_for_function(
        f"() => {{ const c = window.InpaintAnything.compare.info(); return !!c && c.shown >= {count}; }}", timeout=TIMEOUT
    )
    return tab.page.evaluate("() => window.InpaintAnything.compare.info()")


def _pixels(tab: TabPage, selector: str) -> np.ndarray:
    """The picture an <img> shows (fetched from its src and decoded in the browser), as RGB."""
    data = tab.page.evaluate(
        """async (sel) => { const i = document.querySelector(sel);
        const blob = await (await fetch(i.src)).blob(); const bm = await createImageBitmap(blob);
        const c = document.createElement('canvas'); c.width = bm.width; c.height = bm.height;
        const x = c.getContext('2d'); x.drawImage(bm, 0, 0);
        return {w: c.width, h: c.height, d: Array.from(x.getImageData(0, 0, c.width, c.height).data)}; }""",
        selector,
    )
    return np.array(data["d"], np.uint8).reshape(data["h"], data["w"], 4)[..., :3]


def _rect(tab: TabPage, selector: str) -> dict:
    return tab.page.evaluate(
        "(s) => { const r = document.querySelector(s).getBoundingClientRect();"
        " return {x0: r.left, y0: r.top, x1: r.right, y1: r.bottom, w: r.width, h: r.height}; }",
        selector,
    )


def test_first_run_upload_box_remove_outpaint_and_download(visit, standalone, marker_image):
    tab = visit.tab
    # one page, one tab, nothing fetched from other hosts
    assert tab.page.title() == "Inpaint Anything"
    assert "Inpaint Anything" in tab.text("ia_page_title")
    for selector in ("#ia_canvas_root .ia-cv", "#ia_run_remove", "#ia_run_outpaint", "#ia_sam_refresh", "#ia_tab_mask"):
        assert tab.page.locator(selector).count() == 1, selector
    tab.page.wait_for_timeout(1500)  # late requests (fonts, analytics) would show up by now
    assert visit.external() == [], visit.external()
    # defaults that fit an empty models folder
    assert _checked(tab, "ia_selector") == "GrabCut (no model)"
    hint = tab.text("ia_sam_hint")
    assert str(standalone.models) in hint and "offline" in hint and "GrabCut" in hint, hint
    # upload a photo and box an object with the default selection settings
    tab.upload(marker_image)
    tab.wait_status("Image 512x512")
    tab.set_tool("box")
    version = tab.info()["maskVersion"]
    tab.drag([tab.to_client(BOX[0], BOX[1]), tab.to_client(BOX[2], BOX[3])])
    info = tab.mask_after(version)
    assert info["maskArea"] > 2000, info
    assert tab.page.locator("#ia_status .ia-error, #ia_status .ia-warning").count() == 0, tab.status()
    tab.shot("mask")
    # Remove, with the default method: the result shows up large, right under the editor
    tab.open_tab("Remove object")
    tab.click("ia_run_remove")
    tab.wait_status("Done: 1 image")
    shown = _wait_result(tab, 1)
    assert shown["after"] == [512, 512] and not shown["single"], shown
    stage, result = _rect(tab, "#ia_canvas_root .ia-cv-stage"), _rect(tab, "#ia_compare_root .ia-cmp-stage")
    assert result["w"] > 300 and result["h"] > 300, result  # large, not a thumbnail
    assert 0 <= result["y0"] - stage["y1"] < 200, (stage, result)  # directly under the editor
    removed = _pixels(tab, "#ia_compare_root img.ia-cmp-after")
    before = _pixels(tab, "#ia_compare_root img.ia-cmp-before")
    tab.full_shot("removed")
    # Outpaint with the default backend (no inpainting model here: pre-fill only)
    tab.open_tab("Outpaint")
    assert _checked(tab, "ia_out_backend").startswith("Pre-fill only"), _checked(tab, "ia_out_backend")
    tab.wait_text("ia_out_size", "512x512 -> 640x512")
    tab.click("ia_run_outpaint")
    shown = _wait_result(tab, 2)
    assert shown["after"] == [640, 512] and shown["single"], shown
    assert tab.gallery_count("ia_results") == 2
    outpainted = _pixels(tab, "#ia_compare_root img.ia-cmp-after")
    assert outpainted.shape == (512, 640, 3)
    assert np.abs(outpainted[:, :480].astype(int) - before[:, :480].astype(int)).max() <= 2  # the photo is kept
    # both mask files, as two separate downloads
    tab.open_tab("Mask only")
    tab.click("ia_get_mask")
    mask_png = _png(_download(tab, "ia_mask_file"))
    tab.click("ia_get_alpha")
    alpha_png = _png(_download(tab, "ia_alpha_file"))
    assert tab.page.locator("#ia_mask_file a").first.is_visible() and tab.page.locator("#ia_alpha_file a").first.is_visible()
    mask = np.asarray(mask_png.convert("L")) > 127
    assert mask.shape == (512, 512) and int(mask.sum()) == info["maskArea"]
    assert alpha_png.mode == "RGBA" and alpha_png.size == (512, 512)
    alpha = np.asarray(alpha_png)
    assert np.array_equal(alpha[..., 3] > 127, mask) and np.array_equal(alpha[..., :3], before)
    ys, xs = np.nonzero(mask)
    assert xs.min() >= BOX[0] - 1 and xs.max() <= BOX[2] + 1 and ys.min() >= BOX[1] - 1 and ys.max() <= BOX[3] + 1
    # the removal changed the masked object and nothing far from it
    from inpaint_anything import masks

    far = ~masks.grow(mask, 24)
    assert np.abs(removed[far].astype(int) - before[far].astype(int)).max() <= 2
    assert np.abs(removed[mask].astype(int) - before[mask].astype(int)).mean() > 3
    assert len(list(standalone.out.glob("*.png"))) == 2  # both results were saved
    tab.full_shot("downloads")


def test_segment_anything_without_a_model_says_what_to_do(visit, standalone, marker_image):
    tab = visit.tab
    tab.upload(marker_image)
    tab.choose("ia_selector", "Segment Anything")
    tab.page.mouse.click(*tab.to_client(300, 250))
    text = tab.wait_status("GrabCut")
    assert "not downloaded" in text or "offline" in text, text
    assert str(standalone.models) in text and "Traceback" not in text
    assert tab.page.locator("#ia_status .ia-error").count() == 1
    # the message wraps inside the window
    fits = tab.page.evaluate(
        "() => { const e = document.querySelector('#ia_status .ia-error'); const r = e.getBoundingClientRect();"
        " return r.right <= window.innerWidth && e.scrollWidth <= e.clientWidth + 1; }"
    )
    assert fits, text
    tab.element_shot("ia_status", "sam_missing")


def test_an_empty_grabcut_result_is_a_visible_warning(visit, marker_image):
    tab = visit.tab
    tab.upload(marker_image)
    tab.set_tool("box")
    version = tab.info()["maskVersion"]
    tab.drag([tab.to_client(472, 4), tab.to_client(508, 50)])  # plain wall: nothing stands out
    tab.wait_info(f"i.maskVersion > {version}")
    text = tab.wait_text("ia_status", "Brush +")
    assert tab.page.locator("#ia_status .ia-warning").count() == 1, text


def test_a_sam_file_dropped_in_while_running_appears_after_refresh(visit, standalone, tiny_sam_files, marker_image):
    tab = visit.tab
    shutil.copy(tiny_sam_files["sam"], standalone.models / "tiny_sam.pth")
    try:
        tab.click("ia_sam_refresh")
        tab.page.wait_for_function(
            "() => { const i = document.querySelector('#ia_sam_model input'); return !!i && i.value.includes('tiny_sam.pth'); }",
            timeout=TIMEOUT,
        )
        assert _checked(tab, "ia_selector") == "Segment Anything"
        tab.page.wait_for_function("() => !document.querySelector('#ia_sam_hint .ia-warning')", timeout=TIMEOUT)
        tab.page.wait_for_function(
            "() => document.querySelector('#ia_sam_model input').title.includes('tiny_sam.pth')", timeout=TIMEOUT
        )
        title = tab.page.evaluate("() => document.querySelector('#ia_sam_model input').title")
        assert "tiny_sam.pth" in title and "local file" in title, title  # the full label as a tooltip
        tab.upload(marker_image)
        version = tab.info()["maskVersion"]
        tab.page.mouse.click(*tab.to_client(300, 250))
        info = tab.mask_after(version)
        assert info["maskArea"] > 0
        # a new page load picks the file as well
        tab.page.reload()
        tab.page.wait_for_selector("#ia_canvas_root .ia-cv canvas", timeout=TIMEOUT)
        tab.page.wait_for_function(
            "() => { const i = document.querySelector('#ia_sam_model input'); return !!i && i.value.includes('tiny_sam.pth'); }",
            timeout=TIMEOUT,
        )
        assert _checked(tab, "ia_selector") == "Segment Anything"
    finally:
        (standalone.models / "tiny_sam.pth").unlink()


def _drop(tab: TabPage, path: str, paste: bool = False) -> None:
    """Drop the file at ``path`` onto the editor, as a file dragged from the desktop (or paste it)."""
    import base64

    with open(path, "rb") as fh:
        data = base64.b64encode(fh.read()).decode()
    tab.page.evaluate(
        """([b64, paste]) => { const bin = atob(b64); const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        const dt = new DataTransfer(); dt.items.add(new File([bytes], 'photo.png', {type: 'image/png'}));
        if (paste) { document.body.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true})); return; }
        const stage = document.querySelector('#ia_canvas_root .ia-cv-stage');
        stage.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
        stage.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true})); }""",
        [data, paste],
    )


def test_a_photo_dropped_onto_the_editor_is_loaded(visit, marker_image, coffee_image):
    tab = visit.tab
    _drop(tab, marker_image, paste=True)  # Ctrl+V on the page with an empty editor
    tab.wait_info("i.image && i.image[0] === 512 && i.image[1] === 512")
    tab.wait_status("Image 512x512")
    _drop(tab, coffee_image)  # a second picture, dropped, replaces the first
    tab.wait_info("i.image && i.image[0] === 600 && i.image[1] === 400")
    tab.wait_status("Image 600x400")


def test_usable_at_1000_px_wide(browser, standalone, artifacts_dir):
    v = Visit(browser, standalone.url, artifacts_dir, "standalone_1000px", viewport={"width": 1000, "height": 800})
    try:
        tab = v.tab
        got = tab.page.evaluate("""() => {
            const box = (s) => document.querySelector(s).getBoundingClientRect();
            const bar = document.querySelector('#ia_canvas_root .ia-cv-toolbar');
            const button = bar.querySelector('.ia-cv-btn').getBoundingClientRect().height;
            const mask = Array.from(document.querySelectorAll('#ia_subtabs .tab-nav button')).find((b) => b.innerText.trim() === 'Mask only');
            const line = parseFloat(getComputedStyle(mask).lineHeight) || 20;
            const sam = document.querySelector('#ia_sam_model input');
            return {bar: bar.getBoundingClientRect().height, button: button, maskTab: mask.getBoundingClientRect().height, line: line,
                    samCut: sam.scrollWidth > sam.clientWidth + 1, editor: box('#ia_canvas_root .ia-cv-stage'), controls: box('#ia_selector'),
                    pageWidth: document.documentElement.scrollWidth};
        }""")
        assert got["bar"] < 2 * got["button"] + 16, got  # the toolbar takes at most two rows
        assert got["maskTab"] < 2 * got["line"], got  # "Mask only" on one line
        assert not got["samCut"], got  # the SAM label is shown in full
        assert got["controls"]["x"] >= got["editor"]["right"] - 1, got  # controls beside the editor, not below it
        assert got["pageWidth"] <= 1000, got  # nothing runs off the right edge
        tab.full_shot("layout")
    finally:
        v.close()
