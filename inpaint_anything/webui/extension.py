"""Callback registration for the WebUI (called from scripts/inpaint_anything_tab.py at import).

Nothing heavy happens at import or registration: the :class:`~inpaint_anything.app.App` (caches,
models folder) is created on first use, by the tab builder or the first API call.
"""

from __future__ import annotations

import threading
from typing import Any

IMG2IMG_INPAINT_UPLOAD = ("img_inpaint_base", "img_inpaint_mask")
SWITCH_TO_INPAINT_UPLOAD_JS = "() => { if (typeof switch_to_img2img_tab === 'function') switch_to_img2img_tab(4); }"
EXTRAS_IMAGE = "extras_image"  # the Extras tab's "Single Image" input (ui_postprocessing.py)
# Our own JS shows the tabs holding extras_image (Extras > Single Image) whatever the tab order; the
# host's switch_to_extras() (a fixed tab index) is the fallback.
SWITCH_TO_EXTRAS_JS = (
    "() => { const ia = window.InpaintAnything; if (ia && ia.reveal && ia.reveal('extras_image')) return;"
    " if (typeof switch_to_extras === 'function') switch_to_extras(); }"
)
# Result rows (ui_common.create_output_panel: row "image_buttons_<tab>") that get our send button,
# created right after the host's last send button of the row, "<tab>_send_to_extras".
SEND_SOURCE_TABS = ("txt2img", "img2img")
SEND_BUTTON_LABEL = "\U0001fa84"  # magic wand, like the host's emoji tool buttons (tooltip set by our JS)


class WebuiExtension:
    """The extension's state inside one WebUI process: the App and captured host components."""

    def __init__(self) -> None:
        self._app = None
        self._lock = threading.Lock()
        self.components: dict[str, Any] = {}
        self.send_buttons: dict[str, Any] = {}  # source tab -> our button in its result row

    # ------------------------------------------------------------------ the core
    def app(self):
        from inpaint_anything.app import App
        from inpaint_anything.webui import settings

        with self._lock:
            if self._app is None:
                from inpaint_anything.webui import jobs, memory

                self._app = App(settings.current(), host_models_root=settings.models_root())
                self._app.register_backend("webui", self._webui_backend)
                self._app.register_backend("webui_controlnet", self._webui_controlnet_backend)
                memory.install(self._app)  # our SAM / diffusers work moves the checkpoint out only when VRAM is short
                self._app.set_job_scope(jobs.background_scope)  # background SAM encodes wait for the queue
            return self._app

    @staticmethod
    def _webui_backend(model: str = "", **options: Any):
        from inpaint_anything.webui.backend import WebuiCheckpointBackend

        return WebuiCheckpointBackend(native_override=int(options.get("native_size", 0) or 0))

    @staticmethod
    def _webui_controlnet_backend(model: str = "", **options: Any):
        from inpaint_anything.inpaint.controlnet import ControlNetOptions
        from inpaint_anything.webui.controlnet import WebuiControlNetBackend

        opts = options.get("controlnet") or {}
        opts = opts if isinstance(opts, ControlNetOptions) else ControlNetOptions.from_dict(opts)
        return WebuiControlNetBackend(native_override=int(options.get("native_size", 0) or 0), options=opts)

    # ------------------------------------------------------------------ callbacks
    def on_after_component(self, component, **kwargs) -> None:
        elem_id = kwargs.get("elem_id")
        if elem_id in IMG2IMG_INPAINT_UPLOAD or elem_id == EXTRAS_IMAGE:
            self.components[elem_id] = component
        elif isinstance(elem_id, str) and elem_id.endswith("_send_to_extras"):
            source = elem_id[: -len("_send_to_extras")]
            if source in SEND_SOURCE_TABS:
                # still inside the host's button row: our button lands next to its send buttons
                self.send_buttons[source] = _tool_button(SEND_BUTTON_LABEL, f"{source}_send_to_inpaint_anything")

    def hooks(self):
        from inpaint_anything.ui.handlers import HostHooks
        from inpaint_anything.webui import backend, controlnet, jobs, saving

        targets = None
        if all(k in self.components for k in IMG2IMG_INPAINT_UPLOAD):
            targets = tuple(self.components[k] for k in IMG2IMG_INPAINT_UPLOAD)
        samplers, schedulers = _host_sampler_names()
        return HostHooks(
            extra_backends=[("WebUI checkpoint", "webui")],
            checkpoint_hint=backend.checkpoint_hint,
            soft_inpainting=backend.soft_inpainting_status,
            job_context=jobs.queued_job,
            save=saving.save_result,
            img2img_targets=targets,
            img2img_switch_js=SWITCH_TO_INPAINT_UPLOAD_JS,
            extras_target=self.components.get(EXTRAS_IMAGE),
            extras_switch_js=SWITCH_TO_EXTRAS_JS,
            send_buttons=list(self.send_buttons.items()),
            samplers=samplers,
            schedulers=schedulers,
            controlnet_status=controlnet.status,
            controlnet_models=controlnet.inpaint_models,
        )

    def on_ui_tabs(self):
        from inpaint_anything.ui.tab import build_tab

        return [(build_tab(self.app(), self.hooks()), "Inpaint Anything", "inpaint_anything")]

    def on_app_started(self, demo, fastapi_app) -> None:
        """Mount the REST API when the WebUI serves its own API (--api, or --nowebui)."""
        from modules import shared

        opts = getattr(shared, "cmd_opts", None)
        if not (getattr(opts, "api", False) or getattr(opts, "nowebui", False)):
            return
        from inpaint_anything.api.routes import build_router
        from inpaint_anything.webui import jobs, saving

        fastapi_app.include_router(
            build_router(
                self.app(),
                auth_dependency=_api_auth_dependency(opts),
                job_factory=jobs.queued_job,
                save=saving.save_result,
                output_folder=saving.output_folder,
            )
        )


def _tool_button(label: str, elem_id: str):
    """A button styled like the host's emoji tool buttons (its ToolButton), else a small gr.Button."""
    try:
        from modules.ui_components import ToolButton

        return ToolButton(label, elem_id=elem_id)
    except ImportError:
        import gradio as gr

        return gr.Button(label, elem_id=elem_id, elem_classes=["tool"], size="sm")


def _host_sampler_names() -> tuple[list[str] | None, list[str] | None]:
    """Sampler / schedule names the host offers, limited to those our diffusers mapping knows."""
    from inpaint_anything.diffusion.schedulers import SAMPLERS_BY_NAME

    samplers = schedulers = None
    try:
        from modules import sd_samplers

        names = [s.name for s in getattr(sd_samplers, "samplers_for_img2img", [])]
        samplers = [n for n in names if n.lower() in SAMPLERS_BY_NAME] or None
    except ImportError:
        pass
    try:
        from modules import sd_schedulers

        schedulers = [s.label for s in getattr(sd_schedulers, "schedulers", [])] or None
    except ImportError:
        pass
    return samplers, schedulers


def _api_auth_dependency(cmd_opts):
    """HTTP Basic auth with the --api-auth credentials, as the WebUI's own API uses (None if unset)."""
    creds_text = getattr(cmd_opts, "api_auth", None)
    if not creds_text:
        return None
    from inpaint_anything.server import basic_auth_dependency

    return basic_auth_dependency(creds_text)


def register() -> None:
    """Register settings now and the host callbacks; nothing heavy happens here."""
    from modules import script_callbacks

    from inpaint_anything.webui import settings

    ext = WebuiExtension()
    settings.register_templates()
    script_callbacks.on_ui_settings(settings.on_ui_settings)
    script_callbacks.on_after_component(ext.on_after_component)
    script_callbacks.on_ui_tabs(ext.on_ui_tabs)
    script_callbacks.on_app_started(ext.on_app_started)
