"""SAM dropdown labels: the model's title, file size and download / verification state."""

from __future__ import annotations

from typing import Any


def sam_label(m: Any) -> str:
    """Dropdown label of a :class:`~inpaint_anything.app.SamModelInfo`: "title · state · size", the
    state before the size so that it stays readable in a narrow dropdown. States: not downloaded,
    incomplete (a file of the wrong size is there), downloaded, verified (its SHA-256 was checked),
    local file (recognised in the models folder, not from the catalogue)."""
    from inpaint_anything.models.transfer import human

    if m.id.startswith("file:"):
        state = "local file"
    elif m.downloaded:
        state = "verified" if _sam_verified(m) else "downloaded"
    elif m.path:  # the file is there but unusable (incomplete or a different size)
        state = "incomplete"
    else:
        state = "not downloaded"
    return f"{m.title} \u00b7 {state} \u00b7 {human(m.size_bytes) if m.size_bytes else 'size unknown'}"


def _sam_verified(m: Any) -> bool:
    """Whether the downloader recorded a SHA-256 check of this file at its current size and mtime
    (a sidecar read: nothing is hashed here)."""
    try:
        from pathlib import Path

        from inpaint_anything.models.catalogue import get_entry
        from inpaint_anything.models.download import VerifiedHashes

        path = Path(m.path)
        record = VerifiedHashes(path.parent).get(path)
        if not record:
            return False
        entry = get_entry(m.id)
        if entry.sha256:
            return record.get("sha256") == entry.sha256
        return record.get("verified_by") in ("catalogue", "server")
    except Exception:  # a label must never break the model list
        return False


__all__ = ["sam_label"]
