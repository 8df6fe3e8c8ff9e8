"""Auth that covers everything the standalone server serves (issue #15): with ``--auth`` the gradio UI
(page, config, event and queue endpoints, files), ``/docs``, ``/openapi.json`` and the API answer 401
without credentials and work with them; a server listening beyond localhost without auth refuses
to start unless ``--insecure`` is given."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from test_api import ANYIO_ALIAS, P, make_client

from inpaint_anything import __main__ as cli
from inpaint_anything.config import Settings
from inpaint_anything.server import (
    BasicAuthMiddleware,
    ExposedWithoutAuthError,
    basic_credentials,
    check_exposure,
    create_app,
    is_loopback,
)

pytestmark = pytest.mark.filterwarnings(ANYIO_ALIAS)
ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "alice", "s3cret:with colon"
GOOD = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
WRONG = {"Authorization": "Basic " + base64.b64encode(f"{USER}:nope".encode()).decode()}


def _gradio_major() -> int:
    import gradio

    return int(gradio.__version__.split(".")[0])


@pytest.fixture(scope="module")
def ui_client(tmp_path_factory):
    from inpaint_anything.ui.standalone import mount_ui

    root = tmp_path_factory.mktemp("auth")
    settings = Settings(models_dir=str(root / "models"), output_dir=str(root / "out"), offline=True)
    fastapi_app = create_app(settings, mount_ui, api_auth=f"bob:x,{USER}:{PASSWORD}")
    with make_client(fastapi_app) as client:  # runs the startup events (gradio's queue)
        yield client


def _protected_requests() -> list[tuple[str, str, dict]]:
    """(method, path, kwargs) of everything the standalone app serves: UI, its events, files, docs, API."""
    reqs = [
        ("GET", "/", {}),
        ("GET", "/config", {}),
        ("GET", "/info", {}),
        ("GET", "/theme.css", {}),
        ("POST", "/run/predict", {"json": {"data": [], "fn_index": 0}}),
        ("POST", "/api/predict", {"json": {"data": [], "fn_index": 0}}),
        ("POST", "/upload", {"files": {"files": ("a.txt", b"hello", "text/plain")}}),
        ("GET", "/file=README.md", {}),
        ("GET", "/docs", {}),
        ("GET", "/docs-assets/swagger-ui.css", {}),
        ("GET", "/openapi.json", {}),
        ("GET", f"{P}/version", {}),
        ("GET", f"{P}/status", {}),
        ("POST", f"{P}/sessions", {}),
        ("POST", f"{P}/models/sam/sam_vit_b/download", {}),
        ("GET", "/favicon.ico", {}),
    ]
    if _gradio_major() >= 4:
        reqs += [
            ("POST", "/queue/join", {"json": {"data": [], "fn_index": 0, "session_hash": "abc"}}),
            ("GET", "/queue/data?session_hash=never-joined", {}),
            ("GET", "/queue/status", {}),
        ]
    else:
        reqs += [("GET", "/queue/status", {})]
    return reqs


@pytest.mark.both_stacks
def test_everything_served_needs_the_credentials(ui_client):
    for method, path, kwargs in _protected_requests():
        for headers in ({}, WRONG, {"Authorization": "Bearer abc"}, {"Authorization": "Basic !!!"}):
            r = ui_client.request(method, path, headers=headers, **kwargs)
            assert r.status_code == 401, (method, path, headers, r.status_code, r.text[:200])
            assert r.headers["www-authenticate"].startswith('Basic realm="Inpaint Anything"'), (method, path)
            assert r.json()["code"] == "unauthorized"
    # a CORS preflight carries no credentials; the request after it must
    r = ui_client.options(f"{P}/sessions", headers={"Origin": "http://testserver", "Access-Control-Request-Method": "POST"})
    assert r.status_code != 401


@pytest.mark.both_stacks
def test_everything_served_works_with_the_credentials(ui_client):
    for method, path, kwargs in _protected_requests():
        if path.startswith("/queue/data"):
            continue  # an event stream: test_the_event_queue_needs_the_credentials reads one through
        r = ui_client.request(method, path, headers=GOOD, **kwargs)
        assert r.status_code != 401, (method, path, r.status_code, r.text[:200])
        assert "www-authenticate" not in r.headers, (method, path)
    page = ui_client.get("/", headers=GOOD)
    assert page.status_code == 200 and "<gradio-app" in page.text or "gradio" in page.text.lower()
    config = ui_client.get("/config", headers=GOOD)
    assert config.status_code == 200 and config.json()["components"], config.text[:200]
    assert ui_client.get("/docs", headers=GOOD).status_code == 200
    assert ui_client.get("/openapi.json", headers=GOOD).json()["paths"]
    assert ui_client.get(f"{P}/version", headers=GOOD).json()["api_version"] == 1
    assert ui_client.post(f"{P}/sessions", headers=GOOD).status_code == 200
    # the second pair of credentials works too
    other = {"Authorization": "Basic " + base64.b64encode(b"bob:x").decode()}
    assert ui_client.get("/config", headers=other).status_code == 200


@pytest.mark.both_stacks
def test_the_event_queue_needs_the_credentials(ui_client):
    from starlette.websockets import WebSocketDisconnect

    if _gradio_major() >= 4:  # gradio 4: POST /queue/join, then the results as an event stream (plain HTTP)
        body = {"data": [], "fn_index": 0, "session_hash": "queue-test", "event_data": None, "trigger_id": None}
        assert ui_client.post("/queue/join", json=body).status_code == 401
        joined = ui_client.post("/queue/join", json=body, headers=GOOD)
        assert joined.status_code == 200 and joined.json()["event_id"], joined.text
        assert ui_client.get("/queue/data?session_hash=queue-test").status_code == 401
        stream = ui_client.get("/queue/data?session_hash=queue-test", headers=GOOD)
        assert stream.status_code == 200 and "process_completed" in stream.text, stream.text[:500]
        return
    for headers in ({}, WRONG):  # gradio 3: the queue is a websocket, closed before it is accepted
        with pytest.raises(WebSocketDisconnect), ui_client.websocket_connect("/queue/join", headers=headers) as ws:
            ws.receive_json()
    with ui_client.websocket_connect("/queue/join", headers=GOOD) as ws:
        assert ws.receive_json()["msg"] == "send_hash"


@pytest.mark.both_stacks
def test_api_only_server_is_covered_too(tmp_path):
    c = make_client(create_app(Settings(models_dir=str(tmp_path / "m"), offline=True), api_auth="u:p"))
    for path in ("/", "/docs", "/openapi.json", f"{P}/version"):
        assert c.get(path).status_code == 401, path
        assert c.get(path, auth=("u", "p")).status_code == 200, path
    assert c.get(f"{P}/version", auth=("u", "wrong")).status_code == 401
    assert c.get(f"{P}/version", auth=("U", "p")).status_code == 401  # user names are case-sensitive


def test_no_auth_means_no_middleware(tmp_path):
    fastapi_app = create_app(Settings(models_dir=str(tmp_path / "m"), offline=True))
    assert not any(m.cls is BasicAuthMiddleware for m in fastapi_app.user_middleware)
    assert make_client(fastapi_app).get(f"{P}/version").status_code == 200


def test_basic_header_parsing():
    assert basic_credentials("Basic " + base64.b64encode(b"a:b:c").decode()) == ("a", "b:c")
    assert basic_credentials("basic " + base64.b64encode(b"a:").decode()) == ("a", "")
    assert basic_credentials("Basic " + base64.b64encode(b"no-colon").decode()) is None
    assert basic_credentials("Basic ***") is None
    assert basic_credentials("Bearer x") is None
    assert basic_credentials(None) is None
    with pytest.raises(ValueError, match="user:password"):
        BasicAuthMiddleware(None, "no-password")


# ---------------------------------------------------------------------------------------------- exposure
def test_loopback_detection():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "8.8.8.8", "no-such-host.invalid"):
        assert not is_loopback(host), host


def test_exposure_rules():
    assert check_exposure("127.0.0.1", None) is None
    assert check_exposure("0.0.0.0", "u:p") is None
    with pytest.raises(ExposedWithoutAuthError, match="--insecure"):
        check_exposure("0.0.0.0", None)
    assert "reachable from other machines" in check_exposure("0.0.0.0", None, insecure=True)


def test_cli_refuses_to_listen_publicly_without_auth(monkeypatch, tmp_path, capsys):
    import inpaint_anything.server as server

    started = []
    monkeypatch.setattr(server, "serve", lambda *a, **k: started.append(k))
    assert cli.main(["--host", "0.0.0.0", "--port", "0", "--no-ui", "--ia-models-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Refusing to start" in err and "--auth" in err and "--insecure" in err
    assert not started
    assert cli.main(["serve", "--host", "0.0.0.0", "--insecure", "--port", "0", "--no-ui", "--ia-models-dir", str(tmp_path)]) == 0
    assert started[-1]["insecure"] is True and started[-1]["api_auth"] is None
    assert cli.main(["--host", "0.0.0.0", "--auth", "u:p", "--port", "0", "--no-ui", "--ia-models-dir", str(tmp_path)]) == 0
    assert started[-1]["api_auth"] == "u:p"
    assert cli.main(["--api-auth", "u:p", "--port", "0", "--no-ui", "--ia-models-dir", str(tmp_path)]) == 0
    assert started[-1]["api_auth"] == "u:p"


def test_real_process_refuses_then_starts_with_insecure(tmp_path):
    """``python -m inpaint_anything --host 0.0.0.0`` exits at once with the reason; with --insecure it
    binds (checked on a free port, then stopped)."""
    import os

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    args = [
        sys.executable,
        "-m",
        "inpaint_anything",
        "--host",
        "0.0.0.0",
        "--port",
        "0",
        "--no-ui",
        "--ia-models-dir",
        str(tmp_path / "m"),
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Refusing to start" in done.stderr and "Inpaint Anything" not in done.stdout
    proc = subprocess.Popen(
        args + ["--insecure"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, line
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert "reachable from other machines" in err


# ---------------------------------------------------------------------------------------------- memory after large requests
def test_memory_is_given_back_after_large_requests_and_when_small_ones_add_up(tmp_path):
    from inpaint_anything.server import TrimAfterLargeRequests, libc_malloc_trim

    calls = []
    fastapi_app = create_app(Settings(models_dir=str(tmp_path / "m"), offline=True))
    fastapi_app.user_middleware = [m for m in fastapi_app.user_middleware if m.cls is not TrimAfterLargeRequests]
    fastapi_app.add_middleware(TrimAfterLargeRequests, threshold=1000, trim=lambda pad: calls.append(pad) or 1)
    c = make_client(fastapi_app)
    assert c.post(f"{P}/remove", json={"image": "x"}).status_code == 422
    assert calls == []
    r = c.post(f"{P}/remove", json={"image": "x" * 5000})
    assert r.status_code == 422 and calls == [0]  # after the answer, also for refused bodies
    for _ in range(3):  # small bodies add up: trimmed once they reach the threshold, with nothing in flight
        assert c.post(f"{P}/remove", json={"image": "x" * 300}).status_code == 422
    assert calls == [0]
    c.post(f"{P}/remove", json={"image": "x" * 300})
    assert calls == [0, 0]
    c.get(f"{P}/version")  # bodiless requests add nothing
    assert calls == [0, 0]
    if sys.platform.startswith("linux"):
        import platform

        if platform.libc_ver()[0] == "glibc":
            assert libc_malloc_trim() is not None
