"""HTTP transfer for :mod:`inpaint_anything.models.download`: Hub metadata, streaming with Range
resume and SHA-256 while streaming, retries, and a cross-process download lock."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

from inpaint_anything.errors import DownloadError, JobInterrupted
from inpaint_anything.models.catalogue import ModelEntry, Source

ProgressFn = Callable[[int, "int | None"], Any]  # progress(done_bytes, total_bytes); return False to stop

CHUNK_SIZE = 1 << 20
LOCK_DIR = ".ia-downloads"
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


def is_sha256(text: str | None) -> bool:
    return bool(text) and _SHA256_RE.fullmatch(text or "") is not None


def human(n: int | None) -> str:
    if n is None:
        return "unknown size"
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.2f} {unit}".replace(".00 ", " ")
        n /= 1000  # type: ignore[assignment]
    return str(n)


def stopped(cancel: Any) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def interrupted(name: str) -> JobInterrupted:
    return JobInterrupted(
        f"The download of '{name}' was stopped. The part already downloaded is kept and the download "
        "resumes from there next time."
    )


def _pause(seconds: float, cancel: Any, name: str) -> None:
    """Sleep between retries, waking early (JobInterrupted) when ``cancel`` fires."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.1))
        if stopped(cancel):
            raise interrupted(name)


# ------------------------------------------------------------------------------------------------
# HTTP transfer


@dataclass
class Target:
    """A resolved download: URL, request headers and the expected size/SHA-256 (None: unknown)."""

    url: str
    headers: dict[str, str]
    size: int | None
    sha256: str | None
    verified_by: str  # "catalogue" | "server" | "none"


class Retryable(Exception):
    """A transient failure (5xx, 429, short read): try again, resuming the .part file."""


def hub_target(entry: ModelEntry, source: Source, session: Any, endpoint: str, timeout: float) -> Target:
    """Resolve a Hub file: its URL, auth headers and the size/SHA-256 the Hub reports (HEAD request)."""
    from huggingface_hub import hf_hub_url

    url = hf_hub_url(source.repo_id, source.filename, revision=source.revision, endpoint=endpoint)
    headers: dict[str, str] = {}
    with contextlib.suppress(Exception):
        from huggingface_hub.utils import build_hf_headers

        headers = dict(build_hf_headers(library_name="inpaint-anything"))
    for _ in range(5):  # follow relative redirects only (renamed repos); the CDN redirect stays for GET
        r = session.head(url, headers={**headers, "Accept-Encoding": "identity"}, allow_redirects=False, timeout=timeout)
        location = r.headers.get("Location")
        if 300 <= r.status_code < 400 and location and not urlparse(location).netloc:
            url = urljoin(url, location)
            continue
        break
    if r.status_code in (401, 403):
        raise DownloadError(f"the Hub refused access (HTTP {r.status_code}); the repository may be gated or private")
    if r.status_code == 404:
        raise DownloadError("the file was not found on the Hub (HTTP 404)")
    if r.status_code in _RETRY_STATUS:
        raise Retryable(f"HTTP {r.status_code} from the Hub")
    if r.status_code >= 400:
        raise DownloadError(f"HTTP {r.status_code} from the Hub")
    etag = (r.headers.get("X-Linked-Etag") or r.headers.get("ETag") or "").removeprefix("W/").strip('"').lower()
    raw_size = r.headers.get("X-Linked-Size") or r.headers.get("Content-Length")
    size = int(raw_size) if raw_size and raw_size.isdigit() else None
    if entry.sha256 and is_sha256(etag) and etag != entry.sha256:
        raise DownloadError(f"the Hub now serves a different file (SHA-256 {etag}, expected {entry.sha256})")
    if entry.size_bytes is not None and size is not None and size != entry.size_bytes:
        raise DownloadError(f"the Hub now serves a different file ({size} bytes, expected {entry.size_bytes})")
    sha = entry.sha256 or (etag if is_sha256(etag) else None)
    verified_by = "catalogue" if entry.sha256 else ("server" if sha else "none")
    return Target(url, headers, entry.size_bytes or size, sha, verified_by)


def _hash_prefix(part: Path) -> tuple[Any, int]:
    digest = hashlib.sha256()
    done = 0
    if part.exists():
        with open(part, "rb") as f:
            while block := f.read(CHUNK_SIZE):
                digest.update(block)
                done += len(block)
    return digest, done


def _stream(session: Any, t: Target, part: Path, progress: ProgressFn | None, cancel: Any, timeout: float) -> tuple[str, int]:
    """One GET into ``part`` (resumed with Range when it exists). Returns (sha256, bytes in part)."""
    digest, offset = _hash_prefix(part)
    if t.size is not None and offset > t.size:
        part.unlink()
        digest, offset = _hash_prefix(part)
    if t.size is not None and offset == t.size:
        return digest.hexdigest(), offset  # complete .part from an earlier run: verify without network
    headers = dict(t.headers)
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with session.get(t.url, headers=headers, stream=True, timeout=timeout, allow_redirects=True) as r:
        if r.status_code == 416 and offset:
            part.unlink()
            raise Retryable("the server refused to resume; starting again")
        if r.status_code in _RETRY_STATUS:
            raise Retryable(f"HTTP {r.status_code}")
        if r.status_code >= 400:
            raise DownloadError(f"HTTP {r.status_code}")
        content_range = r.headers.get("Content-Range", "")
        if offset and not (r.status_code == 206 and content_range.startswith(f"bytes {offset}-")):
            digest, offset = hashlib.sha256(), 0  # the server sent the whole file: start over
        length = r.headers.get("Content-Length")
        sent = int(length) if length and length.isdigit() else None
        if t.size is not None and sent is not None and offset + sent != t.size:
            raise DownloadError(f"the server offers {offset + sent} bytes, expected {t.size}")
        total = t.size if t.size is not None else (offset + sent if sent is not None else None)
        if total is not None:
            free = shutil.disk_usage(part.parent).free
            if free < total - offset:
                raise DownloadError(f"not enough disk space in {part.parent}: {human(total - offset)} needed, {human(free)} free")
        done = offset
        if progress is not None and progress(done, total) is False:
            raise interrupted(part.name.removesuffix(".part"))
        with open(part, "ab" if offset else "wb") as f:
            for chunk in r.iter_content(chunk_size=CHUNK_SIZE):
                if not chunk:
                    continue
                f.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if (progress is not None and progress(done, total) is False) or stopped(cancel):
                    raise interrupted(part.name.removesuffix(".part"))
            f.flush()
            os.fsync(f.fileno())
    if total is not None and done < total:
        raise Retryable(f"the connection ended after {done} of {total} bytes")
    if total is not None and done > total:
        part.unlink()
        raise DownloadError(f"the server sent {done} bytes, expected {total}")
    return digest.hexdigest(), done


def fetch(
    session: Any,
    t: Target,
    target: Path,
    progress: ProgressFn | None,
    cancel: Any,
    *,
    timeout: float,
    retries: int,
    retry_delay: float,
) -> str:
    """Download into ``target`` through ``target.part`` with retries and resume; returns the SHA-256."""
    import requests

    part = target.with_name(target.name + ".part")
    failures = 0
    fresh_retry_done = False
    while True:
        if stopped(cancel):
            raise interrupted(target.name)
        resumed = part.exists() and part.stat().st_size > 0
        try:
            digest, _ = _stream(session, t, part, progress, cancel, timeout)
        except (Retryable, requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            failures += 1
            if failures > retries:
                raise DownloadError(f"{exc} (gave up after {failures} attempts)") from exc
            _pause(retry_delay * min(2 ** (failures - 1), 8), cancel, target.name)
            continue
        if t.sha256 and digest != t.sha256:
            part.unlink(missing_ok=True)
            if resumed and not fresh_retry_done:  # the earlier part may come from another file version
                fresh_retry_done = True
                continue
            raise DownloadError(f"the downloaded file has SHA-256 {digest}, expected {t.sha256}; it was deleted")
        os.replace(part, target)
        return digest


@contextlib.contextmanager
def download_lock(folder: Path, name: str, cancel: Any, wait_s: float = 3600.0) -> Iterator[None]:
    """One download of a file at a time, across threads and processes."""
    from filelock import FileLock, Timeout

    lock_dir = folder / LOCK_DIR
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_dir / f"{name}.lock"))
    deadline = time.monotonic() + wait_s
    while True:
        try:
            lock.acquire(timeout=0.25)
            break
        except Timeout:
            if stopped(cancel):
                raise interrupted(name) from None
            if time.monotonic() > deadline:
                raise DownloadError(f"Another download of '{name}' has been running for too long; try again later.") from None
    try:
        yield
    finally:
        lock.release()


def resolve(
    entry: ModelEntry, source: Source, session: Any, endpoint: str, timeout: float, retries: int, retry_delay: float
) -> Target:
    """Where and what to download for one source (a HEAD request for Hub files, with retries)."""
    if source.kind == "url":
        verified_by = "catalogue" if entry.sha256 else "none"
        return Target(source.url, {}, entry.size_bytes, entry.sha256, verified_by)
    import requests

    for attempt in range(retries + 1):
        try:
            return hub_target(entry, source, session, endpoint, timeout)
        except (Retryable, requests.ConnectionError, requests.Timeout) as exc:
            if attempt == retries:
                raise DownloadError(f"{exc} (gave up after {attempt + 1} attempts)") from exc
            time.sleep(retry_delay * min(2**attempt, 8))
    raise AssertionError("unreachable")


__all__ = [
    "CHUNK_SIZE",
    "LOCK_DIR",
    "ProgressFn",
    "Retryable",
    "Target",
    "download_lock",
    "fetch",
    "human",
    "hub_target",
    "interrupted",
    "is_sha256",
    "resolve",
    "stopped",
]
