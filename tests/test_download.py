"""Verified, resumable, offline-aware downloads against a local fake server (no internet)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import requests
from fixtures.fake_hub import FakeHub

from inpaint_anything.errors import DownloadError, JobInterrupted, OfflineError
from inpaint_anything.models import download
from inpaint_anything.models.catalogue import ModelEntry, Source
from inpaint_anything.models.download import SIDECAR_NAME, VerifiedHashes, ensure_model
from inpaint_anything.models.transfer import LOCK_DIR

pytestmark = pytest.mark.both_stacks

DATA = bytes(range(256)) * 12_288  # 3 MiB: several 1 MiB chunks
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def hub():
    with FakeHub() as server:
        yield server


@pytest.fixture
def session():
    s = requests.Session()
    s.trust_env = False  # no proxy / netrc from the environment
    yield s
    s.close()


def entry(*sources: Source, sha: str | None = SHA, size: int | None = len(DATA), filename: str = "model.pth") -> ModelEntry:
    return ModelEntry(
        id="test_model",
        family="sam",
        arch="vit_b",
        filename=filename,
        size_bytes=size,
        sha256=sha,
        sources=tuple(sources),
        description="test",
        label="Test model",
    )


def fetch(e: ModelEntry, folder: Path, session, **kw) -> Path:
    kw.setdefault("retry_delay", 0.0)
    kw.setdefault("timeout", 10.0)
    return ensure_model(e, folder, session=session, **kw)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in (SIDECAR_NAME, LOCK_DIR))


def test_url_download_is_verified_and_recorded(hub, session, tmp_path):
    e = entry(Source.https(hub.add_file("model.pth", DATA)))
    path = fetch(e, tmp_path, session)
    assert path == tmp_path / "model.pth"
    assert path.read_bytes() == DATA
    assert leftovers(tmp_path) == ["model.pth"]
    record = json.loads((tmp_path / SIDECAR_NAME).read_text())["model.pth"]
    assert record["sha256"] == SHA and record["size"] == len(DATA) and record["verified_by"] == "catalogue"


def test_resume_requests_only_the_missing_bytes(hub, session, tmp_path):
    e = entry(Source.https(hub.add_file("model.pth", DATA)))
    have = 1_500_000
    (tmp_path / "model.pth.part").write_bytes(DATA[:have])
    path = fetch(e, tmp_path, session)
    assert path.read_bytes() == DATA
    gets = [r for r in hub.requests if r.method == "GET"]
    assert [r.range for r in gets] == [f"bytes={have}-"]
    assert gets[0].sent == len(DATA) - have
    assert not (tmp_path / "model.pth.part").exists()


def test_complete_part_file_is_finished_without_network(hub, session, tmp_path):
    e = entry(Source.https(hub.add_file("model.pth", DATA)))
    (tmp_path / "model.pth.part").write_bytes(DATA)
    assert fetch(e, tmp_path, session).read_bytes() == DATA
    assert hub.count() == 0


def test_checksum_mismatch_raises_and_leaves_nothing(hub, session, tmp_path):
    e = entry(Source.https(hub.add_file("model.pth", DATA, wrong_bytes=True)))
    with pytest.raises(DownloadError) as info:
        fetch(e, tmp_path, session)
    actual = hashlib.sha256(b"\xff" + DATA[1:]).hexdigest()
    assert SHA in str(info.value) and actual in str(info.value)
    assert leftovers(tmp_path) == []


def test_truncated_response_is_resumed(hub, session, tmp_path):
    e = entry(Source.https(hub.add_file("model.pth", DATA, truncate_at=2_500_000, truncate_times=1)))
    assert fetch(e, tmp_path, session).read_bytes() == DATA
    gets = [r for r in hub.requests if r.method == "GET"]
    assert len(gets) == 2 and gets[0].range is None
    assert gets[1].range is not None and int(gets[1].range.split("=")[1].rstrip("-")) > 0


def test_always_truncated_response_never_leaves_a_short_file(hub, session, tmp_path):
    e = entry(Source.https(hub.add_file("model.pth", DATA, truncate_at=500, truncate_times=100)))
    with pytest.raises(DownloadError, match="gave up after 3 attempts"):
        fetch(e, tmp_path, session, retries=2)
    assert not (tmp_path / "model.pth").exists()
    assert hub.count("GET") == 3


def test_unknown_size_truncation_is_caught_by_the_checksum(hub, session, tmp_path):
    # No size in the catalogue; the server's Content-Length still reveals the short body.
    e = entry(Source.https(hub.add_file("model.pth", DATA, truncate_at=700_000, truncate_times=1)), size=None)
    assert fetch(e, tmp_path, session).read_bytes() == DATA


def test_server_ignoring_range_restarts_cleanly(hub, session, tmp_path):
    e = entry(Source.https(hub.add_file("model.pth", DATA, ignore_range=True)))
    (tmp_path / "model.pth.part").write_bytes(DATA[:100_000])
    assert fetch(e, tmp_path, session).read_bytes() == DATA


@pytest.mark.parametrize("damage", ["flipped", "short"])
def test_damaged_existing_file_is_moved_aside_and_downloaded_again(hub, session, tmp_path, damage):
    e = entry(Source.https(hub.add_file("model.pth", DATA)))
    bad = (b"\xff" + DATA[1:]) if damage == "flipped" else DATA[:1000]
    (tmp_path / "model.pth").write_bytes(bad)
    assert fetch(e, tmp_path, session).read_bytes() == DATA
    assert (tmp_path / "model.pth.damaged").read_bytes() == bad
    assert hub.count("GET") == 1


def test_good_existing_file_needs_no_request_and_is_hashed_once(hub, session, tmp_path, monkeypatch):
    e = entry(Source.https(hub.add_file("model.pth", DATA)))
    (tmp_path / "model.pth").write_bytes(DATA)
    assert fetch(e, tmp_path, session).read_bytes() == DATA
    assert VerifiedHashes(tmp_path).get(tmp_path / "model.pth")["sha256"] == SHA

    def no_hashing(*a, **k):
        raise AssertionError("the cached verification should be used")

    monkeypatch.setattr(download, "file_sha256", no_hashing)
    assert fetch(e, tmp_path, session) == tmp_path / "model.pth"
    assert hub.count() == 0


def test_offline_missing_file_says_what_to_put_where(hub, session, tmp_path):
    url = hub.add_file("model.pth", DATA)
    e = entry(Source.https(url), Source.hf("org/repo", "model.pth"))
    with pytest.raises(OfflineError) as info:
        fetch(e, tmp_path / "models", session, offline=True, endpoint="https://mirror.example")
    msg = str(info.value)
    assert "'model.pth'" in msg and str(tmp_path / "models") in msg
    assert url in msg and "https://mirror.example/org/repo/resolve/main/model.pth" in msg
    assert SHA in msg
    assert hub.count() == 0


def test_offline_damaged_file_is_reported(hub, session, tmp_path):
    e = entry(Source.https(hub.add_file("model.pth", DATA)))
    (tmp_path / "model.pth").write_bytes(DATA[:10])
    with pytest.raises(OfflineError, match="has 10 bytes instead of"):
        fetch(e, tmp_path, session, offline=True)
    assert hub.count() == 0 and not (tmp_path / "model.pth").exists()


def test_hub_download_through_endpoint_checks_the_hub_sha256(hub, session, tmp_path):
    hub.add_hub_file("org/repo", "model.pth", DATA)
    e = entry(Source.hf("org/repo", "model.pth"), sha=None, size=None)
    path = fetch(e, tmp_path, session, endpoint=hub.url)
    assert path.read_bytes() == DATA
    assert VerifiedHashes(tmp_path).get(path)["verified_by"] == "server"
    assert hub.count("HEAD", "/org/repo/resolve/main/model.pth") == 1
    assert hub.count("GET", f"/lfs/{SHA}") == 1


def test_hub_wrong_bytes_fail_against_the_hub_sha256(hub, session, tmp_path):
    hub.add_hub_file("org/repo", "model.pth", DATA, wrong_bytes=True)
    e = entry(Source.hf("org/repo", "model.pth"), sha=None, size=None)
    with pytest.raises(DownloadError, match=f"expected {SHA}"):
        fetch(e, tmp_path, session, endpoint=hub.url)
    assert leftovers(tmp_path) == []


def test_hub_file_that_differs_from_the_catalogue_is_not_downloaded(hub, session, tmp_path):
    hub.add_hub_file("org/repo", "model.pth", DATA)
    e = entry(Source.hf("org/repo", "model.pth"), sha="0" * 64)
    with pytest.raises(DownloadError, match="serves a different file"):
        fetch(e, tmp_path, session, endpoint=hub.url)
    assert hub.count("GET") == 0


def test_hf_endpoint_environment_variable_selects_the_mirror(hub, session, tmp_path, monkeypatch):
    hub.add_hub_file("org/repo", "model.pth", DATA)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    assert fetch(entry(Source.hf("org/repo", "model.pth")), tmp_path, session).read_bytes() == DATA


def test_falls_back_to_the_next_source(hub, session, tmp_path):
    broken = hub.add_file("broken.pth", DATA, fail_times=100)
    hub.add_hub_file("org/repo", "missing.pth", DATA, status=404)
    good = hub.add_file("model.pth", DATA)
    e = entry(Source.https(broken), Source.hf("org/repo", "missing.pth"), Source.https(good))
    assert fetch(e, tmp_path, session, endpoint=hub.url, retries=1).read_bytes() == DATA
    assert hub.count("GET", "/files/broken.pth") == 2


def test_all_sources_failing_reports_each(hub, session, tmp_path):
    broken = hub.add_file("broken.pth", DATA, fail_times=100)
    hub.add_hub_file("org/repo", "model.pth", DATA, status=404)
    e = entry(Source.https(broken), Source.hf("org/repo", "model.pth"))
    with pytest.raises(DownloadError) as info:
        fetch(e, tmp_path, session, endpoint=hub.url, retries=1)
    msg = str(info.value)
    assert broken in msg and "HTTP 503" in msg
    assert "org/repo/model.pth" in msg and "404" in msg
    assert leftovers(tmp_path) == []


def test_transient_failures_are_retried(hub, session, tmp_path):
    e = entry(Source.https(hub.add_file("model.pth", DATA, fail_times=2)))
    assert fetch(e, tmp_path, session, retries=2).read_bytes() == DATA
    assert hub.count("GET") == 3


def test_progress_is_monotonic_and_ends_at_total(hub, session, tmp_path):
    e = entry(Source.https(hub.add_file("model.pth", DATA)))
    calls: list[tuple[int, int | None]] = []
    fetch(e, tmp_path, session, progress=lambda done, total: calls.append((done, total)))
    dones = [d for d, _ in calls]
    assert len(calls) >= 3
    assert dones == sorted(dones) and dones[-1] == len(DATA)
    assert {t for _, t in calls} == {len(DATA)}


def test_progress_returning_false_stops_and_keeps_the_part_for_resume(hub, session, tmp_path):
    e = entry(Source.https(hub.add_file("model.pth", DATA)))
    with pytest.raises(JobInterrupted):
        fetch(e, tmp_path, session, progress=lambda done, total: done == 0)
    part = tmp_path / "model.pth.part"
    assert not (tmp_path / "model.pth").exists()
    assert 0 < part.stat().st_size < len(DATA)
    kept = part.stat().st_size
    assert fetch(e, tmp_path, session).read_bytes() == DATA
    assert hub.requests[-1].range == f"bytes={kept}-"


def test_cancel_event_stops_before_any_request(hub, session, tmp_path):
    stop = threading.Event()
    stop.set()
    e = entry(Source.https(hub.add_file("model.pth", DATA)))
    with pytest.raises(JobInterrupted):
        fetch(e, tmp_path, session, cancel=stop)
    assert hub.count("GET") == 0 and not (tmp_path / "model.pth").exists()


def _fake_hf_cache(cache: Path, repo_id: str, filename: str, data: bytes, commit: str = "c0ffee" * 6 + "abcd") -> None:
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    sha = hashlib.sha256(data).hexdigest()
    (repo / "blobs").mkdir(parents=True)
    (repo / "blobs" / sha).write_bytes(data)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    os.symlink(os.path.relpath(repo / "blobs" / sha, snap), snap / filename)


def test_file_in_the_hf_cache_is_reused_even_offline(hub, session, tmp_path):
    cache = tmp_path / "hf_cache"
    _fake_hf_cache(cache, "org/repo", "model.pth", DATA)
    e = entry(Source.https(hub.add_file("model.pth", DATA)), Source.hf("org/repo", "model.pth"), sha=None)
    path = fetch(e, tmp_path / "models", session, offline=True, hf_cache_dir=cache)
    assert path.read_bytes() == DATA and hub.count() == 0
    assert VerifiedHashes(path.parent).get(path)["verified_by"] == "server"


def test_damaged_file_in_the_hf_cache_is_not_used(hub, session, tmp_path):
    cache = tmp_path / "hf_cache"
    _fake_hf_cache(cache, "org/repo", "model.pth", DATA)
    blob = next((cache / "models--org--repo" / "blobs").iterdir())
    blob.write_bytes(DATA[:-1] + b"x")  # same name (the sha), different content
    e = entry(Source.hf("org/repo", "model.pth"), sha=None, size=None)
    with pytest.raises(OfflineError):
        fetch(e, tmp_path / "models", session, offline=True, hf_cache_dir=cache)


def test_fake_hub_serves_what_hf_hub_download_needs(hub, tmp_path):
    """The stand-in answers like the Hub for this stack's huggingface_hub version."""
    hub.add_hub_file("org/repo", "model.pth", DATA[:200_000])
    script = textwrap.dedent(f"""
        from huggingface_hub import hf_hub_download
        print(hf_hub_download("org/repo", "model.pth", endpoint={hub.url!r}, cache_dir={str(tmp_path)!r}))
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1", "NO_PROXY": "127.0.0.1"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert Path(out.stdout.strip().splitlines()[-1]).read_bytes() == DATA[:200_000]


def test_hub_verified_file_without_catalogue_hash_is_rechecked_when_truncated(hub, session, tmp_path):
    """Entries whose size and SHA-256 the catalogue does not know (HQ-SAM ViT-B/L): the Hub's
    numbers recorded at download catch a file truncated or changed afterwards."""
    from inpaint_anything.models.download import check_file

    hub.add_hub_file("org/repo", "model.pth", DATA)
    e = entry(Source.hf("org/repo", "model.pth"), sha=None, size=None)
    path = fetch(e, tmp_path, session, endpoint=hub.url)
    assert check_file(e, path) is None
    with open(path, "r+b") as f:
        f.truncate(len(DATA) // 2)
    problem = check_file(e, path)
    assert problem is not None and f"instead of the {len(DATA)}" in problem
    with pytest.raises(OfflineError, match="renamed to 'model.pth.damaged'"):
        fetch(e, tmp_path, session, endpoint=hub.url, offline=True)
    # same size, other bytes: the recorded Hub SHA-256 catches it
    path = fetch(e, tmp_path, session, endpoint=hub.url)
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    assert "the Hub's" in check_file(e, path)


def test_model_list_marks_a_truncated_hub_verified_catalogue_file(tmp_path):
    from inpaint_anything.models.catalogue import get_entry
    from inpaint_anything.models.files import ModelScanner

    e = get_entry("sam_hq_vit_b")
    assert e.size_bytes is None and e.sha256 is None  # the case this guards
    path = tmp_path / e.filename
    path.write_bytes(DATA)
    VerifiedHashes(tmp_path).put(path, SHA, "server")
    (found,) = [f for f in ModelScanner().scan(tmp_path) if f.path.name == e.filename]
    assert found.usable
    with open(path, "r+b") as f:
        f.truncate(1000)
    (found,) = [f for f in ModelScanner().scan(tmp_path) if f.path.name == e.filename]
    assert not found.usable and "instead of the" in found.problem
