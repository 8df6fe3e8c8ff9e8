"""'Segment everything': post-processing on synthetic low-res logits, scribble selection, and the
real tiny models end to end (shapes, determinism, no re-encoding)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.segment.everything import SegmentMap, palette, segment_everything, select_by_scribble
from inpaint_anything.segment.session import Geometry


def _disk(cx: float, cy: float, r: float):
    return lambda x, y: r - np.hypot(x - cx, y - cy)


def _rect(x0: float, y0: float, x1: float, y1: float):
    return lambda x, y: np.minimum(np.minimum(x - x0, x1 - x), np.minimum(y - y0, y1 - y))


class FakeSession:
    """Stands in for SegmentSession: decodes a click into logits of known shapes.

    ``shapes`` are signed distance functions of continuous image coordinates (positive inside).
    A click inside shapes returns, in this order, the smallest shape containing it (score 0.95),
    the next one (or the same again, 0.90) and a noisy blob (0.30). Background clicks return
    low-scored masks only.
    """

    def __init__(self, shapes, size=(240, 320), img_size=256, lowres=64, gain=16.0):
        h, w = size
        scale = img_size / max(h, w)
        self.geometry = Geometry((h, w), (int(h * scale + 0.5), int(w * scale + 0.5)), img_size, lowres)
        self.shapes = shapes
        self.gain = gain
        self.calls = 0
        self.sets = 0
        # continuous image coordinates of the low-res sample centres
        in_h, in_w = self.geometry.input_size
        u = (np.arange(lowres) + 0.5) * img_size / lowres
        self.px_per_cell = img_size / lowres * w / in_w
        self.X, self.Y = np.meshgrid(u * w / in_w, u * h / in_h)
        self.areas = [float((sdf(self.X, self.Y) > 0).sum()) for sdf in shapes]
        self.planes = None

    def set_image(self, image):
        self.sets += 1

    def decode_points(self, points_xy, multimask=True):
        import torch

        if self.planes is None:  # torch tensors: outside tracemalloc's view, like a real decoder
            self.planes = [torch.from_numpy(self.gain * sdf(self.X, self.Y) / self.px_per_cell).float() for sdf in self.shapes]
        self.calls += 1
        s = self.geometry.lowres
        gen = torch.Generator().manual_seed(len(points_xy))
        logits = torch.randn((len(points_xy), 3, s, s), generator=gen) * 3.0
        scores = torch.full((len(points_xy), 3), 0.30)
        for b, (x, y) in enumerate(points_xy):
            inside = sorted(
                (i for i, sdf in enumerate(self.shapes) if sdf(np.float64(x), np.float64(y)) > 0), key=lambda i: self.areas[i]
            )
            picks = (inside + inside[-1:])[:2] if inside else []
            for k, i in enumerate(picks):
                logits[b, k] = self.planes[i]
                scores[b, k] = 0.95 - 0.05 * k
        return logits, scores


H, W = 240, 320
SHAPES = [_rect(30, 30, 200, 200), _disk(100, 100, 30), _disk(260, 120, 35)]


def _truth(sdf, h=H, w=W):
    yy, xx = np.mgrid[0:h, 0:w]
    return sdf(xx + 0.5, yy + 0.5) > 0


def _iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


@pytest.fixture
def fake_map() -> tuple[FakeSession, SegmentMap]:
    session = FakeSession(SHAPES)
    return session, segment_everything(session, points_per_side=16, points_per_batch=50)


def test_known_shapes_are_found_once_each_smallest_first(fake_map):
    session, seg = fake_map
    assert len(seg) == 3  # many clicks per shape, duplicates merged by NMS, background rejected
    assert session.calls == 6  # 256 points in batches of 50
    truths = [_truth(SHAPES[1]), _truth(SHAPES[2]), _truth(SHAPES[0])]  # by ascending area
    assert list(seg.areas) == sorted(seg.areas)
    for i, truth in enumerate(truths):
        mask = seg.mask(i)
        assert mask.shape == (H, W) and mask.dtype == bool
        assert _iou(mask, truth) >= 0.97
        assert abs(int(seg.areas[i]) - int(truth.sum())) <= 0.03 * truth.sum()
        x0, y0, x1, y1 = seg.boxes[i]
        ys, xs = np.nonzero(truth)
        assert abs(x0 - xs.min()) <= 2 and abs(x1 - xs.max() - 1) <= 2
        assert abs(y0 - ys.min()) <= 2 and abs(y1 - ys.max() - 1) <= 2
    np.testing.assert_allclose(seg.scores, 0.95)
    assert seg.stability.min() >= 0.9


def test_label_map_paints_small_segments_over_large(fake_map):
    _, seg = fake_map
    disk, other, rect = _truth(SHAPES[1]), _truth(SHAPES[2]), _truth(SHAPES[0])
    assert seg.labels.shape == (H, W) and seg.labels.dtype == np.int32
    assert _iou(seg.labels == 0, disk) >= 0.97
    assert _iou(seg.labels == 1, other) >= 0.97
    assert _iou(seg.labels == 2, rect & ~disk) >= 0.97
    assert (seg.labels[~(disk | other | rect)] == -1).mean() > 0.99
    colours = seg.color_map()
    assert colours.shape == (H, W, 3) and colours.dtype == np.uint8
    assert (colours[seg.labels == -1] == 0).all()
    np.testing.assert_array_equal(colours[seg.labels == 1][0], palette(3)[1])


def test_segment_map_is_deterministic(fake_map):
    session, seg = fake_map
    again = segment_everything(session, points_per_side=16, points_per_batch=64)
    np.testing.assert_array_equal(seg.labels, again.labels)
    np.testing.assert_array_equal(seg.color_map(), again.color_map())
    np.testing.assert_array_equal(seg.areas, again.areas)


def test_thresholds_and_min_area_drop_segments():
    session = FakeSession(SHAPES)
    assert len(segment_everything(session, pred_iou_thresh=0.96)) == 0
    seg = segment_everything(session, pred_iou_thresh=0.0, stability_thresh=0.0)
    assert len(seg) >= 3  # the noisy candidates pass when nothing is filtered
    big_only = segment_everything(session, min_area_frac=0.2)
    assert len(big_only) == 1 and big_only.areas[0] > 25_000


def test_palette_is_fixed_and_distinct():
    p = palette(64)
    assert p.shape == (64, 3) and p.dtype == np.uint8
    np.testing.assert_array_equal(p, palette(64))
    assert len({tuple(c) for c in p}) == 64


def _scribble(points, h=H, w=W, r=3):
    import cv2

    m = np.zeros((h, w), np.uint8)
    for a, b in zip(points[:-1], points[1:], strict=False):
        cv2.line(m, a, b, 1, r)
    return m.astype(bool)


def test_scribble_selects_touched_segments(fake_map):
    _, seg = fake_map
    disk, other, rect = _truth(SHAPES[1]), _truth(SHAPES[2]), _truth(SHAPES[0])
    on_disk = select_by_scribble(seg, _scribble([(95, 95), (105, 105)]))
    assert on_disk.dtype == bool and _iou(on_disk, disk) >= 0.97
    # the visible rectangle: the whole rectangle (including the disk painted over it)
    on_rect = select_by_scribble(seg, _scribble([(40, 180), (60, 190)]))
    assert _iou(on_rect, rect) >= 0.97
    # crosses the disk, the rest of the rectangle, background and the other disk
    across = select_by_scribble(seg, _scribble([(100, 100), (260, 120)]))
    assert _iou(across, rect | other) >= 0.97
    two_disks = select_by_scribble(seg, _scribble([(100, 100), (101, 101)]) | _scribble([(260, 120), (261, 121)]))
    assert _iou(two_disks, disk | other) >= 0.97


def test_scribble_on_unsegmented_pixels(fake_map):
    _, seg = fake_map
    line = _scribble([(210, 220), (300, 225)])  # background only
    assert not select_by_scribble(seg, line).any()
    added = select_by_scribble(seg, line, ignore_unsegmented=False)
    np.testing.assert_array_equal(added, line)
    mixed = _scribble([(95, 100), (260, 225)])  # crosses disk, rectangle, background
    selected = select_by_scribble(seg, mixed, ignore_unsegmented=False)
    assert (selected[mixed]).all()
    assert selected.sum() > (line | mixed).sum()


def test_scribble_must_match_the_image(fake_map):
    _, seg = fake_map
    with pytest.raises(InvalidInputError, match="same size"):
        select_by_scribble(seg, np.ones((10, 10), bool))
    with pytest.raises(InvalidInputError):
        select_by_scribble(seg, None)


def test_big_image_keeps_a_small_map_and_upsamples_only_selections():
    h, w = 2000, 3000
    shapes = [_rect(300, 300, 2000, 1800), _disk(1000, 1000, 300), _disk(2600, 1200, 350)]
    session = FakeSession(shapes, size=(h, w))
    segment_everything(FakeSession(SHAPES), points_per_side=2)  # imports happen outside the measurement
    tracemalloc.start()
    try:
        seg = segment_everything(session, points_per_side=12, max_side=500)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < h * w // 4  # a quarter of one full-resolution bool plane
    assert seg.map_size == (333, 500) and len(seg) == 3
    assert abs(int(seg.areas[0]) - np.pi * 300**2) < 0.03 * np.pi * 300**2
    full = seg.mask(0)
    assert full.shape == (h, w)
    assert _iou(full, _truth(shapes[1], h, w)) >= 0.98
    # a scribble drawn on the small colour map selects at full resolution
    on_map = np.zeros(seg.map_size, bool)
    on_map[160:170, 160:170] = True
    picked = select_by_scribble(seg, on_map)
    assert picked.shape == (h, w) and _iou(picked, full) > 0.999


def test_invalid_parameters():
    session = FakeSession(SHAPES)
    with pytest.raises(InvalidInputError):
        segment_everything(session, points_per_side=0)
    with pytest.raises(InvalidInputError):
        segment_everything(session, max_side=0)
    seg = segment_everything(session)
    with pytest.raises(InvalidInputError, match="no segment"):
        seg.mask(len(seg))


def test_cpu_decodes_one_click_at_a_time_by_default():
    session = FakeSession(SHAPES)
    segment_everything(session, points_per_side=4)
    assert session.calls == 16
    session.device = "cuda:0"
    segment_everything(session, points_per_side=10)
    assert session.calls == 16 + 2


def test_image_argument_goes_through_the_session():
    session = FakeSession(SHAPES)
    segment_everything(session, np.zeros((H, W, 3), np.uint8), points_per_side=2)
    assert session.sets == 1


# --------------------------------------------------------------------------- real tiny models


@pytest.mark.parametrize("kind", ["sam", "sam_hq"])
def test_tiny_models_end_to_end(tiny_sam_files, synthetic, kind):
    from inpaint_anything.segment.checkpoint import load_sam
    from inpaint_anything.segment.session import SegmentSession

    loaded = load_sam(tiny_sam_files[kind])
    calls = []
    loaded.model.image_encoder.register_forward_hook(lambda *a: calls.append(1))
    session = SegmentSession(loaded)
    image = synthetic[0].image
    session.set_image(image)
    loose = {"pred_iou_thresh": 0.0, "stability_thresh": 0.0, "min_area_frac": 0.0}
    first = segment_everything(session, points_per_side=8, **loose)
    second = segment_everything(session, image, points_per_side=8, **loose)
    assert len(calls) == 1  # the cached embedding is reused, also when the image is passed again
    assert len(first) >= 1
    assert first.labels.shape == image.shape[:2]
    np.testing.assert_array_equal(first.labels, second.labels)
    np.testing.assert_array_equal(first.scores, second.scores)
    assert list(first.areas) == sorted(first.areas)
    assert set(np.unique(first.labels)) <= set(range(-1, len(first)))
    strict = segment_everything(session, points_per_side=8)  # random weights: nothing is confident
    assert len(strict) == 0 and (strict.labels == -1).all()
    assert not select_by_scribble(strict, np.ones(image.shape[:2], bool)).any()
