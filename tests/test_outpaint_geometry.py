"""Outpainting canvas geometry and pre-fills."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from inpaint_anything import prefill
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.outpaint import geometry


@pytest.mark.parametrize("preset", list(geometry.ASPECT_PRESETS))
@pytest.mark.parametrize(("w", "h"), [(512, 512), (1001, 767), (333, 999), (640, 427)])
def test_every_preset_reaches_its_aspect_without_cropping(preset, w, h):
    aw, ah = geometry.ASPECT_PRESETS[preset]
    if w * ah == h * aw:  # already at that aspect
        with pytest.raises(InvalidInputError, match="Nothing to outpaint"):
            geometry.by_aspect(w, h, preset)
        return
    exp = geometry.by_aspect(w, h, preset)
    cw, ch = exp.canvas_size
    assert cw >= w and ch >= h
    assert all(v % 8 == 0 and v >= 0 for v in exp.sides().values())
    # within the 8-pixel snapping of the target aspect
    assert abs(cw / ch - aw / ah) <= 16 / min(cw, ch) + 1e-9
    # only one axis grows
    assert (exp.left + exp.right == 0) or (exp.up + exp.down == 0)


def test_pixels_snap_and_report_size():
    exp = geometry.by_pixels(1001, 767, left=13, right=0, up=100, down=3)
    assert exp.sides() == {"left": 16, "right": 0, "up": 104, "down": 0}
    assert exp.canvas_size == (1017, 871)
    assert exp.original_box == (16, 104, 1017, 871)
    assert "1001x767 -> 1017x871" in exp.describe()


def test_scale_and_balance():
    exp = geometry.by_scale(800, 600, 1.5, balance_x=0.0, balance_y=1.0)
    assert (exp.left, exp.right, exp.up, exp.down) == (400, 0, 0, 304)
    even = geometry.by_scale(800, 600, 2.0)
    assert (even.left, even.right, even.up, even.down) == (400, 400, 296, 304)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: geometry.by_pixels(100, 100), "every side adds 0"),
        (lambda: geometry.by_pixels(100, 100, left=-8), "negative"),
        (lambda: geometry.by_pixels(100, 100, up=4096), "at most 2048"),
        (lambda: geometry.by_pixels(0, 100, up=8), "empty"),
        (lambda: geometry.by_scale(100, 100, 3.0), "Scale"),
        (lambda: geometry.by_aspect(100, 100, "5:4"), "Unknown aspect"),
        (lambda: geometry.by_scale(100, 100, 1.5, balance_x=2), "Balance"),
        (lambda: geometry.by_pixels(8000, 8000, left=2048, right=2048), "pixel limit"),
    ],
)
def test_bad_parameters_give_clear_errors(call, message):
    with pytest.raises(InvalidInputError, match=message):
        call()


@pytest.mark.parametrize("method", [m for m in prefill.PREFILLS if m != "patchmatch"])
def test_every_prefill_keeps_known_pixels(method, astronaut):
    image = astronaut[::4, ::4][:101, :77]
    exp = geometry.by_pixels(77, 101, left=24, right=8, up=16, down=40)
    canvas, known = prefill.place_on_canvas(image, exp)
    out = prefill.prefill(canvas, known, method, seed=3)
    assert out.shape == canvas.shape and out.dtype == np.uint8
    x0, y0, x1, y1 = exp.original_box
    assert np.array_equal(out[y0:y1, x0:x1], image)
    if method != "solid":
        assert out[~known].std() > 1  # the new area is not a flat colour


def test_patchmatch_keeps_known_pixels_or_says_unavailable(astronaut):
    from inpaint_anything.errors import UnavailableError

    image = astronaut[::8, ::8]
    canvas, known = prefill.place_on_canvas(image, geometry.by_pixels(64, 64, right=32))
    if importlib.util.find_spec("patchmatch") is None:
        with pytest.raises(UnavailableError, match="pypatchmatch"):
            prefill.prefill(canvas, known, "patchmatch")
        return
    out = prefill.prefill(canvas, known, "patchmatch")
    assert np.array_equal(out[known], canvas[known])


def test_blur_prefill_is_smooth_across_the_border(astronaut):
    image = astronaut[::4, ::4]
    canvas, known = prefill.place_on_canvas(image, geometry.by_pixels(128, 128, right=64))
    out = prefill.prefill(canvas, known, "blur").astype(float)
    jump = np.abs(out[:, 128] - out[:, 127]).mean()
    inner = np.abs(np.diff(out[:, 100:127], axis=1)).mean()
    assert jump <= 2 * inner + 5


def test_noise_prefill_is_seeded(astronaut):
    canvas, known = prefill.place_on_canvas(astronaut[::8, ::8], geometry.by_pixels(64, 64, up=32))
    a = prefill.prefill(canvas, known, "noise", seed=1)
    b = prefill.prefill(canvas, known, "noise", seed=1)
    c = prefill.prefill(canvas, known, "noise", seed=2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_prefill_rejects_bad_input():
    canvas = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(InvalidInputError, match="Unknown pre-fill"):
        prefill.prefill(canvas, np.ones((10, 10), bool), "magic")
    with pytest.raises(InvalidInputError, match="mask is"):
        prefill.prefill(canvas, np.ones((9, 10), bool))
    with pytest.raises(InvalidInputError, match="no original"):
        prefill.prefill(canvas, np.zeros((10, 10), bool), "edge")
