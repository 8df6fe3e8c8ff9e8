"""The extension inside the WebUI stand-in's page (gradio 3.41 and 4.40): cross-tab sending.

One page per module (:mod:`host_app`: txt2img / img2img / Extras with v1.10.1's element ids, our
tab from on_ui_tabs, our buttons added by the real adapter), one browser context per test.
"""

from __future__ import annotations

import glob
import os
from typing import Any

import numpy as np
import pytest
from browser_kit import VIEWPORT, local_only
from tab_app import TIMEOUT, TabPage

pytestmark = [pytest.mark.browser, pytest.mark.both_stacks]


def _read(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


@pytest.fixture(scope="module")
def host(
    browser: Any,
    tmp_path_factory: pytest.TempPathFactory,
    tiny_sam_files: dict,
    artifacts_dir: str,
    marker_image: str,
    coffee_image: str,
) -> Any:
    import host_app

    for stale in glob.glob(os.path.join(artifacts_dir, "host_*.png")):
        os.remove(stale)
    pictures = [_read(marker_image), _read(coffee_image)]

    def generate(tabname: str, prompt: str) -> list:
        return list(pictures) if tabname == "txt2img" else []

    server = host_app.start(tmp_path_factory.mktemp("host_app"), tiny_sam_files["sam"], generate)
    yield server
    server.stop()


@pytest.fixture
def page(browser: Any, host: Any, artifacts_dir: str, request: pytest.FixtureRequest) -> Any:
    context = browser.new_context(viewport=VIEWPORT)
    context.route("**/*", local_only)
    p = context.new_page()
    p.goto(host.url)
    p.wait_for_selector("#ia_canvas_root .ia-cv canvas", state="attached", timeout=TIMEOUT)
    yield TabPage(p, artifacts_dir, "host_" + request.node.name.removeprefix("test_"), host.app)
    context.close()


def _visible(page: TabPage, elem_id: str) -> bool:
    return page.page.evaluate(
        "(id) => { const e = document.getElementById(id); return !!e && e.offsetParent !== null; }", elem_id
    )


def _wait_visible(page: TabPage, elem_id: str) -> None:
    page.page.wait_for_function(
        "(id) => { const e = document.getElementById(id); return !!e && e.offsetParent !== null; }", arg=elem_id, timeout=TIMEOUT
    )


def _open_host_tab(page: TabPage, label: str, elem_id: str) -> None:
    page.page.locator("#tabs > .tab-nav button", has_text=label).first.click()
    _wait_visible(page, elem_id)


def test_send_buttons_sit_in_the_result_rows(page):
    for tab in ("txt2img", "img2img"):
        ids = page.page.evaluate(
            "(row) => Array.from(document.querySelectorAll('#' + row + ' button')).map((b) => b.id)", f"image_buttons_{tab}"
        )
        assert f"{tab}_send_to_inpaint_anything" in ids, ids
        assert ids.index(f"{tab}_send_to_inpaint_anything") == ids.index(f"{tab}_send_to_extras") + 1, ids
    assert page.page.locator("#extras_send_to_inpaint_anything").count() == 0
    page.page.wait_for_function("() => !!document.querySelector('#txt2img_send_to_inpaint_anything').title", timeout=TIMEOUT)
    page.element_shot("image_buttons_txt2img", "txt2img_buttons")


def test_send_selected_txt2img_picture_to_our_tab(page, host, coffee_image):
    page.click("txt2img_generate")
    page.wait_gallery("txt2img_gallery", 2)
    page.page.locator("#txt2img_gallery .thumbnail-item").nth(1).click()  # the second picture: the coffee
    page.page.wait_for_function(
        "() => { const s = document.querySelector('#txt2img_gallery .thumbnail-item.selected');"
        " const all = Array.from(document.querySelectorAll('#txt2img_gallery .thumbnail-item'));"
        " return !!s && all.indexOf(s) % 2 === 1; }",
        timeout=TIMEOUT,
    )
    page.full_shot("txt2img_generated")
    page.click("txt2img_send_to_inpaint_anything")
    _wait_visible(page, "ia_canvas_root")  # our tab is shown
    assert not _visible(page, "txt2img_gallery")
    page.wait_info("i.image && i.image[0] === 600 && i.image[1] === 400")
    page.wait_status("Image 600x400")
    ws = host.workspace()
    assert np.array_equal(ws.image, _read(coffee_image))  # the exact pixels, in this session's workspace
    page.shot("received")
    # a click on the received picture selects with SAM
    version = page.info()["maskVersion"]
    page.page.mouse.click(*page.to_client(300, 200))
    info = page.mask_after(version)
    assert info["maskArea"] == int(ws.mask.sum()) > 0 and ws.mask.shape == (400, 600)
    page.full_shot("received_and_clicked")


def test_empty_gallery_gives_a_notice_not_an_error(page):
    _open_host_tab(page, "img2img", "img2img_gallery")
    page.click("img2img_send_to_inpaint_anything")
    notice = page.page.locator(".toast-body", has_text="There is no image in the img2img gallery").first  # gradio's toast
    notice.wait_for(timeout=TIMEOUT)
    page.full_shot("empty_gallery_notice")
    assert _visible(page, "img2img_gallery") and not _visible(page, "ia_canvas_root")  # no tab switch
    assert "There is no image in the img2img gallery" in page.status()


def test_result_goes_to_extras(page, host, marker_image):
    _open_host_tab(page, "Extras", "extras_image")
    page.page.locator("#mode_extras .tab-nav button", has_text="Batch Process").first.click()
    _wait_visible(page, "extras_image_batch")
    _open_host_tab(page, "Inpaint Anything", "ia_canvas_root")
    page.upload(marker_image)
    page.set_tool("brush_add")
    page.set_brush(20)
    version = page.info()["maskVersion"]
    page.drag([page.to_client(150, 400), page.to_client(350, 400)], steps=10)
    page.mask_after(version)
    page.open_tab("Remove object")
    page.choose("ia_cleaner", "telea")
    page.click("ia_run_remove")
    page.wait_status("Done: 1 image")
    page.wait_gallery("ia_results", 1)
    ws = host.workspace()
    result = ws.results[-1].image
    assert not np.array_equal(result, ws.image)
    page.page.locator("#ia_results .thumbnail-item").first.click()
    page.click("ia_send_extras")
    _wait_visible(page, "extras_image")  # Extras > Single Image, although Batch Process was open
    assert not _visible(page, "ia_canvas_root")
    got = page.image_pixels("#extras_image")
    assert np.array_equal(got[..., :3], result)
    page.full_shot("extras")


def test_download_refreshes_the_sam_dropdown_labels(page, host, tiny_sam_files, monkeypatch):
    """A catalogue model downloaded from a local fake server: its label changes from "not
    downloaded" to "verified" without a page reload, and the dropdown stays on it."""
    import dataclasses
    import hashlib

    from fixtures.fake_hub import FakeHub

    from inpaint_anything.models import catalogue
    from inpaint_anything.models.transfer import human

    data = tiny_sam_files["mobile_sam"].read_bytes()
    with FakeHub() as hub:
        entry = dataclasses.replace(
            catalogue.get_entry("mobile_sam"),
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            sources=(catalogue.Source.https(hub.add_file("mobile_sam.pt", data)),),
        )
        monkeypatch.setattr(catalogue, "CATALOGUE", tuple(entry if e.id == entry.id else e for e in catalogue.CATALOGUE))
        monkeypatch.setitem(catalogue._BY_ID, entry.id, entry)
        monkeypatch.setattr(host.app.settings, "offline", False)  # the page runs with --ia-offline
        target = host.app.models_dir / entry.filename
        try:
            _open_host_tab(page, "Inpaint Anything", "ia_canvas_root")
            box = page.page.locator("#ia_sam_model input").first
            box.click()
            page.page.locator("ul[role=listbox] li, #ia_sam_model ul li", has_text="MobileSAM").first.click()
            page.page.keyboard.press("Escape")
            assert box.input_value().startswith("MobileSAM \u00b7 not downloaded")
            page.element_shot("ia_sam_model", "before_download")
            page.click("ia_sam_download")
            page.wait_status("Ready: mobile_sam.pt")
            page.page.wait_for_function(
                "() => document.querySelector('#ia_sam_model input').value.includes('\u00b7 verified')", timeout=TIMEOUT
            )
            shown = box.input_value()
            assert shown == f"MobileSAM \u00b7 verified \u00b7 {human(len(data))}", shown
            box.click()
            options = page.page.locator("ul[role=listbox] li, #ia_sam_model ul li").all_inner_texts()
            assert any(shown in o for o in options), [o for o in options if "Mobile" in o]
            page.page.keyboard.press("Escape")
            page.element_shot("ia_sam_model", "after_download")
            assert target.is_file() and hub.count("GET", "mobile_sam") == 1
        finally:
            target.unlink(missing_ok=True)  # later tests see the models folder they expect
