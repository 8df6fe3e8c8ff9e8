"""The application core: model listing, per-session workspaces, prompts, mask editing, generation."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from inpaint_anything.app import App
from inpaint_anything.config import Settings
from inpaint_anything.errors import InvalidInputError, ModelNotFoundError, OfflineError, UnavailableError
from inpaint_anything.inpaint.request import InpaintRequest


@pytest.fixture
def app(tmp_path, tiny_sam_files):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(tiny_sam_files["sam"], models / "my_model_01.pth")
    return App(Settings(models_dir=str(models), sam_device="cpu", offline=True, default_sam_model="file:my_model_01.pth"))


def test_models_are_listed_with_user_files_recognised(app):
    models = {m.id: m for m in app.sam_models()}
    assert models["sam_vit_b"].downloaded is False
    user = models["file:my_model_01.pth"]
    assert user.downloaded and user.available and user.family == "sam"


def test_missing_model_says_how_to_get_it(app):
    with pytest.raises(ModelNotFoundError, match="not downloaded"):
        app.sam_model_path("sam_vit_b")
    with pytest.raises(OfflineError, match="sam_vit_b_01ec64.pth"):
        app.sam_model_path("sam_vit_b", download=True)
    with pytest.raises(InvalidInputError, match="Invalid model file"):
        app.sam_model_path("file:../secret.pth")


def test_workspaces_are_isolated(app, astronaut):
    a, b = app.workspace("tab-a"), app.workspace("tab-b")
    a.set_image(astronaut)
    a.mask_op("all")
    assert b.image is None and b.mask is None
    with pytest.raises(InvalidInputError, match="Upload an image"):
        b.mask_op("invert")
    assert app.workspace("tab-a") is a


def test_click_prompt_gives_candidates_and_reuses_the_embedding(app, astronaut):
    ws = app.workspace("s")
    ws.set_image(astronaut)
    first = ws.click(250, 250)
    assert first.masks.shape[1:] == astronaut.shape[:2]
    assert len(first) == 3  # vanilla SAM: three candidates for one click
    assert np.array_equal(ws.mask, first.masks[0])
    ws.pick_candidate(2)
    assert np.array_equal(ws.mask, first.masks[2])
    ws.click(100, 100, positive=False)
    assert ws._session.encoder_runs == 1
    assert app.sam_cache.loads == 1
    with pytest.raises(InvalidInputError):
        ws.pick_candidate(7)


def test_box_segment_everything_and_scribble(app, astronaut):
    ws = app.workspace("s")
    ws.set_image(astronaut)
    ws.set_box((50, 60, 300, 400))
    assert ws.mask.shape == astronaut.shape[:2]
    fresh = app.workspace("fresh")
    fresh.set_image(astronaut)
    with pytest.raises(InvalidInputError, match="Segment everything"):
        fresh.scribble(np.ones((512, 512), bool))
    segmap = ws.segment_everything(points_per_side=4, pred_iou_thresh=0.0, stability_thresh=0.0)
    assert segmap.image_size == astronaut.shape[:2]
    scribble = np.zeros(astronaut.shape[:2], bool)
    scribble[200:210, 100:400] = True
    ws.mask_op("clear")
    picked = ws.scribble(scribble, mode="replace", ignore_unsegmented=False)
    assert picked[scribble].all()


def test_mask_ops_undo_redo_and_brush(app, astronaut):
    ws = app.workspace("s")
    ws.set_image(astronaut)
    ws.brush([{"mode": "add", "radius": 10, "points": [[100, 100], [200, 100]]}])
    drawn = ws.mask.copy()
    assert drawn[100, 150] and not drawn[300, 300]
    ws.mask_op("grow", 5)
    assert ws.mask.sum() > drawn.sum()
    ws.undo()
    assert np.array_equal(ws.mask, drawn)
    ws.redo()
    assert ws.mask.sum() > drawn.sum()
    ws.mask_op("invert")
    assert ws.mask[300, 300]
    with pytest.raises(InvalidInputError, match="Unknown mask operation"):
        ws.mask_op("explode")


def test_grabcut_needs_no_model(tmp_path, synthetic):
    app = App(Settings(models_dir=str(tmp_path / "empty"), offline=True))
    ws = app.workspace("s")
    case = next(c for c in synthetic if c.name == "rectangle")
    ws.set_image(case.image)
    ys, xs = np.nonzero(case.mask)
    mask = ws.grabcut(box=(xs.min() - 5, ys.min() - 5, xs.max() + 6, ys.max() + 6))
    iou = (mask & case.mask).sum() / (mask | case.mask).sum()
    assert iou > 0.9


def test_remove_and_results_chain(app, synthetic):
    ws = app.workspace("s")
    case = synthetic[0]
    ws.set_image(case.image)
    with pytest.raises(InvalidInputError, match="mask is empty"):
        ws.remove("telea")
    ws.set_mask(case.mask)
    ws.mask_op("grow", 2)
    result = ws.remove("telea")
    assert np.array_equal(result.images[0][result.alpha == 0], case.image[result.alpha == 0])
    assert ws.results[-1].kind == "remove"
    ws.use_result()
    assert np.array_equal(ws.image, result.images[0])
    assert not ws.mask.any()


def test_export_mask_and_alpha(app, astronaut):
    ws = app.workspace("s")
    ws.set_image(astronaut)
    ws.brush([{"mode": "add", "radius": 5, "points": [[10, 10]]}])
    assert ws.mask_png().dtype == np.uint8 and ws.mask_png().max() == 255
    rgba = ws.alpha_png()
    assert rgba.shape == (*astronaut.shape[:2], 4)
    assert np.array_equal(rgba[..., :3], astronaut)


def test_backends_and_huge_images(app, tiny_sd_inpaint_dir, astronaut):
    ws = app.workspace("s")
    ws.set_image(astronaut[:64, :64])
    ws.brush([{"mode": "add", "radius": 8, "points": [[32, 32]]}])
    backend = app.backend("diffusers", str(tiny_sd_inpaint_dir), native_size=64)
    result = ws.inpaint(InpaintRequest(steps=2, seed=5, inpaint_area="whole"), backend)
    assert result.images[0].shape == (64, 64, 3)
    with pytest.raises(UnavailableError, match="webui"):
        app.backend("webui")
    small = App(Settings(max_image_pixels=1000, offline=True, models_dir=str(app.models_dir)))
    from inpaint_anything.errors import ImageTooLargeError

    with pytest.raises(ImageTooLargeError):
        small.workspace("x").set_image(astronaut)


def test_refinements_are_reapplied_to_each_new_selection(app, astronaut):
    ws = app.workspace("s")
    ws.set_image(astronaut)
    first = np.zeros(astronaut.shape[:2], bool)
    first[100:120, 100:120] = True
    ws.set_selection(first)
    ws.add_refinement("grow", 3)
    assert ws.mask.sum() > first.sum()
    second = np.zeros_like(first)
    second[300:310, 300:310] = True
    grown = ws.set_selection(second)  # a new canvas snapshot keeps the grow
    assert grown[298, 305] and not grown[110, 110]
    ws.add_refinement("invert")
    assert ws.mask[0, 0] and not ws.mask[305, 305]
    ws.clear_refinements()
    assert np.array_equal(ws.mask, second)
    with pytest.raises(InvalidInputError, match="whole number"):
        ws.add_refinement("grow", -1)


def test_prompt_snapshots(app, astronaut):
    ws = app.workspace("s")
    ws.set_image(astronaut)
    assert ws.prompt([]) is None
    one = ws.prompt([(250, 250, 1)])
    assert len(one) == 3
    two = ws.prompt([(250, 250, 1), (60, 60, 0)])
    assert len(two) == 1  # extra points: a single refined mask
    boxed = ws.prompt([], box=(40, 40, 300, 300))
    assert boxed.masks.shape[1:] == astronaut.shape[:2]
    assert ws._session.encoder_runs == 1
    with pytest.raises(InvalidInputError):
        ws.prompt([(9999, 5, 1)])
