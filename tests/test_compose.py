"""Geometry, paste-back, colour matching and seam metrics: nothing outside the mask may change."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.images import photo, rgba_case, synthetic_cases
from hypothesis import given, settings
from hypothesis import strategies as st

from inpaint_anything import compose, geometry, masks, metrics
from inpaint_anything.colormatch import lab_to_rgb, match_colors, rgb_to_lab
from inpaint_anything.errors import InvalidInputError

FAST = settings(max_examples=40, deadline=None)


def blob_mask(h: int, w: int, rng: np.random.Generator, n: int = 4) -> np.ndarray:
    """A few random disks and a thin stroke."""
    m = np.zeros((h, w), bool)
    for _ in range(n):
        y, x = rng.integers(0, h), rng.integers(0, w)
        m = masks.apply_stroke(m, [(x, y)], float(rng.uniform(0.5, max(1.0, max(h, w) / 8))))
    return masks.apply_stroke(m, [(0, 0), (w - 1, h - 1)], 0.8)


def random_image(h: int, w: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (h, w, channels), dtype=np.uint8)


# --------------------------------------------------------------------------- paste-back


@pytest.mark.parametrize(
    ("h", "w", "channels", "grow_px", "feather_px"),
    [(767, 1001, 3, 4, 8), (767, 1001, 4, 0, 5.5), (5, 7, 3, 1, 2), (5, 7, 4, 0, 0), (1, 1, 3, 3, 3), (33, 2, 4, 2, 1)],
)
def test_paste_back_is_bit_exact_outside_the_blend(h, w, channels, grow_px, feather_px):
    rng = np.random.default_rng(h * 1000 + w)
    original = random_image(h, w, channels, rng)
    generated = random_image(h, w, int(rng.choice([3, 4])), rng)
    mask = blob_mask(h, w, rng)
    before = original.copy()
    result, alpha = compose.paste_back(original, generated, mask, grow_px=grow_px, feather_px=feather_px)
    assert result.shape == original.shape
    assert result.dtype == np.uint8
    assert (original == before).all()  # input untouched
    assert (result == original)[alpha == 0].all()
    assert (result[..., :3] == generated[..., :3])[alpha == 1].all()
    if channels == 4:
        assert (result[..., 3] == original[..., 3]).all()
    assert (alpha == masks.feather(masks.grow(mask, grow_px), feather_px)).all()
    assert (alpha == compose.blend_alpha(mask, grow_px, feather_px)).all()
    band = (alpha > 0) & (alpha < 1)
    if band.any():
        a = alpha[band][:, None]
        o = original[band][:, :3].astype(np.float64)
        g = generated[band][:, :3].astype(np.float64)
        assert np.abs(result[band][:, :3] - (o + (g - o) * a)).max() <= 0.5 + 1e-3


@FAST
@given(st.integers(0, 2**32 - 1), st.floats(0, 9), st.floats(0, 9))
def test_blend_alpha_of_a_local_mask_equals_full_image_computation(seed, grow_px, feather_px):
    # blend_alpha only works in a window around the mask; the result must be the same as on the
    # whole image, also when the mask is near the border.
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(20, 120)), int(rng.integers(20, 120))
    mask = np.zeros((h, w), bool)
    for _ in range(2):
        y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
        mask[y : y + int(rng.integers(1, 12)), x : x + int(rng.integers(1, 12))] = True
    mask &= rng.random((h, w)) < 0.8
    expected = masks.feather(masks.grow(mask, grow_px), feather_px)
    assert (compose.blend_alpha(mask, grow_px, feather_px) == expected).all()


def test_paste_back_on_photo_and_rgba_fixture(astronaut):
    rng = np.random.default_rng(3)
    mask = np.zeros(astronaut.shape[:2], bool)
    mask[100:220, 150:260] = True
    generated = random_image(*astronaut.shape, rng)
    result, alpha = compose.paste_back(astronaut, generated, mask, grow_px=6, feather_px=10)
    assert (result == astronaut)[alpha == 0].all()
    assert (alpha[mask] >= 0.5).all()
    assert (result != astronaut).any()
    rgba, rgba_mask = rgba_case()
    out, a = compose.paste_back(rgba, random_image(*rgba.shape[:2], 3, rng), rgba_mask, grow_px=2, feather_px=4)
    assert (out == rgba)[a == 0].all()
    assert (out[..., 3] == rgba[..., 3]).all()


@FAST
@given(st.integers(0, 2**32 - 1), st.integers(0, 12), st.floats(0, 12))
def test_paste_back_with_crop_box(seed, grow_px, feather_px):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(5, 90)), int(rng.integers(5, 90))
    original = random_image(h, w, 3, rng)
    mask = blob_mask(h, w, rng, n=2)
    plan = geometry.plan_only_masked((w, h), mask, 4, 64)
    x0, y0, x1, y1 = plan.box
    generated = random_image(y1 - y0, x1 - x0, 3, rng)
    result, alpha = compose.paste_back(original, generated, mask, grow_px=grow_px, feather_px=feather_px, box=plan.box)
    outside = np.ones((h, w), bool)
    outside[y0:y1, x0:x1] = False
    assert (alpha[outside] == 0).all()
    assert (result == original)[alpha == 0].all()
    full = masks.feather(masks.grow(mask, grow_px), feather_px)
    assert (alpha[y0:y1, x0:x1] == full[y0:y1, x0:x1]).all()
    inside = alpha == 1
    assert (result[inside] == generated[inside[y0:y1, x0:x1]]).all()


def test_paste_back_errors():
    img = np.zeros((10, 12, 3), np.uint8)
    mask = np.zeros((10, 12), bool)
    mask[2:5, 3:6] = True
    cases = [
        ((img.astype(np.float32), img, mask), {}, "uint8"),
        ((img[..., 0], img, mask), {}, "RGB or RGBA"),
        ((img, img[:5], mask), {}, "resize"),
        ((img, img, mask[:5]), {}, "same size"),
        ((img, img, np.zeros_like(mask)), {}, "empty"),
        ((img, img, mask), {"grow_px": -1}, "grow radius"),
        ((img, img, mask), {"feather_px": float("inf")}, "feather"),
        ((img, img[:3, :3], mask), {"box": (3, 2, 6, 5)}, None),
        ((img, img, mask), {"box": (3, 2, 30, 5)}, "not inside"),
        ((img, img, mask), {"box": (3, 2, 3, 5)}, "empty"),
    ]
    for args, kwargs, fragment in cases:
        if fragment is None:
            result, alpha = compose.paste_back(*args, **kwargs)
            assert result.shape == img.shape
            continue
        with pytest.raises(InvalidInputError, match=fragment):
            compose.paste_back(*args, **kwargs)


# --------------------------------------------------------------------------- only-masked geometry


@FAST
@given(st.integers(0, 2**32 - 1), st.integers(0, 64), st.one_of(st.none(), st.floats(0.25, 4)), st.sampled_from([1, 8, 64]))
def test_crop_region_properties(seed, padding, aspect, multiple):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 300)), int(rng.integers(1, 300))
    mask = blob_mask(h, w, rng, n=1)
    x0, y0, x1, y1 = geometry.crop_region(mask, padding, (w, h), aspect, multiple)
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    px0, py0, px1, py1 = masks.bbox_with_padding(mask, padding)
    assert x0 <= px0 and y0 <= py0 and x1 >= px1 and y1 >= py1
    for size, limit in ((x1 - x0, w), (y1 - y0, h)):
        assert size % multiple == 0 or size == limit
    if aspect is not None and multiple == 1:
        bw, bh = x1 - x0, y1 - y0
        # Either the aspect is reached (up to rounding) or the box spans the image on that axis.
        wide_enough = abs(bw - bh * aspect) <= 1 or bw == w
        tall_enough = abs(bh - bw / aspect) <= 1 or bh == h
        assert wide_enough or tall_enough


def test_crop_region_examples():
    mask = np.zeros((100, 200), bool)
    mask[40:50, 90:100] = True
    assert geometry.crop_region(mask, 5, (200, 100), multiple=1) == (85, 35, 105, 55)
    assert geometry.crop_region(mask, 5, (200, 100), multiple=8) == (83, 33, 107, 57)
    assert geometry.crop_region(mask, 5, (200, 100), target_aspect=2.0, multiple=1) == (75, 35, 115, 55)
    # Near the border the box is shifted inside the image rather than cut.
    corner = np.zeros((100, 200), bool)
    corner[0:4, 196:200] = True
    assert geometry.crop_region(corner, 2, (200, 100), target_aspect=3.0, multiple=1) == (182, 0, 200, 6)
    with pytest.raises(InvalidInputError, match="empty"):
        geometry.crop_region(np.zeros((100, 200), bool), 5, (200, 100))
    with pytest.raises(InvalidInputError, match="padding"):
        geometry.crop_region(mask, -1, (200, 100))
    with pytest.raises(InvalidInputError, match="same size"):
        geometry.crop_region(mask, 4, (100, 200))
    with pytest.raises(InvalidInputError, match="aspect"):
        geometry.crop_region(mask, 4, (200, 100), target_aspect=0)


@FAST
@given(st.integers(0, 2**32 - 1), st.integers(0, 40), st.sampled_from([64, 512, 1024]))
def test_plan_only_masked_properties(seed, padding, native):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 1200)), int(rng.integers(1, 1200))
    mask = np.zeros((h, w), bool)
    y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
    mask[y : y + int(rng.integers(1, 200)), x : x + int(rng.integers(1, 200))] = True
    plan = geometry.plan_only_masked((w, h), mask, padding, native, 8)
    x0, y0, x1, y1 = plan.box
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    px0, py0, px1, py1 = masks.bbox_with_padding(mask, padding)
    assert x0 <= px0 and y0 <= py0 and x1 >= px1 and y1 >= py1
    pw, ph = plan.process_size
    assert pw % 8 == 0 and ph % 8 == 0 and pw >= 8 and ph >= 8
    assert max(pw, ph) == native
    assert plan.crop_size == (x1 - x0, y1 - y0)
    sx, sy = plan.scale
    assert sx > 0 and sy > 0


def test_plan_only_masked_scales_small_crop_to_native():
    mask = np.zeros((767, 1001), bool)
    mask[300:340, 500:520] = True
    plan = geometry.plan_only_masked((1001, 767), mask, 10, 512, 8)
    assert plan.process_size == (344, 512)
    assert plan.crop_size == (40, 60)
    assert plan.scale[0] == pytest.approx(plan.scale[1], rel=0.05)
    with pytest.raises(InvalidInputError):
        geometry.plan_only_masked((1001, 767), mask, 10, 4, 8)


# --------------------------------------------------------------------------- padding


@pytest.mark.parametrize("shape", [(767, 1001, 3), (5, 7, 4), (1, 1, 3), (1, 9, 3), (64, 64, 3), (767, 1001)])
@pytest.mark.parametrize("mode", ["reflect", "edge"])
@pytest.mark.parametrize("multiple", [8, 64])
def test_pad_unpad_round_trip(shape, mode, multiple):
    rng = np.random.default_rng(sum(shape))
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    if len(shape) == 2:
        image = image > 127
    padded, pad = geometry.pad_to_multiple(image, multiple, mode)
    assert padded.shape[0] % multiple == 0 and padded.shape[1] % multiple == 0
    assert padded.shape[2:] == image.shape[2:]
    assert padded.dtype == image.dtype
    assert padded.shape[0] - image.shape[0] < multiple and padded.shape[1] - image.shape[1] < multiple
    h, w = image.shape[:2]
    assert (padded[pad.top : pad.top + h, pad.left : pad.left + w] == image).all()
    restored = geometry.unpad(padded, pad)
    assert restored.shape == image.shape
    assert (restored == image).all()
    if mode == "edge" and pad.bottom:
        assert (padded[-1, pad.left : pad.left + w] == image[-1]).all()
    if mode == "reflect" and pad.bottom and h > 1:
        assert (padded[pad.top + h, pad.left : pad.left + w] == image[h - 2]).all()


def test_pad_errors():
    img = np.zeros((5, 7, 3), np.uint8)
    with pytest.raises(InvalidInputError, match="mode"):
        geometry.pad_to_multiple(img, 8, "wrap")
    with pytest.raises(InvalidInputError, match="multiple"):
        geometry.pad_to_multiple(img, 0)
    padded, pad = geometry.pad_to_multiple(img, 8)
    with pytest.raises(InvalidInputError, match="resized"):
        geometry.unpad(padded[:2], pad)


def test_resize_helpers_and_crop():
    img = photo("coffee")
    small = geometry.resize_image(img, (100, 64))
    assert small.shape == (64, 100, 3) and small.dtype == np.uint8
    big = geometry.resize_image(small, (400, 256))
    assert big.shape == (256, 400, 3)
    mask = np.zeros(img.shape[:2], bool)
    mask[100:300, 200:400] = True
    m_small = geometry.resize_mask(mask, (150, 100))
    assert m_small.shape == (100, 150)
    assert m_small[40:60, 60:90].all() and not m_small[:20].any()
    assert (geometry.crop(img, (200, 100, 400, 300)) == img[100:300, 200:400]).all()
    with pytest.raises(InvalidInputError):
        geometry.crop(img, (0, 0, 10_000, 5))


# --------------------------------------------------------------------------- colour match and metrics


def test_lab_round_trip_is_within_one_level():
    img = photo("astronaut")
    assert np.abs(lab_to_rgb(rgb_to_lab(img)).astype(int) - img).max() <= 1


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
@pytest.mark.parametrize(("grow_px", "feather_px"), [(2, 0), (2, 4)])
def test_color_match_reduces_seam_delta_e(name, grow_px, feather_px):
    image = photo(name)
    h, w = image.shape[:2]
    mask = np.zeros((h, w), bool)
    mask[h // 3 : h // 3 + 120, w // 3 : w // 3 + 140] = True
    # A "generated" picture with the typical VAE-style colour cast everywhere.
    generated = np.clip(image.astype(int) + [28, -12, 18], 0, 255).astype(np.uint8)
    alpha = compose.blend_alpha(mask, grow_px, feather_px)
    matched = match_colors(image, generated, mask, ring_px=8, region=alpha)
    assert (matched == generated)[alpha == 0].all()
    raw, _ = compose.paste_back(image, generated, mask, grow_px=grow_px, feather_px=feather_px)
    fixed, a2 = compose.paste_back(image, matched, mask, grow_px=grow_px, feather_px=feather_px)
    assert (fixed == image)[a2 == 0].all()
    seam_mask = alpha >= 0.5
    before = metrics.seam_delta_e(raw, seam_mask)
    after = metrics.seam_delta_e(fixed, seam_mask)
    reference = metrics.seam_delta_e(image, seam_mask)  # the photo's own texture across the line
    assert after < before
    assert after < reference + 1.0
    if feather_px == 0:
        assert after < 0.5 * before


def test_color_match_synthetic_offset_and_noops():
    case = synthetic_cases(120, 160)[0]
    image, mask = case.image, case.mask
    generated = np.clip(image.astype(int) - 20, 0, 255).astype(np.uint8)  # a darker fill and ring
    matched = match_colors(image, generated, mask, ring_px=6)
    assert (matched[~mask] == generated[~mask]).all()
    ring = masks.grow(mask, 6) & ~mask
    # The shift measured on the ring is undone inside the mask.
    shift = rgb_to_lab(image[ring]).mean(0) - rgb_to_lab(generated[ring]).mean(0)
    moved = rgb_to_lab(matched[mask]).mean(0) - rgb_to_lab(generated[mask]).mean(0)
    assert np.abs(moved[0] - shift[0]) < 2.0
    assert (match_colors(image, generated, mask, strength=0) == generated).all()
    same = match_colors(image, image, mask)
    assert np.abs(same.astype(int) - image).max() <= 1
    whole = np.ones_like(mask)
    assert (match_colors(image, generated, whole) == generated).all()  # no ring: nothing to match
    rgba, rgba_mask = rgba_case()
    out = match_colors(rgba, rgba, rgba_mask)
    assert (out[..., 3] == rgba[..., 3]).all()
    with pytest.raises(InvalidInputError, match="empty"):
        match_colors(image, generated, np.zeros_like(mask))
    with pytest.raises(InvalidInputError, match="same size"):
        match_colors(image, generated[:10], mask)
    with pytest.raises(InvalidInputError, match="strength"):
        match_colors(image, generated, mask, strength=2)


def test_ciede2000_reference_values():
    # Pairs from Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula".
    pairs = [
        ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
        ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
        ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
        ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
        ((50.0, 2.5, 0.0), (50.0, 0.0, -2.5), 4.3065),
    ]
    lab1 = np.array([p[0] for p in pairs])
    lab2 = np.array([p[1] for p in pairs])
    expected = np.array([p[2] for p in pairs])
    assert np.allclose(metrics.delta_e_ciede2000(lab1, lab2), expected, atol=1e-4)
    assert np.allclose(metrics.delta_e_ciede2000(lab2, lab1), expected, atol=1e-4)
    skcolor = pytest.importorskip("skimage.color")
    rng = np.random.default_rng(0)
    a = rng.uniform([0, -100, -100], [100, 100, 100], (2000, 3))
    b = rng.uniform([0, -100, -100], [100, 100, 100], (2000, 3))
    assert np.allclose(metrics.delta_e_ciede2000(a, b), skcolor.deltaE_ciede2000(a, b), atol=1e-9)


def test_seam_metrics_on_steps_and_flat_images():
    h, w = 80, 100
    mask = np.zeros((h, w), bool)
    mask[20:60, 30:70] = True
    flat = np.full((h, w, 3), 120, np.uint8)
    assert metrics.seam_delta_e(flat, mask) == pytest.approx(0.0, abs=1e-6)
    assert metrics.boundary_gradient_ratio(flat, mask) == pytest.approx(1.0)
    step = flat.copy()
    step[mask] = (150, 90, 60)
    expected = metrics.delta_e_ciede2000(rgb_to_lab(np.array([120, 120, 120])), rgb_to_lab(np.array([150, 90, 60])))
    assert metrics.seam_delta_e(step, mask) == pytest.approx(float(expected), rel=1e-4)
    rng = np.random.default_rng(1)
    noisy = np.clip(flat.astype(int) + rng.normal(0, 4, flat.shape), 0, 255).astype(np.uint8)
    noisy_step = noisy.copy()
    noisy_step[mask] = np.clip(noisy[mask].astype(int) + 40, 0, 255)
    assert metrics.boundary_gradient_ratio(noisy_step, mask) > 2.0
    assert 0.7 < metrics.boundary_gradient_ratio(noisy, mask) < 1.3
    assert metrics.seam_delta_e(noisy_step, mask) > 5 * metrics.seam_delta_e(noisy, mask)
    with pytest.raises(InvalidInputError, match="empty"):
        metrics.seam_delta_e(flat, np.zeros_like(mask))
    with pytest.raises(InvalidInputError, match="whole image"):
        metrics.boundary_gradient_ratio(flat, np.ones_like(mask))
