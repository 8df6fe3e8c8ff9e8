"""The Settings section in the WebUI stand-in: searchable by the extension's name, readable
descriptions, a dropdown of SAM models by display name, whole-number count inputs (both stacks)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def search_text(info) -> str:
    """What the host's Settings search matches for one entry: its element's textContent, i.e. the label
    plus the comments the host inserts with innerHTML (ui_settings_hints.js)."""
    parser = _Text()
    parser.feed(f"{info.comment_before or ''} {info.label} {info.comment_after or ''}")
    return " ".join(parser.parts)


def host_component(shared, key):
    """Build the entry's component as the host's create_setting_component does."""
    import gradio as gr

    info = shared.opts.data_labels[key]
    args = info.component_args() if callable(info.component_args) else info.component_args
    comp = info.component or {str: gr.Textbox, int: gr.Number, bool: gr.Checkbox}[type(info.default)]
    value = shared.opts.data.get(key, info.default)
    with gr.Blocks(analytics_enabled=False):
        return comp(label=info.label, value=value, elem_id=f"setting_{key}", **(args or {}))


@pytest.mark.both_stacks
def test_every_entry_is_found_by_the_extension_name(any_webui_host):
    any_webui_host.load_extension()
    labels = any_webui_host.shared.opts.data_labels
    ours = {k: v for k, v in labels.items() if v.section[0] == "inpaint_anything"}
    assert len(ours) >= 10
    for key, info in ours.items():
        assert "inpaint anything" in search_text(info).lower(), key
    # the description of the models folder survives the host's innerHTML (not "default: /inpaint_anything")
    text = search_text(labels["ia_models_dir"])
    assert "<WebUI models>/inpaint_anything" in text, text


@pytest.mark.both_stacks
def test_default_sam_model_is_a_dropdown_of_display_names(any_webui_host):
    import gradio as gr

    from inpaint_anything.webui import settings

    any_webui_host.load_extension()
    shared = any_webui_host.shared
    comp = host_component(shared, "ia_default_sam_model")
    assert isinstance(comp, gr.Dropdown)
    config = comp.get_config()
    shown = [c[0] if isinstance(c, (list, tuple)) else c for c in config["choices"]]
    assert "SAM ViT-B" in shown and "MobileSAM" in shown and "sam_vit_b" not in shown
    assert settings.current().default_sam_model == "sam_vit_b"
    # what the dropdown hands back when the user picks MobileSAM, stored by the host, read back as the id
    picked = comp.preprocess("MobileSAM" if int(gr.__version__.split(".")[0]) < 4 else "mobile_sam")
    assert shared.opts.same_type(picked, shared.opts.data_labels["ia_default_sam_model"].default)
    shared.opts.set("ia_default_sam_model", picked)
    assert settings.current().default_sam_model == "mobile_sam"
    shared.opts.set("ia_default_sam_model", "sam_hq_vit_b")  # an id set through /sdapi/v1/options works too
    assert settings.current().default_sam_model == "sam_hq_vit_b"


@pytest.mark.both_stacks
def test_counts_are_whole_number_inputs(any_webui_host):
    import gradio as gr

    from inpaint_anything.webui import settings

    any_webui_host.load_extension()
    shared = any_webui_host.shared
    counts = [k for k, v in shared.opts.data_labels.items() if k.startswith("ia_") and type(v.default) is int]
    assert {"ia_max_image_pixels", "ia_sam_models_in_memory", "ia_pipelines_in_memory"} <= set(counts)
    for key in counts:
        comp = host_component(shared, key)
        assert isinstance(comp, gr.Number) and comp.precision == 0, key
        value = comp.preprocess(3.0)
        assert value == 3 and isinstance(value, int)
    shared.opts.set("ia_sam_models_in_memory", comp.preprocess(2.0))
    assert settings.current().sam_models_in_memory == 2
    assert isinstance(host_component(shared, "ia_sam_device"), gr.Radio)
