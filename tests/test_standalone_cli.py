"""The standalone entry point: /docs from local files, analytics off, ``doctor``, ``download``
without an ID, batch progress on stderr and ``--quiet``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_api import ANYIO_ALIAS, make_client

from inpaint_anything import __main__ as cli
from inpaint_anything.config import Settings
from inpaint_anything.server import DOCS_ASSETS_URL, create_app

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------- /docs
@pytest.mark.both_stacks
@pytest.mark.filterwarnings(ANYIO_ALIAS)
def test_docs_page_loads_only_local_files(tmp_path):
    client = make_client(create_app(Settings(models_dir=str(tmp_path / "m"), offline=True)))
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
    urls += re.findall(r"""url:\s*["']([^"']+)["']""", page.text)  # the schema Swagger UI fetches
    assert len(urls) >= 4, page.text
    assert not re.search(r"https?://", page.text), "the docs page names a remote address"
    for url in urls:
        assert url.startswith("/"), url
        r = client.get(url)
        assert r.status_code == 200, url
    bundle = client.get(f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js")
    assert len(bundle.content) > 500_000 and "SwaggerUIBundle" in bundle.text
    schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.")  # 3.0 on fastapi 0.94, 3.1 on 0.104: Swagger UI 5 reads both
    assert client.get("/redoc").status_code == 404  # no page that would load ReDoc from a CDN


@pytest.mark.filterwarnings(ANYIO_ALIAS)
def test_docs_without_the_swagger_package_lists_the_routes(tmp_path, monkeypatch):
    import inpaint_anything.server as server

    monkeypatch.setattr(server, "swagger_assets_dir", lambda: None)
    client = make_client(create_app(Settings(models_dir=str(tmp_path / "m"), offline=True)))
    page = client.get("/docs")
    assert page.status_code == 200
    assert "<script" not in page.text and "swagger-ui-py" in page.text
    assert "POST /inpaint-anything/v1/remove" in page.text


# ---------------------------------------------------------------------------------------------- analytics
def test_entry_point_turns_gradio_analytics_off(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "True")
    monkeypatch.delenv("HF_HUB_DISABLE_TELEMETRY", raising=False)
    seen = {}

    def fake_serve(settings, args):
        seen["analytics"] = os.environ.get("GRADIO_ANALYTICS_ENABLED")
        seen["telemetry"] = os.environ.get("HF_HUB_DISABLE_TELEMETRY")
        return 0

    monkeypatch.setattr(cli, "serve", fake_serve)
    assert cli.main(["--port", "0", "--ia-models-dir", str(tmp_path)]) == 0
    assert seen["analytics"] == "False" and seen["telemetry"] == "1"


@pytest.mark.both_stacks
def test_standalone_page_is_built_with_analytics_off(tmp_path):
    """In a fresh interpreter with analytics asked for: after the entry point's preparation, the page
    that the server mounts with mount_ui (as ``python -m inpaint_anything`` does) has analytics off."""
    code = (
        "import os; os.environ['GRADIO_ANALYTICS_ENABLED'] = 'True'\n"
        "from inpaint_anything.__main__ import prepare_environment; prepare_environment()\n"
        "from inpaint_anything.config import Settings\n"
        "from inpaint_anything.server import create_app; from inpaint_anything.ui.standalone import mount_ui\n"
        f"app = create_app(Settings(models_dir={str(tmp_path)!r}, offline=True), mount_ui)\n"
        "pages = [r.app.blocks for r in app.routes if hasattr(getattr(r, 'app', None), 'blocks')]\n"
        "print('pages', len(pages), 'analytics', [b.analytics_enabled for b in pages])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=180, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "pages 1 analytics [False]" in out.stdout


# ---------------------------------------------------------------------------------------------- doctor
def test_doctor_with_an_empty_models_folder(tmp_path):
    models, results = tmp_path / "models", tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "inpaint_anything", "doctor", "--ia-models-dir", str(models), "--ia-output-dir", str(results)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert f"Models folder: {models}  (does not exist yet)  [offline mode]" in text
    assert "SAM models: none (catalogue files: sam_vit_b" in text
    assert f"diffusers models: none in {models / 'diffusers'}" in text
    assert "LaMa (big-lama) (big-lama.pt): missing" in text and "MI-GAN (migan_traced.pt): missing" in text
    assert f"Output folder: {results}  (created on first save)" in text
    for package in ("sam2 ", "pypatchmatch ", "swagger-ui-py ", "torch "):
        assert package in text
    assert "SAM 2.1: " in text and "PatchMatch: " in text
    assert f"Selection: GrabCut only — no SAM model; put a SAM file into {models}" in text
    assert "Remove object: Telea, Navier-Stokes" in text and f"LaMa (big-lama) needs big-lama.pt in {models}" in text
    assert "generated borders need a diffusers model" in text


def test_doctor_lists_what_is_present(tmp_path, tiny_sam_files, tiny_sd_inpaint_dir, capsys):
    from inpaint_anything.models.download import VerifiedHashes, file_sha256

    models = tmp_path / "models"
    (models / "diffusers").mkdir(parents=True)
    os.symlink(tiny_sd_inpaint_dir, models / "diffusers" / "my-inpainting")
    (models / "diffusers" / "not-a-model").mkdir()
    (models / "diffusers" / "not-a-model" / "model_index.json").write_text("{}")
    shutil.copy(tiny_sam_files["sam"], models / "my sam.pth")  # any name: recognised from its weights
    (models / "mobile_sam.pt").write_bytes(b"0" * 1000)  # a catalogue name with the wrong size
    hq = models / "sam_hq_vit_b.pth"  # catalogue entry whose size is not pinned
    shutil.copy(tiny_sam_files["sam_hq"], hq)
    (models / "big-lama.pt").write_bytes(b"x")
    args = ["doctor", "--ia-models-dir", str(models), "--ia-offline"]
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert "file:my sam.pth  (sam)  recognised: recognised from its weights" in text
    assert "mobile_sam  (mobile_sam)  incomplete: 'mobile_sam.pt' has 1000 bytes instead of 40728226" in text
    assert "sam_hq_vit_b  (sam_hq)  unverified" in text
    assert "diffusers models: my-inpainting" in text and "LaMa (big-lama) (big-lama.pt): present" in text
    assert "not-a-model  not used: unknown architecture: " in text  # listed with the reason it cannot be used
    assert "Selection: Segment Anything with sam_hq_vit_b, file:my sam.pth, and GrabCut." in text
    assert "LaMa (big-lama)." in text and "LaMa (big-lama) needs" not in text
    assert "Inpaint with a prompt: diffusers models my-inpainting." in text
    VerifiedHashes(models).put(hq, file_sha256(hq), "server")
    assert cli.main(args) == 0
    assert "sam_hq_vit_b  (sam_hq)  verified: SHA-256 checked" in capsys.readouterr().out


def test_download_without_an_id_lists_the_catalogue(capsys, tmp_path):
    assert cli.main(["download", "--ia-models-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "mobile_sam" in text and "sam_vit_b" in text
    assert cli.main(["download", "no_such_model", "--quiet", "--ia-models-dir", str(tmp_path), "--ia-offline"]) == 2
    assert "Unknown model 'no_such_model'" in capsys.readouterr().err


def test_download_takes_remover_and_text_detector_ids(tmp_path, monkeypatch, capsys):
    """The ids the "not downloaded" messages name (``download owlvit-base``, ``download lama``) are
    accepted: each file goes through the verified downloader into its place in the models folder."""
    from inpaint_anything.cli_download import download_kind
    from inpaint_anything.models import download
    from inpaint_anything.models.text_models import DETECTORS, how_to_get

    asked = []

    def fake(entry, folder, **kw):
        asked.append((entry.id, Path(folder)))
        (Path(folder) / entry.filename).write_bytes(b"x")
        return Path(folder) / entry.filename

    monkeypatch.setattr(download, "ensure_model", fake)
    models = tmp_path / "models"
    assert "download owlvit-base" in how_to_get(models, "owlvit-base")
    assert [download_kind(m) for m in ("mobile_sam", "lama", "big_lama", "migan", "clipseg", "nope")] == [
        "sam",
        "remover",
        "remover",
        "remover",
        "text",
        "",
    ]
    assert cli.main(["download", "owlvit-base", "lama", "migan", "--quiet", "--ia-models-dir", str(models)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"owlvit-base: {models / 'text-detectors' / 'owlvit-base'}",
        f"lama: {models / 'big-lama.pt'}",
        f"migan: {models / 'migan_traced.pt'}",
    ]
    files = DETECTORS["owlvit-base"].files
    assert asked == [
        *((f"owlvit-base/{f}", models / "text-detectors" / "owlvit-base") for f in files),
        ("big_lama", models),
        ("migan", models),
    ]
    assert cli.main(["download", "--ia-models-dir", str(models)]) == 0
    listing = capsys.readouterr().out
    assert "lama" in listing and "migan" in listing and "owlvit-base" in listing and "grounding-dino-tiny" in listing
    monkeypatch.undo()  # the real downloader: offline, it names the folder and the source instead
    assert cli.main(["download", "owlvit-base", "--quiet", "--ia-models-dir", str(tmp_path / "o"), "--ia-offline"]) == 2
    assert "Offline mode" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- batch progress
@pytest.fixture
def photos(tmp_path):
    images, masks = tmp_path / "in", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i in range(3):
        img = np.full((40, 48, 3), 40 * i + 30, np.uint8)
        mask = np.zeros((40, 48), np.uint8)
        mask[10:20, 10:30] = 255
        img[mask > 0] = (250, 0, 0)
        Image.fromarray(img).save(images / f"p{i}.png")
        Image.fromarray(mask).save(masks / f"p{i}.png")
    return images, masks


def test_batch_shows_progress_with_eta_on_stderr(photos, tmp_path, capsys):
    images, masks = photos
    code = cli.main(
        [
            "batch",
            "--input",
            str(images),
            "--masks",
            str(masks),
            "--op",
            "remove",
            "--output",
            str(tmp_path / "out"),
            "--ia-models-dir",
            str(tmp_path / "m"),
            "--ia-offline",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured
    assert "remove: 3 done, 0 skipped, 0 failed" in captured.out
    final = captured.err.replace("\r", "\n").strip().splitlines()[-1]
    assert re.search(r"remove: 100%\|.*\| 3/3 done \[\d\d:\d\d<\d\d:\d\d ETA\]", final), final
    assert "0 failed, 0 skipped, 0 retried, 0 left; p2: done" in final


def test_batch_progress_counts_each_outcome():
    from inpaint_anything.cli_batch import BatchProgress

    progress = BatchProgress(5)
    for name, status in (("a", "done"), ("b", "retried"), ("c", "failed"), ("b", "done"), ("d", "skipped")):
        progress(0, 5, name, status)
    assert progress.counts == {"done": 2, "skipped": 1, "failed": 1, "retried": 1} and progress.left == 1
    assert progress.text("d", "skipped") == "1 failed, 1 skipped, 1 retried, 1 left; d: skipped"


def test_batch_quiet_prints_no_progress(photos, tmp_path, capsys):
    images, masks = photos
    out = tmp_path / "out"
    code = cli.main(
        [
            "batch",
            "--input",
            str(images),
            "--masks",
            str(masks),
            "--op",
            "remove",
            "--output",
            str(out),
            "--quiet",
            "--ia-models-dir",
            str(tmp_path / "m"),
            "--ia-offline",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0 and captured.err == ""
    assert "remove: 3 done" in captured.out and len(list(out.glob("*.png"))) == 3


# ---------------------------------------------------------------------------------------------- tools/run.sh
def test_run_sh_keeps_the_callers_working_directory(photos, tmp_path):
    """Relative --input/--masks/--output resolve against where the user ran tools/run.sh."""
    images, masks = photos
    work = tmp_path
    env = {**os.environ, "IA_VENV": sys.prefix, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [
            "bash",
            str(ROOT / "tools" / "run.sh"),
            "batch",
            "--input",
            images.name,
            "--masks",
            masks.name,
            "--op",
            "remove",
            "--method",
            "ns",
            "--output",
            "results/",
            "--quiet",
            "--ia-models-dir",
            "models",
            "--ia-offline",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "remove: 3 done" in out.stdout and out.stderr == ""
    assert sorted(p.name for p in (work / "results").glob("*.png")) == ["p0.png", "p1.png", "p2.png"]
    assert not (ROOT / "results").exists()
    out = subprocess.run(
        ["bash", str(ROOT / "tools" / "run.sh"), "doctor", "--ia-models-dir", "models"],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"Models folder: {work / 'models'}" in out.stdout
    assert f"Output folder: {work / 'outputs' / 'inpaint-anything'}" in out.stdout


def test_download_fetches_a_catalogue_file_with_a_progress_bar(tmp_path, monkeypatch, capsys):
    """``download ID`` against a local stand-in of the Hub (HF_ENDPOINT); doctor then lists it verified."""
    import hashlib

    from fixtures.fake_hub import FakeHub

    data = bytes(range(256)) * 8192  # 2 MiB
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    models = tmp_path / "models"
    with FakeHub() as hub:
        hub.add_hub_file("lkeab/hq-sam", "sam_hq_vit_b.pth", data)  # a catalogue entry without a pinned hash
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert cli.main(["download", "sam_hq_vit_b", "--ia-models-dir", str(models)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == f"sam_hq_vit_b: {models / 'sam_hq_vit_b.pth'}"
    assert "sam_hq_vit_b: 100%" in captured.err.replace("\r", "\n") and "2.00M" in captured.err
    assert hashlib.sha256((models / "sam_hq_vit_b.pth").read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert cli.main(["doctor", "--ia-models-dir", str(models), "--ia-offline"]) == 0
    assert "sam_hq_vit_b  (sam_hq)  verified: SHA-256 checked" in capsys.readouterr().out


def test_doctor_marks_a_refused_file(tmp_path, capsys):
    """A pickle that would run code is listed as refused, with the reason, and is not offered."""
    import pickle

    models = tmp_path / "models"
    models.mkdir()

    class Payload:
        def __reduce__(self):
            return (print, ("this would run",))

    (models / "evil.pth").write_bytes(pickle.dumps({"image_encoder.x": Payload()}))
    assert cli.main(["doctor", "--ia-models-dir", str(models), "--ia-offline"]) == 0
    text = capsys.readouterr().out
    assert "this would run" not in text
    line = next(ln for ln in text.splitlines() if "evil.pth" in ln)
    assert re.search(r"evil\.pth  (refused|not usable|not used): \S", line), line
    assert "Selection: GrabCut only" in text
