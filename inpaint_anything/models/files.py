"""What is in a models folder: catalogue files (by name and size) and SAM-family checkpoints
recognised from their weights whatever they are called.

The scan is cheap: catalogue files are matched by name and size (no hashing), ``.safetensors``
files are recognised from their JSON header alone (no torch), and other checkpoints are opened with
``torch.load(mmap=True, weights_only=True)`` through :func:`inpaint_anything.segment.checkpoint.read_state_dict`.
A :class:`ModelScanner` remembers what it recognised by (path, size, mtime).
"""

from __future__ import annotations

import json
import os
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inpaint_anything.errors import IAError, InvalidInputError
from inpaint_anything.models.catalogue import ModelEntry, find_by_filename
from inpaint_anything.segment.sam2_spec import PUBLISHED_TRUNKS

WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors", ".bin", ".ckpt")
_MAX_HEADER = 100 * 1024 * 1024
# SAM 2 / 2.1 Hiera trunks: (patch embedding width, number of blocks) -> variant, from the published sizes.
_HIERA_VARIANTS = {(width, sum(stages)): trunk[0] for (width, stages), trunk in PUBLISHED_TRUNKS.items()}


@dataclass(frozen=True)
class Recognised:
    """What a checkpoint is: family (sam, sam_hq, mobile_sam, sam_hq_tiny, sam2), arch and the spec."""

    family: str
    arch: str
    spec: Any = None  # inpaint_anything.segment.spec.SamSpec for the SAM-1 families


Recogniser = Callable[[Path], Recognised]


@dataclass(frozen=True)
class FoundModel:
    """One weights file in the models folder."""

    path: Path
    size: int
    entry: ModelEntry | None = None  # the catalogue entry with this file name
    family: str | None = None
    arch: str | None = None
    matched_by: str = "none"  # "catalogue" | "weights" | "none"
    problem: str = ""  # why the file cannot be used (empty when it can)
    spec: Any = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def usable(self) -> bool:
        return not self.problem and self.family is not None


class _Shape:
    __slots__ = ("shape",)

    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape


def safetensors_shapes(path: str | os.PathLike[str]) -> dict[str, _Shape]:
    """Tensor names and shapes from a ``.safetensors`` header, without reading the data.

    Raises InvalidInputError when the header is unreadable or the file is shorter than it says.
    """
    p = Path(path)
    size = p.stat().st_size
    with open(p, "rb") as f:
        head = f.read(8)
        length = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        if not 0 < length <= min(_MAX_HEADER, size - 8):
            raise InvalidInputError(f"'{p.name}' is not a readable safetensors file (bad header). Download it again.")
        try:
            header = json.loads(f.read(length))
        except ValueError as exc:
            raise InvalidInputError(f"'{p.name}' has a damaged safetensors header ({exc}). Download it again.") from None
    if not isinstance(header, dict):
        raise InvalidInputError(f"'{p.name}' has a damaged safetensors header. Download it again.")
    shapes: dict[str, _Shape] = {}
    end = 0
    for name, info in header.items():
        if name == "__metadata__" or not isinstance(info, dict):
            continue
        shapes[name] = _Shape(tuple(int(s) for s in info.get("shape", ())))
        offsets = info.get("data_offsets") or (0, 0)
        end = max(end, int(offsets[1]))
    expected = 8 + length + end
    if size < expected:
        raise InvalidInputError(f"'{p.name}' is incomplete ({size} of {expected} bytes). Download it again.")
    return shapes


def _sam2_arch(sd: Mapping[str, Any]) -> str | None:
    """The Hiera variant of a SAM 2 state dict, "custom" for other sizes, None if not SAM 2."""
    key = "image_encoder.trunk.patch_embed.proj.weight"
    if key not in sd:
        return None
    width = int(sd[key].shape[0])
    blocks = {k.split(".")[3] for k in sd if k.startswith("image_encoder.trunk.blocks.")}
    return _HIERA_VARIANTS.get((width, len(blocks)), "custom")


def recognise_checkpoint(path: str | os.PathLike[str]) -> Recognised:
    """Recognise a SAM-family checkpoint from its tensor names and shapes.

    Raises UnrecognizedCheckpointError (not a SAM checkpoint), InvalidInputError (damaged) or
    UnsafeCheckpointError (a pickle that would run code).
    """
    from inpaint_anything.segment.checkpoint import looks_like_safetensors, normalize_state_dict, read_state_dict
    from inpaint_anything.segment.spec import infer_sam_spec

    p = Path(path)
    sd: Mapping[str, Any]
    if looks_like_safetensors(p):
        sd = normalize_state_dict(safetensors_shapes(p))
    else:
        sd = read_state_dict(p)  # torch.load(weights_only=True, mmap=True for zip checkpoints)
    arch = _sam2_arch(sd)
    if arch is not None:
        return Recognised("sam2", arch)
    spec = infer_sam_spec(sd)
    return Recognised(spec.family, spec.variant, spec)


class ModelScanner:
    """Scans models folders; remembers recognition results by (path, size, mtime)."""

    def __init__(self, recognise: Recogniser | None = None):
        self._recognise = recognise or recognise_checkpoint
        self._cache: dict[tuple[str, int, int], tuple[Recognised | None, str]] = {}
        self._lock = threading.Lock()

    def scan(self, models_dir: str | os.PathLike[str]) -> list[FoundModel]:
        """Weights files in ``models_dir`` and its direct subfolders (hidden ones skipped), sorted."""
        root = Path(models_dir)
        if not root.is_dir():
            return []
        found = [self._describe(p) for p in _weight_files(root)]
        live = {str(f.path) for f in found}
        with self._lock:  # forget files that are gone
            for key in [k for k in self._cache if k[0].startswith(str(root)) and k[0] not in live]:
                del self._cache[key]
        return found

    def _describe(self, path: Path) -> FoundModel:
        st = path.stat()
        entry = find_by_filename(path.name)
        if entry is not None:
            problem = ""
            if entry.size_bytes is not None and st.st_size != entry.size_bytes:
                problem = (
                    f"'{path.name}' has {st.st_size} bytes instead of {entry.size_bytes}: it is incomplete "
                    "or damaged. Delete it and download it again."
                )
            elif entry.size_bytes is None:
                from inpaint_anything.models.download import verified_size_problem

                if found := verified_size_problem(path, st.st_size):
                    problem = f"'{path.name}' {found}. Delete it and download it again."
            return FoundModel(path, st.st_size, entry, entry.family, entry.arch, "catalogue", problem)
        recognised, problem = self._recognised(path, st.st_size, st.st_mtime_ns)
        if recognised is None:
            return FoundModel(path, st.st_size, problem=problem)
        return FoundModel(path, st.st_size, None, recognised.family, recognised.arch, "weights", "", recognised.spec)

    def _recognised(self, path: Path, size: int, mtime_ns: int) -> tuple[Recognised | None, str]:
        key = (str(path), size, mtime_ns)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        try:
            result: tuple[Recognised | None, str] = (self._recognise(path), "")
        except IAError as exc:
            result = (None, str(exc))
        except Exception as exc:  # a library error on an odd file must not break the scan
            result = (None, f"'{path.name}' could not be read ({type(exc).__name__}: {exc}).")
        with self._lock:
            self._cache[key] = result
        return result


def _weight_files(root: Path) -> list[Path]:
    out: list[Path] = []
    for folder in [root, *sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))]:
        try:
            children = sorted(folder.iterdir())
        except OSError:
            continue
        out.extend(p for p in children if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in WEIGHT_SUFFIXES)
    return out


def scan_models(models_dir: str | os.PathLike[str], *, recognise: Recogniser | None = None) -> list[FoundModel]:
    """One-off scan of ``models_dir`` (see :class:`ModelScanner` for a scanner that caches)."""
    return ModelScanner(recognise).scan(models_dir)


__all__ = [
    "WEIGHT_SUFFIXES",
    "FoundModel",
    "ModelScanner",
    "Recognised",
    "recognise_checkpoint",
    "safetensors_shapes",
    "scan_models",
]
