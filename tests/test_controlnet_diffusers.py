"""ControlNet inpainting with diffusers: a tiny random ControlNet and a tiny ordinary (4-channel) SD model,
saved and loaded offline; the ControlNet pipeline shares the cached pipeline's parts; the condition image
has -1 in the hole; the engine's paste-back rules hold."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from inpaint_anything.diffusion.cache import PipelineCache
from inpaint_anything.errors import InvalidInputError, ModelNotFoundError, OfflineError, UnavailableError
from inpaint_anything.inpaint.controlnet import ControlNetOptions, control_image
from inpaint_anything.inpaint.controlnet_backend import (
    ControlNetCache,
    ControlNetDiffusersBackend,
    local_controlnets,
    resolve_controlnet,
)
from inpaint_anything.inpaint.diffusers_backend import DiffusersBackend
from inpaint_anything.inpaint.engine import run_inpaint
from inpaint_anything.inpaint.request import InpaintRequest, parse_infotext


@pytest.fixture(scope="module")
def cache():
    return PipelineCache(max_items=2)


@pytest.fixture
def models(tmp_path, tiny_controlnet_dir):
    shutil.copytree(tiny_controlnet_dir, tmp_path / "controlnet" / "tiny-inpaint-cn")
    (tmp_path / "controlnet" / "canny-cn").mkdir()  # not an inpaint ControlNet: not listed
    (tmp_path / "controlnet" / "canny-cn" / "config.json").write_text("{}")
    return tmp_path


def picture():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[20:44, 16:40] = True
    return image, mask


def req(**kw):
    return InpaintRequest(
        **{**dict(prompt="a vase", steps=2, seed=5, mask_blur=2, inpaint_area="whole", masked_content="original"), **kw}
    )


def cn_backend(tiny_sd_dir, cache, models, **opts):
    folder = resolve_controlnet("tiny-inpaint-cn", models, offline=True)
    return ControlNetDiffusersBackend(
        str(tiny_sd_dir),
        cache,
        device="cpu",
        native_override=64,
        options=ControlNetOptions(**opts).validated(),
        controlnet_dir=folder,
        controlnet_name="tiny-inpaint-cn",
        controlnets=ControlNetCache(),
    )


def test_control_image_is_the_picture_in_0_1_with_minus_one_in_the_hole():
    image, mask = picture()
    cond = control_image(image, mask)
    assert cond.dtype == np.float32 and cond.shape == (64, 64, 3)
    assert (cond[mask] == -1.0).all()
    np.testing.assert_allclose(cond[~mask], image[~mask] / 255.0, atol=1e-7)
    with pytest.raises(InvalidInputError):
        control_image(image, mask[:10])


def test_local_controlnets_lists_inpaint_folders_and_resolve_refuses_the_rest(models):
    assert local_controlnets(models) == ["tiny-inpaint-cn"]
    assert resolve_controlnet("tiny-inpaint-cn", models, offline=True).endswith("tiny-inpaint-cn")
    with pytest.raises(ModelNotFoundError, match="controlnet"):
        resolve_controlnet("nothing-here", models, offline=True)
    with pytest.raises(OfflineError, match="offline mode is on"):  # the Hub entry, not in the empty cache
        resolve_controlnet("lllyasviel/control_v11p_sd15_inpaint", models, offline=True, cache_dir=str(models / "hf"))


@pytest.mark.both_stacks
def test_controlnet_changes_the_hole_keeps_the_rest_and_shares_the_base_parts(tiny_sd_dir, cache, models):
    image, mask = picture()
    backend = cn_backend(tiny_sd_dir, cache, models, weight=1.5)
    seen = {}
    original = backend._pipe_for_call

    def spy(pipe, info, call, img, m):
        out = original(pipe, info, call, img, m)
        seen.update(base=pipe, control=call["control_image"], pipe=out)
        return out

    backend._pipe_for_call = spy
    with_cn = run_inpaint(image, mask, req(), backend)
    base, cn_pipe = seen["base"], seen["pipe"]
    assert type(cn_pipe).__name__ == "StableDiffusionControlNetInpaintPipeline"
    for part in ("unet", "vae", "text_encoder", "tokenizer"):  # the same objects: no second copy in memory
        assert getattr(cn_pipe, part) is getattr(base, part)
    assert cn_pipe.controlnet is backend.controlnets.get(backend.controlnet_dir, base.unet.device, base.unet.dtype)
    cond = seen["control"].numpy()[0]  # 1 x 3 x h x w: -1 exactly at the (processing-size) hole
    assert (cond == -1).any() and ((cond == -1).all(axis=0) | (cond >= 0).all(axis=0)).all()

    plain = DiffusersBackend(str(tiny_sd_dir), cache, device="cpu", native_override=64)
    plain.require_inpaint = False  # the same 4-channel model without ControlNet
    without = run_inpaint(image, mask, req(), plain)
    a, b = with_cn.images[0].astype(int), without.images[0].astype(int)
    assert np.abs(a - b)[mask].mean() > 1.0  # the ControlNet steered the fill
    band = with_cn.alpha > 0
    assert np.array_equal(with_cn.images[0][~band], image[~band])  # bit-exact outside the blend band
    assert np.array_equal(a[~band], b[~band])
    text = with_cn.infotexts[0]
    assert 'ControlNet 0: "Module: inpaint_only, Model: tiny-inpaint-cn, Weight: 1.5,' in text
    assert 'Inpaint backend: "controlnet:' in text
    _, leftover = parse_infotext(text)
    from inpaint_anything.inpaint.controlnet import options_from_infotext

    assert options_from_infotext(leftover) == ControlNetOptions(model="tiny-inpaint-cn", weight=1.5)


def test_controlnet_backend_refuses_what_only_the_webui_can_do(tiny_sd_dir, cache, models):
    image, mask = picture()
    for opts, words in (
        ({"module": "inpaint_global_harmonious"}, "WebUI"),
        ({"reference": True}, "reference"),
        ({"module": "inpaint_only+lama"}, "LaMa"),
    ):
        backend = cn_backend(tiny_sd_dir, cache, models, **opts)
        with pytest.raises((InvalidInputError, UnavailableError), match=words):
            run_inpaint(image, mask, req(), backend)


def test_lama_preprocessor_fills_the_hole_before_generation(tiny_sd_dir, cache, models):
    image, mask = picture()
    seen = []

    def fill(img, m):
        seen.append((img.copy(), m.copy()))
        out = img.copy()
        out[m] = 128
        return out

    backend = cn_backend(tiny_sd_dir, cache, models, module="inpaint_only+lama")
    backend.prefill = fill
    result = run_inpaint(image, mask, req(), backend)
    assert len(seen) == 1 and seen[0][1].any()
    assert "Module: inpaint_only+lama" in result.infotexts[0]


@pytest.mark.both_stacks
def test_api_inpaints_with_an_ordinary_checkpoint_through_controlnet(tmp_path, tiny_sd_dir, tiny_controlnet_dir):
    import os

    from test_api import P, b64png, build_client, decode_png

    from inpaint_anything.app import App
    from inpaint_anything.config import Settings

    models = tmp_path / "models"
    (models / "diffusers").mkdir(parents=True)
    os.symlink(tiny_sd_dir, models / "diffusers" / "plain-sd")  # 4 channels: refused by the diffusers backend
    shutil.copytree(tiny_controlnet_dir, models / "controlnet" / "tiny-inpaint-cn")
    client = build_client(App(Settings(models_dir=str(models), offline=True, sam_device="cpu")))
    listed = client.get(f"{P}/models/inpaint").json()
    assert listed["controlnet"]["models"][-1] == "plain-sd" and "plain-sd" not in listed["diffusers"]
    assert listed["controlnet"]["controlnets"][0] == "tiny-inpaint-cn"
    assert "controlnet" in client.get(f"{P}/backends").json()["backends"]
    image, mask = picture()
    body = {
        "image": b64png(image),
        "mask": b64png(mask.astype(np.uint8) * 255),
        "backend": "controlnet",
        "model": "plain-sd",
        "options": {"native_size": 64, "device": "cpu"},
        "request": {"prompt": "a vase", "steps": 2, "seed": 3, "inpaint_area": "whole", "mask_blur": 2},
        "controlnet": {"weight": 0.75, "control_mode": "ControlNet is more important"},
    }
    r = client.post(f"{P}/inpaint", json=body)
    assert r.status_code == 200, r.text
    out, text = decode_png(r.json()["images"][0])
    assert "Model: tiny-inpaint-cn, Weight: 0.75," in text and "Control Mode: ControlNet is more important" in text
    assert "Model: plain-sd" in text
    r = client.post(f"{P}/inpaint", json={**body, "backend": "diffusers"})
    assert r.status_code >= 400 and "inpainting" in r.text  # the plain backend still refuses a 4-channel model
    r = client.post(f"{P}/inpaint", json={**body, "controlnet": {"guidance_start": 0.8, "guidance_end": 0.2}})
    assert r.status_code == 422 and "starting control step" in r.json()["detail"]
    r = client.post(f"{P}/inpaint", json={**body, "controlnet": {"weight": 3}})
    assert r.status_code == 422 and "Control weight" in r.json()["detail"]


@pytest.mark.both_stacks
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_a_single_file_controlnet_loads_as_its_folder_does_and_inpaints_the_same(
    suffix, tiny_sd_dir, cache, models, tiny_controlnet_dir
):
    """The WebUI's format (control_v11p_sd15_inpaint.pth): original layout, a torch pickle or safetensors,
    read weights-only; the architecture follows the base model, the condition encoder's sizes the file."""
    import torch
    from fixtures.ldm_convert import write_controlnet_file

    name = "control_tiny_inpaint" + suffix
    write_controlnet_file(tiny_controlnet_dir, models / "controlnet" / name)
    (models / "controlnet" / "control_tiny_canny.pth").write_bytes(b"not listed: not an inpaint ControlNet")
    assert local_controlnets(models) == [name, "tiny-inpaint-cn"]
    path = resolve_controlnet(name, models, offline=True)
    assert path == str(models / "controlnet" / name)
    base = cache.get(str(tiny_sd_dir), device="cpu")[0]
    from_file = ControlNetCache().get(path, "cpu", torch.float32, base.unet.config)
    from_folder = ControlNetCache().get(str(tiny_controlnet_dir), "cpu", torch.float32)
    mine, theirs = from_file.state_dict(), from_folder.state_dict()
    assert set(mine) == set(theirs) and all(torch.equal(mine[k], theirs[k]) for k in mine)  # the same weights
    assert from_file.config.conditioning_embedding_out_channels == from_folder.config.conditioning_embedding_out_channels
    # and a run with the file gives the folder's result, pixel for pixel
    image, mask = picture()
    backend = cn_backend(tiny_sd_dir, cache, models)
    by_folder = run_inpaint(image, mask, req(), backend)
    backend.controlnet_dir, backend.controlnet_name = path, name
    by_file = run_inpaint(image, mask, req(), backend)
    assert np.array_equal(by_file.images[0], by_folder.images[0])
    assert f"Model: {name}," in by_file.infotexts[0]


def test_a_single_file_that_is_no_controlnet_or_does_not_fit_says_so(tmp_path, tiny_sd_dir, cache, tiny_controlnet_dir):
    import torch
    from safetensors.torch import save_file

    from inpaint_anything.inpaint.controlnet_backend import load_single_file

    base = cache.get(str(tiny_sd_dir), device="cpu")[0]
    other = tmp_path / "some_inpaint_lora.safetensors"
    save_file({"lora_unet_down.weight": torch.zeros(2, 2)}, str(other))
    with pytest.raises(InvalidInputError, match="not a ControlNet"):
        load_single_file(other, base.unet.config, torch.float32)
    from fixtures.ldm_convert import write_controlnet_file

    cn_file = write_controlnet_file(tiny_controlnet_dir, tmp_path / "control_tiny_inpaint.safetensors")
    wider = {**base.unet.config, "block_out_channels": [2 * c for c in base.unet.config.block_out_channels]}
    with pytest.raises(InvalidInputError, match="does not fit the model"):  # made for another base model
        load_single_file(cn_file, wider, torch.float32)


def test_an_sdxl_model_inpaints_through_the_sdxl_controlnet_pipeline(tmp_path, tiny_sdxl_inpaint_dir, cache):
    """SDXL: StableDiffusionXLControlNetInpaintPipeline from the cached SDXL pipeline's own parts, with a tiny
    random SDXL ControlNet (the base UNet's encoder half, 4 latent channels)."""
    import inspect

    import torch
    from diffusers import ControlNetModel, UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(str(tiny_sdxl_inpaint_dir / "unet"))
    wanted = set(inspect.signature(ControlNetModel.__init__).parameters)
    torch.manual_seed(2)
    cn = ControlNetModel.from_config(
        {
            **{k: v for k, v in unet.config.items() if k in wanted},
            "in_channels": 4,
            "conditioning_embedding_out_channels": (16, 16, 16, 16),
        }
    )
    with torch.no_grad():
        for conv in [*cn.controlnet_down_blocks, cn.controlnet_mid_block]:
            conv.weight.normal_(0, 0.5)
            conv.bias.normal_(0, 0.5)
    folder = tmp_path / "controlnet" / "tiny-sdxl-inpaint-cn"
    cn.save_pretrained(str(folder), safe_serialization=True)
    assert local_controlnets(tmp_path) == ["tiny-sdxl-inpaint-cn"]
    image, mask = picture()
    backend = ControlNetDiffusersBackend(
        str(tiny_sdxl_inpaint_dir),
        cache,
        device="cpu",
        native_override=64,
        options=ControlNetOptions(weight=2.0),
        controlnets=ControlNetCache(),
        controlnet_dir=resolve_controlnet(folder.name, tmp_path, offline=True),
        controlnet_name=folder.name,
    )
    with_cn = run_inpaint(image, mask, req(), backend)
    pipe = backend.last_pipeline
    assert type(pipe).__name__ == "StableDiffusionXLControlNetInpaintPipeline"
    base = cache.get(str(tiny_sdxl_inpaint_dir), device="cpu")[0]
    for part in ("unet", "vae", "text_encoder", "text_encoder_2"):  # no second copy in memory
        assert getattr(pipe, part) is getattr(base, part)
    without = run_inpaint(
        image, mask, req(), DiffusersBackend(str(tiny_sdxl_inpaint_dir), cache, device="cpu", native_override=64)
    )
    a, b = with_cn.images[0].astype(int), without.images[0].astype(int)
    assert np.abs(a - b)[mask].mean() > 1.0  # the ControlNet steered the fill
    band = with_cn.alpha > 0
    assert np.array_equal(with_cn.images[0][~band], image[~band])  # bit-exact outside the blend band
    assert 'ControlNet 0: "Module: inpaint_only, Model: tiny-sdxl-inpaint-cn, Weight: 2.0,' in with_cn.infotexts[0]


def test_cli_batch_inpaints_through_controlnet_with_the_tables_flags(tmp_path, tiny_sd_dir, tiny_controlnet_dir, capsys):
    """``batch --backend controlnet`` with ``--cn-*`` options (one per CONTROLNET_FIELDS field): every output
    carries the unit in its infotext, and a bad option is refused in the table's words."""
    import os

    from PIL import Image

    from inpaint_anything.__main__ import main

    models = tmp_path / "models"
    (models / "diffusers").mkdir(parents=True)
    os.symlink(tiny_sd_dir, models / "diffusers" / "plain-sd")
    shutil.copytree(tiny_controlnet_dir, models / "controlnet" / "tiny-inpaint-cn")
    images, masks = tmp_path / "in", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    image, mask = picture()
    Image.fromarray(image).save(images / "a.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(masks / "a.png")
    common = ["--ia-models-dir", str(models), "--ia-offline", "batch", "--input", str(images), "--masks", str(masks)]
    common += ["--backend", "controlnet", "--model", "plain-sd", "--steps", "2", "--seed", "3", "--no-progress"]
    out = tmp_path / "out"
    code = main([*common, "--output", str(out), "--cn-weight", "0.6", "--cn-control-mode", "ControlNet is more important"])
    assert code == 0, capsys.readouterr()
    with Image.open(out / "a.png") as im:
        text = im.info.get("parameters", "")
        result = np.asarray(im.convert("RGB"))
    assert 'ControlNet 0: "Module: inpaint_only, Model: tiny-inpaint-cn, Weight: 0.6,' in text, text
    assert "Control Mode: ControlNet is more important" in text and "Model: plain-sd" in text
    from inpaint_anything import masks as mask_ops

    outside = ~mask_ops.grow(mask, 8)
    assert np.array_equal(result[outside], image[outside])  # nothing outside the mask and its blend band changed
    code = main([*common, "--output", str(tmp_path / "bad"), "--cn-weight", "5"])
    assert code != 0 and "Control weight" in capsys.readouterr().err
