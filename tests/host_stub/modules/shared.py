"""``modules.shared`` (v1.10.1): global objects (opts, state, cmd_opts, sd_model, paths).

As in the host, ``shared.sd_model`` is a property backed by ``sd_models.model_data``.
"""

from __future__ import annotations

import os
import sys
import types

from modules import _stub_flavour, devices, options, shared_cmd_options, shared_options
from modules.paths_internal import (  # noqa: F401
    data_path,
    default_sd_model_file,
    extensions_builtin_dir,
    extensions_dir,
    models_path,
    script_path,
    sd_configs_path,
    sd_default_config,
    sd_model_file,
)

cmd_opts = shared_cmd_options.cmd_opts
parser = shared_cmd_options.parser

batch_cond_uncond = True
parallel_processing_allowed = True
styles_filename = cmd_opts.styles_file = (
    cmd_opts.styles_file if len(cmd_opts.styles_file) > 0 else [os.path.join(data_path, "styles.csv")]
)
config_filename = cmd_opts.ui_settings_file
hide_dirs = {"visible": not cmd_opts.hide_ui_dir_config}

demo = None
device = devices.device
weight_load_location = None
xformers_available = False
if _stub_flavour.FORGE:  # Forge's shared imports its memory manager first thing
    from backend import memory_management

    xformers_available = memory_management.xformers_enabled()
hypernetworks: dict = {}
loaded_hypernetworks: list = []
interrogator = None
face_restorers: list = []
settings_components = None
tab_names: list = []
sd_upscalers: list = []
clip_model = None
progress_print_out = sys.stdout
gradio_theme = None
hf_endpoint = os.getenv("HF_ENDPOINT", "https://huggingface.co")

latent_upscale_default_mode = "Latent"
latent_upscale_modes = {
    "Latent": {"mode": "bilinear", "antialias": False},
    "Latent (antialiased)": {"mode": "bilinear", "antialias": True},
    "Latent (bicubic)": {"mode": "bicubic", "antialias": False},
    "Latent (bicubic antialiased)": {"mode": "bicubic", "antialias": True},
    "Latent (nearest)": {"mode": "nearest", "antialias": False},
    "Latent (nearest-exact)": {"mode": "nearest-exact", "antialias": False},
}

options_section = options.options_section
OptionInfo = options.OptionInfo
OptionHTML = options.OptionHTML

options_templates: dict = shared_options.options_templates
restricted_opts: set = shared_options.restricted_opts
opts: options.Options = options.Options(options_templates, restricted_opts)
if os.path.exists(config_filename):
    opts.load(config_filename)


class _StyleDatabase:
    """The stand-in has no styles: prompts pass through unchanged."""

    styles: dict = {}

    def apply_styles_to_prompt(self, prompt, styles):
        return prompt

    def apply_negative_styles_to_prompt(self, prompt, styles):
        return prompt

    def get_style_prompts(self, styles):
        return []

    def extract_styles_from_prompt(self, prompt, negative_prompt):
        return [], prompt, negative_prompt


class _TotalTQDM:
    def reset(self):
        pass

    def update(self):
        pass

    def updateTotal(self, new_total):  # noqa: N802 - host name
        pass

    def clear(self):
        pass


class _MemMon:
    disabled = True

    def monitor(self):
        pass

    def stop(self):
        return {}


prompt_styles = _StyleDatabase()
total_tqdm = _TotalTQDM()
mem_mon = _MemMon()

from modules import shared_state  # noqa: E402 - needs the names above

state = shared_state.State()


def natural_sort_key(s, regex=None):
    import re

    regex = regex or re.compile(r"([0-9]+)")
    return [int(text) if text.isdigit() else text.lower() for text in regex.split(s)]


def listfiles(dirname):
    filenames = [os.path.join(dirname, x) for x in sorted(os.listdir(dirname), key=natural_sort_key) if not x.startswith(".")]
    return [file for file in filenames if os.path.isfile(file)]


def walk_files(path, allowed_extensions=None):
    if not os.path.exists(path):
        return
    allowed = set(allowed_extensions) if allowed_extensions is not None else None
    for root, _, files in os.walk(path, followlinks=True):
        for filename in sorted(files, key=natural_sort_key):
            if allowed is not None and os.path.splitext(filename)[1].lower() not in allowed:
                continue
            yield os.path.join(root, filename)


def list_checkpoint_tiles(use_short=False):
    from modules import sd_models

    return sd_models.checkpoint_tiles(use_short)


def refresh_checkpoints():
    from modules import sd_models

    sd_models.list_models()


def list_samplers():
    from modules import sd_samplers

    return sd_samplers.all_samplers


class _Shared(types.ModuleType):
    """Module class with the host's ``sd_model`` property (modules/shared_items.py in v1.10.1)."""

    @property
    def sd_model(self):
        from modules import sd_models

        return sd_models.model_data.get_sd_model()

    @sd_model.setter
    def sd_model(self, value):
        from modules import sd_models

        sd_models.model_data.set_sd_model(value)


sys.modules[__name__].__class__ = _Shared
