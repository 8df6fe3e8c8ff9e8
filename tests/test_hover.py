"""The Click tool's hover preview (issue #16): outlines of the low-res mask, the ``auto`` rule, and
the editor's probe (SAM preparation state + hover outline) as the tab answers it."""

from __future__ import annotations

import json
import shutil
import threading
import time

import numpy as np
import pytest
from fixtures.tiny_sam import TINY_SAM_ID

from inpaint_anything.app import App
from inpaint_anything.config import Settings
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.segment.hover import AUTO_LIMIT_S, MAX_OUTLINE_POINTS, HoverMask, HoverTimer, outline

MODEL = TINY_SAM_ID


def _filled(polygons: list[list[float]], shape: tuple[int, int]) -> np.ndarray:
    """Rasterise flat polygons (image coordinates, pixel i spans [i, i+1)) with the even-odd rule."""
    import cv2

    out = np.zeros(shape, np.uint8)
    for poly in polygons:
        pts = np.round(np.array(poly).reshape(-1, 2) - 0.5).astype(np.int32)
        layer = np.zeros(shape, np.uint8)
        cv2.fillPoly(layer, [pts], 1)
        out ^= layer
    return out.astype(bool)


def test_outline_of_a_square_in_image_pixels():
    cells = np.zeros((16, 20), bool)
    cells[2:6, 3:9] = True  # rows 2..5, columns 3..8
    polys = outline(HoverMask(cells, 0.9, (4.0, 2.0)))
    assert len(polys) == 1
    pts = np.array(polys[0]).reshape(-1, 2)
    # the border runs through the centres of the edge cells, scaled to original pixels
    assert pts[:, 0].min() == pytest.approx(3.5 * 4) and pts[:, 0].max() == pytest.approx(8.5 * 4)
    assert pts[:, 1].min() == pytest.approx(2.5 * 2) and pts[:, 1].max() == pytest.approx(5.5 * 2)


def test_outline_keeps_holes_and_separate_parts():
    cells = np.zeros((40, 40), bool)
    cells[5:30, 5:30] = True
    cells[12:20, 12:20] = False  # a hole
    cells[33:38, 33:38] = True  # a second part
    polys = outline(HoverMask(cells, 0.5, (1.0, 1.0)))
    assert len(polys) == 3
    filled = _filled(polys, cells.shape)
    # even-odd filling of the outline gives the mask back, up to the half-cell border
    assert filled[10, 10] and not filled[15, 15] and filled[35, 35] and not filled[2, 2]
    assert (filled == cells).mean() > 0.95


def test_outline_is_bounded_and_empty_for_nothing():
    assert outline(HoverMask(np.zeros((8, 8), bool), 0.1, (1.0, 1.0))) == []
    noise = np.random.default_rng(0).random((256, 256)) > 0.5  # a worst case: thousands of specks
    polys = outline(HoverMask(noise, 0.1, (1.0, 1.0)))
    assert 0 < sum(len(p) // 2 for p in polys) <= MAX_OUTLINE_POINTS


def test_hover_timer_auto_rule():
    timer = HoverTimer()
    assert timer.decide("auto", "m") == "" and timer.decide("on", "m") == ""
    assert "off in Settings" in timer.decide("off", "m")
    timer.record("m", 5.0)  # the first (cold) hover is not counted
    assert timer.p95("m") is None
    for _ in range(4):
        timer.record("m", AUTO_LIMIT_S * 2)
    assert timer.decide("auto", "m") == ""  # too few measurements to judge
    timer.record("m", AUTO_LIMIT_S * 2)
    why = timer.decide("auto", "m")
    assert "120 ms" in why and "60 ms" in why
    assert timer.decide("on", "m") == ""  # "on" ignores the measurement
    fast = HoverTimer()
    for _ in range(30):
        fast.record("m", 0.01)
    fast.record("m", 1.0)  # one slow hover out of 30 is not the p95
    assert fast.decide("auto", "m") == "" and fast.p95("m") == pytest.approx(0.01)
    assert fast.decide("auto", "other") == ""  # per model


def test_hover_setting_is_checked():
    with pytest.raises(InvalidInputError, match="auto, on or off"):
        Settings(hover_preview="sometimes").validated()


# ---------------------------------------------------------------------------------- the editor's probe
@pytest.fixture
def app(tiny_sam_app) -> App:
    return tiny_sam_app


def _photo() -> np.ndarray:
    img = np.full((48, 64, 3), 200, np.uint8)
    img[10:30, 15:40] = (30, 60, 200)
    return img


def _probe(w: int = 64, h: int = 48, point=None, seq: int = 1):
    from inpaint_anything.ui.canvas import parse_probe

    return parse_probe(json.dumps({"version": 1, "seq": seq, "image_size": [w, h], "point": point}))


def _ready(ctl, key, label, selector, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = ctl.probe(_probe(), key, label, selector)
        if answer["embedding"] in ("ready", "failed"):
            return answer
        time.sleep(0.02)
    raise AssertionError("SAM did not get ready")


def test_probe_reports_preparation_and_hover(app):
    pytest.importorskip("gradio")
    from inpaint_anything.ui.defaults import GRABCUT, SEGMENT_ANYTHING
    from inpaint_anything.ui.handlers import Controller, SessionKey

    ctl = Controller(app)
    label = next(lbl for lbl, mid in ctl.sam_choices() if mid == MODEL)
    key = SessionKey()
    assert ctl.probe(_probe(), key, label, SEGMENT_ANYTHING)["embedding"] == "none"  # no picture yet
    ctl.set_image(key, _photo(), label, SEGMENT_ANYTHING)  # starts preparing in the background
    answer = _ready(ctl, key, label, SEGMENT_ANYTHING)
    assert answer["embedding"] == "ready" and answer["progress"] == 1.0 and answer["hover"] is None
    assert answer["model"] and "·" not in answer["model"]  # the model's name, not the dropdown label
    ws = ctl.ws(key)
    runs = ws._session.encoder_runs
    answer = ctl.probe(_probe(point=[25.0, 20.0]), key, label, SEGMENT_ANYTHING)
    assert answer["hover_off"] == "" and answer["hover"] is not None
    expected = outline(ws.hover(25.0, 20.0))
    assert answer["hover"]["polygons"] == expected
    assert ws._session.encoder_runs == runs  # hovering never encodes
    assert ws.mask is None or not ws.mask.any()  # and never changes the selection
    assert answer["busy"] is False
    # SAM held by other work (a click in another thread): no outline, and the answer says why
    held, release = threading.Event(), threading.Event()

    def hold():
        with ws._session.lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        busy = ctl.probe(_probe(point=[25.0, 20.0]), key, label, SEGMENT_ANYTHING)
    finally:
        release.set()
        holder.join(10)
    assert busy["busy"] is True and busy["hover"] is None and busy["embedding"] == "ready"
    assert ctl.probe(_probe(point=[25.0, 20.0]), key, label, SEGMENT_ANYTHING)["busy"] is False
    # another picture size than the shown one: nothing (the editor is behind)
    assert ctl.probe(_probe(32, 32, [5.0, 5.0]), key, label, SEGMENT_ANYTHING)["embedding"] == "none"
    # GrabCut: no SAM, no hover
    grab = ctl.probe(_probe(point=[25.0, 20.0]), key, label, GRABCUT)
    assert grab["embedding"] == "none" and grab["hover"] is None and "Segment Anything" in grab["hover_off"]


def test_probe_hover_setting_off_and_auto_off_when_slow(app):
    pytest.importorskip("gradio")
    from inpaint_anything.ui.defaults import SEGMENT_ANYTHING
    from inpaint_anything.ui.handlers import Controller, SessionKey

    ctl = Controller(app)
    label = next(lbl for lbl, mid in ctl.sam_choices() if mid == MODEL)
    key = SessionKey()
    ctl.set_image(key, _photo(), label, SEGMENT_ANYTHING)
    _ready(ctl, key, label, SEGMENT_ANYTHING)
    app.settings.hover_preview = "off"
    answer = ctl.probe(_probe(point=[25.0, 20.0]), key, label, SEGMENT_ANYTHING)
    assert answer["hover"] is None and "off in Settings" in answer["hover_off"]
    app.settings.hover_preview = "auto"
    for _ in range(6):  # a decoder that takes 0.2 s here
        app.hover_timer.record(MODEL, 0.2)
    answer = ctl.probe(_probe(point=[25.0, 20.0]), key, label, SEGMENT_ANYTHING)
    assert answer["hover"] is None and "200 ms" in answer["hover_off"]
    app.settings.hover_preview = "on"
    assert ctl.probe(_probe(point=[25.0, 20.0]), key, label, SEGMENT_ANYTHING)["hover"] is not None


def test_real_hovers_are_measured(app):
    ws = app.workspace("s")
    ws.set_image(_photo())
    ws.prepare(MODEL).done.wait(30)
    for _ in range(4):
        assert ws.hover(20.0, 20.0) is not None
    assert app.hover_timer.p95(MODEL) is not None and app.hover_timer.p95(MODEL) > 0
    assert len(app.hover_timer._times[MODEL]) == 3  # the first one is not counted


def test_another_model_prepares_the_shown_picture(app, tiny_sam_files):
    pytest.importorskip("gradio")
    from inpaint_anything.ui.defaults import GRABCUT, SEGMENT_ANYTHING
    from inpaint_anything.ui.handlers import Controller, SessionKey

    shutil.copy(tiny_sam_files["sam"], app.models_dir / "other.pth")
    ctl = Controller(app)
    choices = dict(ctl.sam_choices())
    label = next(lbl for lbl, mid in choices.items() if mid == MODEL)
    other = next(lbl for lbl, mid in choices.items() if mid == "file:other.pth")
    key = SessionKey()
    ctl.set_image(key, _photo(), label, GRABCUT)  # GrabCut: nothing is prepared
    assert ctl.ws(key).prepare_state is None
    ctl.prepare(key, label, GRABCUT)
    assert ctl.ws(key).prepare_state is None
    ctl.prepare(key, other, SEGMENT_ANYTHING)  # switched to SAM with another model
    state = ctl.ws(key).prepare_state
    assert state is not None and state.model == "file:other.pth"
    assert _ready(ctl, key, other, SEGMENT_ANYTHING)["embedding"] == "ready"
    # ready for "other", so the first model is not ready: a click would encode again
    assert ctl.probe(_probe(), key, label, SEGMENT_ANYTHING)["embedding"] == "none"
    ctl.prepare(SessionKey(), other, SEGMENT_ANYTHING)  # no picture in that session: nothing, no error


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("[1]", "version 1"),
        ('{"version": 1, "seq": -1, "image_size": [4, 4]}', "seq"),
        ('{"version": 1, "seq": 1, "image_size": [0, 4]}', "image size"),
        ('{"version": 1, "seq": 1, "image_size": [4, 4], "point": [9, 1]}', "outside"),
        ('{"version": 1, "seq": 1, "image_size": [4, 4], "point": [1]}', "point"),
    ],
)
def test_bad_probes_are_refused(text, why):
    from inpaint_anything.ui.canvas import parse_probe

    with pytest.raises(InvalidInputError, match=why):
        parse_probe(text)
