"""Stand-in for Forge's built-in ControlNet API (``extensions-builtin/sd_forge_controlnet/lib_controlnet/
external_code.py``), tests only, independently written: the enums and the ``ControlNetUnit`` dataclass
(Forge's fields and defaults that a caller sets). Forge has no ``update_cn_script``: its script reads
the units from its argument positions. The picture is ``image`` and the mask ``mask_image`` (arrays)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


def get_api_version() -> int:
    return 2


class ControlMode(Enum):
    BALANCED = "Balanced"
    PROMPT = "My prompt is more important"
    CONTROL = "ControlNet is more important"


class ResizeMode(Enum):
    RESIZE = "Just Resize"
    INNER_FIT = "Crop and Resize"
    OUTER_FIT = "Resize and Fill"


@dataclass
class ControlNetUnit:
    enabled: bool = True
    module: str = "None"
    model: str = "None"
    weight: float = 1.0
    image: object = None  # Forge: an HxWx3 array (its type says a gradio image/mask dict; its script reads an array)
    image_fg: object = None  # HxWx4, the alpha marks a drawn mask
    mask_image: object = None  # HxWx3 or HxW, > 5 where the mask is
    mask_image_fg: object = None
    resize_mode: ResizeMode | int | str = ResizeMode.INNER_FIT
    processor_res: int = -1
    threshold_a: float = -1
    threshold_b: float = -1
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    pixel_perfect: bool = False
    control_mode: ControlMode | int | str = ControlMode.BALANCED
    save_detected_map: bool = True

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
            "hr_option",
        )
