"""Single-file checkpoints as users have them (the WebUI's LDM/SGM layout with the quirks of files from the
wild) load offline through our loader and inpaint, or say exactly why not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures.wild_checkpoints import QUIRKS, apply_quirk, ldm_state, save_checkpoint

from inpaint_anything.diffusion import checkpoint, detect, loader
from inpaint_anything.errors import UnrecognizedCheckpointError

CASES = [(family, quirk) for quirk, (families, _, _) in QUIRKS.items() for family in families]
FOLDERS = {"sd1": "tiny_sd_inpaint_dir", "sd2": "tiny_sd2_inpaint_dir", "sdxl": "tiny_sdxl_inpaint_dir"}
COMPONENTS = {
    "sd1": ("unet", "vae", "text_encoder"),
    "sd2": ("unet", "vae", "text_encoder"),
    "sdxl": ("unet", "vae", "text_encoder", "text_encoder_2"),
}


def _inpaint(pipe, seed: int = 0, size: int = 64) -> np.ndarray:
    import torch
    from PIL import Image

    pipe.set_progress_bar_config(disable=True)
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


@pytest.fixture(scope="module")
def folder_results(request: pytest.FixtureRequest) -> dict:
    """family -> (folder, pipeline loaded from the diffusers folder, its inpainting result), loaded once."""
    cache: dict = {}

    def get(family: str):
        if family not in cache:
            folder = request.getfixturevalue(FOLDERS[family])
            pipe, _ = loader.load_inpaint_pipeline(folder)
            cache[family] = (folder, pipe, _inpaint(pipe))
        return cache[family]

    return get  # type: ignore[return-value]


def _assert_position_ids_clean(pipe, family: str) -> None:
    import torch

    for name in ("text_encoder", "text_encoder_2") if family == "sdxl" else ("text_encoder",):
        ids = getattr(pipe, name).text_model.embeddings.position_ids
        assert ids.dtype == torch.int64 and torch.equal(ids.reshape(-1), torch.arange(ids.numel())), name


@pytest.mark.both_stacks
@pytest.mark.parametrize(("family", "quirk"), CASES, ids=[f"{f}-{q}" for f, q in CASES])
def test_checkpoint_from_the_wild_loads_and_inpaints(family: str, quirk: str, folder_results, tmp_path: Path) -> None:
    import torch

    folder, folder_pipe, folder_image = folder_results(family)
    state = apply_quirk(ldm_state(folder, openclip=family == "sd2"), quirk)
    path = save_checkpoint(state, tmp_path / f"{family}-{quirk}.safetensors")
    assert detect.detect_model(path).family == family
    pipe, info = loader.load_inpaint_pipeline(path, config_dir=folder)
    assert info.model.format == "single_file" and info.dtype == "float32"
    repaired = quirk in (
        "float_position_ids",
        "broken_position_ids",
        "flat_position_ids",
        "ema",
        "old_clip_names",
        "sgm_layout",
        "no_text_projection",
    ) or (quirk in ("fp16", "bf16") and family != "sd2")  # float position_ids
    assert bool(info.repairs) == repaired, info.repairs
    _assert_position_ids_clean(pipe, family)
    lossless = QUIRKS[quirk][2]
    stored_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(quirk)
    for name in COMPONENTS[family]:
        got, want = getattr(pipe, name).state_dict(), getattr(folder_pipe, name).state_dict()
        assert set(got) == set(want), name
        for key, value in want.items():
            if stored_dtype is not None and value.is_floating_point():
                value = value.to(stored_dtype).to(value.dtype)  # what the file can hold
            assert torch.equal(got[key], value), (name, key)
    image = _inpaint(pipe)
    assert image.shape == (64, 64, 3) and np.isfinite(image).all()
    if lossless:
        np.testing.assert_array_equal(image, folder_image)


@pytest.mark.both_stacks
def test_original_repro_fp16_position_ids_in_a_ckpt(tiny_sd_inpaint_dir: Path, tmp_path: Path) -> None:
    """The file of the report: fp16 everywhere (position_ids included), here as a nested .ckpt."""
    state = apply_quirk(apply_quirk(ldm_state(tiny_sd_inpaint_dir), "fp16"), "ema")
    path = save_checkpoint(state, tmp_path / "sd15-inpainting-fp16.ckpt")
    pipe, _ = loader.load_inpaint_pipeline(path, config_dir=tiny_sd_inpaint_dir)
    _assert_position_ids_clean(pipe, "sd1")
    assert np.isfinite(_inpaint(pipe)).all()


def test_repair_reports_what_it_changed(tiny_sd_inpaint_dir: Path, tiny_sd2_inpaint_dir: Path, tmp_path: Path) -> None:
    import torch

    state = apply_quirk(apply_quirk(apply_quirk(ldm_state(tiny_sd_inpaint_dir), "broken_position_ids"), "ema"), "old_clip_names")
    state["global_step"] = 5  # not a tensor
    notes = checkpoint.repair_state_dict(state, "sd1", tmp_path / "x.safetensors")
    assert any("EMA" in n for n in notes) and any("older CLIP key names" in n for n in notes)
    assert any("position_ids" in n and "broken values" in n for n in notes)
    assert not any(k.startswith("model_ema.") for k in state) and "global_step" not in state
    pos = state["cond_stage_model.transformer.text_model.embeddings.position_ids"]
    assert pos.dtype == torch.int64 and pos.tolist() == [list(range(77))]
    assert checkpoint.repair_state_dict(ldm_state(tiny_sd_inpaint_dir), "sd1", tmp_path / "x.safetensors") == []

    sd2 = apply_quirk(apply_quirk(ldm_state(tiny_sd2_inpaint_dir, openclip=True), "no_text_projection"), "sgm_layout")
    assert detect.classify_state_dict({k: tuple(v.shape) for k, v in sd2.items()}) == ("sd2", 9)
    notes = checkpoint.repair_state_dict(sd2, "sd2", tmp_path / "y.safetensors")
    assert len(notes) == 2 and torch.equal(sd2["cond_stage_model.model.text_projection"], torch.eye(32))


@pytest.mark.both_stacks
def test_no_vae_is_a_clear_error_or_uses_the_vae_next_to_it(tiny_sd_inpaint_dir: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    full = ldm_state(tiny_sd_inpaint_dir)
    path = save_checkpoint(
        {k: v for k, v in full.items() if not k.startswith("first_stage_model.")}, tmp_path / "novae-model.safetensors"
    )
    assert detect.detect_model(path).has_vae is False
    with pytest.raises(
        UnrecognizedCheckpointError,
        match=r"novae-model\.safetensors cannot be used: no VAE: .*"
        r"novae-model\.vae\.safetensors",
    ) as err:
        loader.load_inpaint_pipeline(path, config_dir=tiny_sd_inpaint_dir)
    assert err.value.status_code == 422 and str(tmp_path) not in str(err.value)

    # the VAE next to it, in the LDM layout without the first_stage_model. prefix (as VAE files are)
    vae = {k[len("first_stage_model.") :]: v for k, v in full.items() if k.startswith("first_stage_model.")}
    save_file({**vae, "model_ema.decay": torch.tensor(0.5)}, str(tmp_path / "novae-model.vae.safetensors"))
    pipe, _ = loader.load_inpaint_pipeline(path, config_dir=tiny_sd_inpaint_dir)
    reference, _ = loader.load_inpaint_pipeline(tiny_sd_inpaint_dir)
    want = reference.vae.state_dict()
    assert all(torch.equal(pipe.vae.state_dict()[k], v) for k, v in want.items())
    np.testing.assert_array_equal(_inpaint(pipe), _inpaint(reference))


@pytest.mark.both_stacks
def test_ordinary_checkpoint_is_refused_before_loading(tiny_sd_dir: Path, tmp_path: Path) -> None:
    path = save_checkpoint(ldm_state(tiny_sd_dir), tmp_path / "normal-model.safetensors")
    assert detect.detect_model(path).in_channels == 4
    with pytest.raises(UnrecognizedCheckpointError) as err:
        loader.load_inpaint_pipeline(path, config_dir=tiny_sd_dir, require_inpaint=True)
    assert str(err.value) == (
        "normal-model.safetensors cannot be used: not an inpainting model: 4 input channels; "
        "use the WebUI checkpoint backend or an inpainting file"
    )
    assert err.value.status_code == 422


def test_damaged_and_unknown_files_say_so(tiny_sd_inpaint_dir: Path, tmp_path: Path) -> None:
    good = save_checkpoint(ldm_state(tiny_sd_inpaint_dir), tmp_path / "good.safetensors")
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-5000])
    with pytest.raises(UnrecognizedCheckpointError, match=r"^cut\.safetensors cannot be used: damaged: .*incomplete"):
        loader.load_inpaint_pipeline(cut, config_dir=tiny_sd_inpaint_dir)
    import torch

    lora = save_checkpoint({"lora_unet_down_blocks_0.alpha": torch.ones(1)}, tmp_path / "lora.safetensors")
    with pytest.raises(UnrecognizedCheckpointError, match=r"^lora\.safetensors cannot be used: unknown architecture"):
        loader.load_inpaint_pipeline(lora)


class _Evil:
    pass


@pytest.mark.both_stacks
def test_lightning_era_ckpt_loads_without_lightning(
    tiny_sd_inpaint_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SD 1.x .ckpt files hold the Lightning ModelCheckpoint class as a dict key and numpy scalars; the WebUI
    reads them, so do we (without importing Lightning, and still refusing anything else)."""
    import sys
    import types

    import torch

    modules = ["pytorch_lightning", "pytorch_lightning.callbacks", "pytorch_lightning.callbacks.model_checkpoint"]
    for name in modules:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    # pickled by reference, as PyTorch Lightning 1.4 saved its callbacks' classes
    model_checkpoint = type("ModelCheckpoint", (), {"__module__": modules[-1]})
    sys.modules[modules[-1]].ModelCheckpoint = model_checkpoint  # type: ignore[attr-defined]
    state = ldm_state(tiny_sd_inpaint_dir)
    path = tmp_path / "sd-v1-5-inpainting.ckpt"
    torch.save(
        {
            "epoch": 6,
            "global_step": np.int64(440000),
            "pytorch-lightning_version": "1.4.2",
            "callbacks": {model_checkpoint: {"best_model_score": None}},
            "state_dict": state,
        },
        path,
    )
    for name in modules:  # Lightning is not installed where the file is read
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(Exception, match="Unsupported global"):
        torch.load(path, weights_only=True)  # what torch alone says
    assert detect.detect_model(path).family == "sd1"
    pipe, _ = loader.load_inpaint_pipeline(path, config_dir=tiny_sd_inpaint_dir)
    reference, _ = loader.load_inpaint_pipeline(tiny_sd_inpaint_dir)
    np.testing.assert_array_equal(_inpaint(pipe), _inpaint(reference))
    assert "pytorch_lightning" not in sys.modules

    evil = tmp_path / "evil.ckpt"
    torch.save({"global_step": np.int64(1), "state_dict": state, "x": _Evil()}, evil)
    from inpaint_anything.errors import UnsafeCheckpointError

    with pytest.raises(UnsafeCheckpointError, match=r"evil\.ckpt contains Python objects besides weights"):
        loader.load_inpaint_pipeline(evil, config_dir=tiny_sd_inpaint_dir)
