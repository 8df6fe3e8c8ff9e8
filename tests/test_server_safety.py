"""Server safety regressions (issue #15): odd image shapes on every SAM route answer a readable 4xx."""

from __future__ import annotations

import numpy as np
import pytest
from test_api import ANYIO_ALIAS, P, b64png, client, models_app, new_session  # noqa: F401 - fixtures

pytestmark = pytest.mark.filterwarnings(ANYIO_ALIAS)

MODEL = "file:my_model_01.pth"


@pytest.mark.parametrize("size", [(2100, 1), (1, 2100), (2100, 4), (200000, 1)])
def test_too_thin_images_get_a_readable_422_on_every_sam_route(client, size):  # noqa: F811
    w, h = size
    img = np.full((h, w, 3), 128, np.uint8)
    data = b64png(img)
    one_shot = [
        ("/segment/points", {"image": data, "points": [[w // 2, h // 2]], "model": MODEL}),
        ("/segment/box", {"image": data, "box": [0, 0, w - 1, h - 1], "model": MODEL}),
        ("/segment/everything", {"image": data, "model": MODEL, "points_per_side": 4}),
    ]
    for route, body in one_shot:
        r = client.post(P + route, json=body)
        assert r.status_code == 422, (route, r.status_code, r.text)
        assert "too thin for Segment Anything" in r.json()["detail"]
    sid = new_session(client, img)
    for route, body in [
        ("click", {"x": w // 2, "y": h // 2, "model": MODEL}),
        ("box", {"box": [0, 0, w - 1, h - 1], "model": MODEL}),
        ("everything", {"model": MODEL, "points_per_side": 4}),
    ]:
        r = client.post(f"{P}/sessions/{sid}/{route}", json=body)
        assert r.status_code == 422, (route, r.status_code, r.text)
        assert f"{w}x{h}" in r.json()["detail"]


def test_thin_but_usable_images_still_segment(client):  # noqa: F811
    img = np.full((9, 2100, 3), 128, np.uint8)
    r = client.post(f"{P}/segment/points", json={"image": b64png(img), "points": [[1000, 4]], "model": MODEL})
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------------------------------------- limits at the door
def _guarded_client(tmp_path, **settings):
    from test_api import make_client

    from inpaint_anything.app import App
    from inpaint_anything.config import Settings
    from inpaint_anything.server import create_app

    app = App(Settings(models_dir=str(tmp_path / "models"), offline=True, sam_device="cpu", **settings))
    return make_client(create_app(app=app))


@pytest.mark.both_stacks
def test_oversized_bodies_are_refused_with_413_before_they_are_read(tmp_path):
    c = _guarded_client(tmp_path, max_request_mb=1)
    big = b"x" * (2 * 2**20)
    r = c.post(f"{P}/remove", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert "larger than 1 MB" in r.json()["detail"]
    sid = c.post(f"{P}/sessions").json()["session_id"]
    r = c.post(f"{P}/sessions/{sid}/image", files={"image": ("a.png", big, "image/png")})
    assert r.status_code == 413

    chunks_sent = []

    def chunks():  # no Content-Length: counted while it arrives, refused before the end
        for i in range(64):
            chunks_sent.append(i)
            yield b"y" * (64 * 1024)

    r = c.post(f"{P}/remove", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert "larger than 1 MB" in r.json()["detail"]
    # under the limit everything still works
    img = np.full((16, 16, 3), 100, np.uint8)
    mask = np.zeros((16, 16), bool)
    mask[4:8, 4:8] = True
    r = c.post(f"{P}/remove", json={"image": b64png(img), "mask": b64png(mask), "method": "telea"})
    assert r.status_code == 200, r.text


@pytest.mark.both_stacks
def test_cross_site_requests_are_refused(tmp_path):
    c = _guarded_client(tmp_path, allowed_origins="http://localhost:3000")
    evil = {"Origin": "http://evil.example"}
    # a body-less POST (no preflight in a browser) that would start a 375 MB download
    r = c.post(f"{P}/models/sam/sam_vit_b/download", headers=evil)
    assert r.status_code == 403
    assert "evil.example" in r.json()["detail"]
    assert c.post(f"{P}/sessions", headers=evil).status_code == 403
    assert c.get(f"{P}/models/sam", headers=evil).status_code == 403
    assert c.post(f"{P}/sessions", headers={"Origin": "null"}).status_code == 403
    # its own pages, listed origins and tools without an Origin pass
    assert c.post(f"{P}/sessions", headers={"Origin": "http://testserver"}).status_code == 200
    assert c.post(f"{P}/sessions", headers={"Origin": "http://localhost:3000"}).status_code == 200
    assert c.post(f"{P}/sessions").status_code == 200


# ---------------------------------------------------------------------------------------------- paths
def test_model_lists_show_no_absolute_paths_and_subfolder_models_work(tmp_path, tiny_sam_files):
    import shutil

    from test_api import make_client

    from inpaint_anything.app import App
    from inpaint_anything.config import Settings
    from inpaint_anything.server import create_app

    models = tmp_path / "models"
    (models / "mine").mkdir(parents=True)
    (models / "diffusers").mkdir()
    shutil.copy(tiny_sam_files["sam"], models / "mine" / "x.pth")
    (models / "junk.pth").write_bytes(b"not a checkpoint at all")
    (models / "diffusers" / "sd.safetensors").write_bytes(b"{}")  # not a SAM file: not in the SAM list
    app = App(Settings(models_dir=str(models), offline=True, sam_device="cpu"))
    c = make_client(create_app(app=app))

    listing = c.get(f"{P}/models/sam")
    assert str(tmp_path) not in listing.text
    by_id = {m["id"]: m for m in listing.json()["models"]}
    assert by_id["file:mine/x.pth"]["available"] is True
    assert by_id["file:mine/x.pth"]["path"] == "mine/x.pth"
    assert by_id["file:junk.pth"]["available"] is False and by_id["file:junk.pth"]["reason"]
    assert not any("sd.safetensors" in k for k in by_id)

    img = np.random.default_rng(0).integers(0, 255, (32, 48, 3), np.uint8)
    r = c.post(f"{P}/segment/points", json={"image": b64png(img), "points": [[10, 10]], "model": "file:mine/x.pth"})
    assert r.status_code == 200, r.text
    r = c.post(f"{P}/models/sam/file:mine/x.pth/download?async=false")
    assert r.status_code == 200 and r.json()["path"] == "mine/x.pth"

    for bad in ("file:../x.pth", "file:mine/../../x.pth", "file:/etc/passwd", "file:a/b/c.pth", "file:.hidden/x.pth"):
        r = c.post(f"{P}/segment/points", json={"image": b64png(img), "points": [[1, 1]], "model": bad})
        assert r.status_code == 422, (bad, r.text)
    r = c.post(f"{P}/segment/points", json={"image": b64png(img), "points": [[1, 1]], "model": "file:mine/nope.pth"})
    assert r.status_code == 404
    assert str(tmp_path) not in r.text


# ---------------------------------------------------------------------------------------------- interrupt
@pytest.mark.parametrize(("method", "size"), [("telea", (1500, 2000)), ("ns", (1500, 2000)), ("patchmatch", (300, 400))])
def test_interrupt_reaches_a_running_classical_fill(method, size):
    import threading

    from inpaint_anything.errors import JobInterrupted
    from inpaint_anything.inpaint.cleaner import ClassicalBackend, patchmatch_available, removal_request
    from inpaint_anything.jobs import JobControl

    if method == "patchmatch" and not patchmatch_available():
        pytest.skip("pypatchmatch is not installed")
    h, w = size
    image = np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8)
    mask = np.zeros(image.shape[:2], bool)
    mask[h // 8 : h * 7 // 8, w // 8 : w * 7 // 8] = True  # a large hole: seconds of native work on this CPU
    job = JobControl()
    threading.Timer(0.2, job.interrupt).start()
    with pytest.raises(JobInterrupted):
        ClassicalBackend(method).generate(image, mask, removal_request(), 0, job)
    # control came back while the native fill was still running (it finishes in the background)
    running = [t for t in threading.enumerate() if t.name == "ia-native-call" and t.is_alive()]
    assert running
    for t in running:  # let it end here: a native call still running at interpreter exit can abort it
        t.join(120)


def test_uninterrupted_fills_are_unchanged():
    import cv2

    from inpaint_anything.inpaint.cleaner import ClassicalBackend, removal_request
    from inpaint_anything.jobs import JobControl

    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (64, 80, 3), np.uint8)
    mask = np.zeros(image.shape[:2], bool)
    mask[20:40, 30:50] = True
    out = ClassicalBackend("telea").generate(image, mask, removal_request(), 0, JobControl())
    expected = cv2.inpaint(image, mask.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
    assert np.array_equal(out, expected)


# ---------------------------------------------------------------------------------------------- one error shape
@pytest.mark.both_stacks
def test_every_error_has_detail_and_code_and_is_documented(tmp_path):
    c = _guarded_client(tmp_path)
    cases = [
        c.post(f"{P}/remove", json={"image": 5}),  # validation
        c.get(f"{P}/sessions/{'a' * 32}"),  # unknown session
        c.post(f"{P}/remove", content=b"x", headers={"Content-Type": "text/plain"}),
        c.post(f"{P}/sessions", headers={"Origin": "http://evil.example"}),
        c.get(f"{P}/no/such/route"),
        c.request("TRACE", f"{P}/version"),
    ]
    for r in cases:
        body = r.json()
        assert isinstance(body["detail"], str) and body["detail"], (r.status_code, body)
        assert isinstance(body["code"], str) and body["code"], (r.status_code, body)
    assert cases[0].status_code == 422 and cases[0].json()["code"] == "validation_error"
    assert cases[1].status_code == 404 and cases[1].json()["code"] == "not_found"
    assert cases[4].status_code == 404
    assert cases[5].status_code == 405 and cases[5].headers["allow"] == "GET"
    r = c.head(f"{P}/sessions")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    r = c.delete(f"{P}/version")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"

    schema = c.get("/openapi.json").json()
    assert "/inpaint-anything/v1/{rest}" not in schema["paths"]
    error_ref = schema["paths"][f"{P}/remove"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert error_ref["$ref"].endswith("/ErrorBody")
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            for status in ("404", "410", "413", "422", "500"):
                assert status in op["responses"], (method, path, status)
    assert "HTTPValidationError" not in str(schema)


@pytest.mark.both_stacks
def test_auth_errors_use_the_same_shape(tmp_path):
    from test_api import make_client

    from inpaint_anything.app import App
    from inpaint_anything.config import Settings
    from inpaint_anything.server import create_app

    app = App(Settings(models_dir=str(tmp_path / "models"), offline=True))
    c = make_client(create_app(app=app, api_auth="u:p"))
    r = c.get(f"{P}/version")
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    assert r.headers.get("www-authenticate", "").startswith("Basic")
    assert c.get(f"{P}/version", auth=("u", "p")).status_code == 200
    assert "401" in c.get("/openapi.json", auth=("u", "p")).json()["paths"][f"{P}/version"]["get"]["responses"]


def test_allocator_tuning_belongs_to_the_standalone_server(tmp_path, monkeypatch):
    """glibc's thresholds are settled by the standalone server only (never on import of the SAM
    session, which runs inside the WebUI's process too); IA_MALLOC_TRIM=0 turns it off."""
    import platform
    import sys

    from inpaint_anything import server
    from inpaint_anything.app import App
    from inpaint_anything.config import Settings

    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert server.settle_malloc() is glibc and server.settle_malloc() is glibc  # harmless and repeatable
    calls = []
    monkeypatch.setattr(server, "settle_malloc", lambda: calls.append(1) or True)
    app = App(Settings(models_dir=str(tmp_path / "m"), output_dir=str(tmp_path / "o"), offline=True))
    server.create_app(app=app)
    assert calls == [1]
    monkeypatch.setenv("IA_MALLOC_TRIM", "0")
    server.create_app(app=app)
    assert calls == [1]
