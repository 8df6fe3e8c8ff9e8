"""First-run defaults decided from what is installed, readable messages, and the standalone page
(one tab, nothing fetched from other hosts)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from inpaint_anything.app import App
from inpaint_anything.config import Settings
from inpaint_anything.errors import InvalidInputError, UnavailableError


def _app(tmp_path, offline: bool = True, **extra) -> App:
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    return App(Settings(models_dir=str(models), output_dir=str(tmp_path / "out"), sam_device="cpu", offline=offline, **extra))


def event(kind, size, points=(), box=None, strokes=(), seq=1):
    return json.dumps(
        {
            "version": 1,
            "kind": kind,
            "image_size": list(size),
            "points": [list(p) for p in points],
            "box": box,
            "strokes": list(strokes),
            "seq": seq,
        }
    )


def test_empty_models_folder_selects_grabcut_and_says_how_to_get_sam(tmp_path):
    from inpaint_anything.ui import defaults

    app = _app(tmp_path)  # SAM on the CPU: the light model is the one worth downloading
    assert defaults.default_selector(app) == defaults.GRABCUT
    assert app.settings.default_sam_model == "sam_vit_b" and defaults.default_sam(app) == "mobile_sam"
    hint = defaults.sam_hint(app, offline=True)
    assert str(app.models_dir) in hint and "offline" in hint and "Download" not in hint and defaults.GRABCUT in hint
    online = defaults.sam_hint(app, offline=False)
    assert "Download" in online and "MobileSAM (40.73 MB)" in online and str(app.models_dir) in online
    assert "\n" not in hint and "\n" not in online  # one line


def test_with_a_gpu_the_configured_default_stays_and_the_catalogue_order_is_kept(tmp_path, monkeypatch):
    from inpaint_anything.ui import defaults
    from inpaint_anything.ui.handlers import Controller

    app = _app(tmp_path)
    monkeypatch.setattr(defaults, "sam_on_cpu", lambda app: False)
    assert defaults.default_sam(app) == "sam_vit_b"
    assert "SAM ViT-B (375.04 MB)" in defaults.sam_hint(app, offline=False)
    ids = [mid for _, mid in Controller(app).sam_choices()]
    assert ids[:3] == ["sam_vit_b", "sam_vit_l", "sam_vit_h"]
    assert not any("slow on CPU" in label for label, _ in Controller(app).sam_choices())


def test_on_a_cpu_light_models_come_first_and_vit_l_h_say_they_are_slow(tmp_path):
    from inpaint_anything.ui.handlers import Controller

    app = _app(tmp_path)  # sam_device="cpu"
    pairs = Controller(app).sam_choices()
    ids = [mid for _, mid in pairs]
    assert ids[:2] == ["mobile_sam", "sam_hq_vit_tiny"] and "sam_vit_b" in ids
    labels = {mid: label for label, mid in pairs}
    for mid, seconds in (("sam_vit_l", 40), ("sam_vit_h", 70), ("sam_hq_vit_l", 40), ("sam_hq_vit_h", 70)):
        assert labels[mid].endswith(f"slow on CPU (\u2248{seconds} s per image)"), labels[mid]
    for mid in ("mobile_sam", "sam_hq_vit_tiny", "sam_vit_b", "sam_hq_vit_b"):
        assert "slow" not in labels[mid]
    # a configured default is kept when the user chose one
    chosen = _app(tmp_path, default_sam_model="sam_vit_h")
    from inpaint_anything.ui import defaults

    assert defaults.default_sam(chosen) == "sam_vit_h"


def test_users_own_files_are_marked_from_their_architecture_and_the_api_lists_encode_times(tmp_path, tiny_sam_files):
    from inpaint_anything.models.catalogue import cpu_encode_seconds
    from inpaint_anything.ui.labels import sam_label

    assert cpu_encode_seconds("sam", "vit_h") == 70.0 and cpu_encode_seconds("sam_hq_tiny", "vit_tiny") == 2.0
    assert cpu_encode_seconds("sam2", "hiera_l") is None  # not measured on a CPU: no mark
    app = _app(tmp_path)
    infos = {m.id: m for m in app.sam_models()}
    assert infos["sam_vit_h"].as_dict()["cpu_encode_s"] == 70.0 and infos["mobile_sam"].cpu_encode_s == 1.5
    shutil.copy(tiny_sam_files["sam"], app.models_dir / "tiny_sam.pth")
    mine = next(m for m in app.sam_models() if m.id == "file:tiny_sam.pth")
    assert mine.cpu_encode_s is None and "custom" in mine.title  # a test architecture: never measured
    assert "slow" not in sam_label(mine, on_cpu=True)
    from dataclasses import replace

    assert sam_label(replace(mine, cpu_encode_s=66.4), on_cpu=True).endswith(" \u00b7 slow on CPU (\u224866 s per image)")


def test_a_sam_file_present_is_selected_even_if_the_default_is_missing(tmp_path, tiny_sam_files):
    from inpaint_anything.ui import defaults

    app = _app(tmp_path)
    assert app.settings.default_sam_model == "sam_vit_b"
    shutil.copy(tiny_sam_files["sam"], app.models_dir / "tiny_sam.pth")
    assert defaults.default_sam(app) == "file:tiny_sam.pth"
    assert defaults.default_selector(app) == defaults.SEGMENT_ANYTHING
    assert defaults.sam_hint(app, offline=True) == ""


def test_refresh_picks_up_a_file_dropped_in_while_running(tmp_path, tiny_sam_files):
    from inpaint_anything.ui import compat
    from inpaint_anything.ui.handlers import Controller

    app = _app(tmp_path)
    ctl = Controller(app)
    pairs = ctl.sam_choices()
    update, selector, hint = ctl.refresh_sam(compat.choice_value("sam_vit_b", pairs), "GrabCut (no model)")
    assert selector == "GrabCut (no model)" and "ia-warning" in hint  # nothing new: nothing changes
    shutil.copy(tiny_sam_files["sam"], app.models_dir / "tiny_sam.pth")
    update, selector, hint = ctl.refresh_sam(compat.choice_value("sam_vit_b", pairs), "GrabCut (no model)")
    assert ctl.sam_id(update["value"]) == "file:tiny_sam.pth" and selector == "Segment Anything" and hint == ""


def test_sam_click_without_the_file_says_what_to_do_instead(tmp_path, astronaut):
    from inpaint_anything.ui.handlers import Controller, SessionKey

    app = _app(tmp_path)
    ctl = Controller(app)
    key = SessionKey()
    ctl.set_image(key, astronaut)
    with pytest.raises(InvalidInputError) as info:
        ctl.canvas_event(event("click", (512, 512), [(250, 250, 1)]), key, "sam_vit_b", "Segment Anything", True)
    text = str(info.value)
    assert "GrabCut" in text and "offline" in text and str(app.models_dir) in text
    assert "Press Download" not in text and "http" not in text and "SHA-256" not in text


def test_an_empty_selection_is_a_warning_with_the_next_step(tmp_path, astronaut):
    from inpaint_anything.ui.handlers import Controller, SessionKey

    app = _app(tmp_path)
    ctl = Controller(app)
    key = SessionKey()
    ctl.set_image(key, astronaut)
    layer, _, status = ctl.canvas_event(event("box", (512, 512), box=[472, 4, 508, 50]), key, "", "GrabCut (no model)", True)
    assert not layer.any()
    assert "ia-warning" in status and "Brush +" in status and "larger box" in status
    layer, _, status = ctl.canvas_event(
        event("box", (512, 512), box=[150, 100, 420, 480], seq=2), key, "", "GrabCut (no model)", True
    )
    assert layer.any() and "ia-warning" not in status and "pixels selected" in status


def test_outpaint_defaults_to_a_backend_that_runs_here(tmp_path, monkeypatch, tiny_sd_inpaint_dir):
    from inpaint_anything.ui import defaults

    app = _app(tmp_path)
    backends = [
        ("Inpainting model (Inpaint tab)", "diffusers"),
        ("WebUI checkpoint", "webui"),
        ("Pre-fill only (no model)", "cleaner"),
    ]
    monkeypatch.setattr(defaults, "hub_model_cached", lambda repo: False)
    assert defaults.default_outpaint_backend(backends, [], app) == "Pre-fill only (no model)"
    assert defaults.default_outpaint_backend(backends, ["webui"], app) == "WebUI checkpoint"  # hosted: the loaded checkpoint
    broken = app.models_dir / "diffusers" / "broken"
    broken.mkdir(parents=True)
    (broken / "model_index.json").write_text("{}")  # listed as unusable: still pre-fill only
    assert defaults.default_outpaint_backend(backends, [], app) == "Pre-fill only (no model)"
    (app.models_dir / "diffusers" / "my-inpaint").symlink_to(tiny_sd_inpaint_dir)
    assert defaults.default_outpaint_backend(backends, [], app) == "Inpainting model (Inpaint tab)"
    assert defaults.inpaint_choices(app)[0] == "my-inpaint"  # the model present comes first, by name
    assert defaults.inpaint_hint(app, offline=True, hosted=False) == ""


def test_an_unavailable_inpainting_model_says_why_and_what_instead(tmp_path, monkeypatch, astronaut):
    from inpaint_anything.inpaint.request import InpaintRequest
    from inpaint_anything.ui import defaults
    from inpaint_anything.ui.handlers import Controller, SessionKey

    monkeypatch.setattr(defaults, "hub_model_cached", lambda repo: False)
    app = _app(tmp_path)
    ctl = Controller(app)
    hint = defaults.inpaint_hint(app, offline=True, hosted=False)
    assert "offline" in hint and "Pre-fill only" in hint and str(app.models_dir / "diffusers") in hint
    key = SessionKey()
    ctl.set_image(key, astronaut)
    ctl.ws(key).set_selection(np.pad(np.ones((10, 10), bool), ((200, 302), (200, 302))))
    with pytest.raises(UnavailableError) as info:
        ctl.inpaint(key, "diffusers", "stable-diffusion-v1-5/stable-diffusion-inpainting", InpaintRequest(prompt="x").validated())
    text = str(info.value)
    assert "offline" in text and "Remove object" in text and "Pre-fill only" in text and "huggingface.co" not in text


def test_offline_is_detected_from_the_environment(tmp_path, monkeypatch):
    from inpaint_anything.ui import defaults

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    app = _app(tmp_path, offline=False)
    assert not defaults.is_offline(app)
    assert defaults.is_offline(app, contact_failed=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert defaults.is_offline(app)


@pytest.mark.both_stacks
def test_standalone_page_has_the_tab_once_and_loads_nothing_from_other_hosts(tmp_path):
    from fastapi.testclient import TestClient

    from inpaint_anything.server import create_app
    from inpaint_anything.ui.standalone import build_blocks, mount_ui

    app = _app(tmp_path)
    blocks = build_blocks(app)
    ids = [getattr(b, "elem_id", None) for b in blocks.blocks.values()]
    for elem_id in ("ia_canvas_root", "ia_run_remove", "ia_status", "ia_selector", "ia_page_title"):
        assert ids.count(elem_id) == 1, elem_id
    assert blocks.analytics_enabled is False and blocks.title == "Inpaint Anything"
    css = blocks.theme._get_theme_css() if hasattr(blocks.theme, "_get_theme_css") else str(blocks.theme)
    assert "fonts.googleapis" not in css and not getattr(blocks.theme, "_stylesheets", [])
    with TestClient(create_app(app.settings, ui_builder=mount_ui)) as client:
        page = client.get("/")
        assert page.status_code == 200 and "Inpaint Anything" in page.text  # the title is set from the config
        assert "cdnjs.cloudflare.com" not in page.text and "fonts.googleapis.com" not in page.text
        assert "gradio_config" in page.text
        assert client.get("/inpaint-anything/v1/version").status_code == 200  # the API still answers
        docs = client.get("/docs").text  # other pages are not rewritten (the API docs serve their own assets)
        assert "<script" in docs and "swagger" in docs.lower()


def test_strip_external_tags_keeps_local_ones():
    from inpaint_anything.ui.standalone import strip_external_tags

    html = (
        b'<link rel="preconnect" href="https://fonts.googleapis.com" /><link\n rel="preconnect"\n href="https://x.org"\n crossorigin />'
        b'<script\n src="https://cdn.example/x.js"\n async\n></script><script type="module" src="./assets/index.js"></script>'
        b'<link rel="stylesheet" href="./assets/a.css"><script>window.gradio_config = {"u": "https://huggingface.co"};</script>'
    )
    out = strip_external_tags(html)
    assert b"googleapis" not in out and b"cdn.example" not in out and b"x.org" not in out
    assert b"./assets/index.js" in out and b"./assets/a.css" in out and b"https://huggingface.co" in out
