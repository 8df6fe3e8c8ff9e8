"""The WebUI backend "ControlNet inpaint": the host's checkpoint, steered by the host's ControlNet.

A1111 + sd-webui-controlnet: its documented external API, ``scripts/external_code.py``, imported as the
extension's own docs say (``importlib.import_module("extensions.<its folder>.scripts.external_code")``,
the folder found in the host's list of active extensions). Forge: its built-in ControlNet's
``lib_controlnet.external_code`` (the module Forge's own ControlNet script imports).

The units (:func:`inpaint_anything.inpaint.controlnet.units`: the inpaint unit with the processing-size
picture and mask, and optionally a ``reference_only`` unit fed with the picture) become the ControlNet
script's arguments in the img2img processing that :class:`~inpaint_anything.webui.backend.WebuiCheckpointBackend`
already runs: with ``external_code.update_cn_script`` where the extension has it (A1111), else placed
at the script's argument positions (Forge's script reads its units from there). The ControlNet script
then writes its "ControlNet N" infotext; a run where it did not is an error, never a silent plain run.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inpaint_anything.errors import UnavailableError
from inpaint_anything.inpaint.controlnet import (
    PREPROCESSORS,
    UNAVAILABLE_HINT,
    ControlNetOptions,
    can_inpaint,
    infotext_units,
    units,
)
from inpaint_anything.inpaint.request import InpaintRequest
from inpaint_anything.webui import compat
from inpaint_anything.webui.backend import WebuiCheckpointBackend, soft_inpainting_scripts

TITLE = "ControlNet"


def external_code() -> Any | None:
    """The ControlNet external API module of this host, or None when no ControlNet is installed/enabled."""
    try:
        from modules import extensions
    except ImportError:
        return None
    for ext in extensions.active():
        if os.path.isfile(os.path.join(ext.path, "lib_controlnet", "external_code.py")):  # Forge's built-in
            if ext.path not in sys.path and "lib_controlnet" not in sys.modules:
                sys.path.append(ext.path)
            return importlib.import_module("lib_controlnet.external_code")
        if "controlnet" in ext.name.lower() and os.path.isfile(os.path.join(ext.path, "scripts", "external_code.py")):
            parent = "extensions-builtin" if ext.is_builtin else "extensions"
            try:
                return importlib.import_module(f"{parent}.{ext.name}.scripts.external_code")
            except ImportError:
                continue
    return None


def _model_names(ec: Any) -> list[str]:
    if hasattr(ec, "get_models"):  # sd-webui-controlnet
        return list(ec.get_models())
    state = importlib.import_module("lib_controlnet.global_state")  # Forge
    return [n for n in state.get_all_controlnet_names() if n != "None"]


def _module_names(ec: Any) -> list[str]:
    if hasattr(ec, "get_modules"):
        return list(ec.get_modules())
    return list(importlib.import_module("lib_controlnet.global_state").get_all_preprocessor_names())


def inpaint_models(ec: Any | None = None) -> list[str]:
    """The host's ControlNet models that can inpaint (SDXL union/promax models too)."""
    ec = ec or external_code()
    return [n for n in _model_names(ec) if can_inpaint(n, sdxl=True)] if ec is not None else []


def preprocessors(ec: Any | None = None) -> list[str]:
    """The inpaint preprocessors the host's ControlNet has, in our order."""
    ec = ec or external_code()
    have = set(_module_names(ec)) if ec is not None else set()
    return [m for m in PREPROCESSORS if m in have]


def status(*, check_runner: bool = True) -> str | None:
    """None when ControlNet inpaint can run here, else a sentence saying why not and what to do.
    ``check_runner=False``: leave out whether the img2img scripts are set up yet (an img2img script's
    UI is built while they are being set up)."""
    ec = external_code()
    if ec is None:
        return f"ControlNet inpaint needs a ControlNet in the WebUI: {UNAVAILABLE_HINT}."
    if not inpaint_models(ec):
        return "No inpaint ControlNet model is installed: put control_v11p_sd15_inpaint in models/ControlNet."
    if not check_runner:
        return None
    runner = compat.img2img_script_runner()
    script = compat.find_alwayson_script(runner, TITLE) if runner is not None else None
    if script is None or script.args_from is None or script.args_to is None:
        return "The WebUI's ControlNet script is not set up for img2img yet (open the WebUI page once, or use --api)."
    return None


def _unit_objects(ec: Any, options: ControlNetOptions, model: str, image: np.ndarray, mask: np.ndarray) -> list:
    """The units as the host's ControlNet takes them. sd-webui-controlnet: ``image`` is the picture and
    its mask as a dict. Forge: ``image`` is the picture, ``mask_image`` the mask (arrays; Forge reads a
    dict there as an array and fails), ``image_fg`` a transparent layer (Forge compares it whenever the
    picture is nearly black)."""
    hole = np.repeat((np.asarray(mask, bool).astype(np.uint8) * 255)[..., None], 3, axis=2)
    forge = "image_fg" in getattr(ec.ControlNetUnit, "__dataclass_fields__", {})
    out = []
    for unit in units(options, model):
        kw = dict(unit, resize_mode=ec.ResizeMode(unit["resize_mode"]), control_mode=ec.ControlMode(unit["control_mode"]))
        reference = unit["module"] not in PREPROCESSORS
        if forge:
            kw.update(
                image=image.copy(), image_fg=np.zeros((*image.shape[:2], 4), np.uint8), mask_image=None if reference else hole
            )
        else:
            kw["image"] = {"image": image.copy(), "mask": np.zeros_like(hole) if reference else hole}
        out.append(ec.ControlNetUnit(**kw))
    return out


def _place(ec: Any, runner: Any, args: list, cn_units: list) -> list:
    if hasattr(ec, "update_cn_script"):  # sd-webui-controlnet: its own placement (fills the unit slots)
        return list(ec.update_cn_script(runner, args, cn_units))
    script = compat.find_alwayson_script(runner, TITLE)
    slots = script.args_to - script.args_from
    if len(cn_units) > slots:
        raise UnavailableError(
            f"The WebUI's ControlNet has {slots} unit(s); ControlNet inpaint with the reference "
            "unit needs 2 (Settings > ControlNet > Multi-ControlNet: max models amount)."
        )
    off = [ec.ControlNetUnit(enabled=False) for _ in range(slots - len(cn_units))]
    args[script.args_from : script.args_to] = [*cn_units, *off]
    return args


@dataclass
class WebuiControlNetBackend(WebuiCheckpointBackend):
    """The host's loaded checkpoint with the host's ControlNet inpaint unit(s)."""

    options: Any = field(default_factory=ControlNetOptions)
    ran: dict = field(default_factory=dict)  # the "ControlNet N" infotext the host's ControlNet wrote (latest run)

    @property
    def name(self) -> str:
        return super().name.replace("webui:", "webui-controlnet:", 1)

    def model(self) -> str:
        """The host's ControlNet model to use: the options' one (its full name, hash included), else the first."""
        found = inpaint_models()
        wanted = self.options.model
        if not wanted:
            return found[0] if found else ""
        for name in found:
            if name == wanted or name.split(" [")[0] == wanted.split(" [")[0]:
                return name
        raise UnavailableError(f"The WebUI has no inpaint ControlNet called {wanted!r}; installed: {', '.join(found) or 'none'}.")

    def infotext_fields(self) -> dict[str, object]:
        """The units as the host's ControlNet wrote them for the latest run (what really ran), else ours."""
        return {"Inpaint backend": self.name, **(self.ran or infotext_units(self.options, self.model()))}

    def img2img_mask(self, mask: np.ndarray):
        # inpaint_only masks by itself; given img2img's mask too, sd-webui-controlnet falls back to
        # inpaint_global_harmonious ("A1111 inpaint and ControlNet inpaint duplicated"): leave img2img
        # unmasked then (the engine's paste-back keeps everything outside the blend band as it was)
        return None if self.options.module == "inpaint_only" else super().img2img_mask(mask)

    def check_request(self, request: InpaintRequest) -> None:  # type: ignore[override]
        WebuiCheckpointBackend.check_request(request)
        reason = status()
        if reason:
            raise UnavailableError(reason)
        if self.options.module not in preprocessors():
            raise UnavailableError(f"The WebUI's ControlNet has no preprocessor {self.options.module!r}; update it.")
        self.model()

    def script_args(self, request: InpaintRequest, image: np.ndarray, mask: np.ndarray) -> tuple:
        ec = external_code()
        runner = compat.img2img_script_runner()
        args = soft_inpainting_scripts(request)[1] if request.soft_inpainting else compat.default_script_args(runner)
        return runner, _place(ec, runner, list(args), _unit_objects(ec, self.options, self.model(), image, mask))

    def check_scripts_ran(self, p, caught: compat.CaughtErrors) -> None:
        # Forge's ControlNet writes its infotext before it reads the units: a unit it could not use
        # leaves the infotext but a plain img2img result, and the error only in the console
        script = compat.find_alwayson_script(compat.img2img_script_runner(), TITLE)
        failed = caught.raised_in(getattr(script, "filename", "") or "") if script is not None else []
        if failed:
            raise UnavailableError(
                f"The WebUI's ControlNet failed ({failed[0]}), so nothing was inpainted with it; "
                "see the WebUI console for its traceback."
            )
        written = {k: v for k, v in p.extra_generation_params.items() if k.startswith("ControlNet ") and v}
        if not written.get("ControlNet 0"):
            raise UnavailableError("The WebUI's ControlNet did not run (see the console for its error).")
        self.ran = written
