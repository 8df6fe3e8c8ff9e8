"""SAM encodes in the background (issue #16): prepared while the user looks, a click waits only for
the rest, stale work is cancelled, progress is reported, and the API exposes it."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from fixtures.tiny_sam import TINY_SAM_ID
from test_api import ANYIO_ALIAS, P, b64png, make_client

from inpaint_anything.app import App
from inpaint_anything.segment.progress import encoder_stages, install_stage_hooks, is_encoded, watching

pytestmark = pytest.mark.filterwarnings(ANYIO_ALIAS)
MODEL = TINY_SAM_ID


@pytest.fixture
def app(tiny_sam_app) -> App:
    return tiny_sam_app


def slow_encoder(app: App, seconds: float = 0.15):
    """Make every encoder stage of the cached tiny model take ``seconds`` (a stand-in for a big encoder)."""
    model = app.load_sam(MODEL).model
    install_stage_hooks(model.image_encoder)  # progress hooks first: they report, then the stage is slow
    for stage in encoder_stages(model.image_encoder):
        stage.register_forward_pre_hook(lambda m, a: time.sleep(seconds))
    return model


def photo(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (48, 64, 3), np.uint8)


def wait(state, timeout: float = 30.0) -> None:
    assert state.done.wait(timeout), state.as_dict()


def test_every_sam_family_has_encoder_stages(tiny_sam_files):
    from fixtures.tiny_sam import build_tiny_sam

    for kind in tiny_sam_files:
        encoder = build_tiny_sam(kind).image_encoder
        assert len(encoder_stages(encoder)) >= 2, kind
        assert install_stage_hooks(encoder) == install_stage_hooks(encoder)  # idempotent


def test_stage_events_go_to_the_thread_that_encodes(tiny_sam_files):
    import torch
    from fixtures.tiny_sam import build_tiny_sam

    encoder = build_tiny_sam("sam").image_encoder
    total = install_stage_hooks(encoder)
    seen: dict[str, list[int]] = {"a": [], "b": []}

    def run(name: str) -> None:
        with watching(lambda i, n: seen[name].append(i)), torch.inference_mode():
            encoder(torch.zeros(1, 3, encoder.img_size, encoder.img_size))

    threads = [threading.Thread(target=run, args=(n,)) for n in seen]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["a"] == list(range(total)) and seen["b"] == list(range(total))
    with torch.inference_mode():
        encoder(torch.zeros(1, 3, encoder.img_size, encoder.img_size))  # nobody watching: no error
    assert seen["a"] == list(range(total))


def test_click_during_preparation_waits_for_it_and_encodes_once(app):
    slow_encoder(app)
    ws = app.workspace("s")
    ws.set_image(photo())
    state = ws.prepare(MODEL)
    assert ws.embedding_state()["embedding"] in ("pending", "ready")
    deadline = time.monotonic() + 10
    while state.status == "queued" and time.monotonic() < deadline:
        time.sleep(0.01)
    result = ws.click(20, 20, model_id=MODEL)  # comes while the encoder runs
    assert result.masks.shape[1:] == (48, 64)
    wait(state)
    assert state.status == "ready"
    assert ws._session.encoder_runs == 1
    assert ws.embedding_state() == {"embedding": "ready", "progress": 1.0, "model": MODEL, "error": ""}


def test_progress_is_reported_stage_by_stage(app):
    slow_encoder(app)
    ws = app.workspace("s")
    ws.set_image(photo())
    state = ws.prepare(MODEL)
    seen = set()
    while not state.done.is_set():
        seen.add(round(state.fraction, 3))
        time.sleep(0.02)
    assert any(0 < f < 1 for f in seen), seen
    assert state.fraction == 1.0


def test_a_new_picture_cancels_the_stale_preparation(app):
    slow_encoder(app, 0.3)
    ws = app.workspace("s")
    old = photo(0)
    ws.set_image(old)
    state = ws.prepare(MODEL)
    while state.status == "queued":
        time.sleep(0.01)
    ws.set_image(photo(1))
    wait(state)
    assert state.status == "cancelled"
    assert not is_encoded(ws._session, old)  # nothing half-done was cached
    assert ws.embedding_state()["embedding"] == "none"


def test_preparing_the_same_image_twice_is_one_job(app):
    ws = app.workspace("s")
    ws.set_image(photo())
    first = ws.prepare(MODEL)
    assert ws.prepare(MODEL) is first
    wait(first)
    assert ws.prepare(MODEL) is first  # already ready


@pytest.mark.both_stacks
def test_api_prepare_and_embedding_state(app):
    from inpaint_anything.server import create_app

    slow_encoder(app, 0.1)
    c = make_client(create_app(app=app))
    sid = c.post(f"{P}/sessions").json()["session_id"]
    assert c.get(f"{P}/sessions/{sid}").json()["embedding"] == "none"
    r = c.post(f"{P}/sessions/{sid}/image?prepare={MODEL}", json={"image": b64png(photo())})
    assert r.status_code == 200 and r.json()["embedding"] in ("pending", "ready")
    for _ in range(300):
        info = c.get(f"{P}/sessions/{sid}").json()
        if info["embedding"] == "ready":
            break
        assert info["embedding"] == "pending" and 0 <= info["embedding_progress"] <= 1
        time.sleep(0.05)
    assert info["embedding"] == "ready" and info["embedding_model"] == MODEL
    assert c.post(f"{P}/sessions/{sid}/click", json={"x": 10, "y": 10, "model": MODEL}).status_code == 200

    # a session that used SAM prepares its next picture by itself
    r = c.post(f"{P}/sessions/{sid}/image", json={"image": b64png(photo(2))})
    assert r.json()["embedding"] in ("pending", "ready")
    r = c.post(f"{P}/sessions/{sid}/image?prepare=none", json={"image": b64png(photo(3))})
    assert r.json()["embedding"] == "none"
    # explicit preparation
    r = c.post(f"{P}/sessions/{sid}/prepare", json={"model": MODEL})
    assert r.status_code == 202 and r.json()["embedding"] in ("pending", "ready")
    # bad model ids are refused before anything is queued
    assert c.post(f"{P}/sessions/{sid}/prepare", json={"model": "file:nope.pth"}).status_code == 404
    assert c.post(f"{P}/sessions/{sid}/image?prepare=sam_vit_h", json={"image": b64png(photo())}).status_code == 404


def test_webui_background_preparation_waits_for_the_host_queue(webui_host, app):
    """Inside the WebUI a background encode never shares the GPU with a generation: it takes the
    host's queue lock, without claiming the WebUI's progress bar."""
    from inpaint_anything.webui.jobs import background_scope, holds_queue_lock

    app.set_job_scope(background_scope)
    ws = app.workspace("s")
    ws.set_image(photo())
    lock = webui_host.call_queue.queue_lock
    with lock:  # a generation is running
        state = ws.prepare(MODEL)
        time.sleep(0.3)
        assert state.status == "running" and not state.done.is_set()  # waiting for the queue
    wait(state)
    assert state.status == "ready"
    assert not holds_queue_lock() and not lock.locked()
    assert webui_host.shared.state.job == ""  # the user's progress bar was left alone


# ---------------------------------------------------------------------------------------------- hover
def test_hover_is_the_clicks_best_mask_at_low_resolution(app):
    import torch

    ws = app.workspace("s")
    img = photo()
    ws.set_image(img)
    assert ws.hover(10, 10) is None  # nothing encoded yet: never encodes for a hover
    wait(ws.prepare(MODEL))
    runs = ws._session.encoder_runs
    found = ws.hover(30.0, 20.0)
    assert found is not None and ws._session.encoder_runs == runs
    session = ws._session
    logits, scores = session.decode_points(np.array([[30.0, 20.0]]))
    best = int(scores[0].argmax())
    full = session.upscale_logits(logits[:, best : best + 1])[0, 0] > 0
    # the low-res cells cover the whole picture: upsampled nearest, they agree with the full mask
    h, w = found.mask.shape
    assert found.scale == pytest.approx((64 / w, 48 / h))
    assert h <= session.geometry.lowres and w <= session.geometry.lowres
    up = (
        torch.nn.functional.interpolate(
            torch.as_tensor(found.mask, dtype=torch.float32)[None, None], size=(48, 64), mode="nearest"
        )[0, 0]
        > 0.5
    )
    assert (up == full).float().mean() > 0.9
    assert ws.mask is not None and not ws.mask.any()  # the selection is untouched


def test_hover_does_not_wait_for_a_busy_session(app):
    slow_encoder(app, 0.3)
    ws = app.workspace("s")
    ws.set_image(photo(0))
    wait(ws.prepare(MODEL))
    ws.set_image(photo(1))
    state = ws.prepare(MODEL)  # the session is now busy encoding the new picture
    while state.status != "running":
        time.sleep(0.01)
    time.sleep(0.05)
    started = time.monotonic()
    assert ws.hover(5, 5) is None
    assert time.monotonic() - started < 0.25  # answered without waiting for the encode
    wait(state)


@pytest.mark.both_stacks
def test_api_hover(app):
    from test_api import decode_png

    from inpaint_anything.server import create_app

    c = make_client(create_app(app=app))
    sid = c.post(f"{P}/sessions").json()["session_id"]
    c.post(f"{P}/sessions/{sid}/image", json={"image": b64png(photo())})
    r = c.post(f"{P}/sessions/{sid}/hover", json={"x": 5, "y": 5})
    assert r.status_code == 200 and r.json() == {"ready": False, "embedding": "none"}
    c.post(f"{P}/sessions/{sid}/prepare", json={"model": MODEL})
    for _ in range(200):
        if c.get(f"{P}/sessions/{sid}").json()["embedding"] == "ready":
            break
        time.sleep(0.05)
    body = c.post(f"{P}/sessions/{sid}/hover", json={"x": 5, "y": 5}).json()
    assert body["ready"] is True
    mask, _ = decode_png(body["mask"])
    assert mask.shape == (body["height"], body["width"]) and body["width"] <= 256
    assert set(np.unique(mask)) <= {0, 255}
    assert c.post(f"{P}/sessions/{sid}/hover", json={"x": 500, "y": 5}).status_code == 422


def test_tab_prepares_sam_when_a_picture_arrives(app):
    pytest.importorskip("gradio")
    from inpaint_anything.ui.defaults import GRABCUT, SEGMENT_ANYTHING
    from inpaint_anything.ui.handlers import Controller, SessionKey

    ctl = Controller(app)
    labels = dict(ctl.sam_choices())
    label = next(lbl for lbl, mid in labels.items() if mid == MODEL)
    key = SessionKey()
    text = ctl.set_image(key, photo(), label, SEGMENT_ANYTHING)
    assert "preparing" in text
    state = ctl.ws(key).prepare_state
    wait(state)
    assert ctl.ws(key).embedding_state()["embedding"] == "ready"
    other = SessionKey()
    ctl.set_image(other, photo(1), label, GRABCUT)
    assert ctl.ws(other).prepare_state is None  # GrabCut chosen: no SAM work
