"""The WebUI backend "ControlNet inpaint" on the stand-in hosts: A1111 + a stand-in of sd-webui-controlnet's
external API (v1.1.455 signatures), Forge + a stand-in of its built-in ControlNet (lib_controlnet)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from inpaint_anything.errors import UnavailableError
from inpaint_anything.inpaint.controlnet import ControlNetOptions, options_from_infotext
from inpaint_anything.inpaint.engine import run_inpaint
from inpaint_anything.inpaint.request import InpaintRequest, parse_infotext

STUBS = Path(__file__).resolve().parent
A1111_CN = STUBS / "host_stub" / "extensions" / "sd-webui-controlnet"
FORGE_CN = STUBS / "host_stub_forge" / "extensions-builtin" / "sd_forge_controlnet"


def install_controlnet(host, monkeypatch, *, model: bool = True) -> None:
    """The host's ControlNet extension (A1111: extensions/, Forge: built in) and, with ``model``, an inpaint model."""
    if host.is_forge:
        shutil.copytree(FORGE_CN, host.root / "extensions-builtin" / FORGE_CN.name)
    else:
        shutil.copytree(A1111_CN, host.root / "extensions" / A1111_CN.name)
    for name in ("lib_controlnet", "internal_controlnet", "extensions", "extensions-builtin"):
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            monkeypatch.delitem(sys.modules, key)
    # the WebUI root, where `extensions.<name>...` imports resolve; the host fixture takes it off again
    # (not monkeypatch.syspath_prepend: its undo would put back the stub folders the fixture removed)
    sys.path.insert(0, str(host.root))
    folder = host.models / "ControlNet"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "control_v11p_sd15_canny.pth").write_bytes(b"canny")
    if model:
        (folder / "control_v11p_sd15_inpaint.pth").write_bytes(b"inpaint weights")


def picture():
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[16:40, 20:44] = True
    return image, mask


def received(host) -> list:
    runner = host.scripts.scripts_img2img
    script = next(s for s in runner.alwayson_scripts if s.title() == "ControlNet")
    return type(script).received


@pytest.mark.both_stacks
def test_units_reach_the_hosts_controlnet_and_its_infotext_comes_back(any_webui_host, tiny_sd_dir, monkeypatch):
    from inpaint_anything.webui import controlnet as cn

    host = any_webui_host
    install_controlnet(host, monkeypatch)
    host.shared.opts.data["control_net_unit_count"] = 2
    host.load_extension()
    host.setup_img2img_scripts()
    host.load_model(tiny_sd_dir)
    assert cn.status() is None
    assert [m.split(" [")[0] for m in cn.inpaint_models()] == ["control_v11p_sd15_inpaint"]  # canny is not offered
    assert cn.preprocessors() == ["inpaint_only", "inpaint_only+lama", "inpaint_global_harmonious"]
    options = ControlNetOptions(module="inpaint_only+lama", weight=0.8, guidance_end=0.9,
                                control_mode="My prompt is more important", reference=True, reference_weight=0.6,
                                style_fidelity=0.25)
    image, mask = picture()
    received(host).clear()
    result = run_inpaint(image, mask, InpaintRequest(steps=2, seed=3, inpaint_area="whole", mask_blur=2),
                         cn.WebuiControlNetBackend(native_override=64, options=options))
    units = received(host)[-1]
    assert [u.module for u in units] == ["inpaint_only+lama", "reference_only"]
    main, ref = units
    assert main.model.startswith("control_v11p_sd15_inpaint [") and ref.model == "None"
    assert (main.weight, main.guidance_start, main.guidance_end) == (0.8, 0.0, 0.9)
    assert main.control_mode.value == "My prompt is more important" and main.resize_mode.value == "Crop and Resize"
    assert (ref.weight, ref.threshold_a) == (0.6, 0.25)
    assert main.image["image"].shape == (64, 64, 3) and main.image["mask"].shape == (64, 64, 3)
    assert np.array_equal(main.image["mask"][..., 0] > 0, mask) and not ref.image["mask"].any()
    assert np.array_equal(ref.image["image"], image)  # the reference unit sees the original picture
    band = result.alpha > 0
    assert np.array_equal(result.images[0][~band], image[~band])
    text = result.infotexts[0]
    assert 'ControlNet 0: "Module: inpaint_only+lama, Model: control_v11p_sd15_inpaint [' in text
    assert 'ControlNet 1: "Module: reference_only, Model: None, Weight: 0.6,' in text
    _, leftover = parse_infotext(text)
    back = options_from_infotext(leftover)
    assert back.module == options.module and back.reference and back.style_fidelity == 0.25
    assert back.control_mode == options.control_mode and back.model.startswith("control_v11p_sd15_inpaint [")


def test_without_controlnet_the_choice_says_why(webui_host):
    from inpaint_anything.webui import controlnet as cn

    webui_host.load_extension()
    webui_host.setup_img2img_scripts()
    assert cn.external_code() is None
    assert "install sd-webui-controlnet" in cn.status() and "models/ControlNet" in cn.status()


def test_without_an_inpaint_model_the_choice_says_where_to_put_it(webui_host, tiny_sd_dir, monkeypatch):
    from inpaint_anything.webui import controlnet as cn

    install_controlnet(webui_host, monkeypatch, model=False)
    webui_host.load_extension()
    webui_host.setup_img2img_scripts()
    webui_host.load_model(tiny_sd_dir)
    assert "models/ControlNet" in cn.status()
    image, mask = picture()
    with pytest.raises(UnavailableError, match="control_v11p_sd15_inpaint"):
        run_inpaint(image, mask, InpaintRequest(steps=2), cn.WebuiControlNetBackend(native_override=64))
