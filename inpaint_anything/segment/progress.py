"""Progress and cancellation inside the SAM image encoder (the long part of "preparing SAM").

The encoder is one forward pass of a few seconds (GPU: milliseconds; CPU: up to a minute). Its
stages (ViT blocks, TinyViT layers' blocks, Hiera blocks) get a forward pre-hook once per model;
the hook reports ``(stage, stages)`` to the callback of the thread that runs the encode, found
through a context variable, so encodes in other threads with the same cached model never see each
other's callbacks. A callback may raise (e.g. :class:`~inpaint_anything.errors.JobInterrupted`) to
stop the encode between two stages; nothing is cached then.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

StageCallback = Callable[[int, int], None]

_WATCH: contextvars.ContextVar[StageCallback | None] = contextvars.ContextVar("ia_encoder_watch", default=None)
_HOOKED = "_ia_stage_hooks"


def encoder_stages(image_encoder: Any) -> list[Any]:
    """The encoder's sequential stages, in order: ViT ``blocks``, Hiera ``trunk.blocks``, or the
    ``blocks`` of each TinyViT layer (a layer without blocks counts as one stage)."""
    if hasattr(image_encoder, "blocks"):
        return list(image_encoder.blocks)
    trunk = getattr(image_encoder, "trunk", None)
    if trunk is not None and hasattr(trunk, "blocks"):
        return list(trunk.blocks)
    stages: list[Any] = []
    for layer in getattr(image_encoder, "layers", ()):
        stages.extend(list(layer.blocks) if hasattr(layer, "blocks") else [layer])
    return stages


def install_stage_hooks(image_encoder: Any) -> int:
    """Hook every stage once (idempotent on a shared model); returns the number of stages."""
    stages = encoder_stages(image_encoder)
    if getattr(image_encoder, _HOOKED, None) == len(stages):
        return len(stages)
    total = len(stages)
    for index, stage in enumerate(stages):

        def hook(module: Any, args: Any, index: int = index) -> None:
            callback = _WATCH.get()
            if callback is not None:
                callback(index, total)

        stage.register_forward_pre_hook(hook)
    setattr(image_encoder, _HOOKED, total)
    return total


@contextlib.contextmanager
def watching(callback: StageCallback | None) -> Iterator[None]:
    """Route this thread's encoder stage events to ``callback`` for the duration of the block."""
    token = _WATCH.set(callback)
    try:
        yield
    finally:
        _WATCH.reset(token)


def is_encoded(session: Any, rgb: Any) -> bool:
    """Whether ``session`` (SAM or SAM 2) holds the embedding of ``rgb`` (uint8 RGB) for its model."""
    from inpaint_anything.imaging import content_hash

    # no lock: an encode in progress holds the session's lock, and a status check must not wait for it
    return f"{session._model_key()}|{content_hash(rgb)}" in dict(session._embeddings)


__all__ = ["encoder_stages", "install_stage_hooks", "is_encoded", "watching"]
