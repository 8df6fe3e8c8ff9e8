"""Stand-in for sd-webui-controlnet v1.1.455's external API (``internal_controlnet/external_code.py``,
re-exported by ``scripts/external_code.py``), tests only, independently written. Same names, enum
values, ControlNetUnit fields and defaults, and the documented behaviour of ``get_models``,
``get_modules``, ``find_cn_script``, ``update_cn_script`` and ``update_cn_script_in_processing``.
Models are the files in ``<webui>/models/ControlNet`` named ``"<stem> [<hash8>]"``."""

from __future__ import annotations

import hashlib
import os
from copy import copy
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from modules import paths_internal, shared

PREPROCESSORS = ("none", "inpaint_only", "inpaint_only+lama", "inpaint_global_harmonious", "reference_only", "canny")


class ResizeMode(Enum):
    RESIZE = "Just Resize"
    INNER_FIT = "Crop and Resize"
    OUTER_FIT = "Resize and Fill"


class ControlMode(Enum):
    BALANCED = "Balanced"
    PROMPT = "My prompt is more important"
    CONTROL = "ControlNet is more important"


def get_api_version() -> int:
    return 3


@dataclass
class ControlNetUnit:
    """v1.1.455's fields a caller sets (a pydantic model there; keyword construction alike)."""

    enabled: bool = False
    module: str = "none"
    model: str = "None"
    weight: float = 1.0
    image: Any | None = None
    resize_mode: ResizeMode = ResizeMode.INNER_FIT
    low_vram: bool = False
    processor_res: int = -1
    threshold_a: float = -1
    threshold_b: float = -1
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    pixel_perfect: bool = False
    control_mode: ControlMode = ControlMode.BALANCED
    inpaint_crop_input_image: bool = True
    save_detected_map: bool = True
    mask: Any | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.module not in PREPROCESSORS:
            raise ValueError(f"module({self.module}) not found in supported modules.")
        if not (0 <= self.weight <= 2) or not (0 <= self.guidance_start <= self.guidance_end <= 1):
            raise ValueError("weight or guidance out of range")
        if self.enabled:  # bound_check_params: negative slider values take the preprocessor's defaults
            if self.processor_res < 64:
                self.processor_res = 512
            if self.threshold_a < 0:
                self.threshold_a = 0.5 if self.module == "reference_only" else -1
        if isinstance(self.resize_mode, str):
            self.resize_mode = ResizeMode(self.resize_mode)
        if isinstance(self.control_mode, str):
            self.control_mode = ControlMode(self.control_mode)

    @staticmethod
    def infotext_fields():
        return (
            "module",
            "model",
            "weight",
            "resize_mode",
            "processor_res",
            "threshold_a",
            "threshold_b",
            "guidance_start",
            "guidance_end",
            "pixel_perfect",
            "control_mode",
        )

    def serialize(self) -> str:
        def text(v):
            return v.value if isinstance(v, Enum) else str(v)

        return ", ".join(
            f"{' '.join(w.capitalize() for w in f.split('_'))}: {text(getattr(self, f))}" for f in self.infotext_fields()
        )


def _models_dir() -> str:
    return os.path.join(paths_internal.models_path, "ControlNet")


def get_models(update: bool = False) -> list:
    folder = _models_dir()
    out = ["None"]
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            stem, ext = os.path.splitext(name)
            if ext in (".pt", ".pth", ".ckpt", ".safetensors", ".bin"):
                digest = hashlib.sha256(Path(folder, name).read_bytes()).hexdigest()[:8]
                out.append(f"{stem} [{digest}]")
    return out


def get_modules(alias_names: bool = False) -> list:
    return list(PREPROCESSORS)


def get_max_models_num():
    return shared.opts.data.get("control_net_unit_count", 3)


def is_cn_script(script) -> bool:
    return script.title().lower() == "controlnet"


def find_cn_script(script_runner):
    if script_runner is None:
        return None
    for script in script_runner.alwayson_scripts:
        if is_cn_script(script):
            return script
    return None


def get_all_units_from(script_args) -> list:
    return [a for a in script_args if isinstance(a, ControlNetUnit)]


def update_cn_script(script_runner, script_args, cn_units):
    script_args_type = type(script_args)
    assert script_args_type in (tuple, list), script_args_type
    updated = list(copy(script_args))
    cn_script = find_cn_script(script_runner)
    if cn_script is None or len(script_args) < cn_script.args_from:
        return script_args
    max_models = shared.opts.data.get("control_net_unit_count", 3)
    cn_units = cn_units + [ControlNetUnit(enabled=False)] * max(max_models - len(cn_units), 0)
    diff = 0
    for script in script_runner.alwayson_scripts:
        if script is cn_script:
            diff = len(cn_units) - (cn_script.args_to - cn_script.args_from)
            updated[script.args_from : script.args_to] = cn_units
            script.args_to = script.args_from + len(cn_units)
        else:
            script.args_from += diff
            script.args_to += diff
    return script_args_type(updated)


def update_cn_script_in_processing(p, cn_units, **_kwargs):
    p.script_args = update_cn_script(p.scripts, p.script_args_value, cn_units)


__all__ = [
    "ControlMode",
    "ControlNetUnit",
    "ResizeMode",
    "find_cn_script",
    "get_all_units_from",
    "get_api_version",
    "get_max_models_num",
    "get_models",
    "get_modules",
    "is_cn_script",
    "update_cn_script",
    "update_cn_script_in_processing",
]
