"""Offline loading of diffusers inpainting pipelines: tokenizer, detection, shipped configs, loader, cache."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

from inpaint_anything.diffusion import detect, loader, tokenizer
from inpaint_anything.diffusion.cache import PipelineCache
from inpaint_anything.errors import InvalidInputError, ModelNotFoundError, UnrecognizedCheckpointError, UnsafeCheckpointError

FAMILIES = ("sd1", "sd2", "sdxl")
PROMPTS = [
    "a photo of a cat",
    "A Photo of an ASTRONAUT riding a horse, 4k!!",
    "café naïve résumé",
    "東京タワー 夜景",
    "🐱🐶 emoji  test\t\nwhite   space",
    "don't stop, it's 3.14 o'clock #tag",
]


def _refuse(*args, **kwargs):
    raise OSError("network access in a test")


def _block_network(mp: pytest.MonkeyPatch) -> None:
    """Hub offline mode plus sockets that refuse to connect, so any network use fails loudly."""
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("TRANSFORMERS_OFFLINE", "1")
    mp.setattr(socket.socket, "connect", _refuse)
    mp.setattr(socket, "create_connection", _refuse)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    _block_network(monkeypatch)


def _public_config(config) -> dict:
    items = config.to_dict().items() if hasattr(config, "to_dict") else dict(config).items()
    return {k: v for k, v in items if not k.startswith("_") and k != "transformers_version"}


def _folder_and_file(request: pytest.FixtureRequest, family: str) -> tuple[Path, Path]:
    name = {"sd1": "tiny_sd_inpaint", "sd2": "tiny_sd2_inpaint", "sdxl": "tiny_sdxl_inpaint"}[family]
    return request.getfixturevalue(name + "_dir"), request.getfixturevalue(name + "_file")


@pytest.fixture(scope="module", params=FAMILIES)
def loaded_pair(request: pytest.FixtureRequest):
    """(family, folder pipeline, single-file pipeline, their infos), loaded with the network blocked."""
    folder, single = _folder_and_file(request, request.param)
    with pytest.MonkeyPatch.context() as mp:
        _block_network(mp)
        pipe_dir, info_dir = loader.load_inpaint_pipeline(folder)
        pipe_file, info_file = loader.load_inpaint_pipeline(single, config_dir=folder)
    for pipe in (pipe_dir, pipe_file):
        pipe.set_progress_bar_config(disable=True)
    return request.param, pipe_dir, pipe_file, info_dir, info_file


def _inpaint(pipe, seed: int = 0, size: int = 64) -> np.ndarray:
    import torch
    from PIL import Image

    yy, xx = np.mgrid[0:size, 0:size]
    image = np.stack([xx * 4 % 256, yy * 4 % 256, (xx + yy) * 2 % 256], axis=-1).astype(np.uint8)
    mask = np.zeros((size, size), np.uint8)
    mask[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 255
    out = pipe(
        prompt="a cat",
        image=Image.fromarray(image),
        mask_image=Image.fromarray(mask),
        height=size,
        width=size,
        num_inference_steps=2,
        strength=1.0,
        generator=torch.Generator("cpu").manual_seed(seed),
        output_type="np",
    )
    return out.images[0]


# --- tokenizer -------------------------------------------------------------------------------------------


@pytest.mark.both_stacks
def test_tokenizer_gives_sd_ids_like_open_clip(clip_tokenizer_dir: Path) -> None:
    from open_clip.tokenizer import SimpleTokenizer
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(str(clip_tokenizer_dir))
    reference = SimpleTokenizer()
    assert len(tok) == tokenizer.VOCAB_SIZE
    assert tok("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    for text in PROMPTS:
        assert tok(text).input_ids == [49406, *reference.encode(text), 49407], text
    padded = tok("a cat", padding="max_length", max_length=77).input_ids
    assert len(padded) == 77 and padded[3:] == [49407] * 74


@pytest.mark.both_stacks
def test_openclip_tokenizer_pads_with_bang(tmp_path: Path) -> None:
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(str(tokenizer.ensure_clip_tokenizer(tmp_path, variant="openclip")))
    assert tok.pad_token == "!"
    assert tok("a cat", padding="max_length", max_length=8).input_ids == [49406, 320, 2368, 49407, 0, 0, 0, 0]


def test_ensure_tokenizer_is_idempotent_and_leaves_no_temp_dirs(tmp_path: Path) -> None:
    first = tokenizer.ensure_clip_tokenizer(tmp_path)
    stamps = {name: (first / name).stat().st_mtime_ns for name in tokenizer.TOKENIZER_FILES}
    second = tokenizer.ensure_clip_tokenizer(tmp_path)
    assert second == first
    assert {name: (first / name).stat().st_mtime_ns for name in tokenizer.TOKENIZER_FILES} == stamps
    assert [p.name for p in tmp_path.iterdir()] == [first.name]
    vocab = json.loads((first / "vocab.json").read_text(encoding="utf-8"))
    assert len(vocab) == 49408 and vocab["!"] == 0 and vocab["<|startoftext|>"] == 49406
    assert (first / "merges.txt").read_text(encoding="utf-8").count("\n") == tokenizer.NUM_MERGES + 1


def test_ensure_tokenizer_replaces_an_incomplete_directory(tmp_path: Path) -> None:
    first = tokenizer.ensure_clip_tokenizer(tmp_path)
    (first / "merges.txt").unlink()
    assert tokenizer.ensure_clip_tokenizer(tmp_path) == first
    assert tokenizer.is_complete(first)


# --- detection --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_detect_tiny_folder_and_file(request: pytest.FixtureRequest, family: str) -> None:
    folder, single = _folder_and_file(request, family)
    info = detect.detect_model(folder)
    assert (info.format, info.family, info.in_channels, info.is_inpaint) == ("diffusers", family, 9, True)
    assert info.pipeline_class == ("StableDiffusionXLInpaintPipeline" if family == "sdxl" else "StableDiffusionInpaintPipeline")
    assert info.prediction_type == "epsilon"
    info = detect.detect_model(single)
    assert (info.format, info.family, info.in_channels, info.is_inpaint) == ("single_file", family, 9, True)
    assert info.prediction_type is None  # a bare file does not say


def test_detect_ordinary_model_and_ckpt(tiny_sd_dir: Path, tiny_sd_inpaint_file: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    info = detect.detect_model(tiny_sd_dir)
    assert (info.family, info.in_channels, info.is_inpaint) == ("sd1", 4, False)
    ckpt = tmp_path / "model.ckpt"
    torch.save({"global_step": 1, "state_dict": load_file(str(tiny_sd_inpaint_file))}, ckpt)
    info = detect.detect_model(ckpt)
    assert (info.format, info.family, info.in_channels) == ("single_file", "sd1", 9)


def test_detect_v_prediction_hints(tiny_sd_inpaint_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "model.safetensors"
    shutil.copyfile(tiny_sd_inpaint_file, target)
    (tmp_path / "model.yaml").write_text('model:\n  params:\n    parameterization: "v"\n', encoding="utf-8")
    assert detect.detect_model(target).prediction_type == "v_prediction"
    (tmp_path / "model.yaml").write_text("model:\n  params:\n    linear_start: 0.00085\n", encoding="utf-8")
    assert detect.detect_model(target).prediction_type == "epsilon"


def _write_safetensors(path: Path, shapes: dict[str, tuple[int, ...]]) -> Path:
    import torch
    from safetensors.torch import save_file

    save_file({k: torch.zeros(s) for k, s in shapes.items()}, str(path))
    return path


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        ({"first_stage_model.encoder.conv_in.weight": (8, 3, 3, 3)}, "no UNet"),
        ({"conv_in.weight": (8, 4, 3, 3)}, "diffusers-format"),
        ({"model.diffusion_model.input_blocks.0.0.weight": (8, 8, 3, 3)}, "instruct-pix2pix"),
        (
            {
                "model.diffusion_model.input_blocks.0.0.weight": (8, 4, 3, 3),
                "model.diffusion_model.label_emb.0.0.weight": (8, 8),
                "conditioner.embedders.0.model.ln_final.weight": (8,),
            },
            "refiner",
        ),
        ({"model.diffusion_model.input_blocks.0.0.weight": (8, 4, 3, 3)}, "match none"),
        ({"lora_unet_down_blocks_0.alpha": (1,)}, "no Stable Diffusion UNet"),
    ],
)
def test_detect_rejects_other_weights(tmp_path: Path, shapes: dict, message: str) -> None:
    path = _write_safetensors(tmp_path / "other.safetensors", shapes)
    with pytest.raises(UnrecognizedCheckpointError, match=message) as err:
        detect.detect_model(path)
    assert "other.safetensors" in str(err.value)


def test_detect_rejects_damaged_and_unknown_files(tiny_sd_inpaint_file: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(tiny_sd_inpaint_file.read_bytes()[: tiny_sd_inpaint_file.stat().st_size // 2])
    with pytest.raises(UnrecognizedCheckpointError, match="incomplete download"):
        detect.detect_model(truncated)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(UnrecognizedCheckpointError, match="garbage.safetensors"):
        detect.detect_model(garbage)
    for name, data in (("empty.safetensors", b""), ("bad.ckpt", b"not a zip"), ("notes.txt", b"hello")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(UnrecognizedCheckpointError, match=name.replace(".", r"\.")):
            detect.detect_model(tmp_path / name)
    (tmp_path / "folder").mkdir()
    with pytest.raises(UnrecognizedCheckpointError, match="model_index.json"):
        detect.detect_model(tmp_path / "folder")
    with pytest.raises(ModelNotFoundError, match="nope.safetensors"):
        detect.detect_model(tmp_path / "nope.safetensors")


class _NotAWeight:
    pass


def test_detect_refuses_pickles_with_code(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "callback": _NotAWeight()}, path)
    with pytest.raises(UnsafeCheckpointError, match="evil.ckpt"):
        detect.detect_model(path)


# --- shipped configs at full size (meta tensors: no memory, no weights) ----------------------------------

REAL_PARAMETER_COUNTS = {  # published sizes of the real models' components
    "sd1": {"unet": 859_535_364, "vae": 83_653_863, "text_encoder": 123_060_480},
    "sd2": {"unet": 865_925_124, "vae": 83_653_863, "text_encoder": 340_387_840},
    "sdxl": {"unet": 2_567_478_084, "vae": 83_653_863, "text_encoder": 123_060_480, "text_encoder_2": 694_659_840},
}


@pytest.mark.both_stacks
@pytest.mark.parametrize("family", FAMILIES)
def test_shipped_configs_describe_the_real_models(family: str) -> None:
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.loaders import single_file_utils as sfu
    from fixtures import ldm_convert
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    root = loader.shipped_config_dir(family)
    index = json.loads((root / "model_index.json").read_text())
    assert index["_class_name"] == loader.pipeline_class_for(family).__name__
    with init_empty_weights():
        models = {
            "unet": UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(str(root / "unet"))),
            "vae": AutoencoderKL.from_config(AutoencoderKL.load_config(str(root / "vae"))),
            "text_encoder": CLIPTextModel(CLIPTextConfig.from_pretrained(str(root / "text_encoder"))),
        }
        if family == "sdxl":
            config = CLIPTextConfig.from_pretrained(str(root / "text_encoder_2"))
            models["text_encoder_2"] = CLIPTextModelWithProjection(config)
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    assert counts == REAL_PARAMETER_COUNTS[family]

    # the original-layout key set of these models is classified as the right family, and diffusers'
    # own single-file conversion maps it back onto exactly the models' parameters
    unet_sd, vae_sd = models["unet"].state_dict(), models["vae"].state_dict()
    te_sd = {k: v for k, v in models["text_encoder"].state_dict().items() if not k.endswith("position_ids")}
    ldm = {**ldm_convert.unet_to_ldm(unet_sd, models["unet"].config), **ldm_convert.vae_to_ldm(vae_sd, models["vae"].config)}
    if family == "sd1":
        ldm.update(ldm_convert.clip_to_ldm(te_sd, ldm_convert.SD1_CLIP_PREFIX))
    elif family == "sd2":
        ldm.update(ldm_convert.openclip_to_ldm(te_sd, ldm_convert.SD2_OPENCLIP_PREFIX))
    else:
        ldm.update(ldm_convert.clip_to_ldm(te_sd, ldm_convert.SDXL_CLIP_PREFIX))
        ldm.update(ldm_convert.openclip_to_ldm(models["text_encoder_2"].state_dict(), ldm_convert.SDXL_OPENCLIP_PREFIX))
    shapes = {k: tuple(v.shape) for k, v in ldm.items()}
    assert detect.classify_state_dict(shapes) == (family, 9)
    assert set(sfu.convert_ldm_unet_checkpoint(ldm, models["unet"].config)) == set(unet_sd)
    assert set(sfu.convert_ldm_vae_checkpoint(ldm, models["vae"].config)) == set(vae_sd)


@pytest.mark.both_stacks
@pytest.mark.parametrize(("family", "in_channels"), [("sd1", 9), ("sd2", 4), ("sdxl", 9)])
def test_prepare_config_dir_adds_tokenizers(tmp_path: Path, family: str, in_channels: int) -> None:
    from transformers import CLIPTokenizer

    config_dir = loader.prepare_config_dir(family, in_channels=in_channels, cache_dir=tmp_path)
    assert loader.prepare_config_dir(family, in_channels=in_channels, cache_dir=tmp_path) == config_dir
    assert json.loads((config_dir / "unet" / "config.json").read_text())["in_channels"] == in_channels
    subs = {
        "sd1": {"tokenizer": "<|endoftext|>"},
        "sd2": {"tokenizer": "!"},
        "sdxl": {"tokenizer": "<|endoftext|>", "tokenizer_2": "!"},
    }[family]
    for sub, pad in subs.items():
        tok = CLIPTokenizer.from_pretrained(str(config_dir), subfolder=sub)
        assert tok.pad_token == pad
        assert tok("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert not list((tmp_path / "diffusers-configs").glob(".*"))  # no temporary leftovers


# --- loading ----------------------------------------------------------------------------------------------


@pytest.mark.both_stacks
def test_single_file_gives_the_folder_weights_bit_for_bit(loaded_pair) -> None:
    import torch

    family, pipe_dir, pipe_file, info_dir, info_file = loaded_pair
    components = ["unet", "vae", "text_encoder"] + (["text_encoder_2"] if family == "sdxl" else [])
    for name in components:
        a, b = getattr(pipe_dir, name).state_dict(), getattr(pipe_file, name).state_dict()
        assert set(a) == set(b), name
        assert all(torch.equal(a[k], b[k]) for k in a), name
        assert _public_config(getattr(pipe_dir, name).config) == _public_config(getattr(pipe_file, name).config)
    expected = "StableDiffusionXLInpaintPipeline" if family == "sdxl" else "StableDiffusionInpaintPipeline"
    assert type(pipe_dir).__name__ == type(pipe_file).__name__ == expected
    assert (info_dir.family, info_file.family) == (family, family)
    assert (info_dir.device, info_dir.dtype, info_file.dtype) == ("cpu", "float32", "float32")
    assert info_dir.config_dir is None and info_file.config_dir is not None
    assert getattr(pipe_dir, "safety_checker", None) is None and getattr(pipe_file, "safety_checker", None) is None


@pytest.mark.both_stacks
def test_folder_and_file_inpaint_identically(loaded_pair) -> None:
    family, pipe_dir, pipe_file, _, _ = loaded_pair
    a, b = _inpaint(pipe_dir, seed=0), _inpaint(pipe_file, seed=0)
    assert a.shape == (64, 64, 3) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)


@pytest.mark.both_stacks
def test_seed_controls_the_result(loaded_pair) -> None:
    _, pipe, _, _, _ = loaded_pair
    first, again, other = _inpaint(pipe, seed=1), _inpaint(pipe, seed=1), _inpaint(pipe, seed=2)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).mean() > 1e-3


@pytest.mark.both_stacks
def test_ordinary_model_loads_into_the_inpaint_pipeline(tiny_sd_dir: Path, no_network: None) -> None:
    pipe, info = loader.load_inpaint_pipeline(tiny_sd_dir)
    pipe.set_progress_bar_config(disable=True)
    assert type(pipe).__name__ == "StableDiffusionInpaintPipeline"
    assert (info.is_inpaint, info.model.pipeline_class) == (False, "StableDiffusionPipeline")
    assert pipe.unet.config.in_channels == 4
    out = _inpaint(pipe)
    assert out.shape == (64, 64, 3) and np.isfinite(out).all()


@pytest.mark.both_stacks
def test_ckpt_loads_like_safetensors(
    tiny_sd_inpaint_dir: Path, tiny_sd_inpaint_file: Path, tmp_path: Path, no_network: None
) -> None:
    import torch
    from safetensors.torch import load_file

    ckpt = tmp_path / "model.ckpt"
    torch.save({"global_step": 1, "state_dict": load_file(str(tiny_sd_inpaint_file))}, ckpt)
    pipe, info = loader.load_inpaint_pipeline(ckpt, config_dir=tiny_sd_inpaint_dir)
    reference = load_file(str(tiny_sd_inpaint_dir / "unet" / "diffusion_pytorch_model.safetensors"))
    state = pipe.unet.state_dict()
    assert info.model.format == "single_file"
    assert all(torch.equal(state[k], v) for k, v in reference.items())


@pytest.mark.both_stacks
def test_prediction_type_override(tiny_sd_inpaint_dir: Path, no_network: None) -> None:
    pipe, _ = loader.load_inpaint_pipeline(tiny_sd_inpaint_dir, prediction_type="v_prediction")
    assert pipe.scheduler.config.prediction_type == "v_prediction"
    assert type(pipe.scheduler).__name__ == "PNDMScheduler"


@pytest.mark.both_stacks
def test_tiny_file_does_not_fit_the_shipped_full_size_config(
    tiny_sd_inpaint_file: Path, tmp_path: Path, no_network: None
) -> None:
    with pytest.raises(UnrecognizedCheckpointError, match="do not fit the standard SD1 architecture"):
        loader.load_inpaint_pipeline(tiny_sd_inpaint_file, cache_dir=tmp_path)
    assert list((tmp_path / "diffusers-configs").iterdir())  # the shipped config was assembled offline


@pytest.mark.both_stacks
def test_incomplete_checkpoints_give_clear_errors(
    tiny_sd_inpaint_dir: Path, tiny_sd_inpaint_file: Path, tmp_path: Path, no_network: None
) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(tiny_sd_inpaint_file))
    no_vae = {k: v for k, v in state.items() if not k.startswith("first_stage_model.")}
    save_file(no_vae, str(tmp_path / "no-vae.safetensors"))
    with pytest.raises(UnrecognizedCheckpointError, match="no-vae.safetensors"):
        loader.load_inpaint_pipeline(tmp_path / "no-vae.safetensors", config_dir=tiny_sd_inpaint_dir)
    one_missing = {k: v for k, v in state.items() if not k.endswith("middle_block.1.proj_out.weight")}
    save_file(one_missing, str(tmp_path / "partial.safetensors"))
    with pytest.raises(UnrecognizedCheckpointError, match="incomplete: 1 unet weights are missing"):
        loader.load_inpaint_pipeline(tmp_path / "partial.safetensors", config_dir=tiny_sd_inpaint_dir)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(tiny_sd_inpaint_file.read_bytes()[:-1000])
    with pytest.raises(UnrecognizedCheckpointError, match="incomplete download"):
        loader.load_inpaint_pipeline(truncated, config_dir=tiny_sd_inpaint_dir)
    with pytest.raises(ModelNotFoundError):
        loader.load_inpaint_pipeline(tmp_path / "missing.safetensors")


def test_device_and_dtype_resolution() -> None:
    import torch

    assert loader.resolve_dtype("cpu", torch.float16) is torch.float32
    assert loader.resolve_dtype("mps", "bf16") is torch.float32
    assert loader.resolve_dtype("cuda", None) is torch.float16
    assert loader.resolve_dtype("cuda:1", "bfloat16") is torch.bfloat16
    assert loader.resolve_dtype("cuda", "fp32") is torch.float32
    assert loader.resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(InvalidInputError):
        loader.resolve_dtype("cuda", "int8")
    with pytest.raises(InvalidInputError):
        loader.resolve_device("gpu0")


# --- cache ------------------------------------------------------------------------------------------------


@pytest.mark.both_stacks
def test_pipeline_cache_reuses_loaded_pipelines(tiny_sd_inpaint_dir: Path, tmp_path: Path, no_network: None) -> None:
    import torch

    calls: list[str] = []

    def counting_loader(source, **kwargs):
        calls.append(str(source))
        return loader.load_inpaint_pipeline(source, **kwargs)

    model_dir = Path(shutil.copytree(tiny_sd_inpaint_dir, tmp_path / "model"))
    cache = PipelineCache(max_items=1, loader=counting_loader)
    pipe, info = cache.get(model_dir)
    shutil.rmtree(model_dir)  # a cached pipeline must not need its files again
    again, info_again = cache.get(model_dir, dtype=torch.float16)  # CPU always runs float32: same key
    assert again is pipe and info_again is info
    assert calls == [str(model_dir.resolve())] and len(cache) == 1
    assert cache.keys() == [(str(model_dir.resolve()), "cpu", "float32")]

    other, _ = cache.get(tiny_sd_inpaint_dir)  # max_items=1: the first one is evicted
    assert other is not pipe and len(cache) == 1 and len(calls) == 2
    assert cache.get(tiny_sd_inpaint_dir)[0] is other and len(calls) == 2
    assert cache.unload(tmp_path / "unknown") == 0
    assert cache.unload() == 1 and len(cache) == 0
    assert cache.get(tiny_sd_inpaint_dir)[0] is not other and len(calls) == 3


def test_pipeline_cache_is_per_instance_and_validates() -> None:
    made: list[object] = []

    def fake_loader(source, **kwargs):
        made.append(object())
        return made[-1], None

    first, second = PipelineCache(max_items=2, loader=fake_loader), PipelineCache(loader=fake_loader)
    a, b = first.get("/models/a"), first.get("/models/b")
    assert first.get("/models/a") is a and first.get("/models/b") is b and len(made) == 2
    assert second.get("/models/a")[0] is not a[0] and len(made) == 3
    assert first.unload("/models/a") == 1 and len(first) == 1
    with pytest.raises(InvalidInputError):
        PipelineCache(max_items=0)
