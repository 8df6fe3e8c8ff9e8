"""Stand-in for Forge's ControlNet script (title "ControlNet", AlwaysVisible, tests only): one argument
per unit. ``process`` does what Forge's does, in its order: it writes each enabled unit's infotext
("ControlNet N") first, then reads each unit's picture and mask as Forge's ``get_input_data`` reads them
(a dict where an array belongs fails there with Forge's TypeError) and loads its model (a file that is
no ControlNet fails: "Recognizing Control Model failed"); the units that got through are recorded. The
host catches such an error, prints it and runs img2img without the ControlNet."""

from __future__ import annotations

import gradio as gr
import modules.scripts as scripts
import numpy as np
from lib_controlnet import global_state
from lib_controlnet.external_code import ControlNetUnit
from modules import shared


class ControlNetForForgeStandIn(scripts.Script):
    received: list = []

    def title(self):
        return "ControlNet"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def ui(self, is_img2img):
        count = shared.opts.data.get("control_net_unit_count", 3)
        return tuple(gr.State(ControlNetUnit(enabled=False, module="None", model="None")) for _ in range(count))

    def process(self, p, *units):
        enabled = [u for u in units if isinstance(u, ControlNetUnit) and u.enabled]

        def text(v):
            return getattr(v, "value", v)

        p.extra_generation_params.update(
            {
                f"ControlNet {i}": ", ".join(
                    f"{' '.join(w.capitalize() for w in f.split('_'))}: {text(getattr(u, f))}"
                    for f in ControlNetUnit.infotext_fields()[:-1]
                    if getattr(u, f) != -1
                )
                for i, u in enumerate(enabled)
            }
        )
        for unit in enabled:  # after the infotext, as Forge
            _read_input(unit)
            _load_model(unit)
        ControlNetForForgeStandIn.received.append(enabled)


def _read_input(unit: ControlNetUnit):
    """The picture and mask as Forge's get_input_data takes them from a unit (the same comparisons)."""
    image_fg = unit.image_fg[:, :, 3] if unit.image_fg is not None else None
    if unit.image is None:
        return None, None  # Forge then uses img2img's own picture and mask
    if (unit.image < 5).all() and (image_fg > 5).any():
        image = image_fg
    else:
        image = unit.image
    if not isinstance(image, np.ndarray):
        raise ValueError("controlnet is enabled but no input image is given")
    mask_fg = unit.mask_image_fg[:, :, 3] if unit.mask_image_fg is not None else None
    if mask_fg is not None and (mask_fg > 5).any():
        mask = mask_fg
    elif unit.mask_image is not None and (unit.mask_image > 5).any():
        mask = unit.mask_image
    elif image_fg is not None and (image_fg > 5).any():
        mask = image_fg
    else:
        mask = None
    return image, mask


def _load_model(unit: ControlNetUnit) -> None:
    if unit.module == "reference_only":
        return  # Forge: "do_not_need_model"
    filename = global_state.get_controlnet_filename(unit.model)
    with open(filename, "rb") as fh:
        if fh.read(7) == b"broken ":
            raise AssertionError(f"Recognizing Control Model failed: {filename}")
