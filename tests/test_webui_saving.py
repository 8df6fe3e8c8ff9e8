"""Results saved through the WebUI's own save_image: file names as the host's pattern expects (no
empty seed for a removal), absolute folders in the status, infotext that lists only what applies."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest


def _removal(img, mask, method="telea"):
    from inpaint_anything.inpaint.cleaner import cleaner_backend, removal_request
    from inpaint_anything.inpaint.engine import run_inpaint

    return run_inpaint(img, mask, removal_request().validated(), cleaner_backend(method))


@pytest.fixture
def picture():
    img = (np.random.default_rng(3).random((40, 56, 3)) * 255).astype(np.uint8)
    mask = np.zeros((40, 56), bool)
    mask[12:24, 20:36] = True
    return img, mask


def test_removal_file_name_has_no_empty_seed_and_the_folder_is_absolute(webui_host, picture, tmp_path, monkeypatch):
    from PIL import Image

    from inpaint_anything.outputs import done_text
    from inpaint_anything.webui import saving

    webui_host.load_extension()
    monkeypatch.chdir(tmp_path)
    webui_host.shared.opts.outdir_img2img_samples = os.path.join("outputs", "img2img-images")  # relative, as the host's default
    result = _removal(*picture)
    paths = [saving.save_result(result.images[0], result.infotexts[0], "remove") for _ in range(2)]
    names = [os.path.basename(p) for p in paths]
    assert all(re.fullmatch(r"\d{5}-ia-remove\.png", n) for n in names), names
    assert names[0] != names[1]
    assert all(os.path.isabs(p) and os.path.isfile(p) and p.startswith(str(tmp_path)) for p in paths)
    with Image.open(paths[0]) as im:
        assert im.info["parameters"] == result.infotexts[0]
    status = done_text(1, paths[:1])
    assert f"saved in {os.path.dirname(paths[0])}" in status and os.path.isabs(os.path.dirname(paths[0]))


def test_generation_file_name_follows_the_host_pattern(webui_host, picture):
    from inpaint_anything.inpaint.request import InpaintRequest, infotext
    from inpaint_anything.webui import saving

    webui_host.load_extension()
    webui_host.shared.opts.save_to_dirs = False
    text = infotext(InpaintRequest(prompt="a red cat", seed=123).validated(), (56, 40), {"Inpaint backend": "webui:x"})
    path = saving.save_result(picture[0], text, "inpaint")
    assert re.fullmatch(r"\d{5}-123-a red cat-ia-inpaint\.png", os.path.basename(path)), path
    webui_host.shared.opts.samples_filename_pattern = "[seed]"
    path = saving.save_result(picture[0], text, "inpaint")
    assert re.fullmatch(r"\d{5}-123-ia-inpaint\.png", os.path.basename(path)), path


def test_standalone_status_names_the_absolute_folder(tmp_path, monkeypatch):
    from inpaint_anything.outputs import done_text, save_png

    monkeypatch.chdir(tmp_path)
    path = str(save_png(np.zeros((4, 4, 3), np.uint8), "out", "Size: 4x4", suffix="remove"))
    assert not os.path.isabs(path)
    assert done_text(1, [path]) == f"Done: 1 image(s), saved in {tmp_path / 'out'}."
    assert done_text(1, ["not saved (disk full)"]) == "Done: 1 image(s); 1 not saved (disk full)."


def test_removal_infotext_lists_only_what_applies(picture):
    from inpaint_anything.inpaint.request import parse_infotext

    text = _removal(*picture).infotexts[0]
    assert not text.startswith("\n") and "\n" not in text
    for absent in ("Seed", "Inpaint area", "Only masked padding", "Steps", "Sampler", "Denoising strength", "Masked content"):
        assert absent + ":" not in text, (absent, text)
    assert "Size: 56x40" in text and "Mask blur: 2" in text and 'Inpaint backend: "cleaner:telea"' in text
    request, rest = parse_infotext(text)
    assert request.prompt == "" and request.mask_blur == 2 and rest["Inpaint backend"] == "cleaner:telea"


def test_generation_infotext_has_no_empty_first_line_and_old_text_still_parses():
    from inpaint_anything.inpaint.request import InpaintRequest, infotext, parse_infotext

    text = infotext(InpaintRequest(prompt="", negative_prompt="blurry", seed=5).validated(), (8, 8))
    assert text.startswith("Negative prompt: blurry\nSteps: ")
    req, _ = parse_infotext(text)
    assert req.prompt == "" and req.negative_prompt == "blurry" and req.seed == 5
    old = '\nSteps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 9, Size: 8x8, Inpaint backend: "cleaner:telea"'
    req, rest = parse_infotext(old)
    assert req.prompt == "" and req.seed == 9 and rest["Inpaint backend"] == "cleaner:telea"


def test_prefill_only_outpaint_names_the_prefill_and_returns_it():
    from inpaint_anything.inpaint.cleaner import cleaner_backend
    from inpaint_anything.inpaint.request import InpaintRequest
    from inpaint_anything.outpaint import geometry
    from inpaint_anything.outpaint.engine import OutpaintSettings, outpaint
    from inpaint_anything.prefill import place_on_canvas, prefill

    img = (np.random.default_rng(1).random((24, 32, 3)) * 255).astype(np.uint8)
    exp = geometry.by_pixels(32, 24, 0, 16, 0, 0)
    settings = OutpaintSettings(expansion=exp, prefill="edge", overlap_px=0, strategy="all")
    result = outpaint(img, settings, InpaintRequest(seed=4), cleaner_backend("prefill"))
    text = result.infotexts[0]
    assert "Outpaint pre-fill: edge" in text and "Inpaint backend" not in text and "cleaner:telea" not in text
    assert "Seed" not in text  # an edge pre-fill draws no random numbers
    canvas, known = place_on_canvas(img, exp)
    assert np.array_equal(result.images[0], prefill(canvas, known, "edge", seed=4))
    noisy = outpaint(
        img,
        OutpaintSettings(expansion=exp, prefill="noise", overlap_px=0, strategy="all"),
        InpaintRequest(seed=4),
        cleaner_backend("prefill"),
    )
    assert "Seed: 4" in noisy.infotexts[0]
