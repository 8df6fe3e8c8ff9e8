"""The application core shared by the tab, the REST API, batch mode and the standalone app.

:class:`App` owns the process-wide resources (settings, model caches, the models folder, workspaces);
a :class:`~inpaint_anything.workspace.Workspace` holds one browser tab's or API client's image, mask
and segmentation state. Nothing here imports gradio, fastapi or the WebUI: the host adapter plugs
in its checkpoint backend through :meth:`App.register_backend`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inpaint_anything.config import Settings
from inpaint_anything.errors import InvalidInputError, ModelNotFoundError, OfflineError, UnavailableError
from inpaint_anything.models.removers import REMOVER_FILES
from inpaint_anything.preparer import Preparer, no_scope
from inpaint_anything.segment.hover import HoverTimer
from inpaint_anything.sessions import SessionStore

BACKEND_KINDS = ("diffusers", "cleaner", "webui")
# VRAM estimate handed to the memory guard (bytes): SAM's encoder peaks at ~1-1.5 GB for ViT-H at 1024 px
# (the diffusers estimates are in backend_factory).
SAM_ENCODE_BYTES = int(1.5 * 2**30)
MemoryGuard = Callable[[int, str], contextlib.AbstractContextManager]


@dataclass(frozen=True)
class SamModelInfo:
    """One SAM model as the UI/API lists it."""

    id: str
    title: str
    family: str
    available: bool  # usable in this installation (packages present)
    downloaded: bool  # the file is in the models folder
    path: str | None
    reason: str = ""
    size_bytes: int | None = None
    cpu_encode_s: float | None = None  # measured CPU seconds per image (catalogue models only)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


NON_SAM_FOLDERS = ("diffusers",)  # subfolders of the models folder that hold other kinds of model
NON_SAM_FILES = REMOVER_FILES  # the learned removers' files (models/removers.py)


class App:
    """Process-wide state: settings, caches and per-session workspaces."""

    def __init__(self, settings: Settings | None = None, *, host_models_root: str | None = None, max_workspaces: int = 4096):
        from inpaint_anything.diffusion.cache import PipelineCache
        from inpaint_anything.diffusion.catalog import InpaintModelCatalog
        from inpaint_anything.models.files import ModelScanner
        from inpaint_anything.segment.model_cache import SamModelCache

        self.settings = (settings or Settings()).validated()
        if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes"):
            self.settings.offline = True
        self.models_dir = Path(self.settings.resolved_models_dir(host_models_root))
        self.sam_cache = SamModelCache(self.settings.sam_models_in_memory, self.settings.sam_device)
        self.pipelines = PipelineCache(self.settings.pipelines_in_memory)
        from inpaint_anything.inpaint.controlnet_backend import ControlNetCache

        self.controlnets = ControlNetCache()
        from inpaint_anything.models.text_models import DetectorCache

        self.text_detectors = DetectorCache(1, self.sam_cache.device)
        self.scanner = ModelScanner()
        self.preparer = Preparer(self)
        self.hover_timer = HoverTimer()
        self._job_scope: Callable[[str], contextlib.AbstractContextManager] = no_scope
        self.inpaint_catalog = InpaintModelCatalog()
        self.sessions = SessionStore(
            self._new_workspace, lambda: int(self.settings.session_memory_mb) * 2**20, max_count=max_workspaces
        )
        self._lock = threading.Lock()
        self._backends: dict[str, Callable[..., Any]] = {}
        self._memory_guard: MemoryGuard | None = None
        self.started = time.time()

    # ------------------------------------------------------------------ workspaces
    def _new_workspace(self, session_id: str):
        from inpaint_anything.workspace import Workspace

        return Workspace(self, session_id)

    def workspace(self, session_id: str, *, revive: bool = False):
        """The workspace of ``session_id`` (created on first use). All sessions share one memory
        budget; a session dropped to free memory raises SessionExpiredError (410) until ``revive``."""
        return self.sessions.get(session_id, revive=revive)

    @property
    def _workspaces(self) -> OrderedDict[str, Any]:  # the live workspaces, least recently used first
        return self.sessions._items

    def set_job_scope(self, scope: Callable[[str], contextlib.AbstractContextManager] | None) -> None:
        """``scope(name)``: the context work started by the App itself (background SAM preparation)
        runs in; the WebUI adapter holds the host's queue lock in it. None: no scope."""
        self._job_scope = scope or no_scope

    def job_scope(self, name: str) -> contextlib.AbstractContextManager:
        return self._job_scope(name)

    def drop_workspace(self, session_id: str) -> bool:
        return self.sessions.drop(session_id)

    def enforce_memory_budget(self, keep: str | None = None) -> list[str]:
        """Drop least recently used sessions (not ``keep``) until all fit ``session_memory_mb``."""
        return self.sessions.enforce_budget(keep)

    # ------------------------------------------------------------------ SAM models
    def sam_models(self) -> list[SamModelInfo]:
        """Catalogue models (with download state), files the user put in the folder or its direct
        subfolders (recognised from their weights; id ``file:<path relative to the folder>``), and
        files that cannot be used, with the reason. ``path`` is absolute here; the API shows it
        relative to the models folder (:meth:`relative`)."""
        from inpaint_anything.models.catalogue import available_entries, cpu_encode_seconds, sam2_unavailable_reason

        sam2_reason = None
        found = self.scanner.scan(self.models_dir) if self.models_dir.is_dir() else []
        found = [
            f
            for f in found
            if self.relative(f.path).split("/")[0] not in NON_SAM_FOLDERS and self.relative(f.path) not in NON_SAM_FILES
        ]
        in_root = {f.path.name: f for f in found if f.path.parent == self.models_dir}
        out = []
        for status in available_entries():
            entry = status.entry
            file = in_root.get(entry.filename)
            if file is not None:
                found.remove(file)
            out.append(
                SamModelInfo(
                    entry.id,
                    entry.title,
                    entry.family,
                    status.available,
                    bool(file and file.usable),
                    str(file.path) if file else None,
                    status.reason or (file.problem if file else ""),
                    entry.size_bytes,
                    entry.cpu_encode_s,
                )
            )
        for f in found:
            rel = self.relative(f.path)
            if f.family:
                problem = f.problem
                if f.family == "sam2":
                    sam2_reason = sam2_reason or sam2_unavailable_reason() or ""
                    problem = problem or sam2_reason
                usable = f.usable and (f.family != "sam2" or not sam2_reason)
                out.append(
                    SamModelInfo(
                        "file:" + rel,
                        f"{rel} ({f.family} {f.arch})",
                        f.family,
                        usable,
                        True,
                        str(f.path),
                        problem,
                        f.size,
                        cpu_encode_seconds(f.family, f.arch or ""),
                    )
                )
            else:  # listed with its reason, never silently left out
                out.append(
                    SamModelInfo(
                        "file:" + rel, rel, "", False, True, str(f.path), f.problem or "not a Segment Anything checkpoint", f.size
                    )
                )
        return out

    def relative(self, path: Path) -> str:
        """``path`` relative to the models folder, with forward slashes (what clients see)."""
        try:
            return path.relative_to(self.models_dir).as_posix()
        except ValueError:
            return path.name

    def sam_model_path(self, model_id: str, *, download: bool = False, progress=None, cancel=None) -> Path:
        """The checkpoint file for ``model_id``; downloads it when ``download`` (never in offline mode)."""
        from inpaint_anything.models.catalogue import get_entry
        from inpaint_anything.models.download import ensure_model, manual_download_hint

        if not isinstance(model_id, str) or not model_id:
            raise InvalidInputError("Choose a SAM model.")
        if model_id.startswith("file:"):
            name = model_id[5:]
            parts = name.split("/")
            if (
                "\\" in name
                or os.path.isabs(name)
                or len(parts) > 2
                or any(p in ("", ".", "..") or p.startswith(".") for p in parts)
            ):
                raise InvalidInputError(
                    f"Invalid model file name {name!r}: use a name from the SAM model list "
                    "(a file in the models folder or one of its subfolders)."
                )
            path = self.models_dir.joinpath(*parts)
            if not path.is_file():
                raise ModelNotFoundError(
                    f"The model file {name} is not in the models folder; GET /models/sam "
                    "or the SAM model list shows the files that are."
                )
            return path
        entry = get_entry(model_id)
        if entry.family == "sam2":
            from inpaint_anything.models.catalogue import sam2_unavailable_reason

            reason = sam2_unavailable_reason()
            if reason:
                raise UnavailableError(f"{entry.title} is not usable here: {reason}")
        target = self.models_dir / entry.filename
        if not download and not target.is_file():
            raise ModelNotFoundError(
                f"{entry.title} is not downloaded yet. Press Download, or: " + manual_download_hint(entry, self.models_dir)
            )
        self.models_dir.mkdir(parents=True, exist_ok=True)
        return ensure_model(entry, self.models_dir, offline=self.settings.offline, progress=progress, cancel=cancel)

    def load_sam(self, model_id: str):
        path = self.sam_model_path(model_id)
        need = 0
        if self._memory_guard is not None and path not in self.sam_cache and self._on_cuda(self.sam_cache.device):
            need = path.stat().st_size
        with self.memory_guard(need, "loading the SAM model"):
            return self.sam_cache.get(path)

    # ------------------------------------------------------------------ learned removers
    def removers(self) -> list[dict[str, Any]]:
        """The learned removers (LaMa, MI-GAN) with their file, size and whether it is here."""
        from inpaint_anything.models.removers import REMOVER_MODELS

        out = []
        for r in REMOVER_MODELS:
            path = self.models_dir / r.entry.filename
            out.append(
                {
                    "method": r.method,
                    "label": r.entry.title,
                    "filename": r.entry.filename,
                    "downloaded": path.is_file(),
                    "size_bytes": path.stat().st_size if path.is_file() else r.entry.size_bytes,
                    "description": r.entry.description,
                    "license": r.entry.license,
                    "urls": r.entry.download_urls(),
                }
            )
        return out

    def remover_path(self, method: str, *, download: bool = False, progress=None, cancel=None) -> Path:
        """The file of the learned remover ``method``: used as it is when present (also a user's own
        export), else downloaded and verified when ``download`` (never in offline mode: OfflineError
        saying where to get it and where to put it)."""
        from inpaint_anything.models.download import ensure_model, manual_download_hint
        from inpaint_anything.models.removers import remover

        entry = remover(method).entry
        target = self.models_dir / entry.filename
        if target.is_file():
            return target
        if not download:
            raise ModelNotFoundError(
                f"{entry.title} is not downloaded yet; it is downloaded on first use, or: "
                + manual_download_hint(entry, self.models_dir)
            )
        return ensure_model(entry, self.models_dir, offline=self.settings.offline, progress=progress, cancel=cancel)

    # ------------------------------------------------------------------ VRAM guard
    def set_memory_guard(self, guard: MemoryGuard | None) -> None:
        """Install ``guard(need_bytes, what)`` -> context manager. It is entered around SAM model loading
        and image encoding and diffusers loading and generation on CUDA (the WebUI adapter moves the
        WebUI's checkpoint out of VRAM there when VRAM is short); None removes it."""
        self._memory_guard = guard

    def memory_guard(self, need_bytes: int, what: str) -> contextlib.AbstractContextManager:
        """The installed guard for ``need_bytes`` of VRAM, or a no-op (no guard, nothing needed)."""
        guard = self._memory_guard
        if guard is None or need_bytes <= 0:
            return contextlib.nullcontext()
        return guard(int(need_bytes), what)

    def sam_encode_guard(self, session: Any, image: Any) -> contextlib.AbstractContextManager:
        """The guard around ``session.set_image(image)``: a no-op when that image is already encoded."""
        if self._memory_guard is None or not self._on_cuda(getattr(session, "device", "cpu")):
            return contextlib.nullcontext()
        if getattr(session, "image_set", False):
            import numpy as np

            from inpaint_anything.imaging import content_hash

            key = str(getattr(session.embedding, "key", ""))
            if isinstance(image, np.ndarray) and key.endswith("|" + content_hash(image)):
                return contextlib.nullcontext()
        return self.memory_guard(SAM_ENCODE_BYTES, "computing the SAM image embedding")

    @staticmethod
    def _on_cuda(device: Any) -> bool:
        """Whether work on ``device`` uses CUDA memory (what the memory guard protects)."""
        return str(device).startswith("cuda")

    # ------------------------------------------------------------------ inpainting backends
    def register_backend(self, kind: str, factory: Callable[..., Any]) -> None:
        """Plug in a backend factory (the WebUI adapter registers "webui")."""
        self._backends[kind] = factory

    def available_backends(self) -> list[str]:
        return [
            "diffusers",
            "controlnet",
            "cleaner",
            *[k for k in self._backends if k not in ("diffusers", "controlnet", "cleaner")],
        ]

    @property
    def ckpt_dir(self) -> Path | None:
        """The WebUI checkpoints folder listed for the diffusers backend (``--ia-ckpt-dir``), or None."""
        folder = self.settings.resolved_ckpt_dir()
        return Path(folder) if folder else None

    def inpaint_model_entries(self) -> list[Any]:
        """Every inpainting model of the diffusers backend (Hub ids, ``<models>/diffusers``, the checkpoints
        folder), usable or not, each with the reason when not (:class:`~inpaint_anything.diffusion.catalog.InpaintModelEntry`)."""
        from inpaint_anything.inpaint.diffusers_backend import HUB_MODELS

        return self.inpaint_catalog.entries(HUB_MODELS, self.models_dir / "diffusers", self.ckpt_dir)

    def inpaint_models(self) -> list[str]:
        """Names of the usable inpainting models (what the model dropdown offers): Hub ids, then local
        models by their name relative to their folder."""
        return [e.name for e in self.inpaint_model_entries() if e.usable]

    def resolve_inpaint_model(self, model: str) -> tuple[str, str]:
        """(source to load, name to show) for a model name, Hub id or local path. A listed name that cannot
        be used raises its reason (a 4xx error naming the file)."""
        from inpaint_anything.diffusion.catalog import find_entry

        entry = find_entry(self.inpaint_model_entries(), model)
        if entry is not None:
            if not entry.usable:
                raise entry.error()
            return (entry.path or entry.name), entry.name
        return model, ""

    def backend(self, kind: str, model: str = "", **options: Any):
        """An inpainting backend: ``diffusers`` (model = Hub id or local path), ``controlnet`` (any listed
        checkpoint + an inpaint ControlNet), ``cleaner`` (model = telea | ns | patchmatch | lama) or a
        registered one such as ``webui`` (:func:`~inpaint_anything.backend_factory.make_backend`)."""
        from inpaint_anything.backend_factory import make_backend

        return make_backend(self, kind, model, **options)

    def controlnet_models(self) -> list[str]:
        """Inpaint ControlNets for the ``controlnet`` backend: ``<models>/controlnet`` folders, then Hub ids."""
        from inpaint_anything.inpaint.controlnet import HUB_CONTROLNETS
        from inpaint_anything.inpaint.controlnet_backend import local_controlnets

        return [*local_controlnets(self.models_dir), *HUB_CONTROLNETS]

    # ------------------------------------------------------------------ text detectors
    def text_detector(self, detector_id: str):
        """The loaded text detector ``detector_id`` (from ``<models>/text-detectors/<id>``, offline);
        ModelNotFoundError saying how to get it when it is not downloaded."""
        from inpaint_anything.models.text_models import how_to_get, is_downloaded

        if self.settings.offline and not is_downloaded(self.models_dir, detector_id):
            raise OfflineError("Offline mode is on. " + how_to_get(self.models_dir, detector_id))
        with self.memory_guard(0, "loading the text detector"):
            return self.text_detectors.get(self.models_dir, detector_id)

    def download_text_detector(self, detector_id: str, *, progress=None, cancel=None) -> Path:
        """Download the detector's files into the models folder (OfflineError in offline mode)."""
        from inpaint_anything.models.text_models import download_detector

        return download_detector(self.models_dir, detector_id, offline=self.settings.offline, progress=progress, cancel=cancel)

    def unload_models(self) -> dict[str, int]:
        """Free every cached SAM model, pipeline and text detector (e.g. before the WebUI needs the VRAM)."""
        return {
            "sam": self.sam_cache.unload(None),
            "pipelines": self.pipelines.unload(None),
            "controlnets": self.controlnets.unload(),
            "text_detectors": self.text_detectors.unload(),
        }
