"""A loaded Segment Anything model (any family) and the strict load every loader runs.

A leaf of ``segment/``: the builders (:mod:`.arch`, :mod:`.sam2_model`) and the loader
(:mod:`.checkpoint`) import it; it imports none of them (they pass their recogniser and builder).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from inpaint_anything.errors import UnrecognizedCheckpointError

if TYPE_CHECKING:
    import torch

    from inpaint_anything.segment.sam2_spec import Sam2Spec
    from inpaint_anything.segment.spec import SamSpec

S = TypeVar("S", "SamSpec", "Sam2Spec")


def check_state_dict_keys(sd: Mapping[str, Any], expected: Mapping[str, Any], spec: SamSpec | Sam2Spec, name: str) -> None:
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
        parts.append(f"{len(wrong)} with other shapes (e.g. {k}: {tuple(sd[k].shape)} vs {tuple(expected[k].shape)})")
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

    family = property(attrgetter("spec.family"), doc="The spec's family (see :mod:`.families`).")
    is_hq = property(attrgetter("spec.is_hq"), doc="Whether the mask decoder is HQ-SAM's.")

    @property
    def is_sam2(self) -> bool:
        return self.spec.family == "sam2"


def load_strictly(
    state_dict: Mapping[str, Any],
    path: Path,
    infer: Callable[[Mapping[str, Any]], S],
    build: Callable[[S], torch.nn.Module],
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
    spec: S | None = None,
    droppable: tuple[str, ...] = (),
) -> LoadedSam:
    """The model of ``state_dict`` (already read safely from ``path``), built by ``build(spec)`` and
    loaded with ``strict=True``, in eval mode on ``device`` / ``dtype``.

    ``spec`` is ``infer(state_dict)`` when not given; its UnrecognizedCheckpointError is raised again
    with the file name in front. Tensors whose names end with one of ``droppable`` and that the
    model does not have are dropped first (buffers that some versions saved and the classes
    recompute). Any other difference from the model's own tensors raises UnrecognizedCheckpointError
    naming the file (see :func:`check_state_dict_keys`); nothing is loaded partially.
    """
    import torch

    if spec is None:
        try:
            spec = infer(state_dict)
        except UnrecognizedCheckpointError as exc:
            raise UnrecognizedCheckpointError(f"'{path.name}': {exc.message}") from exc
    model = build(spec)
    expected = model.state_dict()
    sd = {k: v for k, v in state_dict.items() if k in expected or not k.endswith(droppable)}
    check_state_dict_keys(sd, expected, spec, path.name)
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as exc:  # defensive: the key check should have caught every mismatch
        raise UnrecognizedCheckpointError(
            f"'{path.name}' could not be loaded as {spec.describe()}: {str(exc).splitlines()[0]}"
        ) from exc
    del sd, expected
    model.to(device=torch.device(device), dtype=dtype)
    model.eval()
    return LoadedSam(model=model, spec=spec, path=path, device=str(torch.device(device)), dtype=dtype)


__all__ = ["LoadedSam", "check_state_dict_keys", "load_strictly"]
