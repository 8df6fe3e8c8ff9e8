"""Registers the "Inpaint Anything" Settings section and reads effective settings.

Options are added to ``shared.options_templates`` when this module is imported (so they also exist
under ``--nowebui`` where on_ui_settings never fires) and again through on_ui_settings for hosts
that lack the templates dict. Command-line ``--ia-*`` flags win over stored values.

What the Settings page shows:

- every label starts with "Inpaint Anything: " - the host's Settings search matches the text of each
  entry (label and comments), not the section name, so searching the extension's name finds them all;
- descriptions are HTML-escaped (the host inserts comments with innerHTML: ``<WebUI models>`` would
  vanish as an unknown tag);
- "Default SAM model" is a dropdown of the catalogue's models by display name (gradio 4: label shown,
  id stored; gradio 3.41, which has no (label, value) choices: the label is stored and mapped back to
  the id here), count settings are whole-number inputs.
gradio is imported only inside the functions (the host has imported it long before).
"""

from __future__ import annotations

import html

from inpaint_anything.config import OPTIONS, SAM_DEVICES, Settings, settings_from

SECTION = ("inpaint_anything", "Inpaint Anything")
LABEL_PREFIX = "Inpaint Anything: "
# every whole-number setting (counts, sizes, minutes; all at least 1): a number input without decimals
COUNT_KEYS = tuple(o.key for o in OPTIONS if isinstance(o.default, int) and not isinstance(o.default, bool))


def sam_model_choices() -> list[tuple[str, str]]:
    """(display name, id) of every catalogue SAM model."""
    from inpaint_anything.models.catalogue import CATALOGUE

    return [(entry.title, entry.id) for entry in CATALOGUE]


def sam_model_id(value: object) -> object:
    """The model id for a stored "Default SAM model": an id, or a display name (gradio 3 stores those)."""
    if not isinstance(value, str):
        return value
    by_label = dict(sam_model_choices())
    return by_label.get(value, value)


def _labels_stored() -> bool:
    """gradio 3.41's Dropdown has no (label, value) choices: the label itself is the stored value."""
    from inpaint_anything.webui import compat

    return compat.gradio_major() < 4


def _sam_dropdown_args() -> dict:
    choices = sam_model_choices()
    shown = [label for label, _ in choices] if _labels_stored() else choices
    return {"choices": shown, "allow_custom_value": True}  # a file id set through the API stays valid


def _component(opt):
    """(component, component_args, default) for the Settings page; (None, None, default) = the host's own pick."""
    import gradio as gr

    if opt.key == "default_sam_model":
        default = opt.default
        if _labels_stored():
            default = {model_id: label for label, model_id in sam_model_choices()}.get(default, default)
        return gr.Dropdown, _sam_dropdown_args, default
    if opt.key in COUNT_KEYS:
        return gr.Number, {"precision": 0, "minimum": 1}, opt.default
    if opt.choices:
        return gr.Radio, {"choices": list(opt.choices)}, opt.default
    return None, None, opt.default


def _option_info(opt):
    from modules import shared

    component, args, default = _component(opt)
    info = shared.OptionInfo(default, LABEL_PREFIX + opt.label, component, args, section=SECTION)
    return info.info(html.escape(opt.help)) if hasattr(info, "info") else info


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
    values["default_sam_model"] = sam_model_id(values.get("default_sam_model"))
    for key in COUNT_KEYS:  # gr.Number may hand back a float
        if isinstance(values.get(key), float) and values[key].is_integer():
            values[key] = int(values[key])
    return settings_from(values, getattr(shared, "cmd_opts", None))


def models_root() -> str | None:
    """The WebUI's models folder, where our default models folder lives."""
    from modules import shared

    return getattr(shared, "models_path", None) or getattr(getattr(shared, "cmd_opts", None), "models_dir", None)
