"""The standalone server's memory tuning (glibc only; the WebUI's process is never touched).

:func:`settle_malloc` moves glibc's adaptive thresholds to their maxima once, so SAM clicks stop
paying page faults for fresh buffers; :class:`TrimAfterLargeRequests` gives freed heap back to the
system after large bodies and when the server goes idle. ``server.create_app`` installs both for
``python -m inpaint_anything`` only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def settle_malloc() -> bool:
    """Let glibc keep a click's temporary buffers mapped between clicks (Linux with glibc only).

    glibc serves blocks above its "mmap threshold" with fresh ``mmap`` calls and unmaps them when
    freed, and returns free memory above a "trim threshold" at the top of its heap to the system.
    Both thresholds adapt upwards when a block above the mmap threshold is freed (at most to
    32 MiB and 64 MiB on 64-bit systems), but stay lower until such a block has been freed. Until
    then every click maps its 4-16 MiB feature maps afresh and pays for the page faults: 10-17
    thousand per HQ-SAM click, a third of its time on a 2-core virtual machine. Allocating and
    freeing one block just under the maximum (never written, so it costs no page faults) moves both
    thresholds to glibc's maxima, as freeing any such tensor later would. Returns whether it ran.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl has no adaptive thresholds)
        malloc, free = libc.malloc, libc.free
    except (OSError, AttributeError):
        return False
    malloc.restype, malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    free.restype, free.argtypes = None, [ctypes.c_void_p]
    size = 4 * ctypes.sizeof(ctypes.c_long) * 2**20 - 2**20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX, less 1 MiB
    block = malloc(size)
    if not block:
        return False
    free(block)
    return True


def libc_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None elsewhere: musl, macOS, Windows)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


class TrimAfterLargeRequests:
    """ASGI middleware of the standalone app: gives freed heap memory back to the system (glibc
    ``malloc_trim``) so that the server's memory returns near its level instead of staying at its
    peak (benchmarks/soak.py measures it). It trims

    - after a request whose body was at least ``threshold`` bytes has been answered, and
    - when the last request in flight has been answered and the bodies received since the last trim
      add up to ``threshold`` (many 1 MP uploads leave the heap as fragmented as one large one).

    A trim runs in a worker thread and takes milliseconds; a busy server trims when it goes idle.
    ``IA_MALLOC_TRIM=0`` turns it off."""

    def __init__(self, app: Any, threshold: int = 16 * 2**20, trim: Callable[[int], int] | None = None):
        self.app = app
        self.threshold = threshold
        self.trim = trim
        self.in_flight = 0  # HTTP requests being answered (the event loop's thread only)
        self.received = 0  # body bytes received since the last trim
        self.trims = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or self.trim is None:
            await self.app(scope, receive, send)
            return
        length = 0
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                length = int(value) if value.isdigit() else 0
                break
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            self.received += length
            if length >= self.threshold or (self.in_flight == 0 and self.received >= self.threshold):
                from starlette.concurrency import run_in_threadpool

                self.received = 0
                self.trims += 1
                await run_in_threadpool(self.trim, 0)
