"""Batch "Select by text": a manifest's ``text`` column (and ``POST /batch`` items, the CLI's
``--text*`` options made from TEXT_FIELDS) make each item's mask with a tiny random-weight detector
(OWL-ViT boxes -> GrabCut / SAM masks; CLIPSeg's mask); an item whose text finds nothing is skipped
with the reason while the others finish; a missing or unusable detector is one clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fixtures.tiny_detectors import build_detector
from fixtures.tiny_sam import TINY_SAM_ID
from PIL import Image

from inpaint_anything.__main__ import build_parser, main
from inpaint_anything.app import App
from inpaint_anything.batch import BatchOptions, load_manifest, run_batch
from inpaint_anything.cli_batch import text_flag
from inpaint_anything.config import Settings
from inpaint_anything.errors import InvalidInputError, OfflineError
from inpaint_anything.inpaint.cleaner import removal_request
from inpaint_anything.models.text_models import available_detectors
from inpaint_anything.outputs import read_infotext
from inpaint_anything.segment import text_detect
from inpaint_anything.segment.text_fields import TEXT_FIELDS


def _picture(seed: int) -> np.ndarray:
    img = np.random.default_rng(seed).integers(0, 60, (45, 67, 3), dtype=np.uint8)
    img[10:30, 20:50] = 220
    return img


@pytest.fixture
def app(tmp_path) -> App:
    app = App(Settings(models_dir=str(tmp_path / "models"), offline=True, sam_device="cpu"))
    build_detector(app.models_dir, "owlvit-base")
    return app


@pytest.fixture
def no_cats(monkeypatch):
    """The tiny detector runs, but its random boxes are moved onto the picture's bright rectangle (so
    that GrabCut has an object to cut) and it never sees a cat (score 0 for the phrase 'cat')."""
    real = text_detect.raw_output

    def raw_output(loaded, image, phrases):
        raw = real(loaded, image, phrases)
        if hasattr(raw, "boxes"):
            raw.boxes[:] = [0.52, 0.45, 0.5, 0.5]
        for i, phrase in enumerate(phrases):
            if phrase == "cat":
                raw.scores[:, i] = 0.0
        return raw

    monkeypatch.setattr(text_detect, "raw_output", raw_output)


@pytest.fixture
def manifest(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for n in range(3):
        Image.fromarray(_picture(n)).save(data / f"p{n}.png")
    path = tmp_path / "list.csv"
    path.write_text('image,text,prompt\ndata/p0.png,dog,\ndata/p1.png,cat,a tree\ndata/p2.png,"a dog, ball",\n')
    return path


def test_the_text_column_selects_and_an_item_that_finds_nothing_is_skipped(app, manifest, tmp_path, no_cats):
    items = load_manifest(manifest)
    assert [(i.name, i.text, i.prompt) for i in items] == [
        ("p0", "dog", None),
        ("p1", "cat", "a tree"),
        ("p2", "a dog, ball", None),
    ]
    opts = BatchOptions(
        op="remove",
        request=removal_request(),
        method="telea",
        segmenter="grabcut",
        text={"detector": "owlvit-base", "threshold": 0.01, "mode": "best"},
    )
    report = run_batch(app, items, opts, tmp_path / "out")
    assert [d["name"] for d in report.done] == ["p0", "p2"] and not report.failed, report.summary()
    assert report.skipped == [
        {
            "name": "p1",
            "reason": "OWL-ViT base found nothing for 'cat' at threshold 0.01; try a lower threshold or another detector.",
        }
    ]
    assert "skipped p1: OWL-ViT base found nothing for 'cat'" in report.summary()
    out = np.asarray(Image.open(tmp_path / "out" / "p0.png"))
    assert out.shape == (45, 67, 3) and not np.array_equal(out, _picture(0))  # something was removed
    info = read_infotext(tmp_path / "out" / "p2.png")
    assert 'Text selection: "a dog, ball"' in info or "Text selection: a dog, ball" in info, info
    assert "Text detector: owlvit-base" in info and "Text threshold: 0.01" in info and "Text matches: best" in info
    assert json.loads((tmp_path / "out" / "batch-report.json").read_text())["counts"] == {"done": 2, "skipped": 1, "failed": 0}


def test_one_text_for_every_item_with_sam_masks(tiny_sam_app, tmp_path):
    build_detector(tiny_sam_app.models_dir, "owlvit-base")
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(2):
        Image.fromarray(_picture(n)).save(folder / f"q{n}.png")
    from inpaint_anything.batch import collect_items

    opts = BatchOptions(
        op="remove",
        request=removal_request(),
        method="telea",
        sam_model=TINY_SAM_ID,
        text={"text": "dog", "threshold": 0.0, "mode": "best"},
    )
    report = run_batch(tiny_sam_app, collect_items(folder), opts, tmp_path / "out")
    assert [d["name"] for d in report.done] == ["q0", "q1"], report.summary()
    assert "Text selection: dog" in read_infotext(tmp_path / "out" / "q0.png")


@pytest.mark.skipif("clipseg" not in available_detectors(), reason="CLIPSeg needs transformers 4.22")
def test_clipseg_paints_the_mask_of_each_item(tmp_path):
    app = App(Settings(models_dir=str(tmp_path / "models"), offline=True, sam_device="cpu"))
    build_detector(app.models_dir, "clipseg")
    path = tmp_path / "m.json"
    Image.fromarray(_picture(5)).save(tmp_path / "s.png")
    path.write_text(json.dumps([{"image": "s.png", "text": "sky"}]))
    opts = BatchOptions(op="remove", request=removal_request(), method="telea", text={"detector": "clipseg", "threshold": 0.0})
    report = run_batch(app, load_manifest(path), opts, tmp_path / "out")
    assert [d["name"] for d in report.done] == ["s"], report.summary()
    assert "Text detector: clipseg" in read_infotext(tmp_path / "out" / "s.png")


def test_a_missing_or_unusable_detector_is_one_clear_error(tmp_path, manifest):
    bare = App(Settings(models_dir=str(tmp_path / "empty"), offline=True, sam_device="cpu"))
    opts = BatchOptions(op="remove", request=removal_request(), method="telea")
    with pytest.raises(OfflineError, match="python -m inpaint_anything download owlvit-base"):
        run_batch(bare, load_manifest(manifest), opts, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing started
    with pytest.raises(InvalidInputError, match="threshold must be between 0 and 1"):
        BatchOptions(op="remove", text={"threshold": 3}).validated()
    missing = [d for d in ("grounding-dino-tiny", "owlv2-base") if d not in available_detectors()]
    for detector in missing:  # the A1111 stack's transformers 4.30 has no Grounding DINO
        with pytest.raises(InvalidInputError, match="needs transformers .* Choose another text detector"):
            BatchOptions(op="remove", text={"detector": detector}).validated()


def test_cli_text_options_are_made_from_the_table(app, manifest, tmp_path, capsys, no_cats):
    parser = build_parser()
    batch_p = next(a for a in parser._subparsers._group_actions[0].choices.values() if a.prog.endswith("batch"))
    flags = {o for a in batch_p._actions for o in a.option_strings}
    assert {text_flag(f.name) for f in TEXT_FIELDS} <= flags
    detector = next(a for a in batch_p._actions if "--text-detector" in a.option_strings)
    assert tuple(detector.choices) == next(f.choices for f in TEXT_FIELDS if f.name == "detector")

    out = tmp_path / "cli"
    code = main(
        [
            "batch",
            "--manifest",
            str(manifest),
            "--op",
            "remove",
            "--method",
            "telea",
            "--segmenter",
            "grabcut",
            "--text-threshold",
            "0.01",
            "--text-mode",
            "best",
            "--output",
            str(out),
            "--no-progress",
            "--ia-models-dir",
            str(app.models_dir),
            "--ia-offline",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed  # a skipped item is not a failure
    assert "remove: 2 done, 1 skipped, 0 failed" in printed and "skipped p1: OWL-ViT base found nothing" in printed
    code = main(
        [
            "batch",
            "--manifest",
            str(manifest),
            "--op",
            "remove",
            "--output",
            str(tmp_path / "x"),
            "--no-progress",
            "--ia-models-dir",
            str(tmp_path / "none"),
            "--ia-offline",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "python -m inpaint_anything download owlvit-base" in err


@pytest.mark.both_stacks
def test_api_batch_items_with_text(app, no_cats):
    from test_api import P, b64png, build_client

    c = build_client(app)
    items = [
        {"name": "a", "image": b64png(_picture(0)), "text": "dog"},
        {"name": "b", "image": b64png(_picture(1)), "text": "cat"},
    ]
    body = {
        "op": "remove",
        "method": "telea",
        "segmenter": "grabcut",
        "items": items,
        "text_options": {"threshold": 0.01, "mode": "best"},
    }
    r = c.post(f"{P}/batch", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert [(i["name"], i["status"]) for i in out["items"]] == [("a", "done"), ("b", "skipped")]
    assert "found nothing for 'cat'" in out["items"][1]["reason"] and out["counts"]["skipped"] == 1
    assert "Text selection: dog" in out["items"][0]["infotexts"][0]
    bad = c.post(f"{P}/batch", json={**body, "text_options": {"threshold": 2}})
    assert bad.status_code == 422 and "threshold must be between 0 and 1" in bad.json()["detail"]
