"""SegmentSession (cached embeddings, prompts, HQ feature caching) and SamModelCache, on tiny models."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from fixtures.tiny_sam import predictor_for

from inpaint_anything.errors import ImageTooLargeError, InvalidInputError, ModelNotFoundError
from inpaint_anything.segment.checkpoint import load_sam
from inpaint_anything.segment.model_cache import SamModelCache, resolve_device, resolve_dtype
from inpaint_anything.segment.session import PromptResult, SegmentSession, validate_box, validate_points

KINDS = ("sam", "sam_hq", "mobile_sam", "sam_hq_tiny")


@pytest.fixture(scope="module")
def loaded(tiny_sam_files):
    return {kind: load_sam(tiny_sam_files[kind]) for kind in KINDS}


@pytest.fixture(scope="module")
def image(synthetic):
    return synthetic[0].image  # 240x320 disk


@pytest.fixture
def count_calls():
    """``count_calls(module)`` -> a list that grows by one on every forward call of ``module``."""
    handles = []

    def attach(module) -> list[int]:
        calls: list[int] = []
        handles.append(module.register_forward_hook(lambda *a: calls.append(1)))
        return calls

    yield attach
    for handle in handles:
        handle.remove()


# --------------------------------------------------------------------------- embeddings


def test_encoder_runs_once_per_image_content(loaded, image, count_calls):
    session = SegmentSession(loaded["sam"], max_cached_images=2)
    runs = count_calls(loaded["sam"].model.image_encoder)
    session.set_image(image)
    session.set_image(image.copy())  # same pixels, another array
    for x in (50, 100, 150, 200, 250):
        session.predict(points=[(x, 120)])
    session.predict(box=(10, 10, 200, 200))
    assert len(runs) == 1 and session.encoder_runs == 1
    other = image[::-1].copy()
    session.set_image(other)
    session.set_image(image)  # still among the 2 cached embeddings
    assert len(runs) == 2
    session.set_image(image[:, ::-1].copy())  # a third image evicts the least recently used (other)
    session.set_image(other)
    assert len(runs) == 4


def test_other_input_kinds_share_the_rgb_embedding(loaded, image, count_calls):
    session = SegmentSession(loaded["sam"])
    gray = image[:, :, 1]
    session.set_image(np.repeat(gray[:, :, None], 3, axis=2))
    runs = count_calls(loaded["sam"].model.image_encoder)
    session.set_image(gray)  # grayscale HxW
    session.set_image(np.dstack([np.repeat(gray[:, :, None], 3, axis=2), np.full(gray.shape, 7, np.uint8)]))  # RGBA
    session.set_image(gray.astype(np.uint16) * 257)  # 16-bit
    assert runs == []
    assert session.geometry.original_size == gray.shape


def test_huge_image_refused_before_encoding(loaded, count_calls):
    session = SegmentSession(loaded["sam"], max_pixels=100 * 100)
    runs = count_calls(loaded["sam"].model.image_encoder)
    with pytest.raises(ImageTooLargeError, match="101x100"):
        session.set_image(np.zeros((100, 101, 3), np.uint8))
    assert runs == []
    session.set_image(np.zeros((100, 100, 3), np.uint8))
    assert len(runs) == 1


def test_predict_needs_an_image(loaded):
    with pytest.raises(InvalidInputError, match="upload an image"):
        SegmentSession(loaded["sam"]).predict(points=[(1, 1)])


# --------------------------------------------------------------------------- prompts


@pytest.mark.parametrize("kind", KINDS)
def test_click_candidates_shapes_and_order(loaded, image, kind):
    session = SegmentSession(loaded[kind])
    session.set_image(image)
    result = session.predict(points=[(160, 120)], labels=[1], multimask=True)
    n = session.candidates_per_prompt(True)
    assert n == (1 if kind in ("sam_hq", "sam_hq_tiny") else 3)
    side = session.geometry.lowres
    assert side == (64 if kind in ("sam", "sam_hq") else 256)
    assert isinstance(result, PromptResult) and len(result) == n
    assert result.masks.shape == (n, 240, 320) and result.masks.dtype == bool
    assert result.scores.shape == (n,) and result.scores.dtype == np.float32
    assert result.low_res_logits.shape == (n, side, side) and result.low_res_logits.dtype == np.float32
    assert np.all(np.diff(result.scores) <= 0)
    np.testing.assert_array_equal(result.best, result.masks[0])
    single = session.predict(points=[(160, 120)], multimask=False)
    assert len(single) == 1 and session.candidates_per_prompt(False) == 1


@pytest.mark.parametrize("kind", ["sam", "mobile_sam", "sam_hq"])
def test_box_and_box_with_points(loaded, image, kind):
    session = SegmentSession(loaded[kind])
    session.set_image(image)
    boxed = session.predict(box=(80, 40, 240, 200), multimask=False)
    both = session.predict(points=[(160, 120), (20, 20)], labels=[1, 0], box=(80, 40, 240, 200), multimask=False)
    assert boxed.masks.shape == both.masks.shape == (1, 240, 320)
    assert not np.array_equal(boxed.low_res_logits, both.low_res_logits)
    # a box given corner-swapped or partly outside the image is ordered and clipped
    swapped = session.predict(box=(240, 200, 80, 40), multimask=False)
    np.testing.assert_array_equal(swapped.low_res_logits, boxed.low_res_logits)


@pytest.mark.parametrize("kind", ["sam", "sam_hq_tiny"])
def test_refinement_feeds_previous_logits_back(loaded, image, kind):
    session = SegmentSession(loaded[kind])
    session.set_image(image)
    first = session.predict(points=[(160, 120)])
    again = session.predict(points=[(160, 120), (60, 60)], labels=[1, 0], multimask=False)
    refined = session.predict(points=[(160, 120), (60, 60)], labels=[1, 0], multimask=False, refine_from=first)
    assert (refined.masks[0] != again.masks[0]).any()
    assert not np.allclose(refined.low_res_logits, again.low_res_logits)
    from_logits = session.predict(
        points=[(160, 120), (60, 60)], labels=[1, 0], multimask=False, refine_from=first.low_res_logits[0]
    )
    np.testing.assert_array_equal(from_logits.low_res_logits, refined.low_res_logits)
    with pytest.raises(InvalidInputError, match="low-res logits"):
        session.predict(points=[(160, 120)], refine_from=np.zeros((10, 10), np.float32))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"points": [(320.5, 10)]}, "outside"),
        ({"points": [(-1, 10)]}, "outside"),
        ({"points": [(10, 241)]}, "outside"),
        ({"box": (10, 10, 10, 100)}, "no area"),
        ({"box": (400, 300, 500, 400)}, "no area"),
        ({"box": (1, 2, 3)}, "four numbers"),
        ({"points": [(10, 10)], "labels": [1, 0]}, "one label per point"),
        ({"points": [(10, 10)], "labels": [2]}, "1 \\(object\\) or 0"),
        ({"points": [(np.nan, 10)]}, "x, y"),
        ({}, "Click on the object"),
    ],
)
def test_invalid_prompts_are_rejected(loaded, image, kwargs, message):
    session = SegmentSession(loaded["sam"])
    session.set_image(image)
    with pytest.raises(InvalidInputError, match=message):
        session.predict(**kwargs)


def test_prompt_validators():
    pts, labs = validate_points([(0, 0), (320, 240)], None, (240, 320))
    assert pts.shape == (2, 2) and labs.tolist() == [1, 1]
    assert validate_points([], None, (240, 320))[0].shape == (0, 2)
    np.testing.assert_array_equal(validate_box((-50, 10, 100, 500), (240, 320)), [0, 10, 100, 240])
    assert validate_box(None, (240, 320)) is None


# --------------------------------------------------------------------------- parity and HQ caching


def _predictor_result(loaded, image, **kwargs):
    predictor = predictor_for(loaded)
    predictor.set_image(image)
    if loaded.spec.predictor_package == "segment_anything_hq":
        kwargs["hq_token_only"] = False
    masks, scores, low = predictor.predict(**kwargs)
    order = np.argsort(-scores, kind="stable")
    return masks[order], scores[order], low[order]


@pytest.mark.parametrize("kind", KINDS)
def test_results_identical_to_the_packages_predictor(loaded, image, kind):
    session = SegmentSession(loaded[kind])
    session.set_image(image)
    cases = [
        ({"points": [(160, 120)]}, {"point_coords": np.array([[160, 120]]), "point_labels": np.array([1])}),
        (
            {"points": [(160, 120), (30, 40)], "labels": [1, 0], "box": (60, 30, 260, 210), "multimask": False},
            {
                "point_coords": np.array([[160, 120], [30, 40]]),
                "point_labels": np.array([1, 0]),
                "box": np.array([60, 30, 260, 210]),
                "multimask_output": False,
            },
        ),
    ]
    for ours_kwargs, theirs_kwargs in cases:
        ours = session.predict(**ours_kwargs)
        masks, scores, low = _predictor_result(loaded[kind], image, **theirs_kwargs)
        np.testing.assert_array_equal(ours.masks, masks)
        np.testing.assert_array_equal(ours.scores, scores)
        np.testing.assert_array_equal(ours.low_res_logits, low)


@pytest.mark.parametrize("kind", ["sam_hq", "sam_hq_tiny"])
def test_hq_image_features_are_computed_once_per_image(loaded, image, kind, count_calls):
    model = loaded[kind].model
    decoder = model.mask_decoder
    compress = count_calls(decoder.compress_vit_feat)
    embed = count_calls(decoder.embedding_encoder)
    mask_feature = count_calls(decoder.embedding_maskfeature)  # per-prompt module, as a control
    session = SegmentSession(loaded[kind])
    session.set_image(image)
    assert (len(compress), len(embed)) == (1, 1)
    for x in (40, 200):
        session.predict(points=[(x, 100)])
    session.predict(box=(20, 20, 200, 200), hq_token_only=True)
    assert (len(compress), len(embed)) == (1, 1)
    assert len(mask_feature) == 3
    # the package's own predictor recomputes them on every prompt
    predictor = predictor_for(loaded[kind])
    predictor.set_image(image)
    for _ in range(2):
        predictor.predict(point_coords=np.array([[40, 100]]), point_labels=np.array([1]))
    assert (len(compress), len(embed)) == (3, 3)


def test_hq_token_only_matches_predictor(loaded, image):
    session = SegmentSession(loaded["sam_hq"])
    session.set_image(image)
    ours = session.predict(points=[(160, 120)], hq_token_only=True)
    predictor = predictor_for(loaded["sam_hq"])
    predictor.set_image(image)
    masks, scores, low = predictor.predict(point_coords=np.array([[160, 120]]), point_labels=np.array([1]), hq_token_only=True)
    np.testing.assert_array_equal(ours.masks, masks)
    np.testing.assert_array_equal(ours.low_res_logits, low)


# --------------------------------------------------------------------------- model cache


def test_model_cache_loads_once_and_evicts_lru(tiny_sam_files):
    cache = SamModelCache(max_models=2, device="cpu")
    a = cache.get(tiny_sam_files["sam"])
    assert cache.get(str(tiny_sam_files["sam"])) is a and cache.loads == 1
    assert a.model.image_encoder.patch_embed.proj.weight.dtype.is_floating_point
    b = cache.get(tiny_sam_files["sam_hq"])
    cache.get(tiny_sam_files["sam"])  # sam is now the most recently used
    cache.get(tiny_sam_files["mobile_sam"])
    assert tiny_sam_files["sam_hq"] not in cache and tiny_sam_files["sam"] in cache
    assert len(cache) == 2 and cache.loads == 3
    assert cache.get(tiny_sam_files["sam_hq"]) is not b
    assert cache.unload(tiny_sam_files["sam_hq"]) == 1
    assert cache.unload() == 1 and len(cache) == 0
    with pytest.raises(ModelNotFoundError):
        cache.get(tiny_sam_files["sam"].parent / "missing.pth")


def test_model_cache_reloads_a_changed_file(tiny_sam_files, tmp_path):
    import shutil

    path = tmp_path / "model.pth"
    shutil.copy(tiny_sam_files["sam"], path)
    cache = SamModelCache(device="cpu")
    first = cache.get(path)
    shutil.copy(tiny_sam_files["mobile_sam"], path)
    os.utime(path, ns=(1, 1))
    second = cache.get(path)
    assert second is not first and second.family == "mobile_sam" and cache.loads == 2


def test_model_cache_frees_memory_before_loading(tiny_sam_files):
    free = {"bytes": 10**12}
    cache = SamModelCache(max_models=3, device="cpu", memory_probe=lambda device: free["bytes"])
    cache.get(tiny_sam_files["sam"])
    cache.get(tiny_sam_files["sam_hq"])
    free["bytes"] = 10  # almost no memory left: every other model is unloaded first
    cache.get(tiny_sam_files["mobile_sam"])
    assert cache.loaded_paths() == [str(tiny_sam_files["mobile_sam"].resolve())]


def test_model_cache_is_thread_safe(tiny_sam_files):
    cache = SamModelCache(device="cpu")
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(tiny_sam_files["sam"]))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.loads == 1 and all(r is results[0] for r in results)


def test_model_cache_cpu_is_fp32_and_channels_last(tiny_sam_files, image):
    import torch

    cache = SamModelCache(device="cpu", dtype="fp16")
    model = cache.get(tiny_sam_files["mobile_sam"])
    assert {p.dtype for p in model.model.parameters()} == {torch.float32}
    conv = model.model.image_encoder.patch_embed.seq[0].c.weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    fast = SegmentSession(model)
    fast.set_image(image)
    plain = SegmentSession(load_sam(tiny_sam_files["mobile_sam"]))
    plain.set_image(image)
    np.testing.assert_allclose(
        fast.predict(points=[(160, 120)]).low_res_logits, plain.predict(points=[(160, 120)]).low_res_logits, atol=1e-3
    )


def test_half_precision_encoder_with_fp32_decoder(tiny_sam_files, image):
    """What SamModelCache does with fp16/bf16 on CUDA, checked on the CPU with bf16."""
    import torch

    from inpaint_anything.segment import model_cache

    half = model_cache._default_loader(tiny_sam_files["sam_hq"], "cpu", torch.bfloat16)
    assert half.dtype == torch.bfloat16
    assert half.model.image_encoder.patch_embed.proj.weight.dtype == torch.bfloat16
    assert half.model.mask_decoder.iou_token.weight.dtype == torch.float32
    session = SegmentSession(half)
    session.set_image(image)
    assert session.embedding.features.dtype == torch.float32
    result = session.predict(points=[(160, 120)], box=(60, 30, 260, 210))
    full = SegmentSession(load_sam(tiny_sam_files["sam_hq"]))
    full.set_image(image)
    reference = full.predict(points=[(160, 120)], box=(60, 30, 260, 210))
    assert result.masks.shape == reference.masks.shape
    assert (result.masks == reference.masks).mean() > 0.9


def test_device_and_dtype_resolution():
    import torch

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cuda", "mps", "cpu")
    with pytest.raises(InvalidInputError):
        resolve_device("tpu")
    assert resolve_dtype("cpu", "bf16") == torch.float32
    assert resolve_dtype("cuda", "fp16") == torch.float16
    assert resolve_dtype("cuda", "auto") == torch.float32
    with pytest.raises(InvalidInputError):
        resolve_dtype("cpu", "int8")
    with pytest.raises(InvalidInputError):
        SamModelCache(max_models=0)
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInputError, match="no CUDA"):
            resolve_device("cuda")
