"""Registers the "Inpaint Anything" Settings section and reads effective settings.

Options are added to ``shared.options_templates`` when this module is imported (so they also exist
under ``--nowebui`` where on_ui_settings never fires) and again through on_ui_settings for hosts
that lack the templates dict. Command-line ``--ia-*`` flags win over stored values.
"""

from __future__ import annotations

from inpaint_anything.config import OPTIONS, SAM_DEVICES, Settings, settings_from

SECTION = ("inpaint_anything", "Inpaint Anything")


def _option_info(opt):
    from modules import shared

    if opt.choices:
        import gradio as gr

        info = shared.OptionInfo(opt.default, opt.label, gr.Radio, {"choices": list(opt.choices)}, section=SECTION)
    else:
        info = shared.OptionInfo(opt.default, opt.label, section=SECTION)
    return info.info(opt.help) if hasattr(info, "info") else info


def option_infos() -> dict:
    """{opts key: OptionInfo} for every setting."""
    return {opt.opts_key: _option_info(opt) for opt in OPTIONS}


def register_templates() -> bool:
    """Add the options to shared.options_templates (works without the UI). Returns False if unsupported."""
    from modules import shared

    from inpaint_anything.webui import compat

    if not compat.has_options_templates():
        return False
    shared.options_templates.update(shared.options_section(SECTION, option_infos()))
    return True


def on_ui_settings() -> None:
    """on_ui_settings callback: add any option the templates did not already provide."""
    from modules import shared

    for key, info in option_infos().items():
        if key not in shared.opts.data_labels:
            shared.opts.add_option(key, info)


def current() -> Settings:
    """Effective settings: shared.opts values overridden by --ia-* flags."""
    from modules import shared

    values = {opt.key: getattr(shared.opts, opt.opts_key, opt.default) for opt in OPTIONS}
    if values.get("sam_device") not in SAM_DEVICES:
        values["sam_device"] = "auto"
    return settings_from(values, getattr(shared, "cmd_opts", None))


def models_root() -> str | None:
    """The WebUI's models folder, where our default models folder lives."""
    from modules import shared

    return getattr(shared, "models_path", None) or getattr(getattr(shared, "cmd_opts", None), "models_dir", None)
