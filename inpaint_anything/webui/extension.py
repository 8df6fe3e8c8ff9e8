"""Callback registration for the WebUI (called from scripts/inpaint_anything_tab.py at import)."""

from __future__ import annotations


def register() -> None:
    """Register settings now and the host callbacks; nothing heavy happens here."""
    from modules import script_callbacks

    from inpaint_anything.webui import settings

    settings.register_templates()
    script_callbacks.on_ui_settings(settings.on_ui_settings)
