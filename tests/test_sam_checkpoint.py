"""Segment Anything checkpoint loading: safety, architecture inference, building and inference."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures.tiny_sam import SAM_KINDS, TINY_SAM_CONFIGS, build_tiny_sam, predictor_for

from inpaint_anything.errors import (
    IAError,
    InvalidInputError,
    ModelNotFoundError,
    UnrecognizedCheckpointError,
    UnsafeCheckpointError,
)
from inpaint_anything.segment.checkpoint import LoadedSam, build_sam, infer_sam_spec, load_sam, read_state_dict, sam_predictor_for
from inpaint_anything.segment.spec import TinyViTEncoderSpec, ViTEncoderSpec, known_sam_specs


def _import(name: str):
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(name)


@pytest.fixture(scope="module")
def loaded(tiny_sam_files) -> dict[str, LoadedSam]:
    return {kind: load_sam(path) for kind, path in tiny_sam_files.items()}


# --- recognition ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SAM_KINDS)
def test_spec_inferred_from_weights_matches_what_was_built(loaded, kind):
    cfg = TINY_SAM_CONFIGS[kind]
    spec = loaded[kind].spec
    assert spec.family == kind
    assert spec.variant == "custom"
    assert spec.is_hq == cfg["hq"]
    enc, dec = spec.encoder, spec.decoder
    if cfg["encoder"] == "vit":
        assert isinstance(enc, ViTEncoderSpec)
        assert (enc.img_size, enc.patch_size, enc.embed_dim, enc.depth, enc.num_heads) == (
            cfg["img_size"],
            cfg["patch_size"],
            cfg["embed_dim"],
            cfg["depth"],
            cfg["num_heads"],
        )
        assert enc.global_attn_indexes == cfg["global_attn_indexes"]
        assert enc.window_size == cfg["window_size"]
        assert enc.mlp_ratio == cfg["mlp_ratio"]
        assert spec.embedding_size == cfg["img_size"] // cfg["patch_size"]
        vit_dim = cfg["embed_dim"]
    else:
        assert isinstance(enc, TinyViTEncoderSpec)
        assert enc.embed_dims == cfg["embed_dims"]
        assert enc.depths == cfg["depths"]
        assert enc.num_heads[1:] == cfg["num_heads"][1:]  # stage 0 is convolutional (no heads)
        assert enc.window_sizes[1:] == cfg["window_sizes"][1:]
        assert (enc.mlp_ratio, enc.mbconv_expand_ratio, enc.num_classes) == (
            cfg["mlp_ratio"],
            cfg["mbconv_expand_ratio"],
            cfg["num_classes"],
        )
        assert (spec.img_size, spec.embedding_size) == (1024, 64)
        vit_dim = cfg["embed_dims"][2]
    assert enc.out_chans == dec.transformer_dim == spec.prompt_embed_dim == cfg["out_chans"]
    assert (dec.depth, dec.mlp_dim, dec.iou_head_depth, dec.iou_head_hidden_dim, dec.mask_in_chans) == (
        cfg["decoder_depth"],
        cfg["mlp_dim"],
        cfg["iou_head_depth"],
        cfg["iou_head_hidden_dim"],
        cfg["mask_in_chans"],
    )
    assert dec.num_multimask_outputs == 3
    assert dec.hq_vit_dim == (vit_dim if cfg["hq"] else None)


@pytest.mark.parametrize("kind", SAM_KINDS)
def test_reload_is_bit_identical(loaded, tiny_sam_files, kind):
    original = build_tiny_sam(kind).state_dict()
    reloaded = loaded[kind].model.state_dict()
    assert set(reloaded) == set(original)
    for key, value in original.items():
        assert torch.equal(reloaded[key], value), key
    assert set(read_state_dict(tiny_sam_files[kind])) == set(original)
    assert not loaded[kind].model.training


@pytest.mark.parametrize("kind", SAM_KINDS)
def test_build_sam_matches_package_built_model(loaded, kind):
    built = build_sam(loaded[kind].spec).state_dict()
    reference = build_tiny_sam(kind).state_dict()
    assert {k: tuple(v.shape) for k, v in built.items()} == {k: tuple(v.shape) for k, v in reference.items()}


FULL_SIZE = [("sam", v) for v in ("vit_b", "vit_l", "vit_h")] + [("sam_hq", v) for v in ("vit_b", "vit_l", "vit_h")]


@pytest.mark.parametrize(("family", "variant"), FULL_SIZE)
def test_full_size_vit_recognised_on_meta_device(family, variant):
    pkg = _import("segment_anything" if family == "sam" else "segment_anything_hq")
    with torch.device("meta"):
        model = pkg.sam_model_registry[variant]()
    sd = model.state_dict()
    assert all(t.is_meta for t in sd.values())  # no real weights were allocated
    spec = infer_sam_spec(sd)
    assert (spec.family, spec.variant) == (family, variant)
    assert spec == known_sam_specs()[(family, variant)]
    # and our builder reproduces exactly the published key set and shapes
    ours = build_sam(spec, device="meta").state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in sd.items()}


@pytest.mark.parametrize(
    ("family", "registry"), [("mobile_sam", "sam_model_registry_baseline"), ("sam_hq_tiny", "sam_model_registry")]
)
def test_full_size_tinyvit_recognised(family, registry):
    # TinyViT calls .item() while building, so the reference is built on the CPU (about 10M params).
    pkg = _import("segment_anything_hq")
    sd = getattr(pkg, registry)["vit_tiny"]().state_dict()
    spec = infer_sam_spec(sd)
    assert (spec.family, spec.variant) == (family, "vit_tiny")
    assert len(sd) == (439 if family == "mobile_sam" else 464)
    ours = build_sam(spec, device="meta").state_dict()
    assert all(t.is_meta for t in ours.values())
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in sd.items()}


def test_unknown_weights_are_unrecognized(tmp_path):
    path = tmp_path / "sd15.safetensors"
    from safetensors.torch import save_file

    save_file(
        {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(4, 4), "first_stage_model.x": torch.zeros(2)}, str(path)
    )
    with pytest.raises(UnrecognizedCheckpointError, match="not a Segment Anything") as err:
        load_sam(path)
    assert "Stable Diffusion" in str(err.value)
    assert "2 tensors" in str(err.value)

    not_weights = tmp_path / "list.pth"
    torch.save([1, 2, 3], str(not_weights))
    with pytest.raises(UnrecognizedCheckpointError, match="list.pth"):
        read_state_dict(not_weights)


# --- inference -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SAM_KINDS)
def test_predictor_on_real_photo(loaded, kind, astronaut):
    image = astronaut[:400, 40:340]  # non-square, to catch H/W mix-ups
    predictor = sam_predictor_for(loaded[kind])
    expected_pkg = "segment_anything" if kind == "sam" else "segment_anything_hq"
    assert type(predictor).__module__ == f"{expected_pkg}.predictor"
    predictor.set_image(image)
    point, label = np.array([[150, 120]]), np.array([1])
    masks, scores, low_res = predictor.predict(point_coords=point, point_labels=label, multimask_output=True)
    n = 1 if TINY_SAM_CONFIGS[kind]["hq"] else 3  # the HQ decoder returns its best mask only
    assert masks.shape == (n, 400, 300)
    assert masks.dtype == np.bool_
    assert scores.shape == (n,) and np.isfinite(scores).all()
    grid = loaded[kind].spec.embedding_size
    assert low_res.shape == (n, 4 * grid, 4 * grid)
    logits, _, _ = predictor.predict(point_coords=point, point_labels=label, multimask_output=True, return_logits=True)
    np.testing.assert_array_equal(masks, logits > 0.0)

    # The reloaded model computes exactly what the package-built original computes.
    reference = _import(expected_pkg).SamPredictor(build_tiny_sam(kind))
    reference.set_image(image)
    ref_logits, ref_scores, _ = reference.predict(point_coords=point, point_labels=label, return_logits=True)
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["sam_hq", "sam_hq_tiny"])
def test_hq_token_only_path(loaded, kind, astronaut):
    predictor = predictor_for(loaded[kind])
    predictor.set_image(astronaut)
    box = np.array([100, 50, 400, 450])
    both, _, _ = predictor.predict(box=box, multimask_output=False, return_logits=True, hq_token_only=False)
    hq_only, _, _ = predictor.predict(box=box, multimask_output=False, return_logits=True, hq_token_only=True)
    assert both.shape == hq_only.shape == (1, 512, 512)
    assert not np.allclose(both, hq_only)  # SAM logits + HQ logits vs HQ logits alone


def test_mobile_sam_runs_with_the_hq_predictor(loaded, astronaut):
    predictor = predictor_for(loaded["mobile_sam"])
    assert type(predictor).__module__ == "segment_anything_hq.predictor"
    predictor.set_image(astronaut)
    a, _, _ = predictor.predict(point_coords=np.array([[256, 256]]), point_labels=np.array([1]), hq_token_only=True)
    b, _, _ = predictor.predict(point_coords=np.array([[256, 256]]), point_labels=np.array([1]), hq_token_only=False)
    np.testing.assert_array_equal(a, b)  # the vanilla decoder ignores the HQ switch
    assert a.shape == (3, 512, 512)


# --- safety and damaged files --------------------------------------------------------------------


class _RunsCommand:
    """Pickles to a call of os.system; the test checks it never runs."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def test_pickle_with_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    raw = tmp_path / "sam_vit_b.pth"
    raw.write_bytes(pickle.dumps(_RunsCommand(marker), protocol=2))
    zipped = tmp_path / "weights.ckpt"
    torch.save({"model": {"x": torch.zeros(1)}, "hook": _RunsCommand(marker)}, str(zipped))
    for path in (raw, zipped):
        with pytest.raises(UnsafeCheckpointError, match="system") as err:
            load_sam(path)
        assert path.name in str(err.value)
    assert not marker.exists()


def test_pickle_with_custom_class_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "cfg": TinyViTEncoderSpec()}, str(path))
    with pytest.raises(UnsafeCheckpointError, match="TinyViTEncoderSpec"):
        read_state_dict(path)


def test_raw_pickle_is_refused_not_called_damaged(tmp_path):
    import pickle

    path = tmp_path / "raw.pth"
    path.write_bytes(pickle.dumps({"x": [1, 2, 3], "f": os.path.join}))  # a plain pickle naming a function
    with pytest.raises(UnsafeCheckpointError, match="refused") as err:
        read_state_dict(path)
    assert "Download it again" not in str(err.value)


def test_damaged_files_give_clear_errors(tiny_sam_files, tmp_path):
    pth = tiny_sam_files["sam"].read_bytes()
    st = tiny_sam_files["sam_hq"].read_bytes()
    legacy = tmp_path / "legacy_src.pth"
    torch.save({"x": torch.zeros(100)}, str(legacy), _use_new_zipfile_serialization=False)
    cases = {
        "cut_zip.pth": pth[: len(pth) // 2],
        "cut.safetensors": st[: len(st) // 2],
        "cut_header.safetensors": st[:20],
        "noise.pth": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "empty.bin": b"",
        "cut_legacy.pth": legacy.read_bytes()[:200],
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(InvalidInputError) as err:
            load_sam(path)
        message = str(err.value)
        assert name in message, message
        assert "Traceback" not in message and "\n" not in message
    with pytest.raises(ModelNotFoundError):
        load_sam(tmp_path / "missing.pth")


# --- containers, prefixes, key mismatches --------------------------------------------------------


def test_wrapped_and_prefixed_state_dict_loads(tmp_path):
    sd = build_tiny_sam("sam").state_dict()
    wrapped = {"model": {f"module.{k}": v for k, v in sd.items()}, "epoch": 7, "optimizer": {"lr": 0.1}}
    path = tmp_path / "train_state.pth"
    torch.save(wrapped, str(path))
    result = load_sam(path)
    assert result.spec.family == "sam"
    for key, value in sd.items():
        assert torch.equal(result.model.state_dict()[key], value)

    nested = tmp_path / "lightning.ckpt"
    torch.save({"state_dict": {f"sam.{k}": v for k, v in sd.items()}}, str(nested))
    assert set(read_state_dict(nested)) == set(sd)


def test_key_mismatch_is_reported(tmp_path):
    sd = build_tiny_sam("sam").state_dict()
    extra = dict(sd, **{"mask_decoder.adapter.weight": torch.zeros(3)})
    path = tmp_path / "extra.pth"
    torch.save(extra, str(path))
    with pytest.raises(UnrecognizedCheckpointError, match="1 unexpected") as err:
        load_sam(path)
    assert "mask_decoder.adapter.weight" in str(err.value) and "extra.pth" in str(err.value)

    partial = {k: v for k, v in sd.items() if k != "mask_decoder.output_upscaling.1.bias"}
    path = tmp_path / "partial.pth"
    torch.save(partial, str(path))
    with pytest.raises(UnrecognizedCheckpointError, match="1 missing"):
        load_sam(path)


def test_stale_tinyvit_buffers_are_ignored(tmp_path):
    model = build_tiny_sam("mobile_sam")
    sd = dict(model.state_dict())
    attn = model.image_encoder.layers[1].blocks[0].attn
    sd["image_encoder.layers.1.blocks.0.attn.attention_bias_idxs"] = attn.attention_bias_idxs
    path = tmp_path / "old_tinyvit.pth"
    torch.save(sd, str(path))
    assert load_sam(path).spec.family == "mobile_sam"


def test_loaded_sam_metadata(loaded, tiny_sam_files):
    item = loaded["sam_hq"]
    assert item.path == tiny_sam_files["sam_hq"]
    assert item.family == "sam_hq" and item.is_hq
    assert item.spec.describe() == "HQ-SAM custom"
    as_double = load_sam(tiny_sam_files["sam"], dtype=torch.float64)
    assert {p.dtype for p in as_double.model.parameters()} == {torch.float64}
    assert issubclass(UnsafeCheckpointError, IAError)
