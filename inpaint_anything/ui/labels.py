"""SAM dropdown labels: the model's title, file size and download / verification state."""

from __future__ import annotations

from typing import Any


def sam_label(m: Any, on_cpu: bool = False) -> str:
    """Dropdown label of a :class:`~inpaint_anything.app.SamModelInfo`: "title · state · size", the
    state before the size so that it stays readable in a narrow dropdown. States: not downloaded,
    incomplete (a file of the wrong size is there), downloaded, verified (its SHA-256 was checked),
    local file (recognised in the models folder, not from the catalogue). ``on_cpu`` adds "slow on
    CPU (≈N s per image)" to models whose measured encode time is long (ViT-L/H)."""
    from inpaint_anything.models.transfer import human

    if m.id.startswith("file:"):
        state = "local file"
    elif m.downloaded:
        state = "verified" if _sam_verified(m) else "downloaded"
    elif m.path:  # the file is there but unusable (incomplete or a different size)
        state = "incomplete"
    else:
        state = "not downloaded"
    label = f"{m.title} \u00b7 {state} \u00b7 {human(m.size_bytes) if m.size_bytes else 'size unknown'}"
    return label + slow_note(m) if on_cpu else label


def slow_note(m: Any) -> str:
    """The label's ending " · slow on CPU (≈70 s per image)" for models whose measured CPU encode
    time is long; empty for the others."""
    from inpaint_anything.models.catalogue import SLOW_ON_CPU_S

    seconds = getattr(m, "cpu_encode_s", None)
    return f" \u00b7 slow on CPU (\u2248{seconds:.0f} s per image)" if seconds and seconds >= SLOW_ON_CPU_S else ""


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


__all__ = ["sam_label", "slow_note"]
