"""GrabCut fallback: box and point seeds on synthetic shapes with exact masks."""

from __future__ import annotations

import numpy as np
import pytest

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.segment.grabcut import grabcut_mask

SOLID = ("disk", "rectangle", "triangle")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def _box(mask: np.ndarray, pad: int = 8) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return xs.min() - pad, ys.min() - pad, xs.max() + 1 + pad, ys.max() + 1 + pad


def _inner_point(mask: np.ndarray) -> tuple[int, int]:
    import cv2

    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(x), int(y)


@pytest.fixture(scope="module")
def cases(synthetic):
    return {c.name: c for c in synthetic}


@pytest.mark.parametrize("name", SOLID)
def test_box_selects_the_shape(cases, name):
    case = cases[name]
    mask = grabcut_mask(case.image, box=_box(case.mask))
    assert mask.dtype == bool and mask.shape == case.mask.shape
    assert _iou(mask, case.mask) >= 0.9


@pytest.mark.parametrize("name", SOLID)
def test_points_alone_select_the_shape(cases, name):
    case = cases[name]
    mask = grabcut_mask(case.image, points=[_inner_point(case.mask), (2, 2)], labels=[1, 0])
    assert _iou(mask, case.mask) >= 0.9


def test_box_and_points_together(cases):
    case = cases["disk"]
    mask = grabcut_mask(case.image, box=_box(case.mask, 20), points=[_inner_point(case.mask)], labels=[1], iterations=3)
    assert _iou(mask, case.mask) >= 0.9


def test_point_seeds_are_definite(cases):
    case = cases["rectangle"]
    bg_inside = _inner_point(case.mask)
    mask = grabcut_mask(case.image, box=_box(case.mask), points=[bg_inside], labels=[0], radius=4)
    x, y = bg_inside
    assert not mask[y - 2 : y + 3, x - 2 : x + 3].any()  # inside the radius-4 disk
    assert mask.sum() > 0.9 * case.mask.sum()


def test_hair_does_not_crash(cases):
    case = cases["hair"]
    mask = grabcut_mask(case.image, box=_box(case.mask, 4), iterations=2)
    assert mask.shape == case.mask.shape and mask.dtype == bool


def test_large_image_is_segmented_at_reduced_size(cases):
    import cv2

    case = cases["disk"]
    h, w = case.mask.shape
    big = cv2.resize(case.image, (w * 4, h * 4), interpolation=cv2.INTER_NEAREST)
    truth = cv2.resize(case.mask.astype(np.uint8), (w * 4, h * 4), interpolation=cv2.INTER_NEAREST).astype(bool)
    box = tuple(v * 4 for v in _box(case.mask))
    mask = grabcut_mask(big, box=box, max_side=320, iterations=3)
    assert mask.shape == truth.shape and _iou(mask, truth) >= 0.9


def test_box_covering_everything_and_other_inputs(cases):
    case = cases["disk"]
    h, w = case.mask.shape
    mask = grabcut_mask(case.image[:, :, 0], box=(-10, -10, w + 10, h + 10), iterations=2)  # grayscale input
    assert mask.shape == (h, w)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "Draw a box"),
        ({"points": [(5, 5)], "labels": [0]}, "Draw a box"),
        ({"box": (10, 10, 10.5, 50)}, "no area"),
        ({"box": (500, 500, 600, 600)}, "no area"),
        ({"box": (1, 2, 3)}, "four numbers"),
        ({"points": [(400, 5)]}, "outside"),
        ({"points": [(5, 5)], "labels": [1, 1]}, "one label per point"),
        ({"points": [(5, 5)], "labels": [3]}, "1 \\(object\\) or 0"),
        ({"box": (0, 0, 50, 50), "iterations": 0}, "iteration"),
    ],
)
def test_invalid_prompts(cases, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        grabcut_mask(cases["disk"].image, **kwargs)
