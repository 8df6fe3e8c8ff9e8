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


def ready(host, monkeypatch, checkpoint) -> None:
    """The host with its ControlNet and an inpaint model, the img2img scripts set up, a checkpoint loaded."""
    install_controlnet(host, monkeypatch)
    host.load_extension()
    host.setup_img2img_scripts()
    host.load_model(checkpoint)


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
    options = ControlNetOptions(
        module="inpaint_only+lama",
        weight=0.8,
        guidance_end=0.9,
        control_mode="My prompt is more important",
        reference=True,
        reference_weight=0.6,
        style_fidelity=0.25,
    )
    image, mask = picture()
    received(host).clear()
    result = run_inpaint(
        image,
        mask,
        InpaintRequest(steps=2, seed=3, inpaint_area="whole", mask_blur=2),
        cn.WebuiControlNetBackend(native_override=64, options=options),
    )
    units = received(host)[-1]
    assert [u.module for u in units] == ["inpaint_only+lama", "reference_only"]
    main, ref = units
    assert main.model.startswith("control_v11p_sd15_inpaint [") and ref.model == "None"
    assert (main.weight, main.guidance_start, main.guidance_end) == (0.8, 0.0, 0.9)
    assert main.control_mode.value == "My prompt is more important" and main.resize_mode.value == "Crop and Resize"
    assert (ref.weight, ref.threshold_a) == (0.6, 0.25)
    if host.is_forge:  # Forge reads arrays: the picture, its mask, a transparent foreground
        assert main.image.shape == (64, 64, 3) and main.mask_image.shape == (64, 64, 3) and not main.image_fg.any()
        assert np.array_equal(main.mask_image[..., 0] > 0, mask) and ref.mask_image is None
        assert np.array_equal(ref.image, image)  # the reference unit sees the original picture
    else:  # sd-webui-controlnet: the picture and its mask as one dict
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


@pytest.mark.both_stacks
def test_a_controlnet_that_fails_in_the_host_is_an_error_not_a_plain_result(any_webui_host, tiny_sd_dir, monkeypatch):
    """The host catches a failing ControlNet, prints it and runs img2img without it (Forge even after
    writing the "ControlNet 0" infotext): the backend says so instead of answering a plain img2img, and
    a near-black picture (Forge compares its foreground then) is no failure."""
    from inpaint_anything.webui import controlnet as cn

    host = any_webui_host
    ready(host, monkeypatch, tiny_sd_dir)
    image, mask = picture()
    request = InpaintRequest(steps=1, seed=3, inpaint_area="whole")
    dark = run_inpaint(image // 64, mask, request, cn.WebuiControlNetBackend(native_override=64))
    assert "ControlNet 0" in dark.infotexts[0]
    (host.models / "ControlNet" / "control_v11p_sd15_inpaint.pth").write_bytes(b"broken weights")
    reported = len(host.reported_errors)
    with pytest.raises(UnavailableError, match=r"ControlNet failed \(.*(Recognizing Control Model|Failed to load)"):
        run_inpaint(image, mask, request, cn.WebuiControlNetBackend(native_override=64))
    assert len(host.reported_errors) > reported  # the host printed it, as it does


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


# ---------------------------------------------------------------------------------------------- the img2img script
SCRIPT_ARGS = ["pixels", 16, 16, 0, 0, "16:9", 1.5, 0.5, 0.5, "blur", 8, "all", 2]


@pytest.mark.both_stacks
def test_the_outpainting_script_outpaints_an_ordinary_checkpoint_with_the_hosts_controlnet(
    any_webui_host, tiny_sd_dir, monkeypatch
):
    from PIL import Image
    from test_outpaint_script import _script_ui

    host = any_webui_host
    install_controlnet(host, monkeypatch)
    _demo, ui_script, _ = _script_ui(host)
    enabled = ui_script._controls[len(SCRIPT_ARGS)]
    assert enabled.interactive is not False and enabled.value is False  # the choice can be ticked, off at start
    model = ui_script._controls[len(SCRIPT_ARGS) + 2]
    assert [str(v).split(" [")[0] for v in _dropdown_values(model)] == ["control_v11p_sd15_inpaint"]
    runner = host.setup_img2img_scripts()  # the whole img2img section, as the host builds it
    script = next(s for s in runner.selectable_scripts if s.title() == ui_script.title())
    host.load_model(tiny_sd_dir)  # an ordinary (4-channel) checkpoint
    src = Image.fromarray(picture()[0][:48])
    p = host.img2img(init_images=[src], prompt="sky", steps=2, seed=5, denoising_strength=0.9, sampler_name="Euler a")
    received(host).clear()
    # ... mask blur, ControlNet inpaint on, preprocessor as the UI shows it, the first model, weight, resize mode
    processed = script.run(p, *SCRIPT_ARGS, True, "inpaint_only+lama", "", 0.7, "Resize and Fill")
    units = received(host)[-1]
    assert [u.module for u in units] == ["inpaint_only+lama"] and units[0].weight == 0.7
    assert units[0].resize_mode.value == "Resize and Fill" and units[0].model.startswith("control_v11p_sd15_inpaint [")
    given = units[0].mask_image if host.is_forge else units[0].image["mask"]
    hole = given[..., 0] > 0  # at the processing size: columns as fractions of the width
    w = hole.shape[1]
    assert hole[:, : w * 16 // 96].all() and hole[:, -(w * 16 // 96) :].all(), hole.mean(axis=0)  # the new sides
    assert not hole[:, w * 40 // 96 : w * 56 // 96].any()  # the middle of the picture is kept
    out = np.asarray(processed.images[0])
    assert out.shape == (48, 64 + 32, 3)
    assert np.array_equal(out[:, 16 + 8 : 16 + 64 - 8], np.asarray(src)[:, 8:-8])  # the original, minus the overlap
    assert 'ControlNet 0: "Module: inpaint_only+lama, Model: control_v11p_sd15_inpaint [' in processed.info
    assert "Outpainting (Inpaint Anything)" in processed.info
    # off (the default, and what older script_args mean): no unit
    received(host).clear()
    processed = script.run(p, *SCRIPT_ARGS)
    assert "ControlNet 0" not in processed.info and all(not u.enabled for units in received(host) for u in units)


def test_the_outpainting_scripts_controlnet_choice_says_why_it_cannot_run(webui_host, tiny_sd_dir):
    from PIL import Image
    from test_outpaint_script import _script_ui

    _demo, ui_script, _ = _script_ui(webui_host)
    enabled = ui_script._controls[len(SCRIPT_ARGS)]
    assert enabled.interactive is False
    note = next(b for b in _demo.blocks.values() if getattr(b, "elem_id", None) == ui_script.elem_id("cn_status"))
    assert "install sd-webui-controlnet" in note.value
    runner = webui_host.setup_img2img_scripts()
    script = next(s for s in runner.selectable_scripts if s.title() == ui_script.title())
    webui_host.load_model(tiny_sd_dir)
    p = webui_host.img2img(init_images=[Image.new("RGB", (64, 48), (1, 2, 3))], steps=2, seed=1)
    with pytest.raises(UnavailableError, match="install sd-webui-controlnet"):  # an API call that asks anyway
        script.run(p, *SCRIPT_ARGS, True)


def _dropdown_values(dropdown) -> list:
    return [c[1] if isinstance(c, (list, tuple)) else c for c in dropdown.choices]


@pytest.mark.both_stacks
def test_api_script_args_left_off_take_their_defaults_not_the_next_scripts_args(any_webui_host, tiny_sd_dir, monkeypatch):
    """/sdapi/v1/img2img replaces the script's slice of the default arguments with the request's
    script_args (modules/api/api.py, init_script_args): 13 sent of 24 leave 11 of the next scripts'
    arguments in the script's slice. They must not switch ControlNet on; all 24 sent must."""
    from PIL import Image

    host = any_webui_host
    install_controlnet(host, monkeypatch)
    host.load_extension()
    runner = host.setup_img2img_scripts()
    host.load_model(tiny_sd_dir)
    index, script = next((i, s) for i, s in enumerate(runner.selectable_scripts) if s.title().startswith("Outpainting"))
    # a script whose controls the host built after ours (in A1111 v1.10.1 e.g. always-on ones in accordions)
    later = type("Later", (), {"args_from": script.args_to, "args_to": script.args_to + 12, "alwayson": False})()
    monkeypatch.setattr(runner, "scripts", [*runner.scripts, later])
    full = max(s.args_to for s in runner.scripts)
    src = Image.fromarray(picture()[0][:48])

    def api_run(sent: list):
        args = [True] * full  # what follows in the host's list: other scripts' values (a ticked checkbox here)
        args[0] = index + 1
        args[script.args_from : script.args_to] = sent  # the host's own replacement
        p = host.img2img(init_images=[src], prompt="sky", steps=2, seed=5, denoising_strength=0.9)
        p.scripts, p.script_args = runner, tuple(args)
        received(host).clear()
        return runner.run(p, *p.script_args)

    processed = api_run(list(SCRIPT_ARGS))  # the 13 arguments of earlier versions
    assert processed.images[0].size == (64 + 32, 48) and "ControlNet 0" not in processed.info
    assert not any(u.enabled for units in received(host) for u in units)
    from inpaint_anything.webui.outpaint_script import DEFAULTS

    all_args = [*SCRIPT_ARGS, True, *DEFAULTS[len(SCRIPT_ARGS) + 1 :]]
    processed = api_run(all_args)
    assert 'ControlNet 0: "Module: inpaint_only, Model: control_v11p_sd15_inpaint [' in processed.info


@pytest.mark.both_stacks
def test_inpaint_only_runs_as_inpaint_only_and_the_infotext_is_what_the_host_ran(any_webui_host, tiny_sd_dir, monkeypatch):
    """sd-webui-controlnet turns inpaint_only into inpaint_global_harmonious when img2img has a mask too
    (seen on the real v1.10.1 host): for inpaint_only img2img gets no mask (ControlNet masks by itself,
    the engine's paste-back keeps the rest), and the infotext is the host's own record of the units."""
    from inpaint_anything.webui import controlnet as cn

    host = any_webui_host
    ready(host, monkeypatch, tiny_sd_dir)
    image, mask = picture()
    received(host).clear()
    backend = cn.WebuiControlNetBackend(native_override=64, options=ControlNetOptions(module="inpaint_only"))
    result = run_inpaint(image, mask, InpaintRequest(steps=2, seed=3, inpaint_area="whole", mask_blur=2), backend)
    (unit,) = received(host)[-1]
    if not host.is_forge:
        assert unit.module == "inpaint_only"  # not fallen back to "inpaint"
    band = result.alpha > 0
    assert np.array_equal(result.images[0][~band], image[~band])
    assert backend.ran["ControlNet 0"].startswith(f"Module: {unit.module}, Model: control_v11p_sd15_inpaint [")
    _, leftover = parse_infotext(result.infotexts[0])
    assert leftover["ControlNet 0"] == backend.ran["ControlNet 0"]  # the host's record, as it wrote it
    # the other preprocessors keep img2img's mask, and the host keeps them as they are
    received(host).clear()
    run_inpaint(
        image,
        mask,
        InpaintRequest(steps=2, seed=3, inpaint_area="whole", mask_blur=2),
        cn.WebuiControlNetBackend(native_override=64, options=ControlNetOptions(module="inpaint_only+lama")),
    )
    assert received(host)[-1][0].module == "inpaint_only+lama"


def test_caught_errors_follows_the_hosts_last_five_records(webui_host, monkeypatch):
    """v1.10.1 keeps only the last five records (it drops the oldest): new ones are told apart from
    the old ones by identity, never by count, and only those through the given file count."""
    from modules import errors

    from inpaint_anything.webui.compat import CaughtErrors

    def record(text: str, where: str) -> dict:
        return {"exception": text, "traceback": [[f"{where}, line 3, process", "x = 1"]]}

    records = [record(f"old {n}", "/x/controlnet.py") for n in range(5)]
    monkeypatch.setattr(errors, "exception_records", records)
    caught = CaughtErrors()
    for text, where in (("boom", "/x/controlnet.py"), ("other", "/x/other.py")):
        records.append(record(text, where))
        records.pop(0)  # as the host does past five
    assert caught.raised_in("/x/controlnet.py") == ["boom"]
    assert caught.raised_in("/x/other.py") == ["other"] and caught.raised_in("/x/none.py") == []
    monkeypatch.setattr(errors, "exception_records", None)  # a host without the list
    assert CaughtErrors().raised_in("/x/controlnet.py") == []
