"""``--ia-ckpt-dir``: a WebUI ``models/Stable-diffusion`` folder listed (usable or not, with the reason) and
used by the diffusers backend through the App and the REST API; names, never absolute paths."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from fixtures.wild_checkpoints import apply_quirk, ldm_state, save_checkpoint
from test_api import ANYIO_ALIAS, P, b64png, build_client, decode_png, scene

from inpaint_anything import config
from inpaint_anything.app import App
from inpaint_anything.config import Settings
from inpaint_anything.errors import UnrecognizedCheckpointError

pytestmark = pytest.mark.filterwarnings(ANYIO_ALIAS)

USABLE = "SD15/tiny-inpainting-fp16.safetensors"


@pytest.fixture
def webui_models(tmp_path: Path, tiny_sd_inpaint_dir: Path, tiny_sd_dir: Path) -> Path:
    """A WebUI models/Stable-diffusion folder as users have one."""
    ckpt = tmp_path / "webui" / "models" / "Stable-diffusion"
    clean = ldm_state(tiny_sd_inpaint_dir)
    save_checkpoint(apply_quirk(dict(clean), "fp16"), ckpt / USABLE)  # the report's kind of file, in a subfolder
    save_checkpoint(ldm_state(tiny_sd_dir), ckpt / "tiny-normal.safetensors")
    save_checkpoint({k: v for k, v in clean.items() if not k.startswith("first_stage_model.")}, ckpt / "no-vae.ckpt")
    (ckpt / "broken.safetensors").write_bytes(b'\x10\x00\x00\x00\x00\x00\x00\x00{"a": 1')
    vae = {k[len("first_stage_model.") :]: v for k, v in clean.items() if k.startswith("first_stage_model.")}
    save_checkpoint(vae, ckpt / "SD15" / "tiny-inpainting-fp16.vae.safetensors")  # a VAE: not listed
    (ckpt / "notes.txt").write_text("not a model")
    return ckpt


@pytest.fixture
def ckpt_app(tmp_path: Path, webui_models: Path, tiny_shipped_configs: Path) -> App:
    ns = argparse.ArgumentParser()
    config.add_cli_arguments(ns)
    args = ns.parse_args(
        [
            "--ia-models-dir",
            str(tmp_path / "models"),
            "--ia-ckpt-dir",
            str(webui_models),
            "--ia-offline",
            "--ia-sam-device",
            "cpu",
        ]
    )
    return App(config.settings_from(None, args))


def test_the_flag_and_the_setting(tmp_path: Path) -> None:
    option = config.OPTIONS_BY_KEY["ckpt_dir"]
    assert option.flag_name == "--ia-ckpt-dir" and option.opts_key == "ia_ckpt_dir" and option.default == ""
    assert Settings().resolved_ckpt_dir() is None
    assert Settings(ckpt_dir=str(tmp_path)).resolved_ckpt_dir() == str(tmp_path)
    assert App(Settings(models_dir=str(tmp_path / "m"))).ckpt_dir is None


@pytest.mark.both_stacks
def test_the_folder_is_listed_with_reasons_and_no_paths(ckpt_app: App, webui_models: Path) -> None:
    entries = {e.name: e for e in ckpt_app.inpaint_model_entries() if e.source == "ckpt_dir"}
    assert set(entries) == {USABLE, "tiny-normal.safetensors", "no-vae.ckpt", "broken.safetensors"}
    assert entries[USABLE].usable and (entries[USABLE].family, entries[USABLE].format) == ("sd1", "single_file")
    assert entries["tiny-normal.safetensors"].reason == (
        "not an inpainting model: 4 input channels; use the WebUI checkpoint backend or an inpainting file"
    )
    assert entries["no-vae.ckpt"].reason.startswith("no VAE: ") and "no-vae.vae.safetensors" in entries["no-vae.ckpt"].reason
    assert entries["broken.safetensors"].reason.startswith("damaged: ")
    assert USABLE in ckpt_app.inpaint_models() and "tiny-normal.safetensors" not in ckpt_app.inpaint_models()
    listed = json.dumps([e.as_dict() for e in ckpt_app.inpaint_model_entries()])
    assert str(webui_models) not in listed and str(ckpt_app.models_dir) not in listed


@pytest.mark.both_stacks
def test_the_api_lists_and_uses_a_file_from_the_folder(ckpt_app: App, webui_models: Path) -> None:
    client = build_client(ckpt_app)
    listing = client.get(f"{P}/models/inpaint").json()
    assert USABLE in listing["diffusers"] and "broken.safetensors" not in listing["diffusers"]
    by_name = {m["name"]: m for m in listing["diffusers_models"]}
    assert by_name["broken.safetensors"]["usable"] is False and by_name["broken.safetensors"]["source"] == "ckpt_dir"
    assert str(webui_models) not in json.dumps(listing)

    img, mask = scene(64, 64)
    body = {
        "image": b64png(img),
        "mask": b64png(mask),
        "backend": "diffusers",
        "model": USABLE,
        "options": {"native_size": 64, "device": "cpu"},
        "request": {"prompt": "a cat", "steps": 2, "seed": 3, "inpaint_area": "whole", "mask_blur": 2},
    }
    r = client.post(f"{P}/inpaint", json=body)
    assert r.status_code == 200, r.text
    out, text = decode_png(r.json()["images"][0])
    assert f'Inpaint backend: "diffusers:{USABLE}"' in text and f"Model: {USABLE}" in text
    assert str(webui_models) not in text and str(ckpt_app.models_dir) not in text and "/" + USABLE not in text
    assert (out[mask] != img[mask]).any()

    for name, status, message in [
        (
            "tiny-normal.safetensors",
            422,
            "tiny-normal.safetensors cannot be used: not an inpainting model: 4 input "
            "channels; use the WebUI checkpoint backend or an inpainting file",
        ),
        ("broken.safetensors", 422, "broken.safetensors cannot be used: damaged: "),
        ("no-vae.ckpt", 422, "no-vae.ckpt cannot be used: no VAE: "),
    ]:
        r = client.post(f"{P}/inpaint", json={**body, "model": name})
        assert r.status_code == status, r.text
        detail = r.json()["detail"]
        assert detail.startswith(message) and str(webui_models) not in detail


@pytest.mark.both_stacks
def test_the_app_uses_listed_names_and_plain_paths(ckpt_app: App, webui_models: Path) -> None:
    from inpaint_anything.inpaint.request import InpaintRequest

    backend = ckpt_app.backend("diffusers", USABLE, native_size=64, device="cpu")
    assert backend.name == f"diffusers:{USABLE}" and backend.source == str(webui_models / USABLE)
    ws = ckpt_app.workspace("ckpt")
    ws.set_image(np.full((64, 64, 3), 120, np.uint8))
    ws.brush([{"mode": "add", "radius": 12, "points": [[32, 32]]}])
    result = ws.inpaint(InpaintRequest(steps=2, seed=4, inpaint_area="whole"), backend)
    assert str(webui_models) not in result.infotexts[0]
    with pytest.raises(UnrecognizedCheckpointError, match="^tiny-normal.safetensors cannot be used: not an inpainting"):
        ckpt_app.backend("diffusers", "tiny-normal.safetensors")
    # a path typed into the dropdown (allow_custom_value) still works, and is named by its file name
    direct = ckpt_app.backend("diffusers", str(webui_models / USABLE), native_size=64, device="cpu")
    assert direct.name == "diffusers:tiny-inpainting-fp16.safetensors"
