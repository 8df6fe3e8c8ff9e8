"""The standalone app with ``--auth`` in a real browser (gradio 3.41 and 4.40): without credentials the
page is refused; after logging in, the tab loads and its events run through the queue (gradio 3: a
websocket, gradio 4: an event stream), which the browser authenticates with the same credentials."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from browser_kit import VIEWPORT, local_only
from tab_app import TIMEOUT

pytestmark = [pytest.mark.browser, pytest.mark.both_stacks]
USER, PASSWORD = "alice", "pa55word"


@pytest.fixture(scope="module")
def auth_server(browser: Any, tmp_path_factory: pytest.TempPathFactory, tiny_sam_files: dict) -> Any:
    import tab_app

    from inpaint_anything.server import bind_socket, create_app, make_server
    from inpaint_anything.ui.standalone import mount_ui

    root = tmp_path_factory.mktemp("auth_app")
    app = tab_app.make_app(root, tiny_sam_files["sam"], keep_all_segments=False)
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = make_server(
        create_app(app=app, ui_builder=mount_ui, api_auth=f"{USER}:{PASSWORD}"), "127.0.0.1", port, log_level="warning"
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield app, f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


def test_page_is_refused_without_credentials(browser, auth_server):
    _, url = auth_server
    context = browser.new_context(viewport=VIEWPORT)
    context.route("**/*", local_only)
    page = context.new_page()
    try:  # headless Chromium cancels the login prompt: an auth error, or the 401 page itself
        response = page.goto(url)
        error = ""
    except Exception as exc:
        response, error = None, str(exc)
    if response is None:
        assert "AUTH" in error.upper(), error
    else:
        assert response.status == 401 and "ia_canvas_root" not in response.text()
    context.close()


def test_tab_loads_after_logging_in(browser, auth_server, marker_image):
    """After logging in, the page, its assets and the tab's load events (HTTP requests the page makes
    itself) all pass: the browser resends the credentials."""
    _, url = auth_server
    context = browser.new_context(viewport=VIEWPORT, http_credentials={"username": USER, "password": PASSWORD})
    context.route("**/*", local_only)
    page = context.new_page()
    statuses = []
    page.on("response", lambda r: statuses.append((r.status, r.url)))
    page.goto(url)
    page.wait_for_selector("#ia_canvas_root .ia-cv canvas", timeout=TIMEOUT)
    page.set_input_files("#ia_input_image input[type=file]", marker_image)  # starts the tab's events
    deadline = time.monotonic() + 30
    while not any("/run/predict" in u or "/queue/" in u for _, u in statuses) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    events = [(s, u) for s, u in statuses if "/run/predict" in u or "/queue/" in u]
    assert events and all(s == 200 for s, _ in events), events
    local = [(s, u) for s, u in statuses if u.startswith(url)]
    assert local and all(s < 400 or s == 401 for s, _ in local), local  # 401: the challenge before the login
    context.close()
