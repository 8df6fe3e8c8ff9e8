"""Mask toolkit: exact morphology, feathering, clean-up, brush strokes, boxes and undo history."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inpaint_anything import masks
from inpaint_anything.errors import InvalidInputError

FAST = settings(max_examples=40, deadline=None)


def disk(h: int, w: int, cy: float, cx: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= radius * radius


def rect(h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def offsets(r: float) -> list[tuple[int, int]]:
    k = int(np.floor(r))
    return [(dy, dx) for dy in range(-k, k + 1) for dx in range(-k, k + 1) if dy * dy + dx * dx <= r * r]


def brute_dilate(m: np.ndarray, r: float) -> np.ndarray:
    """Dilation by the Euclidean disk, with everything outside the image unselected."""
    h, w = m.shape
    k = int(np.floor(r))
    big = np.zeros((h + 2 * k, w + 2 * k), bool)
    big[k : k + h, k : k + w] = m
    out = np.zeros_like(m)
    for dy, dx in offsets(r):
        out |= big[k + dy : k + dy + h, k + dx : k + dx + w]
    return out


def brute_erode(m: np.ndarray, r: float) -> np.ndarray:
    """Erosion by the Euclidean disk, with everything outside the image selected."""
    h, w = m.shape
    k = int(np.floor(r))
    big = np.ones((h + 2 * k, w + 2 * k), bool)
    big[k : k + h, k : k + w] = m
    out = np.ones_like(m)
    for dy, dx in offsets(r):
        out &= big[k + dy : k + dy + h, k + dx : k + dx + w]
    return out


@st.composite
def random_masks(draw, max_side: int = 40):
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    density = draw(st.sampled_from([0.02, 0.2, 0.5, 0.9]))
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).random((h, w)) < density


# --------------------------------------------------------------------------- validation


def test_as_bool_mask_accepts_uint8_float_and_hxwx1():
    m255 = np.array([[0, 255], [128, 0]], np.uint8)
    assert masks.as_bool_mask(m255).tolist() == [[False, True], [True, False]]
    assert masks.as_bool_mask(m255[..., None]).dtype == np.bool_
    assert masks.as_bool_mask(np.array([[0.0, 0.5]])).tolist() == [[False, True]]
    assert masks.as_bool_mask(m255, shape=(2, 2, 3)).shape == (2, 2)


@pytest.mark.parametrize(
    ("value", "shape", "fragment"),
    [
        (None, None, "No mask"),
        (np.zeros((2, 2, 3), np.uint8), None, "single-channel"),
        (np.zeros(5, np.uint8), None, "single-channel"),
        (np.array([["a", "b"]]), None, "dtype"),
        (np.array([[np.nan, 1.0]]), None, "NaN"),
        (np.zeros((4, 5), bool), (5, 4), "same size"),
    ],
)
def test_as_bool_mask_rejects_bad_input(value, shape, fragment):
    with pytest.raises(InvalidInputError, match=fragment):
        masks.as_bool_mask(value, shape)


@pytest.mark.parametrize("func", [masks.grow, masks.shrink, masks.feather])
def test_radius_validation(func):
    m = np.ones((3, 3), bool)
    for bad in (-1, -0.5, float("nan"), "x"):
        with pytest.raises(InvalidInputError):
            func(m, bad)
    out = func(m, 0)
    assert out is not m
    assert (out == m).all()


# --------------------------------------------------------------------------- morphology


@FAST
@given(random_masks(), st.sampled_from([0.5, 1, 1.5, 2, 3, 4.2]))
def test_grow_and_shrink_match_brute_force_disk(m, r):
    assert (masks.grow(m, r) == brute_dilate(m, r)).all()
    assert (masks.shrink(m, r) == brute_erode(m, r)).all()


@FAST
@given(random_masks(), st.floats(0, 6))
def test_grow_contains_mask_contains_shrink_and_invert_twice(m, r):
    grown, shrunk = masks.grow(m, r), masks.shrink(m, r)
    assert (grown | m == grown).all()
    assert (m | shrunk == m).all()
    assert (masks.invert(masks.invert(m)) == m).all()
    assert (masks.invert(m) == ~m).all()


@pytest.mark.parametrize("r", [0, 1, 1.5, 2, 3, 7, 12.5])
def test_grow_single_pixel_is_disk(r):
    m = np.zeros((41, 43), bool)
    m[20, 21] = True
    assert (masks.grow(m, r) == disk(41, 43, 20, 21, r)).all()


@FAST
@given(st.floats(3, 20), st.floats(-0.5, 0.5), st.floats(-0.5, 0.5), st.integers(1, 10))
def test_closing_of_disk_is_exact(radius, dy, dx, r):
    size = 2 * 20 + 2 * 10 + 5  # keep the disk more than r away from the border
    m = disk(size, size, size // 2 + dy, size // 2 + dx, radius)
    assert (masks.shrink(masks.grow(m, r), r) == m).all()


@FAST
@given(st.data(), st.integers(1, 10))
def test_closing_of_rectangle_is_exact(data, r):
    # Each side touches the image border or stays more than r away from it: the border neither grows
    # nor erodes the mask, so a gap of at most r to the border is (by design) closed.
    h, w = data.draw(st.integers(1, 60)), data.draw(st.integers(1, 60))
    gap = st.one_of(st.just(0), st.integers(r + 1, r + 8))
    x0, x_gap = data.draw(gap), data.draw(gap)
    y0, y_gap = data.draw(gap), data.draw(gap)
    x1, y1 = w - x_gap, h - y_gap
    if x1 <= x0 or y1 <= y0:
        return
    m = rect(h, w, x0, y0, x1, y1)
    assert (masks.shrink(masks.grow(m, r), r) == m).all()


def test_closing_fills_a_narrow_gap_to_the_border():
    m = rect(20, 20, 2, 5, 15, 15)
    closed = masks.shrink(masks.grow(m, 3), 3)
    expected = m.copy()
    expected[6:14, 0:2] = True  # the 2 px gap to the left border, rounded at its ends
    assert (closed == expected).all()


def test_closing_of_convex_polygons_is_exact():
    import cv2

    rng = np.random.default_rng(7)
    for _ in range(60):
        canvas = np.zeros((90, 90), np.uint8)
        pts = (rng.random((int(rng.integers(3, 7)), 2)) * 50 + 20).astype(np.int32)
        cv2.fillPoly(canvas, [cv2.convexHull(pts)], 1)
        m, r = canvas > 0, int(rng.integers(1, 12))
        assert (masks.shrink(masks.grow(m, r), r) == m).all()


@FAST
@given(st.data(), st.integers(1, 8))
def test_opening_of_rounded_rectangle_is_exact(data, r):
    # A rectangle grown by r is a convex shape that a disk of radius r can sweep out exactly. (A plain
    # rectangle is not: opening with a disk rounds its corners.)
    x0, y0 = data.draw(st.integers(10, 20)), data.draw(st.integers(10, 20))
    x1, y1 = data.draw(st.integers(x0 + 1, 40)), data.draw(st.integers(y0 + 1, 40))
    m = masks.grow(rect(60, 60, x0, y0, x1, y1), r)
    assert (masks.grow(masks.shrink(m, r), r) == m).all()
    plain = rect(60, 60, x0, y0, x1, y1)
    opened = masks.grow(masks.shrink(plain, r), r)
    assert (opened <= plain).all()


@FAST
@given(random_masks(), st.sampled_from([1, 2, 2.5, 4]))
def test_opening_and_closing_are_idempotent(x, r):
    # Sets of the form grow(X) are open, sets of the form shrink(X) are closed, even at the border.
    g = masks.grow(x, r)
    assert (masks.grow(masks.shrink(g, r), r) == g).all()
    s = masks.shrink(x, r)
    assert (masks.shrink(masks.grow(s, r), r) == s).all()


@FAST
@given(random_masks(), st.sampled_from([0.5, 1, 2, 3.5, 6]))
def test_feather_properties(m, px):
    alpha = masks.feather(m, px)
    assert alpha.dtype == np.float32
    assert alpha.shape == m.shape
    assert ((alpha >= 0) & (alpha <= 1)).all()
    assert (alpha[~masks.grow(m, px)] == 0).all()
    assert (alpha[masks.shrink(m, px)] == 1).all()
    band = masks.grow(m, px) & ~masks.shrink(m, px)
    assert ((alpha[band] > 0) & (alpha[band] < 1)).all()
    assert (alpha[m] >= 0.5).all()
    assert (alpha[~m] < 0.5).all()


def test_feather_is_a_ramp_across_a_straight_edge():
    m = np.zeros((9, 30), bool)
    m[:, :15] = True
    alpha = masks.feather(m, 4)
    row = alpha[4]
    assert (np.diff(row) <= 0).all()  # decreasing from inside to outside
    assert (row[:11] == 1).all()
    assert (row[19:] == 0).all()
    assert row[14] + row[15] == pytest.approx(1.0)  # symmetric about the boundary
    assert (alpha == alpha[0]).all()  # the same in every row
    assert (masks.feather(m, 0) == m).all()
    assert (masks.feather(np.zeros((4, 4), bool), 3) == 0).all()
    assert (masks.feather(np.ones((4, 4), bool), 3) == 1).all()


# --------------------------------------------------------------------------- clean-up


def test_remove_specks_drops_exactly_small_components():
    m = np.zeros((40, 60), bool)
    m[2:4, 2:4] = True  # 4 px
    m[10:13, 10:13] = True  # 9 px
    m[20:24, 30:35] = True  # 20 px
    m[30, 50] = m[31, 51] = True  # 2 px, diagonal = one component
    out = masks.remove_specks(m, 9)
    expected = np.zeros_like(m)
    expected[10:13, 10:13] = True
    expected[20:24, 30:35] = True
    assert (out == expected).all()
    assert (masks.remove_specks(m, 0) == m).all()
    without_pair = m.copy()
    without_pair[30, 50] = without_pair[31, 51] = False
    assert (masks.remove_specks(m, 3) == without_pair).all()
    with pytest.raises(InvalidInputError):
        masks.remove_specks(m, -1)


@FAST
@given(random_masks(), st.integers(0, 12))
def test_remove_specks_matches_skimage_labels(m, min_area):
    from skimage.measure import label

    labels = label(m, connectivity=2)
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_area
    keep[0] = False
    assert (masks.remove_specks(m, min_area) == keep[labels]).all()


def test_fill_holes_fills_only_enclosed_holes():
    m = np.zeros((40, 40), bool)
    m[5:20, 5:20] = True
    m[9:12, 9:12] = False  # enclosed 9 px hole
    m[14:17, 14:17] = False  # enclosed 9 px hole
    m[25:35, 25:35] = True
    m[28:32, 28:35] = False  # C shape: open to the right, not a hole
    m[0:6, 30:40] = True
    m[0:3, 33:37] = False  # touches the image border: not a hole
    out = masks.fill_holes(m)
    expected = m.copy()
    expected[9:12, 9:12] = True
    expected[14:17, 14:17] = True
    assert (out == expected).all()
    small = m.copy()
    small[6:9, 6:8] = False  # a 6 px hole next to the 9 px ones
    limited = masks.fill_holes(small, max_area=6)
    assert limited[6:9, 6:8].all()
    assert not limited[9:12, 9:12].any()
    with pytest.raises(InvalidInputError):
        masks.fill_holes(m, max_area=-3)


@FAST
@given(random_masks())
def test_fill_holes_matches_scipy(m):
    from scipy.ndimage import binary_fill_holes

    assert (masks.fill_holes(m) == binary_fill_holes(m)).all()


# --------------------------------------------------------------------------- brush


def test_stroke_single_point_is_the_grow_disk():
    m = np.zeros((30, 30), bool)
    seed = m.copy()
    seed[12, 17] = True
    out = masks.apply_stroke(m, [(17, 12)], 5)
    assert (out == masks.grow(seed, 5)).all()
    assert not m.any()  # input untouched


def test_stroke_add_and_subtract_polyline():
    m = np.zeros((40, 60), bool)
    pts = [(10, 10), (40, 10), (40, 30)]
    out = masks.apply_stroke(m, pts, 2)
    yy, xx = np.mgrid[0:40, 0:60]
    seg1 = (np.abs(yy - 10) <= 2) & (xx >= 10) & (xx <= 40)
    seg2 = (np.abs(xx - 40) <= 2) & (yy >= 10) & (yy <= 30)
    caps = disk(40, 60, 10, 10, 2) | disk(40, 60, 30, 40, 2) | disk(40, 60, 10, 40, 2)
    assert (out == (seg1 | seg2 | caps)).all()
    full = np.ones((40, 60), np.uint8) * 255
    erased = masks.apply_stroke(full, pts, 2, mode="subtract")
    assert (erased == ~out).all()
    # Strokes partly outside the image are clipped.
    edge = masks.apply_stroke(m, [(-5, 20), (5, 20)], 1)
    assert edge[19:22, 0:6].all()
    assert edge[20, 6]  # the round cap at (5, 20)
    assert edge.sum() == 3 * 6 + 1
    with pytest.raises(InvalidInputError, match="mode"):
        masks.apply_stroke(m, pts, 2, mode="xor")
    with pytest.raises(InvalidInputError, match="at least one"):
        masks.apply_stroke(m, [], 2)
    with pytest.raises(InvalidInputError):
        masks.apply_stroke(m, pts, -1)


# --------------------------------------------------------------------------- union / boxes


def test_union():
    a = rect(10, 12, 0, 0, 3, 3)
    b = rect(10, 12, 5, 5, 8, 9).astype(np.uint8) * 255
    assert (masks.union([a, b]) == (a | (b > 0))).all()
    assert masks.union([], shape=(4, 5)).shape == (4, 5)
    with pytest.raises(InvalidInputError):
        masks.union([])
    with pytest.raises(InvalidInputError, match="same size"):
        masks.union([a, np.zeros((3, 3), bool)])


def test_bbox_and_padding():
    m = rect(20, 30, 4, 6, 9, 8)
    assert masks.bbox(m) == (4, 6, 9, 8)
    assert masks.bbox(np.zeros((3, 3), bool)) is None
    assert masks.bbox_with_padding(m, 3, (20, 30)) == (1, 3, 12, 11)
    assert masks.bbox_with_padding(m, 100, (20, 30, 3)) == (0, 0, 30, 20)
    assert masks.bbox_with_padding(np.zeros((3, 3), bool), 2) is None
    with pytest.raises(InvalidInputError):
        masks.bbox_with_padding(m, -1)
    with pytest.raises(InvalidInputError):
        masks.bbox_with_padding(m, 2, (21, 30))


@FAST
@given(random_masks())
def test_bbox_is_tight(m):
    box = masks.bbox(m)
    if not m.any():
        assert box is None
        return
    x0, y0, x1, y1 = box
    assert m[y0:y1, x0:x1].sum() == m.sum()
    assert m[y0, x0:x1].any() and m[y1 - 1, x0:x1].any()
    assert m[y0:y1, x0].any() and m[y0:y1, x1 - 1].any()


# --------------------------------------------------------------------------- history


def test_history_undo_redo_semantics():
    h = masks.MaskHistory(max_depth=10)
    assert h.current() is None and not h.can_undo() and not h.can_redo()
    assert h.undo() is None and h.redo() is None
    states = [rect(8, 9, 0, 0, i + 1, i + 1) for i in range(4)]
    for s in states:
        h.push(s)
    assert (h.current() == states[3]).all()
    assert (h.undo() == states[2]).all()
    assert (h.undo() == states[1]).all()
    assert h.can_redo()
    assert (h.redo() == states[2]).all()
    h.push(states[0])  # a new edit forgets the redo states
    assert not h.can_redo()
    assert (h.undo() == states[2]).all()
    h.push(states[2])  # equal to the current state: ignored
    assert h.can_redo()
    h.clear()
    assert h.current() is None and not h.can_undo() and not h.can_redo()


def test_history_depth_bound_and_copies():
    h = masks.MaskHistory(max_depth=3)
    live = np.zeros((5, 6), bool)
    for i in range(10):
        live[:] = False
        live[0, i % 6] = True
        live[1, i // 6] = True
        h.push(live)
    live[:] = True  # later edits to the caller's array do not leak in
    assert h.current().sum() == 2
    undone = 0
    while h.undo() is not None:
        undone += 1
    assert undone == 3
    current = h.current()
    current[:] = True  # neither do edits to a returned state
    assert h.current().sum() == 2
    redone = 0
    while h.redo() is not None:
        redone += 1
    assert redone == 3
    zero = masks.MaskHistory(max_depth=0)
    zero.push(live)
    zero.push(~live)
    assert not zero.can_undo()
    with pytest.raises(InvalidInputError):
        masks.MaskHistory(max_depth=-1)
