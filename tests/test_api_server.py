"""The standalone server for real: uvicorn on 127.0.0.1 (a free port) in a thread, one full flow over
HTTP with no model files (upload -> GrabCut -> remove -> download the PNG), stopped at teardown."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
from test_api import P, b64png, png_bytes, scene

from inpaint_anything.config import Settings
from inpaint_anything.server import bind_socket, create_app, make_server, url_for

TIMEOUT = 30.0


@pytest.fixture
def live_server(tmp_path):
    """(base URL, server) of a running server; shut down and joined after the test."""
    settings = Settings(models_dir=str(tmp_path / "models"), offline=True, sam_device="cpu")
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = make_server(create_app(settings, api_auth="user:secret"), "127.0.0.1", port, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the server did not start"
    try:
        yield url_for("127.0.0.1", port).rstrip("/"), server
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)
        sock.close()
        assert not thread.is_alive(), "the server did not stop"


@pytest.mark.both_stacks
def test_full_flow_over_http(live_server):
    import httpx
    from PIL import Image

    base, _ = live_server
    img, truth = scene(60, 80)
    with httpx.Client(base_url=base, timeout=TIMEOUT, auth=("user", "secret")) as http:
        assert "Inpaint Anything" in http.get("/").text
        assert http.get("/openapi.json").status_code == 200
        assert httpx.get(base + P + "/version", timeout=TIMEOUT).status_code == 401  # no credentials
        sid = http.post(P + "/sessions").json()["session_id"]
        r = http.post(f"{P}/sessions/{sid}/image", files={"image": ("photo.png", png_bytes(img), "image/png")})
        assert r.status_code == 200 and r.json()["width"] == 80
        ys, xs = np.nonzero(truth)
        r = http.post(
            f"{P}/sessions/{sid}/grabcut",
            json={"box": [int(xs.min()) - 3, int(ys.min()) - 3, int(xs.max()) + 4, int(ys.max()) + 4]},
        )
        assert r.status_code == 200 and r.json()["selected_pixels"] > 0.8 * truth.sum()
        r = http.post(f"{P}/sessions/{sid}/mask/op", json={"op": "grow", "px": 3})
        assert r.status_code == 200
        r = http.post(f"{P}/sessions/{sid}/remove?async=true", json={"method": "ns"})
        assert r.status_code == 202
        task_id = r.json()["task_id"]
        deadline = time.monotonic() + TIMEOUT
        while (snap := http.get(f"{P}/tasks/{task_id}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, snap
            time.sleep(0.05)
        assert snap["status"] == "done" and snap["progress"] == 1.0
        r = http.get(f"{P}/sessions/{sid}/results/0")
        assert r.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(r.content)) as im:
            out, text = np.asarray(im).copy(), im.info["parameters"]
        assert out.shape == img.shape and 'Inpaint backend: "cleaner:ns"' in text
        assert out[truth].mean(axis=0)[0] < 200  # the red square is gone
        r = http.post(f"{P}/remove", json={"image": b64png(img), "mask": "not base64!"})
        assert r.status_code == 422 and "base64" in r.json()["detail"]


@pytest.mark.both_stacks
def test_python_dash_m_serves_by_default(tmp_path):
    """``python -m inpaint_anything`` (no sub-command) starts the server on 127.0.0.1 and prints the URL."""
    import os
    import queue
    import subprocess
    import sys

    import httpx

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inpaint_anything",
            "--port",
            "0",
            "--log-level",
            "warning",
            "--ia-models-dir",
            str(tmp_path / "models"),
            "--ia-offline",
            "true",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
        line = lines.get(timeout=TIMEOUT * 2)
        assert line.startswith("Inpaint Anything") and "http://127.0.0.1:" in line, (line, proc.poll())
        url = line.split()[3]
        r = httpx.get(url + "inpaint-anything/v1/version", timeout=TIMEOUT)
        assert r.status_code == 200 and r.json()["api_version"] == 1
    finally:
        proc.terminate()
        try:
            proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(TIMEOUT)
