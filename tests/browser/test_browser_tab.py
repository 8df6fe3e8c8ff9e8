"""End-to-end tests of the whole "Inpaint Anything" tab in headless Chromium (gradio 3.41 and 4.40).

One server per module (:mod:`tab_app`, fake WebUI host page with an img2img tab), one browser
context per test (= one gradio session). Models are tiny random-weight ones (SAM, SD-inpainting at
64 px), so the tests check plumbing and UI behaviour, not picture quality. What the page shows is
compared with what the server holds (the session's workspace) and with files on disk.
"""

from __future__ import annotations

import glob
import io
import os
import time
from typing import Any

import numpy as np
import pytest
from browser_kit import VIEWPORT, local_only
from tab_app import CLEAR_BUTTON, TIMEOUT, TabPage

pytestmark = [pytest.mark.browser, pytest.mark.both_stacks]


@pytest.fixture(scope="module")
def tab_server(browser: Any, tmp_path_factory: pytest.TempPathFactory, tiny_sam_files: dict, artifacts_dir: str) -> Any:
    import tab_app

    for stale in glob.glob(os.path.join(artifacts_dir, "tab_*.png")):  # screenshots of an earlier run
        os.remove(stale)
    root = tmp_path_factory.mktemp("tab_app")
    app = tab_app.make_app(root, tiny_sam_files["sam"])
    page, url = tab_app.launch(app, host=True)
    yield app, url, root
    page.close()


def _context(browser: Any) -> Any:
    context = browser.new_context(viewport=VIEWPORT)
    context.route("**/*", local_only)
    return context


def _open(context: Any, url: str, artifacts: str, name: str, app: Any) -> TabPage:
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#ia_canvas_root .ia-cv canvas", timeout=TIMEOUT)
    return TabPage(page, artifacts, name, app)


@pytest.fixture
def tab(browser: Any, tab_server: Any, artifacts_dir: str, request: pytest.FixtureRequest) -> Any:
    app, url, _ = tab_server
    params = getattr(request, "param", {}) or {}
    context = _context(browser)
    yield _open(context, url + params.get("query", ""), artifacts_dir, "tab_" + request.node.name.removeprefix("test_"), app)
    context.close()


def _outputs(root: Any) -> set[str]:
    out = root / "out"
    return {p.name for p in out.glob("*.png")} if out.is_dir() else set()


def test_segment_everything_scribble_and_inpaint(tab, tab_server, marker_image, tiny_sd_inpaint_dir):
    _, _, root = tab_server
    tab.upload(marker_image)
    tab.wait_status("Image 512x512")
    before, _ = tab.shot("uploaded")
    info = tab.segment_everything(4)
    seg, _ = tab.shot("segments")
    assert (np.abs(seg.astype(int) - before.astype(int)).max(axis=2) > 20).mean() > 0.2  # overlay is drawn
    ws = tab.workspace()
    assert ws.segment_map is not None and ws.image.shape == (512, 512, 3)
    tab.set_tool("scribble")
    tab.drag([tab.to_client(60, 60), tab.to_client(250, 300), tab.to_client(450, 420)], steps=10)
    info = tab.mask_after(info["maskVersion"])
    assert info["maskArea"] > 0 and info["maskArea"] == int(ws.mask.sum())
    masked, _ = tab.shot("scribble_mask")
    assert not np.array_equal(masked, seg)
    tab.open_tab("Inpaint")
    tab.set_text("ia_hub_model", str(tiny_sd_inpaint_dir))
    tab.set_number("ia_steps", 2)
    tab.set_text("ia_prompt", "a red balloon")
    tab.set_text("ia_seed", "123")
    saved = _outputs(root)
    tab.click("ia_run_inpaint")
    tab.wait_status("Done: 1 image")
    tab.wait_gallery("ia_results", 1)
    info_text = tab.value("ia_infotext")
    assert "a red balloon" in info_text and "Steps: 2" in info_text and "Seed: 123" in info_text, info_text
    assert tab.image_size("#ia_results .thumbnail-item") == [512, 512]
    new = _outputs(root) - saved
    assert len(new) == 1
    from PIL import Image

    with Image.open(root / "out" / new.pop()) as im:
        assert im.size == (512, 512)
        assert "a red balloon" in (im.info.get("parameters") or "")
    from inpaint_anything import masks

    result = ws.results[-1].image
    far = ~masks.grow(ws.mask, 16)  # beyond the 4 px feather: the photo is untouched
    assert far.any() and np.abs(result[far].astype(int) - ws.image[far].astype(int)).max() <= 2
    assert np.abs(result[ws.mask].astype(int) - ws.image[ws.mask].astype(int)).mean() > 5  # the model painted
    tab.full_shot("page")


def test_sam_model_dropdown_shows_readable_names(tab, marker_image):
    box = tab.page.locator("#ia_sam_model input").first
    shown = box.input_value()
    assert "tiny_sam.pth" in shown and not shown.startswith("("), shown
    box.click()
    options = tab.page.locator("#ia_sam_model ul li, ul[role=listbox] li").all_inner_texts()
    tab.region_shot(["#ia_sam_model", "#ia_sam_model ul, ul[role=listbox]"], "sam_dropdown_open")
    assert any("tiny_sam.pth" in o and "local file" in o for o in options), options
    assert any("MobileSAM \u00b7 not downloaded \u00b7 40.73 MB" in o for o in options), options  # state and size
    # SAM runs on the CPU here: the light models come first, ViT-H says it is slow
    names = [o.split(" \u00b7 ")[0].strip() for o in options]
    assert names.index("MobileSAM") < names.index("SAM ViT-B") and names.index("Light HQ-SAM (ViT-tiny)") < names.index(
        "SAM ViT-B"
    )
    vit_h = next(o for o in options if o.startswith("SAM ViT-H"))
    assert vit_h.strip().endswith("slow on CPU (\u224870 s per image)"), vit_h
    item = tab.page.locator("#ia_sam_model ul li, ul[role=listbox] li", has_text="SAM ViT-H").first
    assert item.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the ViT-H label is cut off"
    assert not any(o.strip().startswith("(") for o in options), options
    tab.page.locator("ul[role=listbox] li, #ia_sam_model ul li", has_text="tiny_sam.pth").first.click()
    tab.page.keyboard.press("Escape")
    # the model chosen by its label works for a click
    tab.upload(marker_image)
    version = tab.info()["maskVersion"]
    tab.page.mouse.click(*tab.to_client(256, 300))
    tab.mask_after(version)
    assert tab.workspace().sam_model == "file:tiny_sam.pth"


def _rect(tab: TabPage, selector: str) -> dict:
    return tab.page.evaluate(
        "(s) => { const r = document.querySelector(s).getBoundingClientRect(); return {x0: r.left, y0: r.top, x1: r.right, y1: r.bottom}; }",
        selector,
    )


def _captions(tab: TabPage) -> list[str]:
    return tab.page.locator("#ia_canvas_candidates .thumbnail-item").all_inner_texts()


def test_click_shows_candidates_and_picking_one_changes_the_mask(tab, marker_image, coffee_image):
    from inpaint_anything.ui.candidates import ACTIVE_MARK, overlay

    assert not tab.page.locator("#ia_canvas_candidates").first.is_visible()  # nothing to pick yet
    tab.upload(marker_image)
    version = tab.info()["maskVersion"]
    tab.page.mouse.click(*tab.to_client(300, 250))
    info = tab.mask_after(version)
    tab.wait_gallery("ia_canvas_candidates", 3)
    ws = tab.workspace()
    candidates = ws.candidates.masks
    assert tab.gallery_count("ia_canvas_candidates") == len(candidates) == 3
    assert ws.points == [(300.0, 250.0, 1)] or np.allclose(ws.points, [(300, 250, 1)], atol=1)
    assert np.array_equal(ws.mask, candidates[0]) and info["maskArea"] == int(candidates[0].sum())
    # small thumbnails over the picture: inside the editor's stage
    thumbs, stage = _rect(tab, "#ia_canvas_candidates"), _rect(tab, "#ia_canvas_root .ia-cv-stage")
    assert stage["x0"] <= thumbs["x0"] < thumbs["x1"] <= stage["x1"] and stage["y0"] <= thumbs["y0"] < thumbs["y1"] <= stage["y1"]
    assert (thumbs["x1"] - thumbs["x0"]) * (thumbs["y1"] - thumbs["y0"]) < 0.25 * (stage["x1"] - stage["x0"]) * (
        stage["y1"] - stage["y0"]
    )
    shown = tab.image_pixels("#ia_canvas_candidates .thumbnail-item")  # the picture with candidate 1 overlaid
    assert np.array_equal(shown[..., :3], overlay(ws.image, candidates[0]))
    captions = _captions(tab)
    assert captions[0].strip().startswith(ACTIVE_MARK.strip()) and f"{float(ws.candidates.scores[1]):.2f}" in captions[1]
    tab.shot("click_mask")
    tab.element_shot("ia_canvas_wrap", "candidates_over_canvas")
    other = next(i for i in (1, 2) if not np.array_equal(candidates[i], candidates[0]))  # the second, unless equal
    tab.page.locator("#ia_canvas_candidates .thumbnail-item").nth(other).click()
    info = tab.mask_after(info["maskVersion"])
    assert np.array_equal(ws.mask, candidates[other])
    assert info["maskArea"] == int(candidates[other].sum())
    tab.page.wait_for_function(
        "(i) => { const t = document.querySelectorAll('#ia_canvas_candidates .thumbnail-item');"
        " return t.length === 3 && t[i].innerText.includes('\u2713'); }",
        arg=other,
        timeout=TIMEOUT,
    )
    assert ACTIVE_MARK.strip() not in _captions(tab)[0]
    tab.shot("other_candidate")
    tab.full_shot("page")
    # a new picture clears the old candidates, which must not be applied to it
    tab.upload(coffee_image)
    tab.wait_status("Image 600x400")
    tab.page.wait_for_function(
        "() => { const g = document.getElementById('ia_canvas_candidates');"
        " return !g || g.offsetParent === null || !g.querySelector('.thumbnail-item'); }",
        timeout=TIMEOUT,
    )
    assert "last_event" not in ws.ui and not ws.mask.any()


def test_box_prompt_gives_a_mask(tab, marker_image):
    tab.upload(marker_image)
    tab.set_tool("box")
    version = tab.info()["maskVersion"]
    tab.drag([tab.to_client(150, 100), tab.to_client(420, 480)])
    info = tab.mask_after(version)
    ws = tab.workspace()
    assert np.allclose(ws.box, (150, 100, 420, 480), atol=1.0), ws.box
    assert ws.points == [] and info["maskArea"] == int(ws.mask.sum()) > 0
    assert not tab.page.locator("#ia_canvas_candidates").first.is_visible()  # one mask: nothing to pick
    tab.shot("box_mask")
    # a refinement re-applies to every later selection until Reset
    area = int(ws.mask.sum())
    tab.set_number("ia_refine_px", 8)
    tab.click("ia_refine_grow")
    info = tab.mask_after(info["maskVersion"])
    assert "grow 8" in tab.wait_status("Refinements: grow 8")
    assert info["maskArea"] == int(ws.mask.sum()) > area
    tab.click("ia_refine_reset")
    info = tab.mask_after(info["maskVersion"])
    tab.wait_status("Refinements: none")
    assert int(ws.mask.sum()) == area
    # GrabCut needs no model: the same kind of box gives a mask inside it
    tab.choose("ia_selector", "GrabCut")
    tab.page.click("#ia_canvas_root .ia-cv-clear")
    info = tab.mask_after(info["maskVersion"])
    version = info["maskVersion"]
    tab.drag([tab.to_client(150, 100), tab.to_client(420, 480)])
    info = tab.mask_after(version)
    ys, xs = np.nonzero(ws.mask)
    assert len(xs) > 1000 and xs.min() >= 149 and xs.max() <= 421 and ys.min() >= 99 and ys.max() <= 481
    tab.shot("grabcut_mask")


def _brush_mask(tab: TabPage, y: int = 400) -> dict:
    tab.set_tool("brush_add")
    tab.set_brush(20)
    version = tab.info()["maskVersion"]
    tab.drag([tab.to_client(150, y), tab.to_client(350, y)], steps=10)
    return tab.mask_after(version)


def test_remove_object_and_use_result_as_input(tab, marker_image):
    tab.upload(marker_image)
    _brush_mask(tab)
    ws = tab.workspace()
    mask = ws.mask.copy()
    tab.open_tab("Remove object")
    tab.choose("ia_cleaner", "telea")
    tab.click("ia_run_remove")
    tab.wait_status("Done: 1 image")
    tab.wait_gallery("ia_results", 1)
    result = ws.results[-1].image
    assert "cleaner:telea" in tab.value("ia_infotext")
    from inpaint_anything import masks

    far = ~masks.grow(mask, 24)
    assert np.abs(result[far].astype(int) - ws.image[far].astype(int)).max() <= 2
    assert np.abs(result[mask].astype(int) - ws.image[mask].astype(int)).mean() > 3
    # "grow first" applies to that run only: the mask and its refinements are unchanged
    assert np.array_equal(ws.mask, mask) and ws.refinements == []
    second = "patchmatch" if tab.page.locator("#ia_cleaner label", has_text="patchmatch").count() else "ns"
    tab.choose("ia_cleaner", second)
    tab.click("ia_run_remove")
    tab.wait_gallery("ia_results", 2)
    assert f"cleaner:{second}" in tab.value("ia_infotext")
    assert np.array_equal(ws.mask, mask) and len(ws.results) == 2
    tab.full_shot("removed")
    tab.page.locator("#ia_results .thumbnail-item").first.click()
    tab.click("ia_use_result")
    tab.page.wait_for_function(
        "() => { const i = window.InpaintAnything.canvas.info(); return i.mask === false && i.undo === 0; }", timeout=TIMEOUT
    )
    tab.wait_status("Image 512x512")
    deadline = time.monotonic() + 30
    while not np.array_equal(ws.image, ws.results[-1].image) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert np.array_equal(ws.image, ws.results[-1].image)  # the newest result is now the input
    assert not ws.mask.any()
    tab.shot("chained_input")


def test_outpaint_size_preview_and_prefill_result(tab, marker_image):
    tab.upload(marker_image)
    tab.open_tab("Outpaint")
    tab.wait_text("ia_out_size", "512x512 -> 640x512")  # the default (right 128) for the new image
    tab.set_number("ia_out_right", 64)
    assert "512x512 -> 576x512" in tab.wait_text("ia_out_size", "576x512")
    tab.choose("ia_out_backend", "Pre-fill only")
    tab.click("ia_run_outpaint")
    tab.wait_status("Done: 1 image")
    tab.wait_gallery("ia_results", 1)
    assert tab.image_size("#ia_results .thumbnail-item") == [576, 512]
    ws = tab.workspace()
    out = ws.results[-1].image
    assert out.shape == (512, 576, 3)
    assert np.abs(out[:, :480].astype(int) - ws.image[:, :480].astype(int)).max() <= 2  # the original is kept
    tab.full_shot("outpainted")


def test_mask_download_and_send_to_img2img(tab, marker_image):
    tab.upload(marker_image)
    _brush_mask(tab)
    ws = tab.workspace()
    tab.open_tab("Mask only")
    tab.click("ia_get_mask")
    link = tab.page.locator("#ia_mask_file a").first
    link.wait_for(timeout=TIMEOUT)
    href = link.get_attribute("href")
    assert href and ".png" in href, href
    body = tab.page.request.get(href if "://" in href else tab.page.url.rstrip("/") + "/" + href.lstrip("/")).body()
    from PIL import Image

    with Image.open(io.BytesIO(body)) as im:
        got = np.asarray(im.convert("L"))
    assert np.array_equal(got > 127, ws.mask)
    tab.element_shot("ia_mask_file", "mask_file")
    tab.click("ia_send_img2img")
    tab.page.locator("#img_inpaint_mask img").first.wait_for(timeout=TIMEOUT)
    tab.page.wait_for_function(
        "() => { const e = document.getElementById('img_inpaint_base'); return !!e && e.offsetParent !== null; }", timeout=TIMEOUT
    )
    assert not tab.page.locator("#ia_canvas_root").first.is_visible()  # the fake img2img tab is shown
    base = tab.image_pixels("#img_inpaint_base")
    mask = tab.image_pixels("#img_inpaint_mask")
    assert np.array_equal(base[..., :3], ws.image)
    assert np.array_equal(mask[..., 0] > 127, ws.mask)
    tab.full_shot("img2img")


def _lines(tab: TabPage, elem_id: str, words: str) -> int:
    """On how many lines ``words`` (a text node inside ``#elem_id``) is shown (0: not found)."""
    return tab.page.locator(f"#{elem_id}").first.evaluate(
        """(e, words) => {
        const walk = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
        for (let n = walk.nextNode(); n; n = walk.nextNode()) {
            if (n.textContent.trim() !== words) continue;
            const r = document.createRange(); r.selectNodeContents(n);
            return new Set(Array.from(r.getClientRects()).filter((q) => q.width > 0).map((q) => Math.round(q.top))).size;
        }
        return 0; }""",
        words,
    )


def _use_owlvit(tab: TabPage) -> None:
    box = tab.page.locator("#ia_text_detector input").first
    if "OWL-ViT" not in box.input_value():  # Forge's transformers offers Grounding DINO first
        box.click()
        tab.page.locator("ul[role=listbox] li, #ia_text_detector ul li", has_text="OWL-ViT base").first.click()
        tab.page.keyboard.press("Escape")


def test_select_by_text_then_the_editors_clear(tab, marker_image):
    """Type a text, press Select (a tiny random OWL-ViT, SAM makes the masks): the mask appears and
    the status line says what was found; the editor's Clear drops the text selection."""
    from fixtures.tiny_detectors import build_detector

    build_detector(tab.app.models_dir, "owlvit-base")
    tab.upload(marker_image)
    tab.wait_status("Image 512x512")
    _use_owlvit(tab)
    tab.set_number("ia_text_threshold", 0.0)
    tab.choose("ia_text_mode", "Best match")
    tab.page.locator("#ia_text_query textarea, #ia_text_query input").first.fill("dog")
    version = tab.info()["maskVersion"]
    tab.click("ia_text_select")
    status = tab.wait_status("1 × 'dog'")
    ws = tab.workspace()
    assert "Mask:" in status and ws.text_mask is not None and ws.mask.any(), status
    assert ws.text_query.text == "dog" and ws.text_query.detector == "owlvit-base"
    tab.wait_info(f"i.maskVersion > {version}")
    tab.region_shot(["#ia_text_group", "#ia_status"], "text_selected")
    row = tab.page.locator("#ia_text_group").first
    assert row.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the Select by text row overflows"
    for elem_id, words in (
        ("ia_text_threshold", "Score threshold"),
        ("ia_text_mode", "All matches"),
        ("ia_text_mode", "Best match"),
        ("ia_text_download", "Download detector"),
    ):
        assert _lines(tab, elem_id, words) == 1, f"{words!r} wraps"
    gap = tab.page.locator("#ia_text_threshold").first.evaluate("""(e) => {
        const walk = document.createTreeWalker(e, NodeFilter.SHOW_TEXT); let n = walk.nextNode();
        while (n && n.textContent.trim() !== 'Score threshold') n = walk.nextNode();
        const r = document.createRange(); r.selectNodeContents(n);
        return e.querySelector('input[type=number]').getBoundingClientRect().left - r.getBoundingClientRect().right; }""")
    assert gap >= 6, f"the 'Score threshold' label touches its number box ({gap:.1f} px)"
    version = tab.info()["maskVersion"]
    tab.page.click("#ia_canvas_root .ia-cv-clear")
    tab.wait_status("Mask: 0 pixels")
    assert ws.text_mask is None and not ws.mask.any()


def test_select_by_text_draws_the_boxes_and_switches_them(tab, marker_image, monkeypatch):
    """The detections are drawn on the canvas (box, phrase and score; the labels inside the canvas,
    the same size at any zoom); clicking a label switches that detection off (the mask loses its
    part, no detector run), Undo switches it back, Clear drops the boxes."""
    from fixtures.tiny_detectors import build_detector

    from inpaint_anything.segment import text_detect
    from inpaint_anything.ui.defaults import GRABCUT

    boxes = [(2.0, 2.0, 200.0, 230.0), (250.0, 160.0, 470.0, 420.0)]  # the first at the picture's corner
    runs = []

    def find(loaded, image, query):
        runs.append(query.text)
        dets = [text_detect.Detection(b, score, "dog") for b, score in zip(boxes, (0.41, 0.37), strict=True)]
        return text_detect.Found(dets, None, query.phrases)

    monkeypatch.setattr(text_detect, "find", find)
    build_detector(tab.app.models_dir, "owlvit-base")
    tab.upload(marker_image)
    tab.wait_status("Image 512x512")
    tab.choose("ia_selector", GRABCUT)  # deterministic masks
    _use_owlvit(tab)
    tab.page.locator("#ia_text_query textarea, #ia_text_query input").first.fill("dog")
    version = tab.info()["maskVersion"]
    tab.click("ia_text_select")
    tab.wait_status("2 × 'dog' (0.41, 0.37)")
    info = tab.wait_info(f"i.maskVersion > {version} && i.textBoxes.length === 2")
    ws = tab.workspace()
    parts = [p.copy() for p in ws.text_layer.parts]
    assert np.array_equal(ws.mask, parts[0] | parts[1]) and info["maskArea"] == int(ws.mask.sum())
    assert [(b["box"], b["label"], b["score"], b["kept"]) for b in info["textBoxes"]] == [
        (list(boxes[0]), "dog", 0.41, True),
        (list(boxes[1]), "dog", 0.37, True),
    ]

    shot, rect = tab.shot("text_boxes")
    info = tab.wait_info("i.textBoxes.length === 2 && i.textBoxes.every((b) => b.labelRect)")  # drawn by the last frame
    toolbar = tab.page.locator("#ia_canvas_root .ia-cv-toolbar").first.bounding_box()
    for b in info["textBoxes"]:
        lab = b["labelRect"]
        assert rect["x"] - 0.5 <= lab["x"] and lab["x"] + lab["w"] <= rect["x"] + rect["width"] + 0.5, lab
        assert rect["y"] - 0.5 <= lab["y"] and lab["y"] + lab["h"] <= rect["y"] + rect["height"] + 0.5, lab
        assert lab["y"] >= toolbar["y"] + toolbar["height"] - 0.5 and 14 <= lab["h"] <= 22, lab
    x0, y0, x1, y1 = boxes[1]

    def edge_colour(image: np.ndarray) -> np.ndarray:
        cx, cy = tab.to_client(x0 - 0.5, (y0 + y1) / 2)  # the left edge, half way down
        return image[int(round(cy - rect["y"])), int(round(cx - rect["x"])) - 1 : int(round(cx - rect["x"])) + 1].astype(int)

    blue = np.array([37, 99, 235])
    assert (np.abs(edge_colour(shot) - blue).max(axis=1) < 40).any(), edge_colour(shot)

    lab = info["textBoxes"][1]["labelRect"]
    version = info["maskVersion"]
    tab.page.mouse.click(lab["x"] + lab["w"] / 2, lab["y"] + lab["h"] / 2)
    info = tab.wait_info(f"i.maskVersion > {version}")
    tab.wait_status("pixels")
    assert [b["kept"] for b in info["textBoxes"]] == [True, False] and ws.text_layer.kept == [True, False]
    assert np.array_equal(ws.mask, parts[0]) and info["maskArea"] == int(parts[0].sum()) < int((parts[0] | parts[1]).sum())
    off, _ = tab.shot("text_box_off")
    assert not (np.abs(edge_colour(off) - blue).max(axis=1) < 40).any(), "the switched-off box is still drawn as kept"

    tab.page.mouse.move(rect["x"] + rect["width"] / 2, rect["y"] + rect["height"] / 2)
    tab.page.mouse.wheel(0, -600)  # zoom in: the labels keep their size
    zoomed = tab.wait_info(f"i.view.s > {info['view']['s'] * 1.5}")
    assert abs(zoomed["textBoxes"][0]["labelRect"]["h"] - lab["h"]) < 0.5
    tab.shot("text_boxes_zoomed")
    tab.page.click("#ia_canvas_root .ia-cv-fit")

    version = zoomed["maskVersion"]
    tab.page.click("#ia_canvas_root .ia-cv-undo")  # the switch was one undo step
    info = tab.wait_info(f"i.maskVersion > {version}")
    assert [b["kept"] for b in info["textBoxes"]] == [True, True] and np.array_equal(ws.mask, parts[0] | parts[1])
    assert runs == ["dog"]

    tab.page.click("#ia_canvas_root .ia-cv-clear")
    tab.wait_status("Mask: 0 pixels")
    assert tab.wait_info("i.textBoxes.length === 0")["textId"] is None and ws.text_layer is None


def test_remove_object_tab_explains_the_learned_removers(tab):
    """Choosing LaMa or MI-GAN says, under the methods, that the file is missing and where to put it
    (offline), in full: no cut-off text, nothing over the other controls."""
    tab.open_tab("Remove object")
    for method, title in (("lama", "LaMa (big-lama)"), ("migan", "MI-GAN")):
        tab.choose("ia_cleaner", method)
        note = tab.wait_text("ia_cleaner_note", title)
        tab.region_shot(["#ia_tab_remove"], f"remove_tab_{method}")
        assert "offline mode is on" in note and str(tab.app.models_dir) in note, note
        assert tab.page.locator("#ia_cleaner_note").first.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), note


def test_errors_are_shown_in_the_status_area(tab, marker_image):
    tab.click("ia_run_inpaint")
    tab.wait_status("Upload an image first")
    tab.upload(marker_image)
    tab.wait_status("Image 512x512")
    tab.click("ia_run_inpaint")
    text = tab.wait_status("mask is empty")
    assert tab.page.locator("#ia_status .ia-error").count() == 1, text
    assert tab.gallery_count("ia_results") == 0  # no black image
    colours = tab.page.evaluate("""() => { const probe = document.createElement('span'); probe.style.color = 'var(--error-text-color)';
        document.getElementById('ia_status').appendChild(probe); const want = getComputedStyle(probe).color; probe.remove();
        return [getComputedStyle(document.querySelector('#ia_status .ia-error')).color, want]; }""")
    assert colours[0] == colours[1], colours  # styled as an error (gradio 3's .prose rule must not win)
    tab.element_shot("ia_status", "empty_mask_error")
    # scribbling before "Segment everything" is explained, and does not block the next prompts
    tab.set_tool("scribble")
    tab.drag([tab.to_client(100, 100), tab.to_client(200, 200)])
    tab.wait_status("Segment everything' first")
    tab.full_shot("scribble_warning")
    tab.set_tool("point_add")
    version = tab.info()["maskVersion"]
    tab.page.mouse.click(*tab.to_client(300, 250))
    tab.mask_after(version)
    assert tab.workspace().mask.any()
    # clearing the input image: nothing runs on the picture that is no longer shown
    tab.page.locator("#ia_input_image").first.hover()
    tab.page.locator(CLEAR_BUTTON).first.click()
    tab.wait_status("Upload an image to start")
    tab.wait_info("i.image === null")
    tab.click("ia_run_inpaint")
    tab.wait_status("Upload an image first")
    assert tab.workspace().image is None


def test_two_sessions_do_not_share_image_or_mask(browser, tab_server, artifacts_dir, marker_image, coffee_image):
    app, url, _ = tab_server
    ctx_a, ctx_b = _context(browser), _context(browser)
    try:
        a = _open(ctx_a, url, artifacts_dir, "tab_two_sessions_a", app)
        b = _open(ctx_b, url, artifacts_dir, "tab_two_sessions_b", app)
        a.upload(marker_image)
        a.wait_status("Image 512x512")
        b.upload(coffee_image)
        b.wait_status("Image 600x400")
        # each page's workspace by its picture (the pages' status probes reorder "most recently used")
        live = [ws for ws in app._workspaces.values() if ws.image is not None]
        ws_a = next(ws for ws in live if ws.image.shape == (512, 512, 3))
        ws_b = next(ws for ws in live if ws.image.shape == (400, 600, 3))
        assert ws_a is not ws_b and ws_a.image.shape == (512, 512, 3) and ws_b.image.shape == (400, 600, 3)
        _brush_mask(a)
        assert ws_a.mask.any() and not ws_b.mask.any()
        b.open_tab("Mask only")
        b.click("ia_get_mask")
        assert "mask is empty" in b.wait_status("mask is empty")
        assert b.info()["image"] == [600, 400] and a.info()["image"] == [512, 512]
        b.open_tab("Inpaint")
        b.page.mouse.click(*b.to_client(590, 390))  # scroll state differs; click inside the coffee
        b.mask_after(0)
        assert ws_b.mask.shape == (400, 600) and ws_a.image.shape == (512, 512, 3)
        a.full_shot("a")
        b.full_shot("b")
    finally:
        ctx_a.close()
        ctx_b.close()


@pytest.mark.parametrize("tab", [{"query": "?__theme=dark"}], indirect=True)
def test_dark_theme(tab, marker_image):
    tab.wait_info("i.dark")
    tab.upload(marker_image)
    tab.click("ia_run_inpaint")
    tab.wait_status("mask is empty")
    path = tab.full_shot("dark")
    from PIL import Image

    with Image.open(path) as im:
        page = np.asarray(im.convert("L"))
    assert np.median(page) < 90  # a dark page, not light panels on a dark body
    colours = tab.page.evaluate("""() => {
        const lum = (c) => { const v = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map((x) => x / 255)
            .map((x) => x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4)); return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
        const bg = (e) => { while (e) { const c = getComputedStyle(e).backgroundColor; if (c && !c.endsWith(', 0)') && c !== 'transparent') return c; e = e.parentElement; } return 'rgb(0,0,0)'; };
        const contrast = (sel) => { const e = document.querySelector(sel); const a = lum(getComputedStyle(e).color), b = lum(bg(e));
            return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); };
        return {error: contrast('#ia_status .ia-error'), label: contrast('#ia_canvas_root .ia-cv-status'), tool: contrast('#ia_canvas_root .ia-cv-btn')};
    }""")
    assert min(colours.values()) >= 3.0, colours  # readable (WCAG AA for large/bold text)


def test_interrupt_stops_a_running_generation(tab, marker_image, tiny_sd_inpaint_dir):
    tab.upload(marker_image)
    _brush_mask(tab)
    tab.set_text("ia_hub_model", str(tiny_sd_inpaint_dir))
    tab.set_number("ia_steps", 150)
    tab.set_number("ia_batch_count", 16)  # minutes of work if the interrupt were lost
    tab.click("ia_interrupt")
    tab.wait_status("Nothing is running")
    tab.click("ia_run_inpaint")
    tab.wait_status("sampling -")  # gradio's progress text ("sampling - 3.6%"): the steps are running
    tab.click("ia_interrupt")
    text = tab.wait_status("Interrupted.")
    assert tab.page.locator("#ia_status .ia-error").count() == 1, text
    assert tab.workspace().results == [] and tab.gallery_count("ia_results") == 0


def _canvas_status(tab) -> str:
    return tab.page.locator("#ia_canvas_root .ia-cv-status").first.inner_text()


def _hover_when_idle(ws, x: float, y: float):
    """``ws.hover`` answers None while the page's own probe holds the SAM session: ask again."""
    for _ in range(100):
        found = ws.hover(x, y)
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError("the SAM session stayed busy or lost its embedding")


def test_sam_prepares_on_upload_and_the_click_tool_outlines_the_object_under_the_pointer(tab, marker_image):
    """Issue #16: the editor's status line says "preparing SAM… N %" while the picture is encoded in
    the background, then "ready"; the Click tool then outlines what a click would select, and the
    click replaces the outline with the mask."""
    from tab_app import SAM_ID

    from inpaint_anything.segment.hover import outline
    from inpaint_anything.segment.progress import encoder_stages, install_stage_hooks

    app = tab.app
    encoder = app.load_sam(SAM_ID).model.image_encoder
    install_stage_hooks(encoder)
    slow = [stage.register_forward_pre_hook(lambda m, a: time.sleep(0.4)) for stage in encoder_stages(encoder)]
    mode, app.settings.hover_preview = app.settings.hover_preview, "on"  # "auto" could measure a busy CI machine
    try:
        tab.upload(marker_image)
        tab.page.wait_for_function(
            "() => /preparing .*\\d+ %/.test(document.querySelector('#ia_canvas_root .ia-cv-status').innerText)", timeout=TIMEOUT
        )
        preparing = _canvas_status(tab)
        tab.shot("preparing")
        tab.page.wait_for_function(
            "() => / ready/.test(document.querySelector('#ia_canvas_root .ia-cv-status').innerText)", timeout=TIMEOUT
        )
    finally:
        for handle in slow:
            handle.remove()
    try:
        assert "preparing tiny_sam.pth" in preparing or "preparing" in preparing, preparing
        ws = tab.workspace()
        runs = ws._session.encoder_runs
        before, _ = tab.shot("ready")
        assert tab.info()["tool"] == "point_add"  # the default tool
        x, y = tab.to_client(300, 250)
        tab.page.mouse.move(x - 30, y - 30)
        tab.page.mouse.move(x, y, steps=5)
        # the outline ends up answering the pointer's last position (throttled moves, the last one kept)
        info = tab.wait_info(
            "i.hoverPolys && i.hoverPolys.length > 0 && i.hoverFor"
            " && Math.abs(i.hoverFor[0] - 300) < 3 && Math.abs(i.hoverFor[1] - 250) < 3"
        )
        assert info["hoverPolys"] == outline(_hover_when_idle(ws, *info["hoverFor"]))  # the server's low-res mask
        hovering, _ = tab.shot("hover_outline")
        assert (np.abs(hovering.astype(int) - before.astype(int)).max(axis=2) > 40).sum() > 50  # the outline is drawn
        assert ws.mask is None or not ws.mask.any()  # hovering selects nothing
        # SAM held by other work (a click from another tab): the probe answers "busy" and the outline stays
        with ws._session.lock:  # an RLock: the server's probe threads cannot take it meanwhile
            tab.page.mouse.move(x + 1, y + 1)
            held = tab.wait_info("i.sam && i.sam.busy === true")
            assert held["hoverPolys"] == info["hoverPolys"]
        version = info["maskVersion"]
        tab.page.mouse.click(x, y)
        info = tab.mask_after(version)
        assert info["hoverPolys"] is None and info["maskArea"] == int(ws.mask.sum()) > 0
        assert ws._session.encoder_runs == runs  # the click found the embedding prepared on upload
        tab.page.mouse.move(x + 20, y + 20, steps=3)  # after the first click: no outline, the mask is shown
        tab.page.wait_for_timeout(300)
        assert tab.info()["hoverPolys"] is None
        assert "ready" in _canvas_status(tab)
        tab.full_shot("page")
    finally:
        app.settings.hover_preview = mode


def test_controlnet_choice_says_why_and_its_accordion_shows_the_tables_controls(tab):
    """Offline without an inpaint ControlNet: the choice cannot be ticked and the line under it says
    where to put one, in full; the "ControlNet" accordion opens with every control of the table, no
    label cut off."""
    from inpaint_anything.inpaint.controlnet import CONTROLNET_FIELDS

    note = tab.wait_text("ia_cn_status", "offline")
    assert str(tab.app.models_dir / "controlnet") in note, note
    assert tab.page.locator("#ia_cn_enabled input[type=checkbox]").first.is_disabled()
    assert tab.page.locator("#ia_cn_status").first.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), note
    tab.page.locator("#ia_controlnet .label-wrap").first.click()
    tab.page.wait_for_function(
        "() => { const e = document.getElementById('ia_cn_weight'); return !!e && e.offsetParent !== null; }", timeout=TIMEOUT
    )
    tab.page.set_viewport_size({"width": VIEWPORT["width"], "height": 1600})  # the whole accordion in the picture
    tab.region_shot(["#ia_cn_enabled", "#ia_cn_status", "#ia_controlnet"], "controlnet_accordion")
    for f in CONTROLNET_FIELDS:
        elem = f"ia_{f.elem or f.name}"
        assert f.label in tab.text(elem), (elem, tab.text(elem))
        cut = tab.page.locator(f"#{elem}").first.evaluate(
            "e => [...e.querySelectorAll('span, label')].filter(s => s.children.length === 0 && s.innerText.trim()"
            " && s.scrollWidth > s.clientWidth + 1).map(s => s.innerText)"
        )
        assert not cut, f"cut off in #{elem}: {cut}"
        assert tab.page.locator(f"#{elem}").first.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), f"#{elem} overflows"
    assert tab.value("ia_cn_model") == "lllyasviel/control_v11p_sd15_inpaint"
