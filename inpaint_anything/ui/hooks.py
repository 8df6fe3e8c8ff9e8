"""What the WebUI plugs into the tab (:class:`HostHooks`): its backends, hints, job queue, saving,
the img2img / Extras targets and send buttons, samplers, and its ControlNet. The standalone app uses none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class HostHooks:
    """What the WebUI adds to the tab (all optional; the standalone app uses none)."""

    extra_backends: list[tuple[str, str]] = field(default_factory=list)  # (label, backend kind)
    checkpoint_hint: Callable[[], str | None] | None = None
    # the host's Soft Inpainting for the "webui" backend: () -> None when usable, else why not
    soft_inpainting: Callable[[], str | None] | None = None
    job_context: Callable[[str], Any] | None = None  # name -> context manager yielding a JobControl
    save: Callable[[np.ndarray, str, str], str] | None = None  # (image, infotext, kind) -> saved path
    img2img_targets: tuple[Any, Any] | None = None  # img2img Inpaint upload (base, mask) components
    img2img_switch_js: str | None = None
    extras_target: Any | None = None  # the Extras tab's single-image input (extras_image)
    extras_switch_js: str | None = None
    # (source tab, button) pairs: "Send to Inpaint Anything" buttons the adapter put in the host's
    # result rows; the tab wires them (the button's gallery is "<source>_gallery")
    send_buttons: list[tuple[str, Any]] = field(default_factory=list)
    samplers: list[str] | None = None
    schedulers: list[str] | None = None
    # the host's ControlNet for the "webui" backend: () -> None when usable, else why not; () -> its inpaint models
    controlnet_status: Callable[[], str | None] | None = None
    controlnet_models: Callable[[], list[str]] | None = None
