"""The outpainting engine: canvas geometry, exact originals, per-side order, zoom-out, interrupt, errors."""

from __future__ import annotations

import numpy as np
import pytest

from inpaint_anything import metrics
from inpaint_anything.compose import resize_image
from inpaint_anything.errors import InvalidInputError, JobInterrupted
from inpaint_anything.inpaint.cleaner import ClassicalBackend
from inpaint_anything.inpaint.request import InpaintRequest
from inpaint_anything.jobs import JobControl
from inpaint_anything.outpaint import geometry
from inpaint_anything.outpaint.engine import PER_SIDE_ORDER, OutpaintSettings, outpaint, seam_alpha, zoom_expansion, zoom_out
from inpaint_anything.prefill import PREFILLS, place_on_canvas, prefill

COLOURS = [(20, 200, 40), (200, 30, 60), (40, 60, 220), (250, 250, 10), (5, 5, 5)]


class ColourBackend:
    """Paints the mask with a colour that depends on the call number; records every call."""

    name = "fake:colour"
    native_size = 0
    multiple = 1

    def __init__(self, interrupt_on_call: int | None = None):
        self.calls: list[dict] = []
        self.interrupt_on_call = interrupt_on_call

    def generate(self, image, mask, request, seed, job):
        k = len(self.calls)
        self.calls.append({"image": image.copy(), "mask": mask.copy(), "request": request, "seed": seed})
        if self.interrupt_on_call == k:
            job.interrupt()
        out = image.copy()
        out[mask] = COLOURS[k % len(COLOURS)]
        return out


def textured(w: int, h: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([80 + 100 * xx / w, 60 + 120 * yy / h, 140 + 40 * np.sin(xx / 7)], -1)
    return np.clip(base + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


def req(**kw) -> InpaintRequest:
    base = dict(seed=123, mask_blur=4, padding=32)
    base.update(kw)
    return InpaintRequest(**base)


def interior(image: np.ndarray, exp: geometry.Expansion, overlap: int) -> tuple[slice, slice]:
    """Canvas slices of the original minus the overlap band on the grown sides."""
    x0, y0, x1, y1 = exp.original_box
    ox, oy = min(overlap, exp.width // 2), min(overlap, exp.height // 2)
    return (
        slice(y0 + (oy if exp.up else 0), y1 - (oy if exp.down else 0)),
        slice(x0 + (ox if exp.left else 0), x1 - (ox if exp.right else 0)),
    )


def original_interior(image: np.ndarray, exp: geometry.Expansion, overlap: int) -> np.ndarray:
    x0, y0 = exp.original_box[:2]
    ys, xs = interior(image, exp, overlap)
    return image[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]


@pytest.mark.parametrize(("w", "h"), [(333, 251), (1001, 767)])
@pytest.mark.parametrize("strategy", ["all", "per_side"])
def test_canvas_size_and_exact_original_for_odd_sizes(w, h, strategy):
    image = textured(w, h)
    exp = geometry.by_pixels(w, h, left=13, right=128, up=64, down=7)
    result = outpaint(image, OutpaintSettings(exp, strategy=strategy), req(), ColourBackend())
    cw, ch = exp.canvas_size
    assert result.canvas_size == (cw, ch) == (w + 16 + 128, h + 64 + 8)
    out = result.images[0]
    assert out.shape == (ch, cw, 3) and out.dtype == np.uint8
    ys, xs = interior(image, exp, 16)
    assert np.array_equal(out[ys, xs], original_interior(image, exp, 16))
    # the overlap band was repainted (outermost original column on the right blends to the new colour)
    x1 = exp.original_box[2]
    assert not np.array_equal(out[ys, x1 - 1], image[ys.start - exp.up : ys.stop - exp.up, -1])


@pytest.mark.parametrize("strategy", ["all", "per_side"])
def test_new_area_is_generated_and_alpha_matches_seam(strategy):
    image = textured(97, 71)
    exp = geometry.by_pixels(97, 71, right=40, up=24)
    out = outpaint(image, OutpaintSettings(exp, strategy=strategy, overlap_px=8), req(padding=64), ColourBackend()).images[0]
    alpha = seam_alpha(exp, (8, 8))
    # where alpha is 1 the generated colour is exact; where it is 0 the original is exact
    x0, y0, x1, y1 = exp.original_box
    canvas, _ = place_on_canvas(image, exp)
    assert np.array_equal(out[alpha == 0], canvas[alpha == 0])
    if strategy == "all":
        assert (out[alpha == 1] == COLOURS[0]).all()
    else:  # right pass first, then up; the up pass's overlap blends into the right strip's top rows
        assert (out[:24] == COLOURS[1]).all() and (out[24 + 8 :, x1:] == COLOURS[0]).all()
        assert not (out[24:32, x1:] == COLOURS[0]).all()
    # the band is exactly 8 px on the grown sides and nothing on the others
    assert (alpha[y0:y1, x0:x1] > 0).sum() == 8 * (y1 - y0) + 8 * (x1 - x0) - 64
    assert alpha[y0 + 8 :, x0 : x1 - 8].max() == 0 and alpha[y0 + 7, x0] > 0 and alpha[y0 + 8, x1 - 8] > 0


def test_each_pass_is_blended_once_through_the_seam_ramp():
    """Issue #19: the engine pastes back through the seam ramp itself (no second blend): the band
    is exactly ``filled + (generated - filled) * alpha``, whatever the request's mask blur."""
    image = textured(61, 47)
    exp = geometry.by_pixels(61, 47, left=20)
    outs = [
        outpaint(
            image, OutpaintSettings(exp, overlap_px=10, prefill="solid"), req(mask_blur=blur, padding=64), ColourBackend()
        ).images[0]
        for blur in (0, 9)
    ]
    assert np.array_equal(outs[0], outs[1])
    canvas, known = place_on_canvas(image, exp)
    filled = prefill(canvas, known, "solid")
    alpha = seam_alpha(exp, (10, 10))
    expected = np.clip(np.rint(filled + (np.array(COLOURS[0], np.float32) - filled) * alpha[..., None]), 0, 255)
    assert np.array_equal(outs[0], expected.astype(np.uint8))


def test_the_engine_refuses_blend_weights_that_do_not_match_the_mask():
    from inpaint_anything.inpaint.engine import run_inpaint

    image = textured(32, 24)
    mask = np.zeros((24, 32), bool)
    mask[4:12, 4:12] = True
    weights = mask.astype(np.float32)
    weights[0, 0] = 0.5  # outside the mask
    with pytest.raises(InvalidInputError, match="exactly where the mask is"):
        run_inpaint(image, mask, req(), ColourBackend(), blend=weights)
    out = run_inpaint(image, mask, req(), ColourBackend(), blend=mask * 0.5).images[0]
    half = np.rint(image[mask].astype(np.float32) + (np.array(COLOURS[0]) - image[mask]) * 0.5)
    assert np.array_equal(out[mask], half.astype(np.uint8)) and np.array_equal(out[~mask], image[~mask])


def test_per_side_order_and_each_pass_sees_the_previous():
    w, h = 61, 47
    image = textured(w, h)
    exp = geometry.by_pixels(w, h, left=8, right=16, up=24, down=8)
    backend = ColourBackend()
    result = outpaint(image, OutpaintSettings(exp, strategy="per_side", overlap_px=4), req(padding=128), backend)
    assert len(backend.calls) == 4
    # the canvas grows one side at a time, in PER_SIDE_ORDER (the crop covers it all: padding 128)
    sizes = [c["image"].shape[:2] for c in backend.calls]
    assert PER_SIDE_ORDER == ("left", "right", "up", "down")
    assert sizes == [(h, w + 8), (h, w + 24), (h + 24, w + 24), (h + 32, w + 24)]
    for c in backend.calls:
        assert c["request"].inpaint_area == "only masked" and c["request"].masked_content == "original"
        assert c["seed"] == 123
    colours_seen = [{tuple(p) for p in c["image"][~c["mask"]].reshape(-1, 3)} for c in backend.calls]
    assert COLOURS[0] in colours_seen[1]  # right pass sees the left strip
    assert {COLOURS[0], COLOURS[1]} <= colours_seen[2]  # up pass sees left and right strips
    assert {COLOURS[0], COLOURS[1], COLOURS[2]} <= colours_seen[3]
    out = result.images[0]
    # left/right strips keep their colours; up/down, done last, span the corners
    assert (out[30:40, :4] == COLOURS[0]).all() and (out[30:40, -12:] == COLOURS[1]).all()
    assert (out[:20, :] == COLOURS[2]).all() and (out[-6:, :] == COLOURS[3]).all()
    ys, xs = interior(image, exp, 4)
    assert np.array_equal(out[ys, xs], original_interior(image, exp, 4))


@pytest.mark.parametrize("method", [m for m in PREFILLS if m != "patchmatch"])
def test_backend_gets_the_prefilled_canvas(method):
    image = textured(50, 40)
    exp = geometry.by_pixels(50, 40, left=16, down=8)
    backend = ColourBackend()
    outpaint(image, OutpaintSettings(exp, prefill=method), req(inpaint_area="whole", masked_content="fill"), backend)
    canvas, known = place_on_canvas(image, exp)
    (call,) = backend.calls
    assert np.array_equal(call["image"], prefill(canvas, known, method, seed=123))
    assert call["request"].masked_content == "original" and call["request"].inpaint_area == "whole"
    assert np.array_equal(call["mask"], seam_alpha(exp, (16, 16)) > 0)


@pytest.mark.parametrize("strategy", ["all", "per_side"])
def test_telea_backend_exact_and_seamless(astronaut, strategy):
    image = np.ascontiguousarray(astronaut[100:351, 150:483])  # 333x251
    exp = geometry.by_pixels(333, 251, right=64, up=32)
    backend = ClassicalBackend("telea")
    result = outpaint(image, OutpaintSettings(exp, strategy=strategy), req(), backend)
    out = result.images[0]
    assert out.shape == (251 + 32, 333 + 64, 3)
    ys, xs = interior(image, exp, 16)
    assert np.array_equal(out[ys, xs], original_interior(image, exp, 16))
    known = np.zeros(out.shape[:2], bool)
    x0, y0, x1, y1 = exp.original_box
    known[y0:y1, x0:x1] = True
    assert metrics.boundary_gradient_ratio(out, known) <= 1.5
    assert metrics.seam_delta_e(out, known) < 5.0
    assert "Outpaint strategy: " + strategy in result.infotexts[0]
    assert "Size: 397x283" in result.infotexts[0]


def test_rgba_keeps_alpha_and_new_area_is_opaque():
    rgb = textured(45, 33)
    a = np.tile(np.linspace(0, 255, 45).astype(np.uint8), (33, 1))
    exp = geometry.by_pixels(45, 33, left=8, up=16)
    out = outpaint(np.dstack([rgb, a]), OutpaintSettings(exp, overlap_px=4), req(), ColourBackend()).images[0]
    assert out.shape == (49, 53, 4)
    assert np.array_equal(out[16:, 8:, 3], a) and (out[:16, :, 3] == 255).all() and (out[:, :8, 3] == 255).all()
    assert np.array_equal(out[20:, 12:, :3], rgb[4:, 4:])


def test_batch_seeds_and_infotext():
    image = textured(40, 30)
    exp = geometry.by_pixels(40, 30, right=8)
    backend = ColourBackend()
    result = outpaint(image, OutpaintSettings(exp), req(seed=7, batch_count=2, prompt="sea"), backend)
    assert result.seeds == [7, 8] and len(result.images) == 2
    assert [c["seed"] for c in backend.calls] == [7, 8]
    assert "Seed: 8" in result.infotexts[1] and result.infotexts[1].startswith("sea\n")
    assert '"left 0, right 8, up 0, down 0"' in result.infotexts[0]


def test_progress_counts_passes_and_interrupt_stops_between_passes():
    image = textured(40, 30)
    exp = geometry.by_pixels(40, 30, left=8, right=8, up=8, down=8)
    seen = []
    job = JobControl(on_progress=lambda j: seen.append((j.job_count, j.job_no)))
    outpaint(image, OutpaintSettings(exp, strategy="per_side"), req(), ColourBackend(), job)
    assert seen[0] == (4, 0) and seen[-1] == (4, 4)
    backend = ColourBackend(interrupt_on_call=1)
    with pytest.raises(JobInterrupted):
        outpaint(image, OutpaintSettings(exp, strategy="per_side"), req(), backend, JobControl())
    assert len(backend.calls) == 2  # the interrupted pass finishes, the next one never starts


def test_zoom_out_frames(astronaut):
    image = np.ascontiguousarray(astronaut[:96, :128])
    backend = ColourBackend()
    result = zoom_out(image, 3, 1.5, req(padding=8), backend, prompts=["a", None, "c"], overlap_px=4)
    frames = result.images
    assert len(frames) == 3 and all(f.shape == (96, 128, 3) for f in frames)
    assert result.seeds == [123, 124, 125] and result.request.seed == 123
    assert ["Zoom out step: 2/3" in t and "Zoom per step: 1.5" in t for t in result.infotexts] == [False, True, False]
    texts = result.infotexts  # each frame's own prompt (none: the request's empty one)
    assert texts[0].startswith("a\nSteps:") and texts[1].startswith("Steps:") and texts[2].startswith("c\nSteps:")
    assert [c["request"].prompt for c in backend.calls] == ["a", "", "c"]
    assert [c["seed"] for c in backend.calls] == [123, 124, 125]
    exp = zoom_expansion(128, 96, 1.5)
    assert exp.canvas_size == (128, 96) and (exp.width, exp.height) == (85, 64)
    for prev, frame in zip([image, *frames[:-1]], frames, strict=True):
        small = resize_image(prev, (exp.width, exp.height))
        ys, xs = interior(small, exp, 4)
        assert np.array_equal(frame[ys, xs], original_interior(small, exp, 4))
        assert (frame[: exp.up - 1] != prev[: exp.up - 1]).any()


def test_zoom_out_rgba_and_per_side():
    rgba = np.dstack([textured(64, 48), np.full((48, 64), 100, np.uint8)])
    frames = zoom_out(rgba, 2, 2.0, req(), ColourBackend(), strategy="per_side").images
    assert [f.shape for f in frames] == [(48, 64, 4)] * 2
    assert frames[0][0, 0, 3] == 255 and frames[0][24, 32, 3] == 100


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(prefill="sparkles"), "Unknown pre-fill"),
        (dict(overlap_px=-1), "overlap"),
        (dict(overlap_px=1000), "overlap"),
        (dict(overlap_px=2.5), "overlap"),
        (dict(strategy="spiral"), "strategy"),
    ],
)
def test_bad_settings(kwargs, match):
    exp = geometry.by_pixels(40, 30, right=8)
    with pytest.raises(InvalidInputError, match=match):
        outpaint(textured(40, 30), OutpaintSettings(exp, **kwargs), req(), ColourBackend())


def test_bad_expansions_and_zoom_parameters():
    image = textured(40, 30)
    with pytest.raises(InvalidInputError, match="planned for a 41x30 image"):
        outpaint(image, OutpaintSettings(geometry.by_pixels(41, 30, right=8)), req(), ColourBackend())
    with pytest.raises(InvalidInputError, match="Nothing to outpaint"):
        outpaint(image, OutpaintSettings(geometry.Expansion(40, 30)), req(), ColourBackend())
    with pytest.raises(InvalidInputError, match="expansion"):
        outpaint(image, OutpaintSettings((8, 8, 8, 8)), req(), ColourBackend())
    with pytest.raises(InvalidInputError, match="Seed"):
        outpaint(image, OutpaintSettings(geometry.by_pixels(40, 30, right=8)), req(seed=-5), ColourBackend())
    for steps, scale, prompts, match in [
        (0, 1.5, None, "steps"),
        (2, 1.0, None, "zoom per step"),
        (2, "big", None, "number"),
        (2, 1.5, ["x"], "one prompt per"),
        (1, 1.05, None, "adds no border"),
    ]:
        with pytest.raises(InvalidInputError, match=match):
            zoom_out(image[:10, :10], steps, scale, req(), ColourBackend(), prompts=prompts)
    with pytest.raises(InvalidInputError):
        outpaint(image, OutpaintSettings(geometry.by_pixels(40, 30, right=8)), req(), ColourBackend(), max_pixels=100)


@pytest.mark.both_stacks
def test_tiny_diffusers_per_side(tiny_sd_inpaint_dir, astronaut):
    from inpaint_anything.diffusion.cache import PipelineCache
    from inpaint_anything.inpaint.diffusers_backend import DiffusersBackend

    image = np.ascontiguousarray(astronaut[50:127, 60:161])  # 101x77
    exp = geometry.by_pixels(101, 77, left=24, down=16)
    backend = DiffusersBackend(str(tiny_sd_inpaint_dir), PipelineCache(), device="cpu", native_override=64)
    result = outpaint(image, OutpaintSettings(exp, strategy="per_side"), req(steps=2, prompt="a photo"), backend)
    out = result.images[0]
    assert out.shape == (93, 125, 3)
    ys, xs = interior(image, exp, 16)
    assert np.array_equal(out[ys, xs], original_interior(image, exp, 16))
