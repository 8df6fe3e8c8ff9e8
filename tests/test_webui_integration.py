"""The host adapter against the WebUI v1.10.1 stand-in: install.py, flags, settings, scripts, checkpoint inpainting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
STUB = REPO / "tests" / "host_stub"


def test_install_py_installs_only_missing_packages_with_pins_frozen(webui_host):
    result = webui_host.run_install()
    assert result.returncode == 0, result.stderr
    pips = result.pip_calls
    # the test stack has everything but the optional PatchMatch wheel
    for cmd in pips:
        assert cmd.startswith("install ")
        assert " -c " in cmd
        for pinned in ("torch", "gradio", "transformers", "numpy", "pillow", "pydantic", "fastapi"):
            assert f'"{pinned}' not in cmd.lower()
    assert all("pypatchmatch" in cmd for cmd in pips)


def test_install_py_failure_prints_one_line_and_never_raises(webui_host, monkeypatch):
    result = webui_host.run_install(pip_fail="pypatchmatch")
    assert result.returncode == 0
    assert "Traceback" not in result.stdout + result.stderr
    # PatchMatch is optional: its failure is not reported as a broken install
    assert "could not install" not in result.stdout


@pytest.mark.both_stacks
def test_importing_scripts_does_no_heavy_work(tmp_path):
    """Host step 4 in a fresh process: no torch/diffusers/SAM/cv2 import, no files created.

    (The real host has imported torch and cv2 by then; not importing them here shows that nothing
    heavy - model code, weights, folder scans - runs when the scripts are imported.)"""
    code = f"""
import json, os, sys
sys.path.insert(0, {str(STUB)!r})
os.environ["WEBUI_STUB_ROOT"] = {str(tmp_path / "webui")!r}
import webui_stub
webui_stub.reparse_cmd_opts([], extension_roots=[{str(REPO)!r}])
import gradio  # the host has imported gradio (and torch) long before it loads extension scripts
before = set(sys.modules)
webui_stub.load_extension_scripts({str(REPO)!r})
heavy = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in ("torch", "diffusers", "transformers", "segment_anything", "segment_anything_hq", "cv2", "timm", "huggingface_hub"))
print(json.dumps(heavy))
"""
    (tmp_path / "webui").mkdir()
    before_files = set(os.listdir(REPO))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    assert set(os.listdir(REPO)) == before_files
    assert not (tmp_path / "webui" / "models" / "inpaint_anything").exists()


def test_flags_parse_and_settings_register(webui_host, tmp_path):
    webui_host.load_extension(argv=["--ia-models-dir", str(tmp_path / "m"), "--ia-sam-device", "cpu", "--ia-offline"])
    from inpaint_anything.webui import settings

    shared = webui_host.shared
    assert "ia_models_dir" in shared.opts.data_labels  # registered at import (API-only mode too)
    assert shared.opts.data_labels["ia_sam_device"].section[0] == "inpaint_anything"
    current = settings.current()
    assert current.models_dir == str(tmp_path / "m")
    assert current.sam_device == "cpu"
    assert current.offline is True
    shared.opts.set("ia_default_sam_model", "mobile_sam")
    assert settings.current().default_sam_model == "mobile_sam"


def test_settings_also_register_through_on_ui_settings(webui_host):
    webui_host.load_extension()
    webui_host.stub.fire("ui_settings")
    keys = [k for k in webui_host.shared.opts.data_labels if k.startswith("ia_")]
    assert len(keys) == len(set(keys)) >= 9


def _photo_and_mask():
    from fixtures.images import photo

    image = np.ascontiguousarray(photo("astronaut")[100:197, 150:251])
    mask = np.zeros(image.shape[:2], bool)
    mask[30:70, 40:80] = True
    return image, mask


@pytest.mark.parametrize("content", ["fill", "original", "latent noise", "latent nothing"])
def test_checkpoint_backend_produces_real_pixels(content, webui_host, tiny_sd_inpaint_dir):
    from inpaint_anything.inpaint.engine import run_inpaint
    from inpaint_anything.inpaint.request import InpaintRequest
    from inpaint_anything.webui.backend import WebuiCheckpointBackend, checkpoint_hint

    webui_host.load_model(tiny_sd_inpaint_dir)
    assert checkpoint_hint() is None  # a 9-channel checkpoint is detected as inpainting
    image, mask = _photo_and_mask()
    req = InpaintRequest(prompt="x", steps=2, seed=3, masked_content=content, mask_blur=2, padding=8)
    from inpaint_anything.webui.jobs import queued_job

    seen = []
    with queued_job("inpaint") as job:
        job._on_progress = lambda j: (job._mirror(j), seen.append(webui_host.shared.state.job_count))
        result = run_inpaint(image, mask, req, WebuiCheckpointBackend(native_override=64), job)
    out = result.images[0]
    assert out.shape == image.shape
    assert np.array_equal(out[result.alpha == 0], image[result.alpha == 0])
    assert np.abs(out[mask].astype(int) - image[mask]).mean() > 1
    assert seen and max(seen) >= 1  # progress reached the host's state


def test_checkpoint_backend_on_a_normal_checkpoint_gives_a_hint(webui_host, tiny_sd_dir):
    from inpaint_anything.inpaint.engine import run_inpaint
    from inpaint_anything.inpaint.request import InpaintRequest
    from inpaint_anything.webui.backend import WebuiCheckpointBackend, checkpoint_hint

    webui_host.load_model(tiny_sd_dir)
    assert "not an inpainting checkpoint" in checkpoint_hint()
    image, mask = _photo_and_mask()
    result = run_inpaint(
        image,
        mask,
        InpaintRequest(steps=2, seed=1, denoising_strength=0.7, mask_blur=2),
        WebuiCheckpointBackend(native_override=64),
    )
    assert np.array_equal(result.images[0][result.alpha == 0], image[result.alpha == 0])


def test_checkpoint_backend_without_a_model_says_so(webui_host):
    from inpaint_anything.errors import UnavailableError
    from inpaint_anything.inpaint.engine import run_inpaint
    from inpaint_anything.inpaint.request import InpaintRequest
    from inpaint_anything.webui.backend import WebuiCheckpointBackend

    image, mask = _photo_and_mask()
    with pytest.raises(UnavailableError, match="No checkpoint") as caught:
        run_inpaint(image, mask, InpaintRequest(steps=2), WebuiCheckpointBackend(native_override=64))
    assert caught.value.status_code == 503  # the API says "not now", not "not implemented"


def test_host_interrupt_stops_our_job(webui_host):
    from inpaint_anything.errors import JobInterrupted
    from inpaint_anything.webui.jobs import queued_job

    with queued_job("x") as job:
        job.begin("x", 2)
        job.step(1, 4)
        assert webui_host.shared.state.sampling_step == 1
        assert webui_host.shared.state.job_count == 2
        webui_host.shared.state.interrupt()
        with pytest.raises(JobInterrupted):
            job.step(2, 4)
    assert not webui_host.call_queue.queue_lock.locked()


def test_tab_settings_and_api_register_through_the_host(webui_host, tiny_sam_files, tmp_path):
    import shutil

    from fastapi import FastAPI

    models = tmp_path / "m"
    models.mkdir()
    shutil.copy(tiny_sam_files["sam"], models / "s.pth")
    webui_host.load_extension(argv=["--ia-models-dir", str(models), "--api"])
    tabs = webui_host.stub.fire("ui_tabs")
    flat = [t for group in tabs for t in (group or [])]
    assert [t[1:] for t in flat] == [("Inpaint Anything", "inpaint_anything")]
    app = FastAPI()
    webui_host.stub.fire("app_started", None, app)
    paths = {r.path for r in app.routes}
    assert any(p.startswith("/inpaint-anything/v1/") for p in paths)


def test_api_is_not_mounted_without_the_api_flag(webui_host):
    from fastapi import FastAPI

    webui_host.load_extension()
    app = FastAPI()
    webui_host.stub.fire("app_started", None, app)
    assert not any(r.path.startswith("/inpaint-anything") for r in app.routes)


def test_results_are_saved_through_the_host(webui_host):
    from inpaint_anything.webui.saving import save_result

    saved = []
    webui_host.load_extension()
    webui_host.script_callbacks.on_image_saved(lambda params: saved.append(params.filename))
    path = save_result(np.zeros((8, 8, 3), np.uint8), "a cat\nSteps: 2, Seed: 42", "inpaint")
    assert os.path.isfile(path) and "42" in os.path.basename(path)
    assert saved and os.path.abspath(saved[0]) == os.path.abspath(path)  # on_image_saved hooks ran
    from PIL import Image

    assert Image.open(path).info["parameters"].startswith("a cat")


def _flat_ids(block) -> list:
    out = [getattr(block, "elem_id", None)]
    for child in getattr(block, "children", None) or []:
        out += _flat_ids(child)
    return [i for i in out if i]


@pytest.mark.both_stacks
def test_send_buttons_join_the_host_result_rows_and_extras_is_a_target(webui_host, tiny_sam_files, tmp_path):
    """On the stand-in's page (v1.10.1 ids): our button follows each txt2img/img2img row's last send
    button, is wired to our input image, and "Send to extras" targets the Extras tab's extras_image."""
    import shutil

    models = tmp_path / "m"
    models.mkdir()
    shutil.copy(tiny_sam_files["sam"], models / "s.pth")
    webui_host.load_extension(argv=["--ia-models-dir", str(models), "--ia-offline"])
    ui = webui_host.stub.build_ui()
    by_id = {b.elem_id: b for b in ui.demo.blocks.values() if getattr(b, "elem_id", None)}
    for tab in ("txt2img", "img2img"):
        row = _flat_ids(by_id[f"image_buttons_{tab}"])
        assert row.index(f"{tab}_send_to_inpaint_anything") == row.index(f"{tab}_send_to_extras") + 1, row
    assert "extras_send_to_inpaint_anything" not in by_id  # the Extras results row is left alone
    assert ("Inpaint Anything", "inpaint_anything") in ui.tabs
    config = ui.demo.get_config_file()
    names = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}

    def wired(trigger: str) -> list:
        target = by_id[trigger]._id
        return [
            d
            for d in config["dependencies"]
            if any((t[0] if isinstance(t, (list, tuple)) else t) == target for t in d["targets"])
        ]

    for tab in ("txt2img", "img2img"):
        (dep,) = wired(f"{tab}_send_to_inpaint_anything")
        assert [names[o] for o in dep["outputs"]][0] == "ia_input_image" and names[dep["outputs"][-1]] == "ia_status"
        assert f"{tab}_gallery" in dep["js"]
    extras = [names[o] for d in wired("ia_send_extras") for o in d["outputs"]]
    assert "extras_image" in extras
    assert by_id["ia_send_extras"].visible is not False


def test_api_auth_from_the_host_flag_guards_our_routes(webui_host):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    webui_host.load_extension(argv=["--api", "--api-auth", "user:pw,other:pw2"])
    app = FastAPI()
    webui_host.stub.fire("app_started", None, app)
    client = TestClient(app)
    assert client.get("/inpaint-anything/v1/version").status_code == 401
    assert client.get("/inpaint-anything/v1/version", auth=("user", "wrong")).status_code == 401
    ok = client.get("/inpaint-anything/v1/version", auth=("other", "pw2"))
    assert ok.status_code == 200 and ok.json()


def test_building_the_tab_never_loads_a_checkpoint(webui_host, tiny_sd_dir, tiny_sam_files, tmp_path):
    """v1.10.1's ``shared.sd_model`` loads the selected checkpoint when read before any load: the tab,
    its hint and the backend's name must not read it (the WebUI may start with --skip-load-model-at-start)."""
    from inpaint_anything.webui.backend import WebuiCheckpointBackend, checkpoint_hint

    webui_host.sd_models.stub_select_checkpoint(tiny_sd_dir)
    webui_host.load_extension()
    webui_host.stub.fire("ui_tabs")
    assert "No checkpoint is loaded" in checkpoint_hint()
    assert WebuiCheckpointBackend().name == "webui:WebUI checkpoint"
    assert webui_host.sd_models.model_data.stub_load_attempts == 0
    assert webui_host.sd_models.model_data.sd_model is None
    assert webui_host.shared.sd_model is not None  # the stand-in does load on read, as the host
    assert webui_host.sd_models.model_data.stub_load_attempts == 1
