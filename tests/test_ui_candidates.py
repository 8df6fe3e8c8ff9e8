"""Candidate-mask thumbnails (after a single click) and the SAM dropdown's labels and refresh after a
download (issue #7)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil

import numpy as np
import pytest
from fixtures.fake_hub import FakeHub

from inpaint_anything.app import App
from inpaint_anything.config import Settings
from inpaint_anything.ui import candidates


@pytest.fixture
def app(tmp_path, tiny_sam_files):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(tiny_sam_files["sam"], models / "tiny_sam.pth")
    return App(
        Settings(
            models_dir=str(models),
            output_dir=str(tmp_path / "out"),
            sam_device="cpu",
            offline=True,
            default_sam_model="file:tiny_sam.pth",
        )
    )


def event(kind, size, points=(), box=None, seq=1):
    return json.dumps(
        {
            "version": 1,
            "kind": kind,
            "image_size": list(size),
            "points": [list(p) for p in points],
            "box": box,
            "strokes": [],
            "seq": seq,
        }
    )


# ---------------------------------------------------------------- thumbnails


def test_overlay_tints_the_candidate_dims_the_rest_and_outlines_it():
    image = np.full((300, 200, 3), 200, np.uint8)
    mask = np.zeros((300, 200), bool)
    mask[60:240, 40:160] = True
    thumb = candidates.overlay(image, mask, side=100)
    assert thumb.shape == (100, 67, 3) and thumb.dtype == np.uint8  # longest side 100, aspect kept
    inside = thumb[50, 33].astype(int)
    expected = np.round(200 * 0.45 + np.array(candidates.MASK_RGB) * 0.55).astype(int)
    assert np.abs(inside - expected).max() <= 1
    assert np.abs(thumb[2, 2].astype(int) - 90).max() <= 1  # outside: dimmed to 45 %
    ys, xs = np.nonzero((thumb != 90).any(axis=2))  # the candidate: a rectangle, about 60x40 here
    y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
    assert abs((y1 - y0 + 1) - 60) <= 1 and abs((x1 - x0 + 1) - 40) <= 1
    white = (thumb == 255).all(axis=2)
    border = np.zeros_like(white)
    border[y0 : y1 + 1, x0 : x1 + 1] = True
    border[y0 + 1 : y1, x0 + 1 : x1] = False
    assert np.array_equal(white, border)  # outlined in white, nothing else is


def test_small_pictures_are_not_enlarged():
    assert candidates.thumbnail_size(64, 32) == (64, 32)
    assert candidates.thumbnail_size(4000, 10) == (160, 1)


def test_thumbnails_have_captions_with_scores_and_mark_the_active_one():
    image = np.zeros((40, 40, 3), np.uint8)
    masks = [np.eye(40, dtype=bool)] * 3
    out = candidates.thumbnails(image, masks, [0.91, 0.5, 0.123], active=1)
    assert [c for _, c in out] == ["1: 0.91", "\u2713 2: 0.50", "3: 0.12"]
    assert all(t.shape == (40, 40, 3) for t, _ in out)


def test_a_click_lists_every_candidate_and_picking_one_moves_the_mark(app, astronaut):
    from inpaint_anything.ui.handlers import Controller, SessionKey

    ctl = Controller(app)
    key = SessionKey()
    ctl.set_image(key, astronaut)
    args = (key, "file:tiny_sam.pth", "Segment Anything", True)
    layer, gallery, _ = ctl.canvas_event(event("click", (512, 512), [(250, 250, 1)]), *args)
    ws = ctl.ws(key)
    assert len(gallery) == len(ws.candidates) == 3
    assert gallery[0][1].startswith(candidates.ACTIVE_MARK)
    assert np.array_equal(gallery[2][0], candidates.overlay(astronaut, ws.candidates.masks[2]))
    assert f"{float(ws.candidates.scores[2]):.2f}" in gallery[2][1]
    layer, gallery, _ = ctl.pick_candidate(key, 2, *args[1:])
    assert np.array_equal(layer > 0, ws.candidates.masks[2]) and np.array_equal(ws.mask, ws.candidates.masks[2])
    assert [c.startswith(candidates.ACTIVE_MARK) for _, c in gallery] == [False, False, True]
    # a box gives one mask: nothing to choose, no thumbnails
    _, gallery, _ = ctl.canvas_event(event("box", (512, 512), box=[100, 100, 400, 400], seq=2), *args)
    assert gallery is None


# ---------------------------------------------------------------- SAM dropdown labels and refresh

DATA = b"\x00checkpoint bytes\xff" * 3000
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def served_mobile_sam(monkeypatch, app):
    """MobileSAM's catalogue entry served by a local fake server (its size and SHA-256 are the test
    file's), and the app allowed to download."""
    from inpaint_anything.models import catalogue

    with FakeHub() as hub:
        url = hub.add_file("mobile_sam.pt", DATA)
        entry = dataclasses.replace(
            catalogue.get_entry("mobile_sam"), size_bytes=len(DATA), sha256=SHA, sources=(catalogue.Source.https(url),)
        )
        monkeypatch.setattr(catalogue, "CATALOGUE", tuple(entry if e.id == entry.id else e for e in catalogue.CATALOGUE))
        monkeypatch.setitem(catalogue._BY_ID, entry.id, entry)
        monkeypatch.setattr(app.settings, "offline", False)
        yield hub, entry


def _label(ctl, model_id):
    return next(label for label, v in ctl.sam_choices() if v == model_id)


def _update_value(update):
    return update["value"] if isinstance(update, dict) else update.value


@pytest.mark.both_stacks
def test_download_refreshes_the_label_and_keeps_the_selection(app, served_mobile_sam):
    from inpaint_anything.ui import compat
    from inpaint_anything.ui.handlers import Controller

    hub, entry = served_mobile_sam
    ctl = Controller(app)
    before = _label(ctl, "mobile_sam")
    assert before == "MobileSAM \u00b7 not downloaded \u00b7 54 KB"
    assert "\u00b7 local file \u00b7" in _label(ctl, "file:tiny_sam.pth")
    seen = []
    chosen = compat.choice_value("mobile_sam", ctl.sam_choices())  # what the dropdown sends (label in gradio 3)
    update, selector, hint, status = ctl.download_sam(chosen, "GrabCut (no model)", lambda f, desc="": seen.append(f))
    assert "Ready: mobile_sam.pt" in status and hub.count("GET") == 1 and seen and seen[-1] == 1.0
    assert selector == "Segment Anything" and hint == ""  # a model is here now: select with it
    after = _label(ctl, "mobile_sam")
    assert after == "MobileSAM \u00b7 verified \u00b7 54 KB"
    pairs = ctl.sam_choices()
    assert _update_value(update) == compat.choice_value("mobile_sam", pairs)  # still the model just downloaded
    choices = update["choices"]
    assert compat.choice_value("mobile_sam", pairs) in [c[1] if isinstance(c, (list, tuple)) else c for c in choices]
    assert any(after in (c[0] if isinstance(c, (list, tuple)) else c) for c in choices)
    assert ctl.sam_id(chosen) == ctl.sam_id(after) == "mobile_sam"  # old and new labels both still map to the id


def test_failed_download_still_refreshes_and_keeps_the_selection(app, served_mobile_sam):
    from inpaint_anything.ui import compat
    from inpaint_anything.ui.handlers import Controller

    hub, entry = served_mobile_sam
    hub.files["/files/mobile_sam.pt"].status = 404
    ctl = Controller(app)
    update, selector, _, status = ctl.download_sam("mobile_sam", "GrabCut (no model)", None)
    assert "ia-error" in status and "Could not download" in status
    assert selector == "GrabCut (no model)" and ctl.contact_failed and ctl.offline()  # messages now say "offline"
    assert _update_value(update) == compat.choice_value("mobile_sam", ctl.sam_choices())
    assert "\u00b7 not downloaded \u00b7" in _label(ctl, "mobile_sam")


def test_labels_say_incomplete_and_unverified(app, served_mobile_sam):
    from inpaint_anything.models.download import SIDECAR_NAME
    from inpaint_anything.ui.handlers import Controller

    ctl = Controller(app)
    target = app.models_dir / "mobile_sam.pt"
    target.write_bytes(DATA[:100])
    assert _label(ctl, "mobile_sam") == "MobileSAM \u00b7 incomplete \u00b7 54 KB"
    target.write_bytes(DATA)  # the right size, never hashed: downloaded but not (yet) verified
    assert _label(ctl, "mobile_sam") == "MobileSAM \u00b7 downloaded \u00b7 54 KB"
    sidecar = app.models_dir / SIDECAR_NAME
    st = target.stat()
    sidecar.write_text(
        json.dumps(
            {"mobile_sam.pt": {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": "0" * 64, "verified_by": "computed"}}
        )
    )
    assert "\u00b7 downloaded \u00b7" in _label(ctl, "mobile_sam")  # a different hash is not "verified"
