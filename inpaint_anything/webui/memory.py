"""Make VRAM for our SAM / diffusers work by moving the WebUI's checkpoint out of it, only when short.

:func:`install` puts a :class:`HostMemoryGuard` on the App (``App.set_memory_guard``); the core
enters ``guard(need_bytes, what)`` around SAM model loading and image encoding and diffusers
pipeline loading and generation on CUDA. Inside it:

* free VRAM >= need + margin, no CUDA, or the setting "Move the WebUI model to the CPU when VRAM is
  short" off: nothing happens;
* A1111: the checkpoint goes to the CPU with ``sd_models.send_model_to_cpu`` and, when the work ends
  (also when it failed), back with ``send_model_to_device``: the same model object, no reload from
  disk. Nothing is moved with --lowvram / --medvram (the host keeps the model off the GPU itself),
  nor when the model is not on the GPU (e.g. the user unloaded it to RAM);
* Forge: its memory manager unloads models to the CPU until enough is free
  (``backend.memory_management.free_memory``); Forge loads them back itself when it next needs them,
  so there is nothing to restore.

While the checkpoint is off the GPU the host's queue lock is held (taken here, unless this thread
runs a queued job already), so the WebUI never starts a generation with its model on the CPU.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from inpaint_anything.errors import IAError, UnavailableError
from inpaint_anything.webui import compat

log = logging.getLogger(__name__)

MARGIN_BYTES = 512 * 2**20  # kept free on top of what the work needs (allocator slack, cuDNN workspaces)
QUEUE_WAIT_S = 120.0  # how long we wait for a running WebUI generation before giving up


def free_vram_bytes() -> int | None:
    """Free VRAM of the host's CUDA device, or None without CUDA (the probe tests replace)."""
    return compat.cuda_free_bytes()


def offload_enabled() -> bool:
    """The setting "Move the WebUI model to the CPU when VRAM is short" (default on)."""
    from inpaint_anything.webui import settings

    try:
        return bool(settings.current().offload_host_model)
    except IAError:  # an invalid stored value elsewhere must not stop the work
        return True


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB"


class HostMemoryGuard:
    """``guard(need_bytes, what)`` -> a context manager; see the module docstring.

    ``on_short`` (the App's ``unload_models``) frees our own cached models when the checkpoint cannot
    go back to the GPU otherwise. One guard serves every session; it is re-entrant per thread.
    """

    def __init__(
        self, *, on_short: Callable[[], Any] | None = None, margin: int = MARGIN_BYTES, queue_wait_s: float = QUEUE_WAIT_S
    ) -> None:
        self.margin = int(margin)
        self.queue_wait_s = float(queue_wait_s)
        self._on_short = on_short
        self._owner: int | None = None  # the thread that moved the checkpoint out, while it is out

    def __call__(self, need_bytes: int, what: str) -> contextlib.AbstractContextManager:
        return self._guard(int(need_bytes), str(what))

    @contextlib.contextmanager
    def _guard(self, need: int, what: str) -> Iterator[None]:
        me = threading.get_ident()
        if need <= 0 or self._owner == me or not offload_enabled():
            yield
            return
        free = free_vram_bytes()
        if free is None or (self._owner is None and free >= need + self.margin):
            yield
            return
        with self._queue_turn(what):
            free = free_vram_bytes()  # the WebUI may have finished and freed memory meanwhile
            if free is None or free >= need + self.margin:
                yield
                return
            moved = self._offload(need + self.margin, what, free)
            self._owner = me
            failed = True
            try:
                yield
                failed = False
            finally:
                self._owner = None
                if moved is not None:
                    self._restore(moved, what, raise_errors=not failed)

    @contextlib.contextmanager
    def _queue_turn(self, what: str) -> Iterator[None]:
        from inpaint_anything.webui import jobs

        if jobs.holds_queue_lock():
            yield
            return
        lock = compat.queue_lock()
        deadline = time.monotonic() + self.queue_wait_s
        while not lock.acquire(blocking=False):  # polled: this thread may hold locks a queued job needs
            if time.monotonic() >= deadline:
                raise UnavailableError(
                    f"Not enough free VRAM for {what} while the WebUI is generating; try again when it has finished."
                )
            time.sleep(0.05)
        try:
            yield
        finally:
            lock.release()

    def _offload(self, total: int, what: str, free: int) -> Any:
        """Free ``total`` bytes of VRAM; returns the A1111 model to bring back afterwards, or None."""
        mm = compat.forge_memory_management()
        if mm is not None:
            log.info(
                "Inpaint Anything: %s of VRAM free, %s wanted for %s: asking Forge to unload models.", _mb(free), _mb(total), what
            )
            mm.free_memory(total, mm.get_torch_device())
            return None
        sd_model = compat.loaded_sd_model()
        if sd_model is None or compat.host_manages_vram(sd_model) or not compat.sd_model_on_gpu(sd_model):
            return None
        from modules import sd_models

        log.info(
            "Inpaint Anything: %s of VRAM free, %s wanted for %s: moving the WebUI checkpoint to the CPU.",
            _mb(free),
            _mb(total),
            what,
        )
        sd_models.send_model_to_cpu(sd_model)
        return sd_model

    def _restore(self, sd_model: Any, what: str, *, raise_errors: bool) -> None:
        """Move the A1111 checkpoint back to the GPU, making room first if our models are in the way."""
        from modules import sd_models

        free = free_vram_bytes()
        if self._on_short is not None and free is not None and free < compat.sd_model_bytes(sd_model) + self.margin:
            self._on_short()
        try:
            try:
                sd_models.send_model_to_device(sd_model)
            except RuntimeError:  # CUDA out of memory: our cached models give way, then once more
                if self._on_short is None:
                    raise
                self._on_short()
                sd_models.send_model_to_device(sd_model)
        except RuntimeError as exc:
            log.error("Inpaint Anything: could not move the WebUI checkpoint back to the GPU after %s: %s", what, exc)
            if raise_errors:
                raise UnavailableError(
                    "The WebUI checkpoint could not go back to the GPU (out of memory). "
                    "Select it again in the checkpoint dropdown."
                ) from exc


def install(app: Any) -> HostMemoryGuard:
    """Give ``app`` (the WebUI's App) the guard; its SAM models and pipelines make way for the checkpoint."""
    guard = HostMemoryGuard(on_short=app.unload_models)
    app.set_memory_guard(guard)
    return guard


__all__ = ["MARGIN_BYTES", "HostMemoryGuard", "free_vram_bytes", "install", "offload_enabled"]
