"""A generation stopped by the host's NaN check (modules.devices.NansException) ends with the WebUI's
advice as a message, not "Unexpected error" and a traceback."""

from __future__ import annotations

import logging

import numpy as np
import pytest


@pytest.fixture
def nan_vae(webui_host, tiny_sd_inpaint_dir, monkeypatch):
    """The host's VAE decodes to NaNs (what half precision does to some models)."""
    import torch
    from modules import _stub_diffusion

    webui_host.load_model(tiny_sd_inpaint_dir)
    real = _stub_diffusion.decode_first_stage
    monkeypatch.setattr(_stub_diffusion, "decode_first_stage", lambda model, x: real(model, x) * torch.nan)
    return webui_host


def _inpaint():
    from inpaint_anything.inpaint.engine import run_inpaint
    from inpaint_anything.inpaint.request import InpaintRequest
    from inpaint_anything.webui.backend import WebuiCheckpointBackend

    image = (np.random.default_rng(0).random((48, 48, 3)) * 255).astype(np.uint8)
    mask = np.zeros((48, 48), bool)
    mask[16:32, 16:32] = True
    return run_inpaint(image, mask, InpaintRequest(prompt="x", steps=2, seed=1), WebuiCheckpointBackend(native_override=64))


def test_the_stand_in_raises_the_host_exception(nan_vae):
    from modules import devices
    from PIL import Image

    p = nan_vae.img2img(init_images=[Image.new("RGB", (64, 64))], steps=2, seed=1)
    with pytest.raises(devices.NansException, match="NaNs was produced in VAE"):
        nan_vae.processing.process_images(p)


def test_nan_failure_is_a_message_with_the_webui_advice(nan_vae, caplog):
    from inpaint_anything.errors import IAError
    from inpaint_anything.ui.handlers import error_message

    nan_vae.load_extension()
    with pytest.raises(IAError) as info:
        _inpaint()
    text = str(info.value)
    for advice in ("NaNs", "--no-half", "a different VAE", "--disable-nan-check", "produced in VAE"):
        assert advice in text, text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with caplog.at_level(logging.DEBUG):
        shown = error_message(info.value)
    assert "Unexpected error" not in shown and "--no-half" in shown
    assert not [r for r in caplog.records if r.exc_info]  # nothing logged with a traceback


def test_disable_nan_check_lets_the_generation_finish(nan_vae):
    nan_vae.load_extension(argv=["--disable-nan-check"])
    result = _inpaint()
    assert result.images[0].shape == (48, 48, 3)
