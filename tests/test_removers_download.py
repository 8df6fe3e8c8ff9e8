"""Downloading the learned removers' files (the real catalogue entries, sources pointed at the local
fake server): wrong bytes are rejected against the published hashes, and a download resumes."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
import requests
from fixtures.fake_hub import FakeHub

from inpaint_anything.errors import DownloadError
from inpaint_anything.models.catalogue import Source
from inpaint_anything.models.download import SIDECAR_NAME, check_file, ensure_model
from inpaint_anything.models.removers import REMOVERS

pytestmark = pytest.mark.both_stacks

DATA = bytes(range(256)) * 8192  # 2 MiB


@pytest.fixture
def hub():
    with FakeHub() as server:
        yield server


@pytest.fixture
def session():
    s = requests.Session()
    s.trust_env = False
    yield s
    s.close()


def _get(entry, folder, session, **kw):
    return ensure_model(entry, folder, session=session, retry_delay=0.0, timeout=10.0, **kw)


def test_the_entries_carry_the_published_values():
    lama, migan = REMOVERS["lama"].entry, REMOVERS["migan"].entry
    assert (lama.filename, lama.size_bytes, lama.md5) == ("big-lama.pt", 205_669_692, "e3aa4aaa15225a33ec84f9f4bc47e500")
    assert lama.sha256 == "344c77bbcb158f17dd143070d1e789f38a66c04202311ae3a258ef66667a9ea9"
    assert [s.kind for s in lama.sources] == ["url", "hf"]
    assert lama.sources[0].url.endswith("/add_big_lama/big-lama.pt")
    assert (migan.filename, migan.sha256, migan.md5) == ("migan_traced.pt", None, "76eb3b1a71c400ee3290524f7a11b89c")


def test_wrong_bytes_for_lama_are_rejected_from_both_sources(hub, session, tmp_path, monkeypatch):
    real = REMOVERS["lama"].entry
    url = hub.add_file("big-lama.pt", DATA)
    hub.add_hub_file("signature-ai/big-lama", "big-lama.pt", DATA)  # the Hub reports this file's SHA-256
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    entry = dataclasses.replace(real, sources=(Source.https(url), real.sources[1]))
    with pytest.raises(DownloadError) as err:
        _get(entry, tmp_path, session)
    text = str(err.value)
    assert "expected 205669692" in text and "serves a different file" in text
    assert not (tmp_path / "big-lama.pt").exists() and not (tmp_path / "big-lama.pt.part").exists()
    assert hub.count("GET", "/lfs/") == 0  # the Hub copy was refused before a byte was fetched


def test_wrong_bytes_for_migan_fail_its_md5(hub, session, tmp_path):
    real = REMOVERS["migan"].entry
    entry = dataclasses.replace(real, sources=(Source.https(hub.add_file("migan_traced.pt", DATA)),))
    with pytest.raises(DownloadError, match="has MD5 .* instead of 76eb3b1a71c400ee3290524f7a11b89c"):
        _get(entry, tmp_path, session)
    assert not (tmp_path / "migan_traced.pt").exists()


def test_migan_download_resumes_and_records_the_md5_check(hub, session, tmp_path):
    md5 = hashlib.md5(DATA).hexdigest()
    entry = dataclasses.replace(REMOVERS["migan"].entry, md5=md5, sources=(Source.https(hub.add_file("migan_traced.pt", DATA)),))
    have = 700_000
    (tmp_path / "migan_traced.pt.part").write_bytes(DATA[:have])
    path = _get(entry, tmp_path, session)
    assert path.read_bytes() == DATA
    assert [r.range for r in hub.requests if r.method == "GET"] == [f"bytes={have}-"]
    record = json.loads((tmp_path / SIDECAR_NAME).read_text())["migan_traced.pt"]
    assert record["verified_by"] == "md5" and record["sha256"] == hashlib.sha256(DATA).hexdigest()
    path.write_bytes(DATA[:-1] + b"\0")  # changed after download: found again by its SHA-256
    assert "SHA-256" in check_file(entry, path)


def test_lama_download_resumes_through_the_app(hub, session, tmp_path, monkeypatch):
    from inpaint_anything.app import App
    from inpaint_anything.config import Settings
    from inpaint_anything.models import removers

    sha = hashlib.sha256(DATA).hexdigest()
    fake = dataclasses.replace(
        REMOVERS["lama"].entry,
        size_bytes=len(DATA),
        sha256=sha,
        sources=(Source.https(hub.add_file("big-lama.pt", DATA, truncate_at=1_000_000, truncate_times=1)),),
    )
    monkeypatch.setitem(removers.REMOVERS, "lama", dataclasses.replace(REMOVERS["lama"], entry=fake))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # the test session's default; this app may download
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    app = App(Settings(models_dir=str(tmp_path), offline=False))
    assert not app.settings.offline
    seen = []
    path = app.remover_path("lama", download=True, progress=lambda d, t: seen.append((d, t)) or True)
    assert path.read_bytes() == DATA and seen[-1] == (len(DATA), len(DATA))
    assert len([r for r in hub.requests if r.method == "GET"]) == 2  # cut off once, then resumed
    assert app.removers()[0]["downloaded"]
