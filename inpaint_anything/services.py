"""What a workspace and the SAM preparer need of the :class:`~inpaint_anything.app.App` that owns them.

Narrow :class:`typing.Protocol` views of the App, so that :mod:`inpaint_anything.workspace` and
:mod:`inpaint_anything.preparer` import this leaf and never ``app`` (which imports them): the import
graph stays free of cycles, type-only imports included (``tests/test_import_contract.py``). The App
satisfies both protocols structurally; tests may pass any object with these members.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from inpaint_anything.config import Settings
    from inpaint_anything.segment.hover import HoverTimer
    from inpaint_anything.segment.loaded import LoadedSam


class PrepareServices(Protocol):
    """What :class:`~inpaint_anything.preparer.Preparer` needs: model ids checked, encodes scoped."""

    def sam_model_path(self, model_id: str) -> Path:
        """The file of a SAM model id (raises the 404/422/offline errors)."""
        ...

    def job_scope(self, name: str) -> contextlib.AbstractContextManager:
        """The host's scope around one piece of GPU work (the WebUI's queue lock; else a no-op)."""
        ...


class PrepareQueue(Protocol):
    """The App's background encode queue, as a workspace submits to it."""

    def submit(self, ws: Any, model_id: str) -> Any: ...


class WorkspaceServices(Protocol):
    """What :class:`~inpaint_anything.workspace.Workspace` needs of its App."""

    settings: Settings
    preparer: PrepareQueue
    hover_timer: HoverTimer

    def enforce_memory_budget(self, keep: str | None = None) -> list[str]: ...

    def load_sam(self, model_id: str) -> LoadedSam: ...

    def sam_encode_guard(self, session: Any, image: Any) -> contextlib.AbstractContextManager: ...

    def backend(self, kind: str, model: str = "", **options: Any) -> Any: ...

    def text_detector(self, detector_id: str) -> Any: ...


__all__ = ["PrepareQueue", "PrepareServices", "WorkspaceServices"]
