"""Batch mode: folders with masks, manifests (JSON with points, CSV), segment everything, resuming,
bad files reported and skipped, the CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from inpaint_anything.__main__ import main
from inpaint_anything.app import App
from inpaint_anything.batch import REPORT_NAME, BatchOptions, KeepRule, collect_items, load_manifest, run_batch
from inpaint_anything.config import Settings
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.inpaint.cleaner import removal_request
from inpaint_anything.jobs import JobControl
from inpaint_anything.outputs import read_infotext


def scene(h: int = 48, w: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 4, yy * 5, np.full_like(xx, 80)], -1).clip(0, 255).astype(np.uint8)
    img = np.clip(img + rng.integers(0, 6, img.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((h, w), bool)
    mask[12:28, 16:36] = True
    img[mask] = (230, 20, 20)
    return img, mask


def save(arr: np.ndarray, path) -> None:
    arr = arr.astype(np.uint8) * 255 if arr.dtype == np.bool_ else arr
    Image.fromarray(arr).save(path)


@pytest.fixture
def app(tmp_path) -> App:
    return App(Settings(models_dir=str(tmp_path / "models"), offline=True, sam_device="cpu"))


@pytest.fixture
def folder(tmp_path):
    """4 images: a (mask a_mask.png), b (mask b.png), c (corrupt), d (no mask)."""
    images, masks = tmp_path / "in", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i, stem in enumerate("abcd"):
        img, mask = scene(seed=i)
        save(img, images / f"{stem}.png")
        if stem in "ac":
            save(mask, masks / f"{stem}_mask.png")
        elif stem == "b":
            save(mask, masks / f"{stem}.png")
    (images / "c.png").write_bytes((images / "c.png").read_bytes()[:120])  # truncated
    return images, masks


def remove_options() -> BatchOptions:
    return BatchOptions(op="remove", request=removal_request(), method="telea")


def test_folder_with_a_corrupt_file_and_a_missing_mask(app, folder, tmp_path):
    images, masks = folder
    out = tmp_path / "out"
    items = collect_items(images, masks)
    assert [i.name for i in items] == ["a", "b", "c", "d"]
    seen = []
    report = run_batch(app, items, remove_options(), out, on_item=lambda i, n, name, status: seen.append((name, status)))
    assert [d["name"] for d in report.done] == ["a", "b"]
    failed = {f["name"]: f["reason"] for f in report.failed}
    assert set(failed) == {"c", "d"}
    assert "damaged or incomplete" in failed["c"] and "no mask found" in failed["d"]
    assert seen == [("a", "done"), ("b", "done"), ("c", "failed"), ("d", "failed")]
    for stem in "ab":
        result = np.asarray(Image.open(out / f"{stem}.png"))
        original, mask = scene(seed="ab".index(stem))
        assert result.shape == original.shape
        assert result[mask].mean(axis=0)[0] < 200  # the red patch is removed
        assert np.array_equal(result[40:, 50:], original[40:, 50:])  # far pixels untouched
        assert 'Inpaint backend: "cleaner:telea"' in read_infotext(out / f"{stem}.png")
    saved = json.loads((out / REPORT_NAME).read_text())
    assert saved["counts"] == {"done": 2, "skipped": 0, "failed": 2}
    assert "2 done, 0 skipped, 2 failed" in report.summary() and "damaged" in report.summary()
    assert (images / "c.png").stat().st_size == 120  # inputs untouched

    # resuming: finished outputs are skipped (and not rewritten), failures are tried again
    stamp = (out / "a.png").stat().st_mtime_ns
    again = run_batch(app, collect_items(images, masks), remove_options(), out)
    assert [s["name"] for s in again.skipped] == ["a", "b"] and {f["name"] for f in again.failed} == {"c", "d"}
    assert (out / "a.png").stat().st_mtime_ns == stamp
    redo = run_batch(app, collect_items(images, masks), remove_options(), out, overwrite=True)
    assert [d["name"] for d in redo.done] == ["a", "b"]


def test_inputs_are_never_overwritten(app, folder):
    images, masks = folder
    with pytest.raises(InvalidInputError, match="holds input files"):
        run_batch(app, collect_items(images, masks), remove_options(), images)
    with pytest.raises(InvalidInputError, match="holds input files"):
        run_batch(app, collect_items(images, masks), remove_options(), masks)


def test_masks_in_the_same_folder_and_file_lists(app, tmp_path):
    both = tmp_path / "both"
    both.mkdir()
    img, mask = scene()
    save(img, both / "x.png")
    save(mask, both / "x_mask.png")
    items = collect_items(both, both)
    assert [(i.name, i.mask.name) for i in items] == [("x", "x_mask.png")]
    listing = tmp_path / "list.txt"
    listing.write_text("# images\nboth/x.png\n\n")
    assert [i.image for i in collect_items(listing)] == [tmp_path / "both" / "x.png"]


def test_interrupt_skips_the_rest(app, folder, tmp_path):
    images, masks = folder
    job = JobControl()
    job.interrupt()
    report = run_batch(app, collect_items(images, masks), remove_options(), tmp_path / "out", job=job)
    assert report.interrupted and not report.done and len(report.skipped) == 4


def test_json_manifest_with_points_uses_sam(tmp_path, tiny_sam_files):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(tiny_sam_files["sam"], models / "tiny.pth")
    app = App(Settings(models_dir=str(models), offline=True, sam_device="cpu", default_sam_model="file:tiny.pth"))
    data = tmp_path / "data"
    data.mkdir()
    for stem in ("p", "q"):
        save(scene()[0], data / f"{stem}.png")
    manifest = tmp_path / "job.json"
    manifest.write_text(
        json.dumps(
            {
                "items": [
                    {"image": "data/p.png", "points": [[25, 20]], "labels": [1]},
                    {"image": "data/q.png", "box": [10, 8, 40, 32], "name": "boxed"},
                    {"image": "data/missing.png", "points": [[5, 5]]},
                    {"mask": "nothing.png"},
                ]
            }
        )
    )
    items = load_manifest(manifest)
    assert [i.name for i in items] == ["p", "boxed", "missing", "row-4"]
    report = run_batch(app, items, remove_options(), tmp_path / "out")
    assert [d["name"] for d in report.done] == ["p", "boxed"]
    reasons = {f["name"]: f["reason"] for f in report.failed}
    assert "file not found" in reasons["missing"] and "has no 'image'" in reasons["row-4"]
    # segment everything + keep the largest segment (no mask, no prompts)
    opts = BatchOptions(
        op="remove",
        request=removal_request(),
        everything={"points_per_side": 2, "pred_iou_thresh": 0.0, "stability_thresh": 0.0, "min_area_frac": 0.0},
        keep=KeepRule(largest=1),
    )
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps([{"image": "data/q.png"}]))
    report = run_batch(app, load_manifest(plain), opts, tmp_path / "out3")
    assert len(report.done) == 1, report.failed


def test_csv_manifest_with_grabcut_and_prompt_per_row(app, tmp_path):
    img, mask = scene()
    save(img, tmp_path / "one.png")
    save(img, tmp_path / "two.png")
    save(mask, tmp_path / "two_m.png")
    (tmp_path / "list.csv").write_text(
        "image,mask,points,labels,box,prompt\n"
        'one.png,,"25,20; 2,2","1;0","14 10 38 30",a red square\n'
        "two.png,two_m.png,,,,\n"
        'one.png,,"1,2,3",,,\n'
    )
    items = load_manifest(tmp_path / "list.csv")
    assert items[0].points == [[25.0, 20.0], [2.0, 2.0]] and items[0].labels == [1, 0]
    assert items[0].box == [14.0, 10.0, 38.0, 30.0] and items[0].prompt == "a red square"
    assert [i.name for i in items] == ["one_png", "two", "one_png-2"]  # the same file twice: distinct outputs
    assert "pairs of numbers" in items[2].problem
    opts = BatchOptions(op="remove", request=removal_request(), segmenter="grabcut")
    report = run_batch(app, items, opts, tmp_path / "out")
    assert len(report.done) == 2 and len(report.failed) == 1


def test_outpaint_batch(app, folder, tmp_path):
    images, _ = folder
    backend = app.backend("cleaner", "telea")
    opts = BatchOptions(op="outpaint", expansion={"mode": "pixels", "left": 16, "down": 8}, prefill="edge")
    items = [i for i in collect_items(images) if i.name != "c"]
    report = run_batch(app, items, opts, tmp_path / "out", backend=backend)
    assert len(report.done) == 3
    assert np.asarray(Image.open(tmp_path / "out" / "a.png")).shape == (56, 80, 3)


def test_cli_batch(folder, tmp_path, capsys):
    images, masks = folder
    out = tmp_path / "cli-out"
    code = main(
        [
            "batch",
            "--input",
            str(images),
            "--masks",
            str(masks),
            "--op",
            "remove",
            "--output",
            str(out),
            "--no-progress",
            "--ia-models-dir",
            str(tmp_path / "m"),
            "--ia-offline",
        ]
    )
    captured = capsys.readouterr().out
    assert code == 3  # some items failed
    assert "remove: 2 done, 0 skipped, 2 failed" in captured and "no mask found" in captured
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", REPORT_NAME]
    code = main(
        [
            "--ia-offline",
            "batch",
            "--input",
            str(images),
            "--masks",
            str(masks),
            "--op",
            "remove",
            "--output",
            str(out),
            "--no-progress",
        ]
    )
    assert "0 done, 2 skipped, 2 failed" in capsys.readouterr().out
    assert main(["batch", "--output", str(out)]) == 2  # neither --input nor --manifest


def test_engine_ray_without_ray_says_how_to_install_it(folder, tmp_path, capsys, monkeypatch):
    """Ray is optional: --engine ray where it is not installed names the pip command; nothing is written."""
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    images, masks = folder
    code = main(
        [
            "batch",
            "--input",
            str(images),
            "--masks",
            str(masks),
            "--op",
            "remove",
            "--output",
            str(tmp_path / "out"),
            "--engine",
            "ray",
            "--no-progress",
            "--ia-models-dir",
            str(tmp_path / "m"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and 'pip install "ray[default]==' in err and "requirements/ray.txt" in err
    assert not (tmp_path / "out").exists()


def test_writes_are_atomic(tmp_path, monkeypatch):
    """An output appears under its name only complete: a failed write leaves neither it nor a temp file."""
    from inpaint_anything import batch, batch_outputs

    img = scene()[0]
    batch.write_outputs([(img, "a"), (img, "b")], [tmp_path / "x-0.png", tmp_path / "x-1.png"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x-0.png", "x-1.png"]
    assert read_infotext(tmp_path / "x-1.png") == "b"
    calls = []

    def flaky(image, path, text):
        calls.append(path)
        if len(calls) == 2:
            path.write_bytes(b"half a png")
            raise OSError("disk full")
        original(image, path, text)

    original = batch_outputs._encode_png
    monkeypatch.setattr(batch_outputs, "_encode_png", flaky)
    with pytest.raises(OSError, match="disk full"):
        batch.write_outputs([(img, "c"), (img, "d")], [tmp_path / "y-0.png", tmp_path / "y-1.png"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x-0.png", "x-1.png"]  # nothing under y-*, no temp
    assert all(p.parent == tmp_path and p.name.startswith(".y-") and p.name.endswith(".tmp") for p in calls)


def test_wrong_mask_size_is_reported_per_file(app, tmp_path):
    images, masks = tmp_path / "i", tmp_path / "m"
    images.mkdir()
    masks.mkdir()
    img, mask = scene()
    save(img, images / "ok.png")
    save(mask, masks / "ok.png")
    save(img, images / "big.png")
    save(mask[:20, :20], masks / "big_mask.png")
    report = run_batch(app, collect_items(images, masks), remove_options(), tmp_path / "out")
    assert [d["name"] for d in report.done] == ["ok"]
    assert report.failed == [
        {"name": "big", "reason": "The mask big_mask.png is 20x20 pixels but the image is 64x48; they must have the same size."}
    ]
