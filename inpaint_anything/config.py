"""Settings shared by the WebUI (Settings page + ``--ia-*`` flags) and the standalone app (flags).

One table, :data:`OPTIONS`, describes every setting: its key, type, default, label and command-line
flag. The WebUI adapter registers the same table as Settings entries; ``preload.py`` and the
standalone launcher add the same flags. A flag given on the command line wins over the Settings page.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

SAM_DEVICES = ("auto", "cuda", "mps", "cpu")


@dataclass(frozen=True)
class Option:
    """One setting: ``key`` is the field of :class:`Settings` and the suffix of flag/opts names."""

    key: str
    default: Any
    label: str
    help: str
    choices: tuple[str, ...] | None = None
    flag: bool = True  # exposed as --ia-<key with dashes>

    @property
    def flag_name(self) -> str:
        return "--ia-" + self.key.replace("_", "-")

    @property
    def opts_key(self) -> str:
        """Key in the WebUI's shared.opts."""
        return "ia_" + self.key


OPTIONS: tuple[Option, ...] = (
    Option(
        "models_dir",
        "",
        "Models folder",
        "Folder for SAM and inpainting model files (default: <WebUI models>/inpaint_anything, or ~/.cache/inpaint-anything/models standalone).",
    ),
    Option(
        "ckpt_dir",
        "",
        "WebUI checkpoints folder for the diffusers backend",
        "A WebUI models/Stable-diffusion folder whose single-file checkpoints (.safetensors/.ckpt, subfolders "
        "included) are listed as inpainting models of the diffusers backend, so both apps share one copy.",
    ),
    Option("sam_device", "auto", "SAM device", "Device for Segment Anything: auto, cuda, mps or cpu.", SAM_DEVICES),
    Option(
        "remove_device",
        "auto",
        "Object removal device",
        "Device for the learned removers (LaMa, MI-GAN): auto (the GPU when there is one), cuda, mps or cpu.",
        SAM_DEVICES,
    ),
    Option(
        "offline",
        False,
        "Offline mode (never download; say which file to put where)",
        "Never touch the network; missing model files are reported with the path to put them at.",
    ),
    Option("default_sam_model", "sam_vit_b", "Default SAM model", "Model id selected when the tab opens."),
    Option(
        "hover_preview",
        "auto",
        "Hover preview of the Click tool",
        "Outline the object under the pointer before clicking: auto (on while a mask takes under 60 ms here), on, or off.",
        ("auto", "on", "off"),
    ),
    Option(
        "output_dir",
        "",
        "Output folder",
        "Folder for results (empty: the WebUI's img2img output folder, or ./outputs standalone).",
    ),
    Option("save_masks", False, "Save masks next to results", "Also save the mask PNG with every result."),
    Option(
        "max_image_pixels",
        48_000_000,
        "Largest image accepted (pixels)",
        "Images with more pixels are refused with a clear message.",
    ),
    Option(
        "sam_models_in_memory",
        1,
        "SAM models kept in memory",
        "How many loaded SAM models stay cached (least recently used are unloaded).",
    ),
    Option("pipelines_in_memory", 1, "Inpainting pipelines kept in memory", "How many diffusers pipelines stay cached."),
    Option(
        "session_memory_mb",
        8192,
        "Memory for sessions (MB)",
        "Images, masks, SAM embeddings and results of all browser tabs and API sessions together. When it is "
        "full, the least recently used session is dropped and told so (HTTP 410, or a message in the tab).",
    ),
    Option(
        "results_per_session",
        16,
        "Results kept per session",
        "Older results of a session are dropped first (files already saved stay on disk).",
    ),
    Option(
        "task_result_minutes",
        60,
        "Keep finished API task results (minutes)",
        "Results of asynchronous API tasks are forgotten this long after the task finished.",
    ),
    Option(
        "max_request_mb",
        64,
        "Largest API request (MB)",
        "Bodies over this size are refused with HTTP 413 before they are read (only this extension's routes).",
    ),
    Option(
        "allowed_origins",
        "",
        "Allowed origins for the API (comma-separated)",
        "Web pages of other sites may not call this extension's API (HTTP 403); list the origins that may, "
        "e.g. http://localhost:3000, or * for any.",
    ),
    Option(
        "offload_host_model",
        True,
        "Move the WebUI model to the CPU when VRAM is short",
        "WebUI only: before SAM or a diffusers model needs more VRAM than is free, move the WebUI's checkpoint to the "
        "CPU, and back to the GPU afterwards (no reload from disk). Off: never touch the WebUI's model.",
    ),
)

OPTIONS_BY_KEY = {o.key: o for o in OPTIONS}


@dataclass
class Settings:
    """Effective settings of a running instance (hosted or standalone)."""

    models_dir: str = ""
    ckpt_dir: str = ""
    sam_device: str = "auto"
    remove_device: str = "auto"
    offline: bool = False
    default_sam_model: str = "sam_vit_b"
    hover_preview: str = "auto"
    output_dir: str = ""
    save_masks: bool = False
    max_image_pixels: int = 48_000_000
    sam_models_in_memory: int = 1
    pipelines_in_memory: int = 1
    session_memory_mb: int = 8192
    results_per_session: int = 16
    task_result_minutes: int = 60
    max_request_mb: int = 64
    allowed_origins: str = ""
    offload_host_model: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def validated(self) -> Settings:
        from inpaint_anything.errors import InvalidInputError

        if self.sam_device not in SAM_DEVICES:
            raise InvalidInputError(f"SAM device must be one of {', '.join(SAM_DEVICES)}, not {self.sam_device!r}.")
        if self.remove_device not in SAM_DEVICES:
            raise InvalidInputError(f"Object removal device must be one of {', '.join(SAM_DEVICES)}, not {self.remove_device!r}.")
        if self.hover_preview not in ("auto", "on", "off"):
            raise InvalidInputError(f"Hover preview must be auto, on or off, not {self.hover_preview!r}.")
        for name in (
            "max_image_pixels",
            "sam_models_in_memory",
            "pipelines_in_memory",
            "session_memory_mb",
            "results_per_session",
            "task_result_minutes",
            "max_request_mb",
        ):
            if int(getattr(self, name)) < 1:
                raise InvalidInputError(f"{OPTIONS_BY_KEY[name].label} must be at least 1.")
        return self

    def resolved_ckpt_dir(self) -> str | None:
        """The WebUI checkpoints folder to list for the diffusers backend (absolute), or None."""
        return os.path.abspath(os.path.expanduser(self.ckpt_dir)) if self.ckpt_dir else None

    def resolved_models_dir(self, host_models_root: str | None = None) -> str:
        """The models folder: the setting, else inside the host's models folder, else the user cache."""
        if self.models_dir:
            return os.path.abspath(os.path.expanduser(self.models_dir))
        if host_models_root:
            return os.path.join(host_models_root, "inpaint_anything")
        return os.path.join(os.path.expanduser("~"), ".cache", "inpaint-anything", "models")


def _parse_bool(text: str) -> bool:
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


BOOL_WORDS = ("1", "true", "yes", "on", "0", "false", "no", "off")


def explicit_bool_flags(argv: list[str]) -> list[str]:
    """``--ia-offline batch`` -> ``--ia-offline=true batch``: a yes/no flag given without a value
    must not take the next word (a sub-command or a path) as its value."""
    bool_flags = {opt.flag_name for opt in OPTIONS if opt.flag and isinstance(opt.default, bool)}
    out: list[str] = []
    for i, arg in enumerate(argv):
        following = argv[i + 1] if i + 1 < len(argv) else None
        if arg in bool_flags and following is not None and following.strip().lower() not in BOOL_WORDS:
            arg += "=true"
        out.append(arg)
    return out


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Add every ``--ia-*`` flag. Unset flags stay None so Settings-page values are kept."""
    group = parser.add_argument_group("Inpaint Anything")
    for opt in OPTIONS:
        if not opt.flag:
            continue
        kwargs: dict[str, Any] = {"default": None, "help": opt.help, "dest": "ia_" + opt.key}
        if isinstance(opt.default, bool):
            kwargs.update(nargs="?", const=True, type=_parse_bool, metavar="BOOL")
        elif isinstance(opt.default, int):
            kwargs["type"] = int
        else:
            kwargs["type"] = str
        if opt.choices:
            kwargs["choices"] = opt.choices
        group.add_argument(opt.flag_name, **kwargs)


def settings_from(values: dict[str, Any] | None = None, namespace: argparse.Namespace | None = None) -> Settings:
    """Build Settings from stored values (e.g. shared.opts) with command-line flags taking precedence."""
    merged: dict[str, Any] = {}
    for opt in OPTIONS:
        value = (values or {}).get(opt.key, opt.default)
        flag_value = getattr(namespace, "ia_" + opt.key, None) if namespace is not None else None
        if flag_value is not None:
            value = flag_value
        if value is None:
            value = opt.default
        elif isinstance(opt.default, bool) and isinstance(value, str):
            value = _parse_bool(value)
        merged[opt.key] = type(opt.default)(value)
    known = {f.name for f in dataclasses.fields(Settings)}
    return Settings(**{k: v for k, v in merged.items() if k in known}).validated()
