"""``modules.infotext_utils`` (v1.10.1 subset; alias ``modules.generation_parameters_copypaste``).

Registration of paste buttons is recorded (``registered_param_bindings``); the stand-in builds no
UI, so nothing is connected.
"""

from __future__ import annotations

import json
import re
import sys

from modules import shared

sys.modules["modules.generation_parameters_copypaste"] = sys.modules[__name__]

re_param_code = r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)'
re_param = re.compile(re_param_code)
re_imagesize = re.compile(r"^(\d+)x(\d+)$")


class ParamBinding:
    def __init__(
        self,
        paste_button,
        tabname,
        source_text_component=None,
        source_image_component=None,
        source_tabname=None,
        override_settings_component=None,
        paste_field_names=None,
    ):
        self.paste_button = paste_button
        self.tabname = tabname
        self.source_text_component = source_text_component
        self.source_image_component = source_image_component
        self.source_tabname = source_tabname
        self.override_settings_component = override_settings_component
        self.paste_field_names = paste_field_names or []


class PasteField(tuple):
    def __new__(cls, component, target, *, api=None):
        return super().__new__(cls, (component, target))

    def __init__(self, component, target, *, api=None):
        super().__init__()
        self.api = api
        self.component = component
        self.label = target if isinstance(target, str) else None
        self.function = target if callable(target) else None


paste_fields: dict[str, dict] = {}
registered_param_bindings: list[ParamBinding] = []


def reset():
    paste_fields.clear()
    registered_param_bindings.clear()


def quote(text):
    if "," not in str(text) and "\n" not in str(text) and ":" not in str(text):
        return text
    return json.dumps(text, ensure_ascii=False)


def unquote(text):
    if len(text) == 0 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        return json.loads(text)
    except Exception:  # noqa: BLE001
        return text


def add_paste_fields(tabname, init_img, fields, override_settings_component=None):
    if fields:
        fields = [PasteField(*x) if not isinstance(x, PasteField) else x for x in fields]
    paste_fields[tabname] = {"init_img": init_img, "fields": fields, "override_settings_component": override_settings_component}


def create_buttons(tabs_list):
    import gradio as gr

    return {tab: gr.Button(f"Send to {tab}", elem_id=f"{tab}_tab") for tab in tabs_list}


def register_paste_params_button(binding: ParamBinding):
    registered_param_bindings.append(binding)


def connect_paste_params_buttons():
    """The host wires the registered buttons into the demo; the stand-in has no demo."""


def parse_generation_parameters(x: str, skip_fields: list[str] | None = None):
    """Infotext -> dict: "Prompt", "Negative prompt" and every "Key: value" ("Size-1"/"Size-2")."""
    if skip_fields is None:
        skip_fields = shared.opts.infotext_skip_pasting
    res = {}
    prompt = ""
    negative_prompt = ""
    done_with_prompt = False
    *lines, lastline = x.strip().split("\n")
    if len(re_param.findall(lastline)) < 3:
        lines.append(lastline)
        lastline = ""
    for line in lines:
        line = line.strip()
        if line.startswith("Negative prompt:"):
            done_with_prompt = True
            line = line[16:].strip()
        if done_with_prompt:
            negative_prompt += ("" if negative_prompt == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line
    for k, v in re_param.findall(lastline):
        if v and v[0] == '"' and v[-1] == '"':
            v = unquote(v)
        m = re_imagesize.match(v)
        if m is not None:
            res[f"{k}-1"] = m.group(1)
            res[f"{k}-2"] = m.group(2)
        else:
            res[k] = v
    res["Prompt"] = prompt
    res["Negative prompt"] = negative_prompt
    res.setdefault("Clip skip", "1")
    res.setdefault("Hires resize-1", "0")
    res.setdefault("Hires resize-2", "0")
    res.setdefault("Schedule type", "Automatic")
    for key in skip_fields:
        res.pop(key, None)
    return res


infotext_to_setting_name_mapping = [("VAE Encoder", "sd_vae_encode_method"), ("VAE Decoder", "sd_vae_decode_method")]


def create_override_settings_dict(text_pairs):
    """['Clip skip: 2', ...] -> {'CLIP_stop_at_last_layers': 2, ...} via the options' infotext names."""
    res = {}
    params = {}
    for pair in text_pairs:
        k, v = pair.split(":", maxsplit=1)
        params[k] = v.strip()
    mapping = [(info.infotext, k) for k, info in shared.opts.data_labels.items() if info.infotext]
    for param_name, setting_name in mapping + infotext_to_setting_name_mapping:
        value = params.get(param_name)
        if value is None:
            continue
        res[setting_name] = shared.opts.cast_value(setting_name, value)
    return res
