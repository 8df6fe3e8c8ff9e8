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
