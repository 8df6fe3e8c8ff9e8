"""Select by text: tiny random detectors built here and loaded through our offline loader, the
coordinate path from a detector's unit boxes to SAM box prompts (odd sizes, EXIF-rotated photos),
the workspace (one undo step, refinements, infotext), the API and the detectors each stack offers."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fixtures.tiny_detectors import build_detector
from fixtures.tiny_sam import TINY_SAM_ID

from inpaint_anything.errors import InvalidInputError, ModelNotFoundError, OfflineError
from inpaint_anything.models.text_models import DETECTORS, available_detectors, load_detector
from inpaint_anything.segment import text_detect
from inpaint_anything.segment.text_detect import RawBoxes, RawMaps, detections, unit_to_pixels
from inpaint_anything.segment.text_fields import check_text_query, split_phrases
from inpaint_anything.text_selection import select_by_text


def _query(**kw):
    return check_text_query({"text": "dog", "detector": "owlvit-base", "threshold": 0.3, "mode": "all", **kw})


def _picture(w: int = 67, h: int = 45, seed: int = 3) -> np.ndarray:
    img = np.random.default_rng(seed).integers(0, 60, (h, w, 3), dtype=np.uint8)
    img[10:30, 20:50] = 220
    return img


# ---------------------------------------------------------------------------------------------- the query
def test_the_query_is_checked_in_words_a_person_reads():
    q = check_text_query({"text": "  A Dog,  the ball. a  dog ", "detector": "OWL-ViT base", "mode": "Best match"})
    assert q.phrases == ("a dog", "the ball") and q.detector == "owlvit-base" and q.mode == "best"
    assert q.threshold == 0.3 and split_phrases("sky;\ngrass") == ("sky", "grass")
    with pytest.raises(InvalidInputError, match="Type what to select"):
        check_text_query({"text": " , . "})
    with pytest.raises(InvalidInputError, match="threshold must be between 0 and 1"):
        _query(threshold=1.5)
    with pytest.raises(InvalidInputError, match="Unknown text detector 'yolo'"):
        _query(detector="yolo")
    assert _query().infotext() == ", Text selection: dog, Text detector: owlvit-base, Text threshold: 0.3, Text matches: all"


# ---------------------------------------------------------------------------------------------- coordinates
def test_unit_boxes_become_image_pixels_for_odd_sizes_and_owlv2s_padded_square():
    unit = np.array([[0.5, 0.5, 1.0, 1.0], [0.25, 0.2, 0.1, 0.2]])
    got = unit_to_pixels(unit, (67, 45), (67, 45))
    assert np.allclose(got[1], [13.4, 4.5, 20.1, 13.5]) and np.allclose(got[0], [0, 0, 66, 44])  # clipped
    # OWLv2: the frame is the padded square (67 x 67); a box in its lower half is off the picture's bottom
    sq = unit_to_pixels(np.array([[0.5, 0.25, 0.2, 0.3]]), (67, 67), (67, 45))
    assert np.allclose(sq[0], [26.8, 6.7, 40.2, 26.8])


def test_threshold_nms_best_and_labels():
    raw = RawBoxes(
        np.array([[0.3, 0.3, 0.2, 0.2], [0.31, 0.3, 0.2, 0.2], [0.7, 0.7, 0.2, 0.2], [0.5, 0.5, 0.1, 0.1]]),
        np.array([[0.41, 0.0], [0.40, 0.0], [0.0, 0.37], [0.1, 0.2]]),
        (100, 60),
    )
    found = detections(raw, _query(text="dog, ball"), (100, 60))
    assert [(d.label, round(d.score, 2)) for d in found.detections] == [("dog", 0.41), ("ball", 0.37)]  # NMS, threshold
    assert found.describe() == "1 × 'dog' (0.41); 1 × 'ball' (0.37)"
    best = detections(raw, _query(text="dog, ball", mode="best"), (100, 60))
    assert [d.label for d in best.detections] == ["dog"]
    assert detections(raw, _query(text="dog, ball", threshold=0.9), (100, 60)).describe() == "Nothing found for 'dog', 'ball'."


def test_clipseg_regions_are_the_mask():
    probs = np.zeros((1, 40, 50))
    probs[0, 5:15, 5:20] = 0.9
    probs[0, 25:35, 30:45] = 0.6
    found = detections(RawMaps(probs), _query(text="sky", detector="clipseg", threshold=0.5), (50, 40))
    assert [d.box for d in found.detections] == [(5.0, 5.0, 19.0, 14.0), (30.0, 25.0, 44.0, 34.0)]
    assert found.mask.sum() == 150 + 150
    best = detections(RawMaps(probs), _query(text="sky", detector="clipseg", threshold=0.5, mode="best"), (50, 40))
    assert best.mask.sum() == 150 and best.mask[10, 10]


def _install(app, detector_id="owlvit-base"):
    build_detector(app.models_dir, detector_id)


def test_boxes_reach_sam_as_box_prompts_in_image_pixels_also_for_exif_rotated_photos(tiny_sam_app, monkeypatch):
    from PIL import Image

    _install(tiny_sam_app)
    # a 67 x 45 picture stored as 45 x 67 with EXIF orientation 6 (rotate 90° clockwise to show)
    shown = _picture()
    stored = Image.fromarray(np.rot90(shown, 1).copy())  # PIL's exif_transpose(6) turns it back
    exif = stored.getexif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    stored.save(buf, "JPEG", exif=exif, quality=100)
    ws = tiny_sam_app.workspace("exif")
    from inpaint_anything.imaging import decode_image

    ws.set_image(decode_image(buf.getvalue())[0])  # as an upload is read (API, batch)
    assert ws.size == (67, 45)

    unit = np.array([[0.5, 0.4, 0.4, 0.4], [0.2, 0.7, 0.2, 0.2]])
    monkeypatch.setattr(
        text_detect,
        "raw_output",
        lambda loaded, image, phrases: RawBoxes(unit, np.array([[0.9], [0.5]]), (image.shape[1], image.shape[0])),
    )
    seen = []
    real = type(ws).prompt

    def spy(self, points=(), box=None, **kw):
        if box is not None:
            seen.append(tuple(box))
        return real(self, points, box, **kw)

    monkeypatch.setattr(type(ws), "prompt", spy)
    got = select_by_text(ws, _query(), model_id=TINY_SAM_ID)
    expected = unit_to_pixels(unit, (67, 45), (67, 45))
    assert np.allclose(seen, expected) and np.allclose(seen[0], [20.1, 9.0, 46.9, 27.0])
    assert got.method == "sam" and got.found.describe() == "2 × 'dog' (0.90, 0.50)"
    assert ws.points == [] and ws.box is None  # the prompts do not linger for the next click


def test_end_to_end_with_a_tiny_random_detector_one_undo_step_refinements_and_infotext(tiny_sam_app, monkeypatch):
    _install(tiny_sam_app)
    ws = tiny_sam_app.workspace("e2e")
    ws.set_image(_picture())
    ws.add_refinement("grow", 1)
    before = ws.mask.copy()
    got = select_by_text(ws, _query(threshold=0.0, mode="best"), model_id=TINY_SAM_ID)
    assert len(got.found.detections) == 1 and got.method == "sam"  # random weights: threshold 0 keeps the best box
    box = got.found.detections[0].box
    assert 0 <= box[0] <= box[2] <= 66 and 0 <= box[1] <= box[3] <= 44
    from inpaint_anything import masks

    assert np.array_equal(got.mask, masks.grow(ws.text_mask, 1))  # refinements re-applied
    assert np.array_equal(ws.undo(), before)  # one undo step
    # the text selection stays part of later selections until cleared
    from inpaint_anything.selection import Selection

    assert np.array_equal(ws.select(Selection()).mask, masks.grow(ws.text_mask, 1))
    ws.clear_text()
    assert not ws.select(Selection()).mask.any()


def test_without_sam_grabcut_makes_the_masks(tmp_path, monkeypatch):
    from inpaint_anything.app import App
    from inpaint_anything.config import Settings

    app = App(Settings(models_dir=str(tmp_path / "m"), offline=True, sam_device="cpu", default_sam_model="sam_vit_b"))
    _install(app)
    monkeypatch.setattr(
        text_detect,
        "raw_output",
        lambda loaded, image, phrases: RawBoxes(
            np.array([[0.52, 0.45, 0.5, 0.5]]), np.array([[0.8]]), (image.shape[1], image.shape[0])
        ),
    )
    ws = app.workspace("g")
    ws.set_image(_picture())
    got = select_by_text(ws, _query())
    assert got.method == "grabcut" and "no SAM model could be used" in got.note
    assert got.mask[20, 35] and not got.mask[2, 2]


def test_a_missing_detector_says_how_to_get_it(tiny_sam_app, tmp_path, monkeypatch):
    from inpaint_anything.app import App
    from inpaint_anything.config import Settings

    ws = tiny_sam_app.workspace("missing")
    ws.set_image(_picture())
    with pytest.raises(OfflineError, match="python -m inpaint_anything download owlvit-base"):
        select_by_text(ws, _query())
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    online = App(Settings(models_dir=str(tmp_path / "o"), offline=False, sam_device="cpu"))
    with pytest.raises(ModelNotFoundError, match="huggingface.co/google/owlvit-base-patch32/tree/cbc355f"):
        online.text_detector("owlvit-base")


def test_the_download_asks_for_each_catalogued_file_at_the_pinned_revision(tmp_path, monkeypatch):
    from inpaint_anything.models import download
    from inpaint_anything.models.text_models import detector_folder, download_detector

    asked = []

    def fake(entry, folder, **kw):
        asked.append((entry.sources[0].repo_id, entry.sources[0].filename, entry.sources[0].revision, folder))
        return folder / entry.filename

    monkeypatch.setattr(download, "ensure_model", fake)
    download_detector(tmp_path, "clipseg")
    det = DETECTORS["clipseg"]
    assert asked == [(det.repo, f, det.revision, detector_folder(tmp_path, "clipseg")) for f in det.files]
    assert all(len(d.revision) == 40 for d in DETECTORS.values() if d.id != "grounding-dino-base")


# ---------------------------------------------------------------------------------------------- both stacks
@pytest.mark.both_stacks
def test_the_selector_offers_exactly_the_detectors_that_import_here(tmp_path):
    import importlib

    import transformers

    def imports(det) -> bool:
        try:
            return hasattr(importlib.import_module(f"transformers.models.{det.module}"), det.model_class)
        except ImportError:
            return False

    expected = [d for d, det in DETECTORS.items() if imports(det)]
    assert available_detectors() == expected
    new = tuple(int(p) for p in transformers.__version__.split(".")[:2]) >= (4, 40)
    assert ("grounding-dino-tiny" in expected) == new and "owlvit-base" in expected and "clipseg" in expected

    from inpaint_anything.app import App
    from inpaint_anything.config import Settings
    from inpaint_anything.ui.text_controls import detector_choices

    choices, value = detector_choices(App(Settings(models_dir=str(tmp_path), offline=True)))
    assert choices == [DETECTORS[d].label for d in expected] and value == choices[0]


@pytest.mark.both_stacks
@pytest.mark.parametrize("detector_id", ["owlvit-base", "clipseg", "owlv2-base", "grounding-dino-tiny"])
def test_each_tiny_detector_loads_offline_and_runs(tmp_path, detector_id):
    if detector_id not in available_detectors():
        pytest.skip(f"{detector_id} needs a newer transformers than this stack's")
    folder = build_detector(tmp_path, detector_id)
    loaded = load_detector(folder, detector_id)
    q = _query(text="dog, a cat", detector=detector_id, threshold=0.0)
    found = text_detect.find(loaded, _picture(53, 37), q)
    assert found.detections and {d.label for d in found.detections} <= {"dog", "a cat"}
    for d in found.detections:
        assert 0 <= d.box[0] <= d.box[2] <= 52 and 0 <= d.box[1] <= d.box[3] <= 36 and 0 <= d.score <= 1
    assert (found.mask is not None) == (detector_id == "clipseg")


@pytest.mark.both_stacks
def test_api_session_and_stateless_text(tiny_sam_app):
    from test_api import P, b64png, build_client, decode_png, new_session

    _install(tiny_sam_app)
    c = build_client(tiny_sam_app)
    img = _picture()
    sid = new_session(c, img)
    body = {"text": "dog", "detector": "owlvit-base", "threshold": 0.0, "mode": "best", "model": TINY_SAM_ID}
    r = c.post(f"{P}/sessions/{sid}/text", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["query"] == {"text": "dog", "detector": "owlvit-base", "threshold": 0.0, "mode": "best"}
    assert len(out["boxes"]) == len(out["scores"]) == len(out["labels"]) == 1 and out["method"] == "sam"
    from inpaint_anything.api.context import WORKSPACE_PREFIX

    assert np.array_equal(decode_png(out["mask"])[0] > 127, tiny_sam_app.workspace(WORKSPACE_PREFIX + sid).mask)
    r2 = c.post(f"{P}/segment/text", json={**body, "image": b64png(img)})
    assert r2.status_code == 200, r2.text
    assert r2.json()["boxes"] == out["boxes"]
    bad = c.post(f"{P}/segment/text", json={**body, "image": b64png(img), "threshold": 2})
    assert bad.status_code == 422 and "threshold must be between 0 and 1" in bad.json()["detail"]
    listed = c.get(f"{P}/models/text").json()["detectors"]
    assert [d["id"] for d in listed if d["downloaded"]] == ["owlvit-base"]
    assert [d["id"] for d in listed if d["available"]] == available_detectors()
    assert c.delete(f"{P}/sessions/{sid}/text").json() == {"cleared": True}


def test_the_text_routes_document_their_error_statuses(tiny_sam_app):
    from test_api import build_client

    spec = build_client(tiny_sam_app).get("/openapi.json").json()["paths"]
    for path, method, statuses in (
        ("/sessions/{session_id}/text", "post", {404, 409, 410, 422, 501}),
        ("/sessions/{session_id}/text", "delete", {404, 410}),
        ("/segment/text", "post", {404, 409, 422, 501}),
        ("/models/text", "get", {400}),
        ("/models/text/{detector_id}/download", "post", {404, 409, 502}),
    ):
        documented = {int(s) for s in spec["/inpaint-anything/v1" + path][method]["responses"]}
        assert statuses <= documented, (path, method, sorted(documented))
