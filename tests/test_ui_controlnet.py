"""The tab's "ControlNet inpaint" choice through the Controller: the options reach the backend and its
infotext, the model list offers ordinary checkpoints, and where it cannot run the reason is said."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from inpaint_anything.app import App
from inpaint_anything.config import Settings
from inpaint_anything.errors import UnavailableError
from inpaint_anything.inpaint.controlnet import ControlNetOptions
from inpaint_anything.inpaint.request import InpaintRequest
from inpaint_anything.ui.handlers import Controller, HostHooks, SessionKey, error_message


def picture():
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[16:44, 20:40] = True
    return image, mask


def session(ctl: Controller) -> SessionKey:
    key = SessionKey()
    image, mask = picture()
    ctl.set_image(key, image)
    ctl.ws(key).set_mask(mask)
    return key


def request() -> InpaintRequest:
    return InpaintRequest(prompt="a vase", steps=2, seed=3, inpaint_area="whole", mask_blur=2)


@pytest.fixture
def app(tmp_path, tiny_sd_dir, tiny_controlnet_dir):
    models = tmp_path / "models"
    (models / "diffusers").mkdir(parents=True)
    os.symlink(tiny_sd_dir, models / "diffusers" / "plain-sd")  # 4 channels: not an inpainting model
    shutil.copytree(tiny_controlnet_dir, models / "controlnet" / "tiny-inpaint-cn")
    return App(Settings(models_dir=str(models), output_dir=str(tmp_path / "out"), sam_device="cpu", offline=True))


@pytest.mark.both_stacks
def test_the_choice_runs_an_ordinary_checkpoint_with_the_controls_options(app):
    from inpaint_anything.ui.controlnet_controls import model_dropdown

    ctl = Controller(app)
    assert ctl.controlnet_switch() == ("controlnet", "diffusers") and ctl.controlnet_unavailable() is None
    assert ctl.controlnet_models()[0] == "tiny-inpaint-cn"
    with_cn = model_dropdown(ctl, True, None)  # ticking the choice lists the ordinary checkpoint
    assert "plain-sd" in with_cn["choices"] and with_cn["label"].startswith("Model (any checkpoint")
    assert "plain-sd" not in model_dropdown(ctl, False, "plain-sd")["choices"]
    key = session(ctl)
    options = ControlNetOptions.from_ui(
        {"model": "tiny-inpaint-cn", "weight": 0.75, "control_mode": "ControlNet is more important", "guidance_end": 0.9}
    )
    gallery, info, status = ctl.inpaint(key, "diffusers", "plain-sd", request(), controlnet=options)
    assert 'ControlNet 0: "Module: inpaint_only, Model: tiny-inpaint-cn, Weight: 0.75,' in info
    assert "Guidance End: 0.9" in info and "Control Mode: ControlNet is more important" in info
    assert 'Inpaint backend: "controlnet:plain-sd"' in info
    assert len(gallery) == 1 and "ia-error" not in status
    image, mask = picture()
    out = ctl.ws(key).results[-1].image
    assert out.shape == image.shape and not np.array_equal(out[mask], image[mask])
    # without the choice the same model is refused as before, with the diffusers backend's reason
    with pytest.raises(Exception, match="inpainting"):
        ctl.inpaint(key, "diffusers", "plain-sd", request())


def test_offline_without_a_controlnet_the_choice_says_what_to_do(tmp_path):
    app = App(Settings(models_dir=str(tmp_path / "models"), output_dir=str(tmp_path / "out"), sam_device="cpu", offline=True))
    ctl = Controller(app)
    why = ctl.controlnet_unavailable()
    assert why and "offline" in why and str(tmp_path / "models" / "controlnet") in why
    key = session(ctl)
    with pytest.raises(UnavailableError) as err:
        ctl.inpaint(key, "diffusers", "any-model", request(), controlnet=ControlNetOptions())
    assert str(err.value) == why and "ia-error" in error_message(err.value)
    assert "control_v11p_sd15_inpaint.pth" in why
    folder = tmp_path / "models" / "controlnet"
    folder.mkdir(parents=True)
    (folder / "control_v11p_sd15_inpaint.pth").write_bytes(b"weights")  # the WebUI's single file will do
    assert ctl.controlnet_unavailable() is None and ctl.controlnet_models()[0] == "control_v11p_sd15_inpaint.pth"


def test_in_the_webui_the_choice_turns_the_checkpoint_button_into_webui_controlnet(tmp_path):
    app = App(Settings(models_dir=str(tmp_path / "models"), output_dir=str(tmp_path / "out"), sam_device="cpu", offline=True))
    seen = []

    class Made(Exception):  # the factories stand in for the host's backends: what they were given is checked
        pass

    def Backend(kind, model, options):  # noqa: N802
        seen.append((kind, model, options))
        raise Made

    app.register_backend("webui", lambda model="", **o: Backend("webui", model, o))
    app.register_backend("webui_controlnet", lambda model="", **o: Backend("webui_controlnet", model, o))
    reason = ["Install sd-webui-controlnet."]
    hooks = HostHooks(
        extra_backends=[("WebUI checkpoint", "webui")],
        controlnet_status=lambda: reason[0],
        controlnet_models=lambda: ["control_v11p_sd15_inpaint [ebff9138]"],
    )
    ctl = Controller(app, hooks)
    assert ctl.controlnet_switch() == ("webui_controlnet", "webui")
    assert ctl.controlnet_models() == ["control_v11p_sd15_inpaint [ebff9138]"]
    key = session(ctl)
    with pytest.raises(UnavailableError, match="Install sd-webui-controlnet"):
        ctl.inpaint(key, "webui", "", request(), controlnet=ControlNetOptions())
    assert seen == []  # refused before any backend was made
    reason[0] = None
    options = ControlNetOptions(weight=0.5, reference=True)
    with pytest.raises(Made):
        ctl.inpaint(key, "webui", "", request(), controlnet=options)
    assert seen[-1] == ("webui_controlnet", "", {"controlnet": options})
    with pytest.raises(Made):
        ctl.inpaint(key, "webui", "", request())  # the choice off: the plain WebUI checkpoint backend
    assert seen[-1] == ("webui", "", {})
