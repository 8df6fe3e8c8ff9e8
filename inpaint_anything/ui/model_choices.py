"""What the tab's model dropdowns list and say: SAM models (labels with size and state, the default,
hints, refresh and download), inpainting models and ControlNet; gradio-free (updates through
:mod:`inpaint_anything.ui.compat`). :class:`~inpaint_anything.ui.handlers.Controller` builds on it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from inpaint_anything.ui.messages import error_message, message, warning


class ModelChoices:
    """The model dropdowns' state for one tab: the label -> id map (gradio 3 sends labels) and
    whether a download found the network unreachable (messages then say "offline")."""

    def __init__(self, app: Any, hooks: Any):
        self.app = app
        self.hooks = hooks  # ui.handlers.HostHooks
        self._sam_labels: dict[str, str] = {}  # dropdown label -> model id
        self._lock = threading.Lock()
        self.contact_failed = False

    def sam_choices(self) -> list[tuple[str, str]]:
        """``(label, id)`` pairs for the SAM dropdown (labels are remembered for :meth:`sam_id`).
        A label says the file size and whether the file is downloaded and verified; on a CPU the
        light models come first and the slow ones say so."""
        from inpaint_anything.ui.defaults import dropdown_sams, sam_on_cpu
        from inpaint_anything.ui.labels import sam_label

        on_cpu = sam_on_cpu(self.app)
        out = [(sam_label(m, on_cpu), m.id) for m in dropdown_sams(self.app)]
        with self._lock:
            self._sam_labels.update(out)
        return out

    def sam_dropdown(self, model_id: str | None) -> Any:
        """An update of the SAM dropdown with fresh labels, keeping ``model_id`` selected."""
        from inpaint_anything.ui import compat

        pairs = self.sam_choices()
        ids = [v for _, v in pairs]
        value = compat.choice_value(model_id, pairs) if model_id in ids else compat.choice_value(self.default_sam(), pairs)
        return compat.update(choices=compat.choices(pairs), value=value)

    def sam_id(self, value: str | None) -> str | None:
        """The model id for a dropdown value: gradio 3 sends the shown label, gradio 4 the id."""
        with self._lock:
            return self._sam_labels.get(value, value) if isinstance(value, str) else value

    def default_sam(self) -> str | None:
        """A SAM model whose file is here (the configured default first), else the configured default."""
        from inpaint_anything.ui.defaults import default_sam

        return default_sam(self.app)

    def offline(self) -> bool:
        from inpaint_anything.ui.defaults import is_offline

        return is_offline(self.app, self.contact_failed)

    def sam_hint(self) -> str:
        """The line under the SAM dropdown (how to get a model; empty when one is here)."""
        from inpaint_anything.ui.defaults import sam_hint

        text = sam_hint(self.app, self.offline())
        return warning(text) if text else ""

    def inpaint_hint(self) -> str:
        from inpaint_anything.ui.defaults import inpaint_hint

        text = inpaint_hint(self.app, self.offline(), hosted=bool(self.hooks.extra_backends))
        return message(text) if text else ""

    def controlnet_switch(self) -> tuple[str, str]:
        """(backend the "ControlNet inpaint" choice runs, backend it stands in for): hosted, the WebUI
        checkpoint button runs with the host's ControlNet; standalone, the Inpaint button runs the chosen
        checkpoint (inpainting or not) with an inpaint ControlNet."""
        return ("webui_controlnet", "webui") if self.hooks.controlnet_status else ("controlnet", "diffusers")

    def controlnet_unavailable(self) -> str | None:
        """None when ControlNet inpaint can run here, else why not and what to do."""
        if self.hooks.controlnet_status:
            return self.hooks.controlnet_status()
        from inpaint_anything.ui.defaults import controlnet_unavailable

        return controlnet_unavailable(self.app, self.offline())

    def controlnet_models(self) -> list[str]:
        """The inpaint ControlNets the model dropdown offers (the host's, or ours and the Hub's)."""
        return list(self.hooks.controlnet_models()) if self.hooks.controlnet_models else self.app.controlnet_models()

    def controlnet_base_models(self) -> list[str]:
        """Checkpoints ControlNet inpaint starts from: the inpainting models and the ordinary ones."""
        from inpaint_anything.inpaint.controlnet_backend import base_model_names

        return base_model_names(self.app.inpaint_model_entries())

    def _label_of(self, model_id: str | None) -> str:
        """A short name of a SAM model id for the editor's status line."""
        if not model_id:
            return ""
        with self._lock:
            label = next((lab for lab, mid in self._sam_labels.items() if mid == model_id), model_id)
        return label.split(" \u00b7 ")[0]

    def refresh_sam(self, sam_model: str | None, selector: str) -> tuple[Any, Any, str]:
        """🔄 beside the SAM dropdown: rescan the models folder -> (dropdown, "Select with", hint).
        When the chosen model has no file but another one now does, that one is chosen and
        "Select with" becomes Segment Anything."""
        from inpaint_anything.ui.defaults import SEGMENT_ANYTHING, ready_sams

        current = self.sam_id(sam_model)
        ready = [m.id for m in ready_sams(self.app)]
        chosen = current if current in ready or not ready else self.default_sam()
        if ready and current not in ready:
            selector = SEGMENT_ANYTHING
        return self.sam_dropdown(chosen), selector, self.sam_hint()

    def refresh_inpaint(
        self, model: str | None, outpaint_backend: str, prefill_label: str, model_label: str
    ) -> tuple[Any, Any, str]:
        """🔄 beside the inpainting model: rescan -> (model dropdown, Outpaint "Generate with", hint)."""
        from inpaint_anything.ui import compat
        from inpaint_anything.ui.defaults import inpaint_choices, inpaint_model_ready

        choices = inpaint_choices(self.app)
        present = [m for m in choices if inpaint_model_ready(m, self.app)]
        value = model if model and (inpaint_model_ready(model, self.app) or not present) else (present or choices or [None])[0]
        if present and outpaint_backend == prefill_label:
            outpaint_backend = model_label
        return compat.update(choices=choices, value=value), outpaint_backend, self.inpaint_hint()

    def download_sam(self, sam_model: str, selector: str, progress: Any = None) -> tuple[Any, Any, str, str]:
        """Download the chosen model -> (SAM dropdown, "Select with", hint, status). The dropdown's
        labels are refreshed after success and failure alike, and the model stays selected."""
        sam_model = self.sam_id(sam_model)

        def report(done: int, total: int) -> None:
            if progress is not None and total:
                progress(done / total, desc=f"downloading {sam_model}")

        from inpaint_anything.errors import DownloadError, OfflineError
        from inpaint_anything.ui.defaults import SEGMENT_ANYTHING

        try:
            path = self.app.sam_model_path(sam_model, download=True, progress=report)
            text = message(f"Ready: {path.name}. “Select with” is now Segment Anything.")
            selector = SEGMENT_ANYTHING
        except Exception as exc:  # shown in the status; the labels may still have changed (a file moved aside)
            if isinstance(exc, (DownloadError, OfflineError)):
                self.contact_failed = True
            text = error_message(exc)
        return self.sam_dropdown(sam_model), selector, self.sam_hint(), text

    def _diffusers(self, model: str):
        """The diffusers backend for ``model``, or a readable reason why it cannot run here."""
        from inpaint_anything.errors import UnavailableError
        from inpaint_anything.ui.defaults import inpaint_unavailable

        why = inpaint_unavailable(model, self.app.models_dir / "diffusers", self.offline(), self.app)
        if why:
            raise UnavailableError(why)
        return self.app.backend("diffusers", model)

    @contextlib.contextmanager
    def _readable_downloads(self, kind: str, model: str) -> Iterator[None]:
        """A Hub download that fails becomes a message with what to do instead (no raw HF error)."""
        from inpaint_anything.errors import DownloadError, OfflineError, UnavailableError
        from inpaint_anything.ui.defaults import download_failed

        try:
            yield
        except (DownloadError, OfflineError) as exc:
            if kind not in ("diffusers", "controlnet"):
                raise
            self.contact_failed = True
            raise UnavailableError(download_failed(model, exc) if isinstance(exc, DownloadError) else str(exc)) from exc
