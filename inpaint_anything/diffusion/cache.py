"""Loaded diffusers pipelines kept for the next request: :class:`PipelineCache`, least recently used
evicted, one run at a time per cached pipeline (``in_use``). The ControlNet cache is the same class
with another loader (:class:`~inpaint_anything.inpaint.controlnet_backend.ControlNetCache`).
"""

from __future__ import annotations

import gc
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inpaint_anything.diffusion.loader import PipelineInfo, load_inpaint_pipeline, resolve_device, resolve_dtype
from inpaint_anything.errors import InvalidInputError

Loader = Callable[..., "tuple[Any, PipelineInfo]"]


class PipelineCache:
    """Loaded pipelines keyed by (source, device, dtype), least recently used evicted past ``max_items``.

    The cache belongs to its instance; ``get`` returns the same pipeline object for the same key without
    touching the files again. Keyword arguments other than device/dtype only affect the first load.

    The pipelines are shared by every request, and a run sets its pipeline's scheduler, so a run
    holds :attr:`in_use` from choosing the scheduler to the last step: runs take turns (on one GPU
    they would anyway), and no run ever sees another's scheduler.
    """

    def __init__(self, max_items: int = 1, loader: Loader | None = None):
        if max_items < 1:
            raise InvalidInputError("The pipeline cache must hold at least one pipeline.")
        self.max_items = int(max_items)
        self._loader: Loader = loader or load_inpaint_pipeline
        self._items: OrderedDict[tuple[str, str, str], tuple[Any, PipelineInfo]] = OrderedDict()
        self._lock = threading.RLock()
        self.in_use = threading.RLock()

    @staticmethod
    def key(source: str | os.PathLike[str], device: Any = "cpu", dtype: Any = None) -> tuple[str, str, str]:
        dev = resolve_device(device)
        return str(Path(source).expanduser().resolve()), dev, str(resolve_dtype(dev, dtype)).removeprefix("torch.")

    def get(
        self, source: str | os.PathLike[str], *, device: Any = "cpu", dtype: Any = None, **load_kwargs: Any
    ) -> tuple[Any, PipelineInfo]:
        """The cached pipeline for this key, loading it (and evicting the oldest) when absent."""
        key = self.key(source, device, dtype)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            while len(self._items) >= self.max_items:
                self._items.popitem(last=False)
                _release_memory()
            loaded = self._loader(key[0], device=key[1], dtype=key[2], **load_kwargs)
            self._items[key] = loaded
            return loaded

    def unload(self, source: str | os.PathLike[str] | None = None) -> int:
        """Drop every cached pipeline (or those loaded from ``source``); returns how many were dropped."""
        with self._lock:
            if source is None:
                keys = list(self._items)
            else:
                wanted = str(Path(source).expanduser().resolve())
                keys = [k for k in self._items if k[0] == wanted]
            for k in keys:
                del self._items[k]
        if keys:
            _release_memory()
        return len(keys)

    def keys(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items


def _release_memory() -> None:
    gc.collect()
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
