"""REST results written to disk only when a request says ``save: true`` (like the WebUI API's
``save_images``): PNGs with the infotext in the output folder, their paths relative to it."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from test_api import ANYIO_ALIAS, P, b64png, build_client, decode_png, new_session, scene

from inpaint_anything.app import App
from inpaint_anything.config import Settings

pytestmark = [pytest.mark.filterwarnings(ANYIO_ALIAS), pytest.mark.both_stacks]


@pytest.fixture
def out_dir(tmp_path) -> Path:
    return tmp_path / "results"


@pytest.fixture
def api(tmp_path, out_dir):
    app = App(Settings(models_dir=str(tmp_path / "models"), offline=True, sam_device="cpu", output_dir=str(out_dir)))
    return build_client(app)


def pngs(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.png")) if folder.is_dir() else []


def check_saved(answer: dict, folder: Path, tmp_path: Path) -> None:
    """Every returned image is on disk under the relative path given, same pixels, same infotext."""
    saved = answer["saved"]
    assert len(saved) == len(answer["images"]) >= 1
    for rel, image, text in zip(saved, answer["images"], answer["infotexts"], strict=True):
        assert not Path(rel).is_absolute() and ".." not in Path(rel).parts
        on_disk, disk_text = decode_png((folder / rel).read_bytes())
        sent, sent_text = decode_png(image)
        assert np.array_equal(on_disk, sent)
        assert disk_text == sent_text == text and "Size:" in text  # (a removal has no seed to write)
    assert str(tmp_path) not in str(answer)  # no server path in the answer


def test_not_saved_by_default(api, out_dir):
    img, mask = scene()
    r = api.post(f"{P}/remove", json={"image": b64png(img), "mask": b64png(mask)})
    assert r.status_code == 200, r.text
    assert "saved" not in r.json() and pngs(out_dir) == []
    r = api.post(f"{P}/remove", json={"image": b64png(img), "mask": b64png(mask), "save": False})
    assert r.status_code == 200 and pngs(out_dir) == []


def test_remove_inpaint_outpaint_saved_when_asked(api, out_dir, tmp_path):
    img, mask = scene()
    r = api.post(f"{P}/remove", json={"image": b64png(img), "mask": b64png(mask), "method": "ns", "save": True})
    assert r.status_code == 200, r.text
    check_saved(r.json(), out_dir, tmp_path)
    assert r.json()["saved"] == ["00000-remove.png"]
    r = api.post(
        f"{P}/inpaint",
        json={
            "image": b64png(img),
            "mask": b64png(mask),
            "backend": "cleaner",
            "model": "telea",
            "save": True,
            "request": {"batch_count": 2},
        },
    )
    assert r.status_code == 200, r.text
    check_saved(r.json(), out_dir, tmp_path)
    assert r.json()["saved"] == ["00001-inpaint.png", "00002-inpaint.png"]
    r = api.post(
        f"{P}/outpaint",
        json={"image": b64png(img), "backend": "cleaner", "model": "telea", "save": True, "expansion": {"left": 16}},
    )
    assert r.status_code == 200, r.text
    check_saved(r.json(), out_dir, tmp_path)
    on_disk, _ = decode_png((out_dir / r.json()["saved"][0]).read_bytes())
    assert on_disk.shape[:2] == (img.shape[0], img.shape[1] + 16)
    assert len(pngs(out_dir)) == 4


def test_session_routes_zoom_out_and_async_save(api, out_dir, tmp_path):
    img, mask = scene()
    sid = new_session(api, img)
    r = api.post(f"{P}/sessions/{sid}/remove", json={"mask": b64png(mask), "save": True})
    assert r.status_code == 200, r.text
    check_saved(r.json(), out_dir, tmp_path)
    r = api.post(f"{P}/sessions/{sid}/inpaint", json={"backend": "cleaner", "model": "ns", "save": True})
    assert r.status_code == 200, r.text
    check_saved(r.json(), out_dir, tmp_path)
    r = api.post(
        f"{P}/sessions/{sid}/outpaint", json={"backend": "cleaner", "save": True, "zoom_out": {"steps": 2, "scale": 1.5}}
    )
    assert r.status_code == 200, r.text
    check_saved(r.json(), out_dir, tmp_path)
    assert len(r.json()["saved"]) == 2 and all(s.endswith("-zoom.png") for s in r.json()["saved"])
    r = api.post(f"{P}/remove?async=true", json={"image": b64png(img), "mask": b64png(mask), "save": True})
    assert r.status_code == 202
    deadline = time.monotonic() + 30
    while (snap := api.get(f"{P}/tasks/{r.json()['task_id']}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert snap["status"] == "done", snap
    check_saved(snap["result"], out_dir, tmp_path)
    assert len(pngs(out_dir)) == 5


def test_save_must_be_a_boolean_and_failures_are_explained(tmp_path):
    img, mask = scene()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be")
    api = build_client(App(Settings(models_dir=str(tmp_path / "m"), offline=True, output_dir=str(blocker))))
    r = api.post(f"{P}/remove", json={"image": b64png(img), "mask": b64png(mask), "save": "yes"})
    assert r.status_code == 422
    r = api.post(f"{P}/remove", json={"image": b64png(img), "mask": b64png(mask), "save": True})
    assert r.status_code == 503, r.text
    assert "could not be saved" in r.json()["detail"] and "without 'save'" in r.json()["detail"]


def test_default_folder_is_outputs_under_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    img, mask = scene()
    api = build_client(App(Settings(models_dir=str(tmp_path / "m"), offline=True)))
    r = api.post(f"{P}/remove", json={"image": b64png(img), "mask": b64png(mask), "save": True})
    assert r.status_code == 200, r.text
    check_saved(r.json(), tmp_path / "outputs" / "inpaint-anything", tmp_path)


def test_host_save_hook_is_used(tmp_path):
    """The WebUI adapter passes its own saving; paths come back relative to its folder."""
    calls = []
    folder = tmp_path / "host-out"

    def host_save(image, infotext, kind):
        from inpaint_anything.outputs import save_png

        calls.append(kind)
        return str(save_png(image, folder / "2026-12-04", infotext, suffix="ia-" + kind))

    img, mask = scene()
    api = build_client(
        App(Settings(models_dir=str(tmp_path / "m"), offline=True)), save=host_save, output_folder=lambda: str(folder)
    )
    r = api.post(f"{P}/remove", json={"image": b64png(img), "mask": b64png(mask), "save": True})
    assert r.status_code == 200, r.text
    assert calls == ["remove"] and r.json()["saved"] == ["2026-12-04/00000-ia-remove.png"]
    check_saved(r.json(), folder, tmp_path)


def test_webui_api_saves_through_the_host(webui_host, tmp_path):
    """Inside the WebUI, ``save: true`` goes through the host's image saving (its on_image_saved hooks
    run) into our output folder setting, and the answer names the file relative to it."""
    from fastapi import FastAPI
    from test_api import make_client

    out = tmp_path / "webui-results"
    hooked = []
    webui_host.load_extension(argv=["--api", "--ia-output-dir", str(out), "--ia-models-dir", str(tmp_path / "m")])
    webui_host.script_callbacks.on_image_saved(lambda params: hooked.append(params.filename))
    fastapi_app = FastAPI()
    webui_host.stub.fire("app_started", None, fastapi_app)
    api = make_client(fastapi_app)
    img, mask = scene()
    r = api.post(f"{P}/remove", json={"image": b64png(img), "mask": b64png(mask), "save": True})
    assert r.status_code == 200, r.text
    (saved,) = r.json()["saved"]
    assert not Path(saved).is_absolute() and "-ia-remove" in saved
    assert hooked and Path(hooked[0]).resolve() == (out / saved).resolve()
    check_saved(r.json(), out, tmp_path)
