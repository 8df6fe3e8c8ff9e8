"""Sessions under one memory budget: evictions are never silent (410 + a message), uploads revive,
results are capped oldest-first, task results expire, and GET /status reports it all."""

from __future__ import annotations

import time

import numpy as np
import pytest
from test_api import ANYIO_ALIAS, P, b64png, make_client, scene

from inpaint_anything.app import App
from inpaint_anything.config import Settings
from inpaint_anything.errors import SessionExpiredError
from inpaint_anything.sessions import EXPIRED_MESSAGE, SessionStore, nbytes

pytestmark = pytest.mark.filterwarnings(ANYIO_ALIAS)


def _app(tmp_path, **settings) -> App:
    return App(
        Settings(
            models_dir=str(tmp_path / "models"), output_dir=str(tmp_path / "out"), offline=True, sam_device="cpu", **settings
        )
    )


def _client(app: App):
    from inpaint_anything.server import create_app

    return make_client(create_app(app=app))


# ---------------------------------------------------------------------------------------------- nbytes
def test_nbytes_counts_arrays_once_and_skips_models():
    import torch

    a = np.zeros((100, 100), np.uint8)
    t = torch.zeros(10, 10, dtype=torch.float32)

    class Holder:
        def __init__(self):
            self.a, self.same, self.t = a, a, t
            self.model = torch.nn.Linear(1000, 1000)  # shared between sessions: not counted
            self.nested = {"x": [np.ones(8, np.float64)]}

    assert nbytes(Holder()) == 10_000 + 400 + 64
    assert nbytes(None) == 0


def test_store_drops_least_recently_used_and_remembers_it():
    sizes = {"a": 600, "b": 600, "c": 600}

    class WS:
        def __init__(self, sid):
            self.data = np.zeros(sizes[sid], np.uint8)

    store = SessionStore(WS, lambda: 1300)
    store.get("a")
    store.get("b")
    store.get("a")  # a is now the most recently used
    store.get("c")
    assert store.enforce_budget(keep="c") == ["b"]
    assert "b" not in store and "a" in store and "c" in store
    with pytest.raises(SessionExpiredError) as err:
        store.get("b")
    assert err.value.status_code == 410
    assert "upload the image again" in str(err.value)
    revived = store.get("b", revive=True)
    assert revived.data.size == 600 and not store.expired("b")
    # an explicit delete leaves no tombstone: the id just starts over
    store.drop("a")
    assert not store.expired("a")
    store.get("a")


def test_the_working_session_is_never_dropped_by_its_own_growth():
    class WS:
        def __init__(self, sid):
            self.data = np.zeros(5000, np.uint8)

    store = SessionStore(WS, lambda: 1000)
    store.get("only")
    assert store.enforce_budget(keep="only") == []
    assert "only" in store


# ---------------------------------------------------------------------------------------------- App / API
def test_many_sessions_keep_their_images(tmp_path):
    """The reported defect: 1 + 32 sessions with images used to evict the first one silently."""
    client = _client(_app(tmp_path))
    img, _ = scene(64, 64)
    ids = []
    for _ in range(34):
        sid = client.post(f"{P}/sessions").json()["session_id"]
        assert client.post(f"{P}/sessions/{sid}/image", json={"image": b64png(img)}).status_code == 200
        ids.append(sid)
    for sid in ids:
        r = client.get(f"{P}/sessions/{sid}")
        assert r.status_code == 200
        assert r.json()["size"] == [64, 64]


def test_budget_evicts_oldest_api_session_with_410_and_upload_revives(tmp_path):
    app = _app(tmp_path, session_memory_mb=1)
    client = _client(app)
    img = np.random.default_rng(0).integers(0, 255, (400, 400, 3), np.uint8)  # 480 KB + mask + history
    first = client.post(f"{P}/sessions").json()["session_id"]
    second = client.post(f"{P}/sessions").json()["session_id"]
    assert client.post(f"{P}/sessions/{first}/image", json={"image": b64png(img)}).status_code == 200
    assert client.get(f"{P}/sessions/{first}").json()["size"] == [400, 400]
    assert client.post(f"{P}/sessions/{second}/image", json={"image": b64png(img)}).status_code == 200

    gone = client.get(f"{P}/sessions/{first}")
    assert gone.status_code == 410
    assert gone.json()["detail"] == EXPIRED_MESSAGE
    assert client.post(f"{P}/sessions/{first}/mask/op", json={"op": "grow", "px": 2}).status_code == 410
    # the session that was worked on last is intact
    assert client.get(f"{P}/sessions/{second}").json()["size"] == [400, 400]

    status = client.get(f"{P}/status").json()
    assert status["budget_bytes"] == 2**20
    assert status["expired_sessions"] == 1
    assert status["api_sessions"] == 1
    assert 0 < status["bytes_used"] <= 2**20

    # uploading again revives the id (and now the other one goes)
    assert client.post(f"{P}/sessions/{first}/image", json={"image": b64png(img)}).status_code == 200
    assert client.get(f"{P}/sessions/{first}").json()["size"] == [400, 400]
    assert client.get(f"{P}/sessions/{second}").status_code == 410
    # unknown ids stay 404
    assert client.get(f"{P}/sessions/{'f' * 32}").status_code == 404


def test_results_are_capped_oldest_first(tmp_path):
    app = _app(tmp_path, results_per_session=2)
    client = _client(app)
    img, mask = scene()
    sid = client.post(f"{P}/sessions").json()["session_id"]
    client.post(f"{P}/sessions/{sid}/image", json={"image": b64png(img)})
    client.post(f"{P}/sessions/{sid}/mask", json={"mask": b64png(mask)})
    seen = []
    for method in ("telea", "ns", "telea"):
        r = client.post(f"{P}/sessions/{sid}/remove", json={"method": method})
        assert r.status_code == 200, r.text
        seen.append(method)
    listing = client.get(f"{P}/sessions/{sid}/results").json()
    assert len(listing["results"]) == 2
    assert listing["dropped"] == 1
    assert "ns" in listing["results"][0]["infotext"]  # the first (telea) result was the one dropped
    assert client.get(f"{P}/sessions/{sid}").json()["dropped_results"] == 1


def test_finished_task_results_expire(tmp_path):
    from inpaint_anything.api.tasks import NotFoundError, TaskRegistry

    registry = TaskRegistry()
    ttl = {"s": 3600.0}
    registry.set_ttl(lambda: ttl["s"])
    task = registry.submit("x", lambda job: {"ok": True})
    for _ in range(200):
        if registry.get(task.id).status == "done":
            break
        time.sleep(0.01)
    assert registry.get(task.id).result == {"ok": True}
    ttl["s"] = 0.0
    time.sleep(0.01)
    with pytest.raises(NotFoundError):
        registry.get(task.id)
    assert registry.list() == []
    registry.shutdown()


def test_tab_session_expired_says_so_and_a_new_picture_revives_it(tmp_path):
    pytest.importorskip("gradio")
    from inpaint_anything.ui.handlers import Controller, SessionKey

    app = _app(tmp_path, session_memory_mb=1)
    ctl = Controller(app)
    img = np.random.default_rng(1).integers(0, 255, (400, 400, 3), np.uint8)
    a, b = SessionKey(), SessionKey()
    ctl.set_image(a, img)
    ctl.set_image(b, img)
    assert app.sessions.expired(a.id)
    with pytest.raises(SessionExpiredError):
        ctl.ws(a)
    text = ctl.set_image(a, img)
    assert "400x400" in text
    assert ctl.ws(a).image is not None
