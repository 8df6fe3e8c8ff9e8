"""Small helpers shared by the benchmark scripts (they are scripts, not tests).

- :func:`add_project_paths` puts the checkout and ``tests/`` on ``sys.path`` (for ``inpaint_anything``
  and ``fixtures.*``);
- :func:`ref_op_seconds` times the reference operation (median of 3 fp32 2048x2048 ``torch.mm``), so
  timings can be reported as machine-independent ratios (:func:`ratio`);
- :func:`timed`, :class:`PeakRSS` / :func:`max_rss_mb` for time and memory;
- :func:`print_table` for fixed-width tables, :func:`machine_line` for the header.

Usage from a script in ``benchmarks/``::

    from _common import add_project_paths, print_table, ref_op_seconds, timed
    add_project_paths()
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def add_project_paths() -> str:
    """Put the checkout root and ``tests/`` first on ``sys.path``; returns the root."""
    for path in (os.path.join(ROOT, "tests"), ROOT):
        if path not in sys.path:
            sys.path.insert(0, path)
    return ROOT


def ref_op_seconds(size: int = 2048, repeats: int = 3) -> float:
    """Median wall time of ``repeats`` fp32 ``size`` x ``size`` matrix products (after one warm-up)."""
    import torch

    a = torch.randn(size, size, dtype=torch.float32)
    b = torch.randn(size, size, dtype=torch.float32)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def ratio(seconds: float, ref: float | None) -> str:
    """``seconds`` as a multiple of the reference op, e.g. ``"12.3x"`` (``"-"`` without a reference)."""
    if not ref or ref <= 0:
        return "-"
    r = seconds / ref
    return f"{r:.0f}x" if r >= 100 else f"{r:.1f}x" if r >= 1 else f"{r:.2f}x"


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``(fn(*args, **kwargs), seconds)``."""
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def max_rss_mb() -> float:
    """Peak resident memory of this process so far (MiB), from the OS; 0 where unsupported."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class PeakRSS:
    """Context manager: peak resident memory above the level at entry (bytes in ``peak``, MiB in
    ``peak_mb``), sampled by a thread every ``interval`` seconds. Needs psutil."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.peak = 0

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

    def __enter__(self) -> PeakRSS:
        import psutil

        self._proc = psutil.Process()
        self._base = self._max = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._max = max(self._max, self._proc.memory_info().rss)
            self._stop.wait(self.interval)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._max = max(self._max, self._proc.memory_info().rss)
        self.peak = self._max - self._base


def _cell(value: Any, digits: int) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, digits: int = 2, title: str | None = None, file: Any = None
) -> None:
    """Print rows as a Markdown-compatible table (floats with ``digits`` decimals)."""
    out = file or sys.stdout
    cells = [[_cell(v, digits) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    if title:
        print(f"\n{title}", file=out)
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |", file=out)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=out)
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |", file=out)
    out.flush()


def machine_line() -> str:
    """One line describing the machine (CPU count, torch threads, Python)."""
    try:
        import torch

        threads = f", torch {torch.__version__} with {torch.get_num_threads()} threads"
    except ImportError:
        threads = ""
    return f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPUs{threads}, Python {platform.python_version()}"


__all__ = [
    "ROOT",
    "PeakRSS",
    "add_project_paths",
    "machine_line",
    "max_rss_mb",
    "print_table",
    "ratio",
    "ref_op_seconds",
    "timed",
]
