"""End-to-end tests of the mask editor in headless Chromium, on whichever gradio the venv has.

Every coordinate check finds the magenta marker in a *screenshot* (independent of the editor's own
transform), clicks there with the real mouse and checks what the Python handler received.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from browser_kit import MARKER

pytestmark = [pytest.mark.browser, pytest.mark.both_stacks]

MASK_RGB = np.array([255, 40, 120])  # light-theme mask colour in javascript/inpaint_anything_2_editor.js


def click_marker(cp, expect_seq: int) -> dict:
    x, y, _ = cp.find_marker()
    cp.page.mouse.click(x, y)
    return cp.wait_echo(expect_seq)


def assert_near_marker(point: list, tol: float) -> None:
    assert point[2] == 1
    assert abs(point[0] - MARKER[0]) <= tol and abs(point[1] - MARKER[1]) <= tol, point


def test_click_reaches_python_in_image_pixels_and_mask_preview_appears(canvas_page, marker_image):
    cp = canvas_page
    info = cp.upload(marker_image)
    assert info["image"] == [512, 512] and info["state"]["points"] == []
    before, rect = cp.shot("uploaded")
    assert (before.reshape(-1, 3).std(axis=0) > 20).all()  # the photo is drawn, not a blank canvas
    mx, my, _ = cp.find_marker()
    cp.page.mouse.click(mx, my)
    echo = cp.wait_echo(1)
    assert echo["kind"] == "click" and echo["image_size"] == [512, 512] == echo["input_size"]
    assert len(echo["points"]) == 1
    assert_near_marker(echo["points"][0], 1.0)
    info = cp.wait_info("i.maskVersion >= 1")
    assert info["maskArea"] == echo["mask_area"] > 400  # disk of radius 12 around the click
    after, _ = cp.shot("mask_preview")
    # 9 image px right of the marker: inside the disk, outside the marker -> tinted with the mask colour
    s = (
        info["view"]["s"]
        * rect["width"]
        / cp.page.evaluate("() => document.querySelector('#ia_canvas_root .ia-cv-canvas').width")
    )
    px = int(mx - rect["x"] + 9 * s)
    py = int(my - rect["y"])
    expected = 0.5 * before[py, px] + 0.5 * MASK_RGB
    assert np.abs(after[py, px].astype(float) - expected).max() <= 16, (before[py, px], after[py, px])
    far = (int(mx - rect["x"] - 60 * s), int(my - rect["y"] + 60 * s))
    assert np.abs(after[far[1], far[0]].astype(int) - before[far[1], far[0]].astype(int)).max() <= 3
    cp.page_shot("after_click")


def test_zoom_and_pan_keep_image_coordinates(canvas_page, marker_image):
    cp = canvas_page
    cp.upload(marker_image)
    mx, my, n_fit = cp.find_marker()
    cp.page.mouse.move(mx + 40, my + 25)
    for _ in range(3):
        cp.page.mouse.wheel(0, -300)
    cp.wait_info("i.view.s > 2.5")
    # pan with the middle button, then with space + left drag
    cp.drag([(mx, my), (mx - 70, my + 45)], button="middle")
    cp.page.mouse.move(mx, my)
    cp.page.keyboard.down("Space")
    cp.drag([(mx, my), (mx + 25, my - 30)])
    cp.page.keyboard.up("Space")
    info = cp.info()
    assert info["view"]["fitted"] is False and info["view"]["s"] > 2.5
    assert info["state"]["points"] == [] and info["seq"] == 0  # panning sent nothing
    x, y, n_zoom = cp.find_marker()
    assert n_zoom > 8 * n_fit  # the 7x7 marker now covers many more screen pixels
    cp.page.mouse.click(x, y)
    echo = cp.wait_echo(1)
    assert_near_marker(echo["points"][0], 0.6)
    cp.shot("zoomed_click")


def test_css_scaled_canvas_keeps_image_coordinates(canvas_page, marker_image):
    cp = canvas_page
    cp.upload(marker_image)
    cp.page.evaluate(
        "() => { const s = document.querySelector('#ia_canvas_root .ia-cv-stage'); s.style.transformOrigin = '0 0'; s.style.transform = 'scale(0.6, 0.75)'; }"
    )
    rect = cp.canvas_rect()
    backing = cp.page.evaluate("() => document.querySelector('#ia_canvas_root .ia-cv-canvas').width")
    assert rect["width"] < 0.7 * backing  # CSS size and backing store now differ
    echo = click_marker(cp, 1)
    assert_near_marker(echo["points"][0], 1.7)
    cp.shot("css_scaled")


@pytest.mark.parametrize("canvas_page", [{"dpr": 2}], indirect=True)
def test_high_dpi_canvas_keeps_image_coordinates(canvas_page, marker_image):
    cp = canvas_page
    cp.upload(marker_image)
    dims = cp.page.evaluate(
        "() => { const c = document.querySelector('#ia_canvas_root .ia-cv-canvas'); return [c.width, c.clientWidth]; }"
    )
    assert dims[0] == 2 * dims[1]
    echo = click_marker(cp, 1)
    assert_near_marker(echo["points"][0], 1.0)


def test_rapid_clicks_all_arrive(canvas_page, marker_image):
    cp = canvas_page
    cp.upload(marker_image)
    targets = [(60 + 40 * k, 300 + 10 * k) for k in range(5)]
    for x, y in targets:
        cp.page.mouse.click(*cp.to_client(x, y))
    echo = cp.wait_echo(5)
    assert echo["seq"] == 5 and len(echo["points"]) == 5
    for (x, y), p in zip(targets, echo["points"], strict=True):
        assert abs(p[0] - x) <= 0.6 and abs(p[1] - y) <= 0.6
    cp.shot("rapid_clicks")


def test_box_drag(canvas_page, marker_image):
    cp = canvas_page
    cp.upload(marker_image)
    cp.set_tool("box")
    cp.drag([cp.to_client(100, 120), cp.to_client(260, 300)])
    echo = cp.wait_echo(1)
    assert echo["kind"] == "box" and echo["points"] == []
    assert np.allclose(echo["box"], [100, 120, 260, 300], atol=1.0), echo["box"]
    assert echo["mask_bbox"] == [round(v) for v in echo["box"]]
    cp.wait_info("i.maskVersion >= 1")
    cp.shot("box")


def test_brush_stroke_is_rasterized_where_drawn_and_erase(canvas_page, marker_image):
    cp = canvas_page
    cp.upload(marker_image)
    cp.set_tool("brush_add")
    cp.set_brush(10)
    cp.drag([cp.to_client(120, 400), cp.to_client(320, 400)], steps=12)
    echo = cp.wait_echo(1)
    assert echo["kind"] == "brush" and len(echo["strokes"]) == 1
    stroke = echo["strokes"][0]
    assert stroke["mode"] == "add" and stroke["radius"] == 10 and stroke["n"] >= 3
    assert np.allclose(stroke["first"], [120, 400], atol=1) and np.allclose(stroke["last"], [320, 400], atol=1)
    x0, y0, x1, y1 = echo["mask_bbox"]
    assert abs(x0 - 110) <= 2 and abs(x1 - 330) <= 2 and abs(y0 - 390) <= 2 and abs(y1 - 410) <= 2
    expected_area = 200 * 21 + math.pi * 100
    assert abs(echo["mask_area"] - expected_area) < 0.05 * expected_area
    cp.wait_info("i.maskVersion >= 1")
    cp.shot("brush_add")
    cp.set_tool("brush_erase")
    cp.drag([cp.to_client(220, 370), cp.to_client(220, 430)])
    echo = cp.wait_echo(2)
    assert [s["mode"] for s in echo["strokes"]] == ["add", "erase"]
    assert echo["mask_area"] < expected_area - 15 * 21  # a 21 px wide cut through the 21 px line
    cp.wait_info("i.maskVersion >= 2")
    cp.shot("brush_erase")


def test_undo_redo_clear_and_brush_keys(canvas_page, marker_image):
    cp = canvas_page
    cp.upload(marker_image)
    for k, (x, y) in enumerate([(100, 100), (200, 150)], start=1):
        cp.page.mouse.click(*cp.to_client(x, y))
        cp.wait_echo(k)
    kb = cp.page.keyboard
    kb.press("Control+z")
    echo = cp.wait_echo(3)
    assert echo["kind"] == "undo" and [p[:2] for p in echo["points"]] == [[100, 100]]
    kb.press("Control+Shift+Z")
    echo = cp.wait_echo(4)
    assert echo["kind"] == "redo" and len(echo["points"]) == 2
    kb.press("Control+z")
    cp.wait_echo(5)
    kb.press("Control+y")
    echo = cp.wait_echo(6)
    assert echo["kind"] == "redo" and len(echo["points"]) == 2
    cp.page.click("#ia_canvas_root .ia-cv-clear")
    echo = cp.wait_echo(7)
    assert echo["kind"] == "clear" and echo["points"] == [] and echo["mask_area"] == 0
    cp.page.mouse.move(*cp.to_client(300, 300))
    kb.press("Control+z")
    echo = cp.wait_echo(8)
    assert len(echo["points"]) == 2
    cp.shot("after_undo_clear")
    brush = cp.info()["brush"]
    kb.press("]")
    assert cp.info()["brush"] > brush
    kb.press("[")
    kb.press("[")
    assert cp.info()["brush"] < brush
    info = cp.info()
    assert info["undo"] >= 1 and info["seq"] == 8  # brush keys send nothing


def test_segment_overlay_and_scribble(canvas_page, marker_image):
    cp = canvas_page
    cp.upload(marker_image)
    plain, rect = cp.shot("plain")
    cp.page.click("#ia_demo_segments")
    cp.wait_info("i.segments")
    cp.scroll_into_view()
    tinted, _ = cp.shot("segments")
    diff = np.abs(tinted.astype(int) - plain.astype(int)).max(axis=2)
    assert (diff > 20).mean() > 0.3  # the colour grid shows across the image
    cp.page.click("#ia_canvas_root .ia-cv-seg .ia-cv-toggle")
    hidden, _ = cp.shot("segments_hidden")
    assert np.abs(hidden.astype(int) - plain.astype(int)).max() <= 3
    cp.page.click("#ia_canvas_root .ia-cv-seg .ia-cv-toggle")
    cp.set_tool("scribble")
    cp.drag([cp.to_client(80, 80), cp.to_client(200, 120), cp.to_client(380, 90)])
    echo = cp.wait_echo(1)
    assert echo["kind"] == "scribble" and echo["strokes"][0]["mode"] == "scribble"
    cp.shot("scribble")


def test_new_image_resets_the_prompt_state(canvas_page, marker_image, coffee_image):
    cp = canvas_page
    cp.upload(marker_image)
    cp.page.mouse.click(*cp.to_client(50, 60))
    cp.wait_echo(1)
    info = cp.upload(coffee_image)
    assert info["image"] == [600, 400] and info["state"]["points"] == [] and info["undo"] == 0
    assert info["mask"] is False  # the old mask layer was cleared by the upload wiring
    cp.page.mouse.click(*cp.to_client(590, 390))
    echo = cp.wait_echo(2)
    assert echo["image_size"] == [600, 400] == echo["input_size"]
    assert np.allclose(echo["points"][0][:2], [590, 390], atol=0.6)
    cp.shot("coffee")


@pytest.mark.parametrize("canvas_page", [{"query": "?__theme=dark"}], indirect=True)
def test_dark_theme_is_followed(canvas_page, marker_image):
    cp = canvas_page
    cp.wait_info("i.dark")
    assert cp.page.evaluate("() => document.querySelector('#ia_canvas_root .ia-cv').classList.contains('ia-dark')")
    cp.scroll_into_view()
    empty, _ = cp.shot("dark_empty")
    assert empty[5:-5, 5:-5].mean() < 60  # dark background
    cp.upload(marker_image)
    cp.page.mouse.click(*cp.to_client(256, 256))
    cp.wait_echo(1)
    cp.wait_info("i.maskVersion >= 1")
    cp.page_shot("dark")
