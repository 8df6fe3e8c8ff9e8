"""The editor and "Select by text" together, through the tab's Controller: the text mask is one more
layer of the selection, so later clicks add to it; the editor's Clear (its "clear" event) and a new
picture drop it; a replayed event (picking a candidate) does not."""

from __future__ import annotations

import html
import json

import numpy as np
import pytest
from fixtures.tiny_detectors import build_detector
from fixtures.tiny_sam import TINY_SAM_ID

from inpaint_anything.segment import text_detect
from inpaint_anything.ui import canvas
from inpaint_anything.ui.defaults import GRABCUT, SEGMENT_ANYTHING
from inpaint_anything.ui.handlers import Controller, SessionKey
from inpaint_anything.ui.text_controls import select_text


def _picture(seed: int = 3) -> np.ndarray:
    img = np.random.default_rng(seed).integers(0, 60, (45, 67, 3), dtype=np.uint8)
    img[10:30, 20:50] = 220
    return img


def event(kind: str, points=(), seq: int = 1) -> str:
    return json.dumps(
        {
            "version": 1,
            "kind": kind,
            "image_size": [67, 45],
            "points": [list(p) for p in points],
            "box": None,
            "strokes": [],
            "seq": seq,
        }
    )


@pytest.fixture
def ctl(tiny_sam_app, monkeypatch):
    """A Controller with a picture; the tiny OWL-ViT's boxes are moved onto the bright rectangle."""
    build_detector(tiny_sam_app.models_dir, "owlvit-base")
    real = text_detect.raw_output

    def raw_output(loaded, image, phrases):
        raw = real(loaded, image, phrases)
        raw.boxes[:] = [0.52, 0.45, 0.5, 0.5]
        return raw

    monkeypatch.setattr(text_detect, "raw_output", raw_output)
    ctl = Controller(tiny_sam_app)
    ctl.key = SessionKey()
    ctl.set_image(ctl.key, _picture())
    return ctl


def _select(ctl, text="dog"):
    return select_text(ctl, ctl.key, TINY_SAM_ID, GRABCUT, text, "OWL-ViT base", 0.01, "Best match")


@pytest.mark.both_stacks
def test_clicks_add_to_the_text_selection_until_the_editors_clear(ctl):
    status = html.unescape(_select(ctl)[1])
    ws = ctl.ws(ctl.key)
    assert "1 × 'dog'" in status and "Mask:" in status and "ia-warning" not in status
    text_mask = ws.text_mask.copy()
    assert text_mask.any() and np.array_equal(ws.mask, text_mask)

    args = (ctl.key, TINY_SAM_ID, SEGMENT_ANYTHING, True)
    _, _, said = ctl.canvas_event(event("click", [(3, 40, 1)], seq=1), *args)
    assert (ws.mask & text_mask).sum() == text_mask.sum()  # the text layer stays
    assert f"{int(ws.mask.sum()):,} pixels" in said

    ctl.pick_candidate(ctl.key, 1, TINY_SAM_ID, SEGMENT_ANYTHING, True)  # a replay, not a new event
    assert ws.text_mask is not None and (ws.mask & text_mask).sum() == text_mask.sum()
    with_click = ws.mask.copy()

    _, _, said = ctl.canvas_event(event("clear", seq=2), *args)  # what the editor's Clear sends
    assert ws.text_mask is None and not ws.mask.any() and "Mask: 0 pixels" in said
    ctl.canvas_event(event("click", [(3, 40, 1)], seq=3), *args)  # the same click, now on its own
    assert np.array_equal(with_click, ws.mask | text_mask)


def test_a_clear_before_the_text_selection_is_not_replayed_onto_it(ctl):
    args = (ctl.key, TINY_SAM_ID, SEGMENT_ANYTHING, True)
    ctl.canvas_event(event("clear", seq=1), *args)
    _select(ctl)
    ws = ctl.ws(ctl.key)
    ctl.pick_candidate(ctl.key, 0, TINY_SAM_ID, SEGMENT_ANYTHING, True)  # replays the Clear sent before
    assert ws.text_mask is not None and ws.mask.any()


def test_a_new_picture_drops_the_text_selection(ctl):
    _select(ctl)
    ws = ctl.ws(ctl.key)
    assert ws.text_mask is not None
    ctl.set_image(ctl.key, _picture(seed=9))
    assert ws.text_mask is None and ws.text_query is None and not ws.mask.any()


def test_nothing_found_is_a_warning_that_says_what_to_try(ctl):
    _, status, boxes = select_text(ctl, ctl.key, TINY_SAM_ID, GRABCUT, "dog", "OWL-ViT base", 1.0, "All matches")
    assert boxes == ""
    assert "ia-warning" in status and "Nothing found for 'dog'." in html.unescape(status) and "lower threshold" in status


def _two_dogs(monkeypatch) -> list:
    """The detector 'finds' two known boxes around two bright rectangles; counts its runs."""
    runs = []

    def find(loaded, image, query):
        runs.append(query.text)
        dets = [
            text_detect.Detection((3.0, 5.0, 29.0, 25.0), 0.41, "dog"),
            text_detect.Detection((35.0, 21.0, 63.0, 43.0), 0.37, "dog"),
        ]
        return text_detect.Found(dets, None, query.phrases)

    monkeypatch.setattr(text_detect, "find", find)
    return runs


def _kept_event(ws, kept, seq, kind="text_box", points=()) -> str:
    data = json.loads(event(kind, points, seq=seq))
    data["text"] = {"id": ws.text_layer.id, "kept": list(kept)}
    return json.dumps(data)


@pytest.mark.both_stacks
def test_switching_a_detection_off_and_on_recomputes_the_union_of_the_kept_ones(ctl, monkeypatch):
    runs = _two_dogs(monkeypatch)
    img = np.random.default_rng(5).integers(0, 60, (45, 67, 3), dtype=np.uint8)
    img[8:22, 6:26] = 220
    img[24:40, 38:60] = 200
    ctl.set_image(ctl.key, img)
    _, status, boxes = _select(ctl)
    ws = ctl.ws(ctl.key)
    parts = [p.copy() for p in ws.text_layer.parts]
    assert len(parts) == 2 and all(p.any() for p in parts) and not np.array_equal(parts[0], parts[1])
    assert np.array_equal(ws.mask, parts[0] | parts[1])
    shown = json.loads(boxes)
    assert shown["image_size"] == [67, 45] and shown["id"] == ws.text_layer.id
    assert [(b["box"], b["label"], b["score"], b["kept"]) for b in shown["boxes"]] == [
        ([3.0, 5.0, 29.0, 25.0], "dog", 0.41, True),
        ([35.0, 21.0, 63.0, 43.0], "dog", 0.37, True),
    ]

    args = (ctl.key, TINY_SAM_ID, GRABCUT, True)
    undo_before = len(ws.history)
    ctl.canvas_event(_kept_event(ws, [False, True], 1), *args)  # the second one only
    assert np.array_equal(ws.mask, parts[1]) and np.array_equal(ws.text_mask, parts[1])
    assert len(ws.history) == undo_before + 1  # one undo step
    assert json.loads(canvas.boxes_value(ws))["boxes"][0]["kept"] is False
    ctl.canvas_event(_kept_event(ws, [False, False], 2), *args)
    assert not ws.mask.any()
    ctl.canvas_event(_kept_event(ws, [True, False], 3, kind="undo"), *args)  # the editor's undo/redo send the flags too
    assert np.array_equal(ws.mask, parts[0])
    ctl.canvas_event(_kept_event(ws, [True, True], 4, kind="click", points=[(3, 40, 1)]), *args)
    clicked = ws.mask & ~(parts[0] | parts[1])
    assert clicked.any() and np.array_equal(ws.mask & (parts[0] | parts[1]), parts[0] | parts[1])
    assert runs == ["dog"]  # no detector run for any of it

    stale = json.loads(_kept_event(ws, [False, False], 5))
    stale["text"]["id"] += 1  # flags for another text selection are ignored
    ctl.canvas_event(json.dumps(stale), *args)
    assert np.array_equal(ws.text_mask, parts[0] | parts[1])
    ctl.canvas_event(_kept_event(ws, [False], 6), *args)  # the wrong count too
    assert np.array_equal(ws.text_mask, parts[0] | parts[1])

    ctl.canvas_event(event("clear", seq=7), *args)
    assert canvas.boxes_value(ws) == "" and ws.text_layer is None


def test_bad_text_flags_are_refused():
    from inpaint_anything.errors import InvalidInputError
    from inpaint_anything.ui.wire import parse_event

    good = json.loads(event("text_box"))
    assert parse_event(json.dumps({**good, "text": {"id": 3, "kept": [True, False]}})).text_kept == (True, False)
    assert parse_event(json.dumps(good)).text_kept is None
    for bad in ({"id": -1, "kept": []}, {"id": 1, "kept": [1, 0]}, {"id": True, "kept": []}, [1], {"id": 1, "kept": "yes"}):
        with pytest.raises(InvalidInputError):
            parse_event(json.dumps({**good, "text": bad}))
