"""The inpainting models the diffusers backend offers: Hub ids, ``<models>/diffusers`` and a WebUI checkpoints folder.

Every local file or folder is listed under a name relative to its folder (never an absolute path), with
whether it can be used and, when not, why ("not an inpainting model: 4 input channels; ...",
"unknown architecture: ...", "damaged: ...", "no VAE: ..."). Detection reads only file headers and is
cached per (path, size, modification time) in the catalogue instance.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inpaint_anything.diffusion.detect import ModelInfo, detect_model, not_inpainting, unusable
from inpaint_anything.errors import IAError, UnrecognizedCheckpointError, UnsafeCheckpointError

CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt")
VAE_MARKERS = (".vae.safetensors", ".vae.ckpt", ".vae.pt")
MAX_FILES = 5000  # a checkpoints folder with more files is listed up to this many


@dataclass(frozen=True)
class InpaintModelEntry:
    """One model as the UI/API list it."""

    name: str  # the Hub id, or the path relative to its folder ("x.safetensors", "SD15/y.safetensors")
    source: str  # "hub", "models" (<models>/diffusers) or "ckpt_dir" (the WebUI checkpoints folder)
    usable: bool
    reason: str = ""  # why it cannot be used ("<kind>: <why>")
    family: str | None = None  # "sd1", "sd2", "sdxl" when known
    format: str | None = None  # "hub", "diffusers" or "single_file"
    path: str | None = field(default=None, repr=False)  # local path; never shown to users

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "usable": self.usable,
            "reason": self.reason,
            "family": self.family,
            "format": self.format,
        }

    def error(self) -> UnrecognizedCheckpointError:
        """The 4xx error for using this entry when it is not usable."""
        err = UnrecognizedCheckpointError(f"{self.name} cannot be used: {self.reason}")
        err.reason = self.reason  # type: ignore[attr-defined]
        return err


def _is_candidate_file(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(CHECKPOINT_SUFFIXES) and not name.endswith(VAE_MARKERS)


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason)
    if isinstance(exc, UnsafeCheckpointError):
        return f"unsafe: {exc}"
    return f"unknown architecture: {exc}" if isinstance(exc, IAError) else f"damaged: {type(exc).__name__}: {exc}"


class InpaintModelCatalog:
    """Lists and describes local inpainting models; detection results are cached per file version."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, int, int], ModelInfo | str] = {}
        self._lock = threading.Lock()

    def describe(self, path: str | os.PathLike[str]) -> ModelInfo | str:
        """The :class:`ModelInfo` of a usable inpainting model, or the reason (``"<kind>: <why>"``) it is not."""
        p = Path(path)
        try:
            st = (p / "model_index.json").stat() if p.is_dir() else p.stat()
        except OSError as exc:
            return f"damaged: it cannot be read ({exc.strerror or exc})"
        key = (str(p.resolve()), int(st.st_size), int(st.st_mtime_ns))
        with self._lock:
            if key in self._seen:
                return self._seen[key]
        result: ModelInfo | str
        try:
            info = detect_model(p)
            if not info.is_inpaint:
                raise not_inpainting(p, info.in_channels)
            if info.is_single_file and not info.has_vae:
                from inpaint_anything.diffusion.checkpoint import find_vae_near

                if find_vae_near(p) is None:
                    stem = p.name.rsplit(".", 1)[0]
                    raise unusable(p, "no VAE", f"the file has no VAE baked in; put its VAE next to it as {stem}.vae.safetensors")
            result = info
        except Exception as exc:  # every failure becomes a reason in the list, never an error of the list
            result = _reason(exc)
        with self._lock:
            if len(self._seen) > 4 * MAX_FILES:
                self._seen.clear()
            self._seen[key] = result
        return result

    def _entry(self, name: str, source: str, path: Path) -> InpaintModelEntry:
        found = self.describe(path)
        if isinstance(found, str):
            return InpaintModelEntry(name, source, False, found, path=str(path))
        return InpaintModelEntry(name, source, True, "", found.family, found.format, path=str(path))

    def scan_models_dir(self, folder: Path) -> list[InpaintModelEntry]:
        """``<models>/diffusers``: diffusers folders and single files directly inside it."""
        if not folder.is_dir():
            return []
        entries = []
        for p in sorted(folder.iterdir()):
            if (p / "model_index.json").is_file() or (p.is_file() and _is_candidate_file(p)):
                entries.append(self._entry(p.name, "models", p))
        return entries

    def scan_ckpt_dir(self, folder: Path) -> list[InpaintModelEntry]:
        """A WebUI ``models/Stable-diffusion`` folder: ``.safetensors``/``.ckpt`` files in it and its subfolders
        (VAE files such as ``x.vae.safetensors`` left out, as the WebUI does), named by relative path."""
        if not folder.is_dir():
            return []
        found: list[Path] = []
        for root, dirs, files in os.walk(folder, followlinks=True):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(Path(root) / f for f in sorted(files) if _is_candidate_file(Path(f)))
            if len(found) >= MAX_FILES:
                break
        return [self._entry(p.relative_to(folder).as_posix(), "ckpt_dir", p) for p in found[:MAX_FILES]]

    def entries(self, hub_ids: Iterable[str], models_dir: Path | None, ckpt_dir: Path | None) -> list[InpaintModelEntry]:
        """Hub ids, then ``models_dir`` entries, then ``ckpt_dir`` entries. A name already taken by an earlier
        entry is listed as unusable with the reason."""
        out = [InpaintModelEntry(h, "hub", True, format="hub") for h in hub_ids]
        local = (self.scan_models_dir(models_dir) if models_dir is not None else []) + (
            self.scan_ckpt_dir(ckpt_dir) if ckpt_dir is not None else []
        )
        taken = {e.name for e in out}
        for e in local:
            if e.name in taken:
                e = InpaintModelEntry(
                    e.name,
                    e.source,
                    False,
                    "duplicate name: a model listed earlier has the same name; rename one of the files",
                    path=e.path,
                )
            taken.add(e.name)
            out.append(e)
        return out


def find_entry(entries: Sequence[InpaintModelEntry], name: str) -> InpaintModelEntry | None:
    """The first usable entry called ``name``, else the first one called so, else None."""
    named = [e for e in entries if e.name == name]
    return next((e for e in named if e.usable), named[0] if named else None)
