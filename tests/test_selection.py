"""One selection value for the tab and the API, and one table of mask operations (issue #19)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_api import ANYIO_ALIAS, P, b64png, client, decode_png, models_app, new_session  # noqa: F401 - fixtures

from inpaint_anything import masks
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.selection import (
    MASK_OPS,
    MaskOp,
    Selection,
    apply_op,
    check_op,
    check_selection,
    check_stroke,
    describe_chain,
    rasterize_strokes,
)
from inpaint_anything.ui.canvas import parse_event

pytestmark = pytest.mark.filterwarnings(ANYIO_ALIAS)


def _picture(h: int = 48, w: int = 64) -> np.ndarray:
    img = np.full((h, w, 3), 200, np.uint8)
    img[12:36, 16:44] = (30, 60, 200)  # a blue block GrabCut can find
    return img


def _event(**kw) -> str:
    base = {"version": 1, "kind": "click", "image_size": [64, 48], "points": [], "box": None, "strokes": [], "seq": 1}
    return json.dumps({**base, **kw})


STROKES = [
    {"mode": "add", "radius": 2.0, "points": [[2.0, 2.0], [10.0, 2.0]]},
    {"mode": "erase", "radius": 1.0, "points": [[5.0, 0.0], [5.0, 6.0]]},
]


def test_the_editor_and_the_api_describe_the_same_selection():
    ev = parse_event(_event(points=[[20.5, 30.0, 1], [3.0, 4.0, 0]], box=[50, 40, 10, 5], strokes=STROKES))
    api = check_selection([[20.5, 30.0, 1], [3.0, 4.0, 0]], [50, 40, 10, 5], STROKES, 2, image_size=(64, 48))
    assert ev.selection(2) == api
    assert api.box == (10.0, 5.0, 50.0, 40.0) and api.candidate == 2
    assert [s.mode for s in api.strokes_of("add", "erase")] == ["add", "erase"]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"points": [[1, 2]]}, "[x, y, label]"),
        ({"points": [[1, 2, 3]]}, "1 (object) or 0"),
        ({"points": [[100, 2, 1]]}, "outside the 64x48 image"),
        ({"box": [1, 2, 3]}, "four numbers"),
        ({"box": [-50, -50, -10, -10]}, "no area"),
        ({"strokes": [{"mode": "smudge", "radius": 2, "points": [[1, 1]]}]}, "unknown stroke mode"),
        ({"strokes": [{"mode": "add", "radius": 5000, "points": [[1, 1]]}]}, "out of range"),
        ({"strokes": [{"mode": "add", "radius": 2, "points": []}]}, "no points"),
        ({"strokes": [{"mode": "add", "radius": 2, "points": [[1, float("nan")]]}]}, "finite number"),
        ({"candidate": -1}, "candidate"),
    ],
)
def test_a_bad_selection_says_what_is_wrong(kwargs, fragment):
    with pytest.raises(InvalidInputError) as info:
        check_selection(**kwargs, image_size=(64, 48))
    assert fragment in str(info.value)


def test_mask_ops_come_from_one_table():
    m = np.zeros((20, 20), bool)
    m[8:12, 8:12] = True
    assert np.array_equal(apply_op(m, "grow", 2), masks.grow(m, 2))
    assert np.array_equal(apply_op(m, "invert"), ~m)
    assert not apply_op(m, "clear").any() and apply_op(m, "all").all()
    assert m.sum() == 16  # never modified in place
    assert describe_chain([("grow", 8), ("invert", 0), ("remove_specks", 4)]) == "grow 8, invert, remove_specks 4"
    with pytest.raises(InvalidInputError, match="Unknown mask operation 'explode'"):
        check_op("explode")
    with pytest.raises(InvalidInputError, match="whole number from 0 to 4096"):
        check_op("grow", 2.5)


def test_a_new_mask_op_is_one_entry(monkeypatch, tmp_path):
    """The worked example in docs/ARCHITECTURE.md: one entry makes an op the workspace applies,
    the refinement chain names and the check accepts."""
    from inpaint_anything.app import App
    from inpaint_anything.config import Settings

    monkeypatch.setitem(
        MASK_OPS, "outline", MaskOp("outline", "Outline", lambda m, px: m & ~masks.shrink(m, px), "width in pixels")
    )
    ws = App(Settings(models_dir=str(tmp_path), offline=True)).workspace("s")
    ws.set_image(_picture())
    ws.set_mask(np.pad(np.ones((10, 10), bool), ((10, 28), (10, 44))))
    ring = ws.add_refinement("outline", 2)
    assert ring.sum() == 100 - 36 and describe_chain(ws.refinements) == "outline 2"


def test_select_composes_prompts_strokes_and_refinements_in_one_undo_step(tmp_path):
    from inpaint_anything.app import App
    from inpaint_anything.config import Settings

    ws = App(Settings(models_dir=str(tmp_path), offline=True)).workspace("s")
    img = _picture()
    ws.set_image(img)
    ws.add_refinement("grow", 1)
    before = ws.mask.copy()
    sel = check_selection([], [14, 10, 46, 38], STROKES, image_size=(64, 48))
    got = ws.select(sel, use_sam=False)
    from inpaint_anything.segment.grabcut import grabcut_mask

    raw = rasterize_strokes(sel.strokes, (64, 48), base=grabcut_mask(img, box=sel.sam_prompt()[2]))
    assert raw[20:30, 20:40].all() and raw[2, 8] and not raw[2, 5]  # the block, the line, the erased cut
    assert np.array_equal(got.mask, masks.grow(raw, 1)) and got.candidates is None and got.note == ""
    assert np.array_equal(ws.undo(), before)  # one step back: the state before the selection
    # scribbles without a segment map: ignored, and the note says so
    scribbled = ws.select(Selection(strokes=(check_stroke("scribble", 2.0, [[5.0, 5.0]]),)))
    assert not scribbled.mask.any() and "Segment everything" in scribbled.note


@pytest.mark.both_stacks
def test_put_selection_gives_the_mask_the_tab_would_get(client, models_app):  # noqa: F811
    img = _picture()
    sid = new_session(client, img)
    body = {"points": [[30.0, 24.0, 1]], "strokes": STROKES, "candidate": 1}
    r = client.put(f"{P}/sessions/{sid}/selection", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out["scores"]) == 3 and out["candidate"] == 1 and out["note"] == ""
    # the same selection through the editor's path on another session
    ws = models_app.workspace("tab")
    ws.set_image(img)
    ev = parse_event(_event(points=[[30.0, 24.0, 1]], strokes=STROKES))
    expected = ws.select(ev.selection(1)).mask
    assert np.array_equal(decode_png(out["mask"])[0] > 127, expected)
    assert out["selected_pixels"] == int(expected.sum())
    # refinements set through the API are re-applied to the next selection
    assert client.post(f"{P}/sessions/{sid}/mask/op", json={"op": "invert"}).status_code == 200
    grab = client.put(f"{P}/sessions/{sid}/selection", json={"box": [14, 10, 46, 38], "method": "grabcut"}).json()
    assert grab["masks"] == [] and grab["refinements"] == ""  # mask/op edits the mask once, it is no refinement
    bad = client.put(f"{P}/sessions/{sid}/selection", json={"points": [[500, 2, 1]]})
    assert bad.status_code == 422 and "outside the 64x48 image" in bad.json()["detail"]


@pytest.mark.both_stacks
def test_the_api_mask_op_enum_is_the_table(client):  # noqa: F811
    doc = client.get("/openapi.json").json()
    schema = doc["components"]["schemas"]["MaskOpBody"]["properties"]["op"]
    if "$ref" in schema or "allOf" in schema:
        ref = (schema.get("allOf") or [schema])[0]["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][ref]
    assert tuple(schema["enum"]) == tuple(MASK_OPS)
