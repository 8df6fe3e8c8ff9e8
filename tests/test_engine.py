"""The inpainting engine with classical and fake backends: geometry, exact paste-back, batches."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.images import photo, rgba_case

from inpaint_anything import masks, metrics
from inpaint_anything.errors import InvalidInputError, JobInterrupted
from inpaint_anything.inpaint import cleaner
from inpaint_anything.inpaint.engine import run_inpaint
from inpaint_anything.inpaint.request import InpaintRequest
from inpaint_anything.jobs import JobControl


class RecordingBackend:
    """Paints the masked area a flat colour (plus an optional offset) and records what it saw."""

    name = "recording"

    def __init__(self, native_size=512, multiple=8, color=(0, 200, 0), offset=0):
        self.native_size, self.multiple, self.color, self.offset = native_size, multiple, color, offset
        self.calls = []

    def generate(self, image, mask, request, seed, job):
        self.calls.append({"shape": image.shape, "mask": mask.copy(), "image": image.copy(), "seed": seed})
        job.step(1, 1)
        out = np.clip(image.astype(int) + self.offset, 0, 255).astype(np.uint8)
        if self.offset == 0:
            out[mask] = self.color
        return out


def odd_photo(w=1001, h=767):
    import cv2

    return cv2.resize(photo("coffee"), (w, h), interpolation=cv2.INTER_CUBIC)


def disk_mask(h, w, cx, cy, r):
    yy, xx = np.mgrid[0:h, 0:w]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


@pytest.mark.parametrize("area", ["only masked", "whole"])
def test_pixels_outside_the_blend_band_are_bit_identical(area):
    image = odd_photo()
    mask = disk_mask(767, 1001, 600, 300, 80)
    backend = RecordingBackend()
    req = InpaintRequest(inpaint_area=area, mask_blur=4, padding=16, seed=7)
    result = run_inpaint(image, mask, req, backend)
    out = result.images[0]
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[result.alpha == 0], image[result.alpha == 0])
    assert (result.alpha[mask] == 1).all()  # the mask itself is fully repainted
    assert (out[mask] != image[mask]).any()
    # the blend band is limited to grow + feather around the mask
    assert not (result.alpha > 0)[~masks.grow(mask, 2 * 4 + 1)].any()
    h, w = backend.calls[0]["shape"][:2]
    assert h % 8 == 0 and w % 8 == 0
    if area == "only masked":
        assert max(h, w) == 512  # the crop is processed at the native resolution
    else:
        assert max(h, w) == 512  # the whole image is scaled, then padded, never cropped


def test_rgba_alpha_is_kept():
    image, mask = rgba_case()
    result = run_inpaint(image, mask, InpaintRequest(seed=1), RecordingBackend())
    out = result.images[0]
    assert out.shape == image.shape
    assert np.array_equal(out[..., 3], image[..., 3])
    assert np.array_equal(out[result.alpha == 0], image[result.alpha == 0])


def test_batch_uses_consecutive_seeds_and_infotexts():
    image = odd_photo(320, 240)
    mask = disk_mask(240, 320, 160, 120, 30)
    backend = RecordingBackend()
    result = run_inpaint(image, mask, InpaintRequest(seed=41, batch_count=3), backend)
    assert result.seeds == [41, 42, 43] == [c["seed"] for c in backend.calls]
    assert len(result.images) == 3
    assert "Seed: 42" in result.infotexts[1]
    assert "Size: 320x240" in result.infotexts[0]


def test_random_seed_is_reported():
    image = odd_photo(64, 48)
    result = run_inpaint(image, disk_mask(48, 64, 30, 20, 8), InpaintRequest(seed=-1), RecordingBackend())
    assert result.request.seed >= 0
    assert result.seeds == [result.request.seed]


def test_fill_prefills_the_masked_area_before_generation():
    image = odd_photo(320, 240)
    mask = disk_mask(240, 320, 160, 120, 40)
    backend = RecordingBackend(native_size=0, multiple=1)
    run_inpaint(image, mask, InpaintRequest(masked_content="fill", inpaint_area="whole"), backend)
    seen = backend.calls[0]["image"]
    assert np.array_equal(seen[~mask], image[~mask])
    inside = seen[mask].astype(float)
    assert inside.std(axis=0).mean() < image[mask].astype(float).std(axis=0).mean()  # smooth, not the object


def test_color_match_reduces_the_seam():
    image = odd_photo(320, 240)
    mask = disk_mask(240, 320, 160, 120, 50)
    plain = run_inpaint(image, mask, InpaintRequest(mask_blur=2, seed=0), RecordingBackend(offset=40))
    matched = run_inpaint(image, mask, InpaintRequest(mask_blur=2, seed=0, color_match=True), RecordingBackend(offset=40))
    assert np.array_equal(matched.images[0][matched.alpha == 0], image[matched.alpha == 0])
    assert metrics.seam_delta_e(matched.images[0], mask) < metrics.seam_delta_e(plain.images[0], mask)


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_cleaner_removes_an_object(method, synthetic):
    case = next(c for c in synthetic if c.name == "disk")
    result = run_inpaint(case.image, masks.grow(case.mask, 2), cleaner.removal_request(), cleaner.ClassicalBackend(method))
    out = result.images[0]
    red = (out[..., 0] > 180) & (out[..., 1] < 80)
    assert red[case.mask].mean() < 0.05  # the red disk is gone
    assert np.array_equal(out[result.alpha == 0], case.image[result.alpha == 0])


def test_patchmatch_cleaner_or_clear_unavailability(synthetic):
    case = synthetic[0]
    if not cleaner.patchmatch_available():
        from inpaint_anything.errors import UnavailableError

        with pytest.raises(UnavailableError, match="pypatchmatch"):
            cleaner.ClassicalBackend("patchmatch")
        return
    result = run_inpaint(case.image, masks.grow(case.mask, 2), cleaner.removal_request(), cleaner.ClassicalBackend("patchmatch"))
    assert np.array_equal(result.images[0][result.alpha == 0], case.image[result.alpha == 0])


def test_bad_input_is_refused():
    image = odd_photo(64, 48)
    with pytest.raises(InvalidInputError, match="empty"):
        run_inpaint(image, np.zeros((48, 64), bool), InpaintRequest(), RecordingBackend())
    with pytest.raises(InvalidInputError):
        run_inpaint(image, np.ones((40, 64), bool), InpaintRequest(), RecordingBackend())
    with pytest.raises(InvalidInputError):
        run_inpaint(np.zeros((0, 5, 3), np.uint8), np.ones((0, 5), bool), InpaintRequest(), RecordingBackend())


def test_interrupt_stops_the_batch():
    image = odd_photo(64, 48)
    job = JobControl()
    job.interrupt()
    with pytest.raises(JobInterrupted):
        run_inpaint(image, disk_mask(48, 64, 30, 20, 8), InpaintRequest(batch_count=2), RecordingBackend(), job)
