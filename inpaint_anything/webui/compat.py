"""Feature probes for the host (A1111 v1.10.x or Forge). All host differences are decided here."""

from __future__ import annotations

import importlib.util
from functools import cache


@cache
def is_forge() -> bool:
    """Forge ships the ``modules_forge`` package; A1111 does not."""
    return importlib.util.find_spec("modules_forge") is not None


@cache
def gradio_major() -> int:
    import gradio

    return int(gradio.__version__.split(".")[0])


def has_options_templates() -> bool:
    """v1.7+ exposes shared.options_templates (lets settings exist in API-only mode)."""
    from modules import shared

    return hasattr(shared, "options_templates") and hasattr(shared, "options_section")


def processing_has_scheduler() -> bool:
    """v1.9+ has a separate scheduler field on processing objects."""
    from modules import processing

    fields = getattr(processing.StableDiffusionProcessing, "__dataclass_fields__", {})
    return "scheduler" in fields


def sd_model_is_inpainting(sd_model) -> bool:
    """True for a 9-channel inpainting checkpoint, detected from the loaded model, not its file name.

    A1111: the UNet's first conv takes 9 channels (SD1/SD2 inpainting), or ``is_sdxl_inpaint``.
    Forge: the engine sets ``is_inpaint``.
    """
    if sd_model is None:
        return False
    if getattr(sd_model, "is_inpaint", False) or getattr(sd_model, "is_sdxl_inpaint", False):
        return True
    try:
        return int(sd_model.model.diffusion_model.input_blocks[0][0].in_channels) == 9
    except (AttributeError, IndexError, TypeError):
        return False


def sd_model_is_sdxl(sd_model) -> bool:
    return bool(getattr(sd_model, "is_sdxl", False))


def sd_model_title(sd_model) -> str:
    info = getattr(sd_model, "sd_checkpoint_info", None)
    return getattr(info, "title", None) or getattr(info, "name", None) or "WebUI checkpoint"
