"""Per-session workspaces under one memory budget, with evictions that are never silent.

Every browser tab and every API session has a :class:`~inpaint_anything.workspace.Workspace`. They
all share one byte budget (Settings ``session_memory_mb``): images, masks, undo history, SAM
embeddings, segment maps and results are counted. When a workspace grows past the budget, the least
recently used *other* sessions are dropped whole until the total fits again. A dropped session id is
remembered (a tombstone), so its next request raises :class:`~inpaint_anything.errors.SessionExpiredError`
(HTTP 410, "upload the image again") instead of quietly starting over with an empty workspace.
Uploading a new image revives the id (``revive=True``).

Guarantees:
- the session being worked on is never dropped by its own growth (a single session larger than the
  budget stays; the others are dropped);
- a session id that was dropped answers 410 until it is revived or forgotten (the newest
  :data:`MAX_TOMBSTONES` ids are remembered);
- ``drop`` (an explicit delete) leaves no tombstone: the id is simply unknown afterwards.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from inpaint_anything.errors import InvalidInputError, SessionExpiredError

log = logging.getLogger(__name__)

MAX_TOMBSTONES = 100_000
EXPIRED_MESSAGE = (
    "This session expired to free memory for other sessions; upload the image again "
    "(the image, mask and results of this session are gone)."
)


def nbytes(obj: Any, _seen: set[int] | None = None, _depth: int = 0) -> int:
    """Bytes held by the arrays and tensors reachable from ``obj`` (numpy, torch; lists, dicts,
    dataclasses and plain objects are followed). Models (anything with a ``state_dict``) are shared
    between sessions and not counted, nor is anything counted twice."""
    seen = _seen if _seen is not None else set()
    if obj is None or isinstance(obj, (str, bytes, int, float, bool)) or id(obj) in seen or _depth > 6:
        return 0
    seen.add(id(obj))
    if hasattr(obj, "nbytes") and hasattr(obj, "dtype") and hasattr(obj, "shape") and not hasattr(obj, "element_size"):
        return int(obj.nbytes)  # numpy
    if hasattr(obj, "element_size") and hasattr(obj, "nelement"):
        return int(obj.element_size() * obj.nelement())  # torch.Tensor
    if hasattr(obj, "state_dict") or callable(obj) and not hasattr(obj, "__dict__"):
        return 0
    if isinstance(obj, dict):
        items = list(obj.values())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = list(obj)
    elif hasattr(obj, "__dict__"):
        items = list(vars(obj).values())
    elif hasattr(obj, "__slots__"):
        items = [getattr(obj, s, None) for s in obj.__slots__]
    else:
        return 0
    return sum(nbytes(v, seen, _depth + 1) for v in items)


@dataclass
class SessionStats:
    sessions: int
    api_sessions: int
    bytes_used: int
    budget_bytes: int
    expired: int  # sessions dropped to free memory since start

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class SessionStore:
    """The workspaces of one App, least recently used first, under a byte budget."""

    def __init__(
        self, factory: Callable[[str], Any], budget_bytes: Callable[[], int], *, max_count: int = 4096, api_prefix: str = "api:"
    ):
        self._factory = factory
        self._budget = budget_bytes
        self._max_count = max(1, max_count)
        self._api_prefix = api_prefix
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._tombstones: OrderedDict[str, None] = OrderedDict()
        self._expired_count = 0
        self._lock = threading.RLock()

    def get(self, session_id: str, *, revive: bool = False) -> Any:
        """The workspace of ``session_id``, created on first use. A session dropped to free memory
        raises SessionExpiredError unless ``revive`` (the caller starts it over, e.g. a new image)."""
        if not isinstance(session_id, str) or not session_id or len(session_id) > 128:
            raise InvalidInputError("A session id (1-128 characters) is required.")
        with self._lock:
            ws = self._items.get(session_id)
            if ws is None:
                if session_id in self._tombstones:
                    if not revive:
                        raise SessionExpiredError(EXPIRED_MESSAGE)
                    del self._tombstones[session_id]
                ws = self._factory(session_id)
                self._items[session_id] = ws
                while len(self._items) > self._max_count:
                    self._expire(next(iter(self._items)))
            self._items.move_to_end(session_id)
            return ws

    def expired(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._tombstones

    def drop(self, session_id: str) -> bool:
        """Forget a session on request (no tombstone)."""
        with self._lock:
            self._tombstones.pop(session_id, None)
            return self._items.pop(session_id, None) is not None

    def expire(self, session_id: str) -> None:
        """Drop a session and remember that it was dropped (its next request answers 410)."""
        with self._lock:
            self._expire(session_id)

    def _expire(self, session_id: str) -> None:
        self._items.pop(session_id, None)
        self._tombstones[session_id] = None
        self._tombstones.move_to_end(session_id)
        while len(self._tombstones) > MAX_TOMBSTONES:
            self._tombstones.popitem(last=False)
        self._expired_count += 1

    def enforce_budget(self, keep: str | None = None) -> list[str]:
        """Drop least recently used sessions (never ``keep``) until all fit the budget; returns their ids."""
        budget = int(self._budget())
        with self._lock:
            sizes = {sid: nbytes(ws) for sid, ws in self._items.items()}
            total = sum(sizes.values())
            dropped = []
            for sid in list(self._items):
                if total <= budget:
                    break
                if sid == keep:
                    continue
                total -= sizes[sid]
                self._expire(sid)
                dropped.append(sid)
        if dropped:
            log.info(
                "Inpaint Anything: %d session(s) dropped to stay within the %d MB session memory budget.",
                len(dropped),
                budget // 2**20,
            )
        return dropped

    def stats(self) -> SessionStats:
        with self._lock:
            items = list(self._items.items())
            expired = self._expired_count
        used = sum(nbytes(ws) for _, ws in items)
        api = sum(1 for sid, _ in items if sid.startswith(self._api_prefix))
        return SessionStats(len(items), api, used, int(self._budget()), expired)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._items


__all__ = ["EXPIRED_MESSAGE", "MAX_TOMBSTONES", "SessionStats", "SessionStore", "nbytes"]
