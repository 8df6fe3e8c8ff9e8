"""A loaded Segment Anything model (any family) and the strict key check every loader runs.

A leaf of ``segment/``: the builders (:mod:`.arch`, :mod:`.sam2_model`) and the loader
(:mod:`.checkpoint`) import it; it imports none of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inpaint_anything.errors import UnrecognizedCheckpointError

if TYPE_CHECKING:
    import torch

    from inpaint_anything.segment.sam2_spec import Sam2Spec
    from inpaint_anything.segment.spec import SamSpec


def check_state_dict_keys(
    sd: Mapping[str, Any], expected: Mapping[str, Any], spec: SamSpec | Sam2Spec, name: str
) -> None:
    """Raise UnrecognizedCheckpointError listing missing, unexpected and differently shaped tensors."""
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    wrong = sorted(k for k in set(sd) & set(expected) if tuple(sd[k].shape) != tuple(expected[k].shape))
    if not (missing or unexpected or wrong):
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
    if wrong:
        k = wrong[0]
        parts.append(
            f"{len(wrong)} with other shapes (e.g. {k}: {tuple(sd[k].shape)} vs {tuple(expected[k].shape)})"
        )
    raise UnrecognizedCheckpointError(
        f"'{name}' looks like {spec.describe()} but its weights do not fit that model: "
        + "; ".join(parts)
        + ". The file may be a modified or partial checkpoint."
    )


@dataclass
class LoadedSam:
    """A Segment Anything model ready for inference (eval mode), with what it was loaded from."""

    model: torch.nn.Module
    spec: SamSpec | Sam2Spec
    path: Path
    device: str = "cpu"
    dtype: Any = None
    _sha256: str | None = field(default=None, init=False, repr=False)

    @property
    def family(self) -> str:
        return self.spec.family

    @property
    def is_hq(self) -> bool:
        return self.spec.is_hq

    @property
    def is_sam2(self) -> bool:
        return self.spec.family == "sam2"

    @property
    def sha256(self) -> str:
        """SHA-256 of the file (computed on first access, then cached)."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            with open(self.path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
            self._sha256 = digest.hexdigest()
        return self._sha256


__all__ = ["LoadedSam", "check_state_dict_keys"]
