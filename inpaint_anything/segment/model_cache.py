"""Keep loaded Segment Anything models (SAM 1 families and SAM 2 / 2.1) in memory, bounded by count
and by free memory.

One :class:`SamModelCache` belongs to the running extension (not a module global). ``get(path)``
loads a checkpoint once and hands the same :class:`LoadedSam` back until it is evicted (least
recently used first, beyond ``max_models``), explicitly unloaded, or the file on disk changes.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inpaint_anything.config import SAM_DEVICES as DEVICES
from inpaint_anything.errors import InvalidInputError, ModelNotFoundError

if TYPE_CHECKING:
    from inpaint_anything.segment.loaded import LoadedSam

log = logging.getLogger(__name__)

DTYPES = ("auto", "fp32", "fp16", "bf16")
# Loading needs the state dict and the model at the same time; plus activations of the encoder.
_LOAD_MEMORY_FACTOR = 2.5


def resolve_device(setting: str = "auto") -> str:
    """``auto`` -> ``cuda`` if available, else ``mps``, else ``cpu``; explicit names are checked."""
    import torch

    setting = (setting or "auto").lower()
    if setting not in DEVICES and not setting.startswith("cuda:"):
        raise InvalidInputError(f"SAM device must be one of {', '.join(DEVICES)}, not {setting!r}.")
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps is not None and mps.is_available())
    if setting == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if mps_ok else "cpu"
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInputError("The SAM device is set to CUDA, but no CUDA GPU is available; choose 'auto' or 'cpu'.")
    if setting == "mps" and not mps_ok:
        raise InvalidInputError("The SAM device is set to MPS, but MPS is not available; choose 'auto' or 'cpu'.")
    return setting


def resolve_dtype(device: str, setting: str | None = "auto") -> Any:
    """The weight dtype: fp32 everywhere except CUDA, where fp16/bf16 may be asked for.

    (On CPUs without bf16 instructions bf16 is ~25x slower than fp32, so CPU is always fp32.)
    """
    import torch

    setting = (setting or "auto").lower()
    if setting not in DTYPES:
        raise InvalidInputError(f"SAM precision must be one of {', '.join(DTYPES)}, not {setting!r}.")
    if device.startswith("cuda") and setting in ("fp16", "bf16"):
        return torch.float16 if setting == "fp16" else torch.bfloat16
    if setting in ("fp16", "bf16"):
        log.info("SAM runs in fp32 on %s (%s is only used on CUDA).", device, setting)
    return torch.float32


def available_memory(device: str) -> int | None:
    """Free bytes on ``device`` (RAM for cpu/mps, VRAM for cuda), or None when unknown."""
    try:
        if device.startswith("cuda"):
            import torch

            free, _total = torch.cuda.mem_get_info(torch.device(device))
            return int(free)
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # pragma: no cover - a probe must never break loading
        return None


def _file_key(path: Path) -> tuple[str, int, int]:
    try:
        st = path.stat()
    except OSError:
        raise ModelNotFoundError(f"The model file '{path}' does not exist. Download it or check the path.") from None
    return str(path), st.st_mtime_ns, st.st_size


def _default_loader(path: Path, device: str, dtype: Any) -> LoadedSam:
    """fp32 model on ``device``; only the image encoder (99 % of the compute) in ``dtype``.

    The prompt encoder and mask decoder stay fp32: they are cheap, and the packages' prompt
    encoder mixes fp32 constants into its computations. The same holds for SAM 2 (``load_sam``
    recognises it; its ``image_encoder`` is the Hiera trunk + FPN neck).
    """
    import torch

    from inpaint_anything.segment.checkpoint import load_sam

    loaded = load_sam(path, device=device)
    if dtype is not None and dtype != torch.float32:
        loaded.model.image_encoder.to(dtype)
        loaded.dtype = dtype
    if device == "cpu":
        # channels_last is a free 1.1-1.4x for the conv-heavy encoders on CPU (numerically ~1e-5).
        loaded.model.image_encoder.to(memory_format=torch.channels_last)
    return loaded


class SamModelCache:
    """Thread-safe LRU cache of loaded SAM models.

    ``device``: ``auto`` (cuda > mps > cpu), ``cuda``, ``mps`` or ``cpu`` (the "SAM on CPU" setting).
    ``dtype``: ``auto``/``fp32`` (always fp32 off CUDA), ``fp16`` or ``bf16`` (CUDA only).
    ``loader(path, device, torch_dtype)`` and ``memory_probe(device)`` can be replaced (tests).
    """

    def __init__(
        self,
        max_models: int = 1,
        device: str = "auto",
        dtype: str | None = "auto",
        *,
        loader: Callable[[Path, str, Any], LoadedSam] | None = None,
        memory_probe: Callable[[str], int | None] | None = None,
    ) -> None:
        if int(max_models) < 1:
            raise InvalidInputError("At least one SAM model must be kept in memory.")
        self.max_models = int(max_models)
        self.device_setting = device
        self.dtype_setting = dtype
        self._loader = loader or _default_loader
        self._memory_probe = memory_probe or available_memory
        self._models: OrderedDict[str, tuple[tuple[str, int, int], LoadedSam]] = OrderedDict()
        self._lock = threading.RLock()
        self.loads = 0  # number of checkpoint loads (for diagnostics and tests)

    @property
    def device(self) -> str:
        return resolve_device(self.device_setting)

    def _key(self, path: str | os.PathLike[str]) -> str:
        return str(Path(path).expanduser().resolve())

    def loaded_paths(self) -> list[str]:
        """Paths of the models in memory, least recently used first."""
        with self._lock:
            return list(self._models)

    def __contains__(self, path: object) -> bool:
        with self._lock:
            return isinstance(path, (str, os.PathLike)) and self._key(path) in self._models

    def __len__(self) -> int:
        with self._lock:
            return len(self._models)

    def get(self, path: str | os.PathLike[str]) -> LoadedSam:
        """The loaded model for ``path``: from memory, or loaded now (evicting as needed)."""
        key = self._key(path)
        with self._lock:
            file_key = _file_key(Path(key))
            entry = self._models.get(key)
            if entry is not None and entry[0] == file_key:
                self._models.move_to_end(key)
                return entry[1]
            if entry is not None:  # the file changed on disk: load it again
                self._drop(key)
            device = self.device
            dtype = resolve_dtype(device, self.dtype_setting)
            self._make_room(device, need=int(file_key[2] * _LOAD_MEMORY_FACTOR))
            loaded = self._loader(Path(key), device, dtype)
            self.loads += 1
            self._models[key] = (file_key, loaded)
            return loaded

    def unload(self, path: str | os.PathLike[str] | None = None) -> int:
        """Forget one model (``path``) or all of them (None); returns how many were unloaded."""
        with self._lock:
            keys = list(self._models) if path is None else [self._key(path)]
            dropped = sum(1 for k in keys if self._drop(k, collect=False))
            if dropped:
                self._release_memory()
            return dropped

    def _drop(self, key: str, collect: bool = True) -> bool:
        entry = self._models.pop(key, None)
        if entry is None:
            return False
        log.info("Unloading SAM model %s", key)
        del entry
        if collect:
            self._release_memory()
        return True

    def _release_memory(self) -> None:
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:  # pragma: no cover
            pass

    def _make_room(self, device: str, need: int) -> None:
        """Evict beyond ``max_models - 1``, then evict more while free memory is below ``need``."""
        while len(self._models) >= self.max_models:
            self._drop(next(iter(self._models)), collect=False)
        self._release_memory()
        while self._models:
            free = self._memory_probe(device)
            if free is None or free >= need:
                break
            victim = next(iter(self._models))
            log.info("Low memory (%d MB free, ~%d MB needed): unloading %s", free >> 20, need >> 20, victim)
            self._drop(victim)


__all__ = ["DEVICES", "DTYPES", "SamModelCache", "available_memory", "resolve_device", "resolve_dtype"]
