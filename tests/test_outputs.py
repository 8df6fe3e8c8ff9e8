"""Saving results: unique names, infotext chunk, RGBA kept."""

from __future__ import annotations

import numpy as np
from PIL import Image

from inpaint_anything.outputs import read_infotext, save_png


def test_save_never_overwrites_and_keeps_infotext(tmp_path):
    img = np.full((8, 9, 3), 7, np.uint8)
    (tmp_path / "00003-old.png").write_bytes(b"not an image, must stay")
    a = save_png(img, tmp_path, "a cat\nSteps: 2, Seed: 1", suffix="1 seed")
    b = save_png(img, tmp_path, "x", suffix="1 seed")
    assert a.name == "00004-1_seed.png" and b.name == "00005-1_seed.png"
    assert (tmp_path / "00003-old.png").read_bytes() == b"not an image, must stay"
    assert read_infotext(a) == "a cat\nSteps: 2, Seed: 1"
    assert np.array_equal(np.asarray(Image.open(a)), img)


def test_rgba_is_saved_with_alpha(tmp_path):
    img = np.zeros((4, 4, 4), np.uint8)
    img[..., 3] = 100
    path = save_png(img, tmp_path)
    assert np.asarray(Image.open(path))[..., 3].max() == 100
