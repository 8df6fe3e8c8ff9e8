"""Stand-in for sd-webui-controlnet's AlwaysVisible script "ControlNet" (tests only): one argument per
unit (``control_net_unit_count``, default 3), ``process`` writes each enabled unit's infotext
("ControlNet N") as the extension does and records the units it received in ``ControlNetStandIn.received``.
Like v1.1.455, an ``inpaint_only`` unit in an img2img with a mask becomes ``inpaint`` (global harmonious),
and a model file that is no ControlNet fails to load (the host catches the error, prints it and runs
img2img without the ControlNet)."""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr
import modules.scripts as scripts
from internal_controlnet.external_code import ControlNetUnit, _models_dir
from modules import shared


class ControlNetStandIn(scripts.Script):
    received: list = []  # the enabled units of every process() call

    def title(self):
        return "ControlNet"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def ui(self, is_img2img):
        count = shared.opts.data.get("control_net_unit_count", 3)
        return tuple(gr.State(ControlNetUnit(enabled=False)) for _ in range(count))

    def process(self, p, *units):
        enabled = [u for u in units if isinstance(u, ControlNetUnit) and u.enabled]
        for u in enabled:  # v1.1.455: inpaint_only in a masked img2img falls back ("duplicated" warning)
            if u.module == "inpaint_only" and type(p).__name__.endswith("Img2Img") and p.image_mask is not None:
                u.module = "inpaint"
        for u in enabled:
            stem = (u.model or "None").split(" [")[0]
            for name in os.listdir(_models_dir()) if u.model not in (None, "None") else []:
                if os.path.splitext(name)[0] == stem and Path(_models_dir(), name).read_bytes()[:7] == b"broken ":
                    raise RuntimeError(f"Failed to load ControlNet model {u.model}: not a ControlNet")
        ControlNetStandIn.received.append(enabled)
        p.extra_generation_params.update({f"ControlNet {i}": u.serialize() for i, u in enumerate(enabled)})
