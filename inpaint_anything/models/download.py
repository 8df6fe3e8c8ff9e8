"""Verified, resumable, offline-aware download of single-file models.

:func:`ensure_model` returns the path of a catalogue file in the models folder, downloading it only
when it is missing or damaged. Files are streamed into ``<name>.part`` next to the target (resumed
with an HTTP Range request), hashed while streaming and moved into place with ``os.replace`` only
after the size and SHA-256 match (see :mod:`.transfer`). The expected SHA-256 comes from the
catalogue, or else from the Hub (the LFS ETag of the file, from a HEAD on ``resolve``).

Hub files are fetched with our own streaming code rather than ``hf_hub_download``, which has no
progress/cancel hook and does not check the content hash; ``huggingface_hub`` still provides the
URL (``hf_hub_url``, honouring ``endpoint``/``HF_ENDPOINT``), the auth headers, and the cache lookup
(``try_to_load_from_cache``): a file already in the Hugging Face cache is hard-linked (or copied)
into the models folder without any network access, even in offline mode.

Verification results are cached in :data:`SIDECAR_NAME` (keyed by size and mtime), so a multi-GB
file is hashed once, not at every start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from inpaint_anything.errors import DownloadError, JobInterrupted, OfflineError
from inpaint_anything.models.catalogue import HF_DEFAULT_ENDPOINT, ModelEntry, Source
from inpaint_anything.models.transfer import (
    CHUNK_SIZE,
    ProgressFn,
    download_lock,
    fetch,
    human,
    interrupted,
    is_sha256,
    resolve,
    stopped,
)

SIDECAR_NAME = ".inpaint-anything-verified.json"
VERIFIED_BY = ("catalogue", "server", "md5")  # sidecar records that were checked against a known hash


def md5_problem(entry: ModelEntry, path: Path, cancel: Any = None) -> str | None:
    """When only an MD5 is known for ``entry`` (no SHA-256), the problem if ``path`` does not have it."""
    if entry.sha256 or not entry.md5:
        return None
    actual = file_sha256(path, cancel, "md5")
    return None if actual == entry.md5 else f"has MD5 {actual} instead of {entry.md5} (a damaged or different file)"


def file_sha256(path: str | os.PathLike[str], cancel: Any = None, algorithm: str = "sha256") -> str:
    """SHA-256 (or ``algorithm``) of a file, read in 1 MiB blocks (JobInterrupted when ``cancel`` fires)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(CHUNK_SIZE):
            digest.update(block)
            if stopped(cancel):
                raise interrupted(Path(path).name)
    return digest.hexdigest()


class VerifiedHashes:
    """The sidecar JSON in a models folder: ``{filename: {size, mtime_ns, sha256, verified_by}}``."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / SIDECAR_NAME

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def recorded(self, file: Path) -> dict[str, Any] | None:
        """The record of ``file`` whatever its size and mtime are now (None when there is none)."""
        record = self._load().get(file.name)
        return record if isinstance(record, dict) else None

    def get(self, file: Path) -> dict[str, Any] | None:
        """The record of ``file`` if it was hashed at its current size and mtime."""
        record = self._load().get(file.name)
        try:
            st = file.stat()
        except OSError:
            return None
        if isinstance(record, dict) and record.get("size") == st.st_size and record.get("mtime_ns") == st.st_mtime_ns:
            return record
        return None

    def put(self, file: Path, sha256: str, verified_by: str) -> None:
        st = file.stat()
        data = self._load()
        data[file.name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256, "verified_by": verified_by}
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:  # a read-only folder only loses the cache
            with contextlib.suppress(OSError):
                tmp.unlink()

    def sha256(self, file: Path, cancel: Any = None) -> str:
        """The file's SHA-256, from the sidecar when it is still valid, else computed and recorded."""
        record = self.get(file)
        if record and is_sha256(record.get("sha256")):
            return record["sha256"]
        digest = file_sha256(file, cancel)
        self.put(file, digest, "computed")
        return digest


def verified_size_problem(path: Path, size: int) -> str | None:
    """When ``path`` was verified against the catalogue or the Hub (size and SHA-256 recorded at
    download), the problem if its size changed since (a truncated copy), else None."""
    record = VerifiedHashes(path.parent).recorded(path)
    verified = record and record.get("verified_by") in VERIFIED_BY and isinstance(record.get("size"), int)
    if verified and record["size"] != size:
        return (
            f"has {size} bytes instead of the {record['size']} it was verified with at download (an incomplete or changed file)"
        )
    return None


def check_file(entry: ModelEntry, path: Path, cancel: Any = None) -> str | None:
    """None when ``path`` is a good copy of ``entry`` (size, then SHA-256 when known), else the problem.
    For entries whose size or SHA-256 the catalogue does not know, the size and SHA-256 the Hub
    reported at download time (kept in the sidecar) are checked instead."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if size == 0:
        return "is empty"
    if entry.size_bytes is not None and size != entry.size_bytes:
        return f"has {size} bytes instead of {entry.size_bytes} (an incomplete or different file)"
    if entry.size_bytes is None and (problem := verified_size_problem(path, size)):
        return problem
    if entry.sha256:
        actual = VerifiedHashes(path.parent).sha256(path, cancel)
        if actual != entry.sha256:
            return f"has SHA-256 {actual} instead of {entry.sha256} (a damaged or different file)"
    else:
        hashes = VerifiedHashes(path.parent)
        record = hashes.recorded(path)
        if record and record.get("verified_by") in ("server", "md5") and is_sha256(record.get("sha256")):
            expected = record["sha256"]
            if hashes.get(path) is None:  # changed since it was verified: hash it again
                actual = file_sha256(path, cancel)
                if actual != expected:
                    whose = "the Hub's" if record["verified_by"] == "server" else "the one verified at download"
                    return f"has SHA-256 {actual} instead of {expected}, {whose} (a damaged or changed file)"
                hashes.put(path, actual, record["verified_by"])
        elif entry.md5:  # put there by hand: check the published MD5 once, then remember the SHA-256
            if problem := md5_problem(entry, path, cancel):
                return problem
            hashes.put(path, file_sha256(path, cancel), "md5")
    return None


def manual_download_hint(entry: ModelEntry, models_dir: str | os.PathLike[str], endpoint: str | None = None) -> str:
    """Where to get ``entry`` and where to put it, for messages."""
    urls = "\n  ".join(entry.download_urls(endpoint or os.environ.get("HF_ENDPOINT")))
    facts = ", ".join(
        ([human(entry.size_bytes)] if entry.size_bytes else []) + ([f"SHA-256 {entry.sha256}"] if entry.sha256 else [])
    )
    return (
        f"Download '{entry.filename}'{f' ({facts})' if facts else ''} from one of:\n  {urls}\n"
        f"and put it in the folder {Path(models_dir)} as '{entry.filename}'."
    )


def _move_aside(path: Path) -> Path:
    aside = path.with_name(path.name + ".damaged")
    os.replace(path, aside)
    return aside


# ------------------------------------------------------------------------------------------------
# The Hugging Face cache (reuse without network)


def _hf_cached_file(source: Source, cache_dir: str | os.PathLike[str] | None) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(source.repo_id, source.filename, cache_dir=cache_dir, revision=source.revision)
    except Exception:  # a malformed cache or an unusual revision: simply not cached
        return None
    return Path(found) if isinstance(found, str) and os.path.isfile(found) else None


def _copy_into(src: Path, target: Path, progress: ProgressFn | None, cancel: Any) -> None:
    """Hard-link ``src`` to ``target`` (no extra disk space), or copy it through a .part file."""
    with contextlib.suppress(OSError):
        os.link(src, target)
        return
    part = target.with_name(target.name + ".part")
    total, done = src.stat().st_size, 0
    with open(src, "rb") as fin, open(part, "wb") as fout:
        while block := fin.read(CHUNK_SIZE):
            fout.write(block)
            done += len(block)
            if (progress is not None and progress(done, total) is False) or stopped(cancel):
                raise interrupted(target.name)
    os.replace(part, target)


def _from_hf_cache(
    entry: ModelEntry, target: Path, progress: ProgressFn | None, cancel: Any, cache_dir: str | os.PathLike[str] | None
) -> bool:
    for source in entry.sources:
        if source.kind != "hf" or (cached := _hf_cached_file(source, cache_dir)) is None:
            continue
        blob = cached.resolve()
        expected = entry.sha256 or (blob.name if is_sha256(blob.name) else None)
        if entry.size_bytes is not None and blob.stat().st_size != entry.size_bytes:
            continue
        actual = file_sha256(blob, cancel)
        if expected and actual != expected:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_into(blob, target, progress, cancel)
        VerifiedHashes(target.parent).put(target, actual, "catalogue" if entry.sha256 else ("server" if expected else "computed"))
        return True
    return False


# ------------------------------------------------------------------------------------------------
# Public entry point


def ensure_model(
    entry: ModelEntry,
    models_dir: str | os.PathLike[str],
    *,
    offline: bool = False,
    progress: ProgressFn | None = None,
    endpoint: str | None = None,
    cancel: Any = None,
    session: Any = None,
    timeout: float = 30.0,
    retries: int = 3,
    retry_delay: float = 1.0,
    hf_cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Path of ``entry``'s verified file in ``models_dir``, downloading it when missing or damaged.

    ``progress(done, total)`` is called as bytes arrive (``total`` may be None); returning False, or
    ``cancel`` (a threading.Event or a callable returning True), stops with JobInterrupted and keeps
    the partial file for a later resume. ``offline=True`` never touches the network: a missing file
    raises OfflineError saying where to download it and where to put it. ``endpoint`` (or the
    ``HF_ENDPOINT`` environment variable) selects a Hub mirror; ``hf_cache_dir`` overrides the
    Hugging Face cache searched for an already downloaded copy.
    """
    folder = Path(models_dir)
    target = folder / entry.filename
    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or HF_DEFAULT_ENDPOINT).rstrip("/")
    note = ""
    if target.exists():
        problem = check_file(entry, target, cancel)
        if problem is None:
            return target
        aside = _move_aside(target)
        note = f"The existing '{entry.filename}' {problem}; it was renamed to '{aside.name}'. "
    if _from_hf_cache(entry, target, progress, cancel, hf_cache_dir):
        return target
    if offline:
        missing = "" if note else f"The model file '{entry.filename}' ({entry.title}) is not in {folder}. "
        raise OfflineError(
            f"{note}{missing}Offline mode is on, so it was not downloaded.\n" + manual_download_hint(entry, folder, endpoint)
        )
    folder.mkdir(parents=True, exist_ok=True)
    own_session = session is None
    if own_session:
        import requests

        session = requests.Session()
    try:
        with download_lock(folder, entry.filename, cancel):
            if target.exists() and check_file(entry, target, cancel) is None:
                return target  # another process finished it while we waited
            failures: list[str] = []
            for source in entry.sources:
                try:
                    t = resolve(entry, source, session, endpoint, timeout, retries, retry_delay)
                    digest = fetch(
                        session, t, target, progress, cancel, timeout=timeout, retries=retries, retry_delay=retry_delay
                    )
                except JobInterrupted:
                    raise
                except Exception as exc:  # every source failure is reported together below
                    failures.append(f"- {source.describe()}: {exc}")
                    continue
                verified_by = t.verified_by
                if t.sha256 is None and entry.md5:
                    if problem := md5_problem(entry, target, cancel):
                        target.unlink(missing_ok=True)
                        failures.append(f"- {source.describe()}: the downloaded file {problem}; it was deleted")
                        continue
                    verified_by = "md5"
                VerifiedHashes(folder).put(target, digest, verified_by)
                return target
    finally:
        if own_session:
            session.close()
    raise DownloadError(
        f"{note}Could not download '{entry.filename}' ({entry.title}):\n"
        + "\n".join(failures)
        + "\nCheck the internet connection, or do it by hand:\n"
        + manual_download_hint(entry, folder, endpoint)
    )


__all__ = [
    "SIDECAR_NAME",
    "VERIFIED_BY",
    "md5_problem",
    "VerifiedHashes",
    "check_file",
    "verified_size_problem",
    "ensure_model",
    "file_sha256",
    "manual_download_hint",
]
