"""Stand-in for Forge's ``lib_controlnet.global_state`` (tests only): model names ``"<stem> [<hash8>]"``
of the files in ``<webui>/models/ControlNet`` after ``'None'``, and the preprocessor names."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from modules import paths_internal

PREPROCESSORS = ("None", "inpaint_only", "inpaint_only+lama", "inpaint_global_harmonious", "reference_only")


def get_all_controlnet_names():
    folder = os.path.join(paths_internal.models_path, "ControlNet")
    names = ["None"]
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        stem, ext = os.path.splitext(name)
        if ext in (".pt", ".pth", ".ckpt", ".safetensors", ".bin", ".patch"):
            names.append(f"{stem} [{hashlib.sha256(Path(folder, name).read_bytes()).hexdigest()[:8]}]")
    return names


def get_controlnet_filename(name: str) -> str | None:
    """The file of a listed model name (Forge's lookup for its loader), or None."""
    folder = os.path.join(paths_internal.models_path, "ControlNet")
    stem = name.split(" [")[0]
    for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if os.path.splitext(entry)[0] == stem:
            return os.path.join(folder, entry)
    return None


def get_all_preprocessor_names():
    return list(PREPROCESSORS)
