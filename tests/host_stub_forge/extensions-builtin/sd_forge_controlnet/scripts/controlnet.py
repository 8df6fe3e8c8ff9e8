"""Stand-in for Forge's ControlNet script (title "ControlNet", AlwaysVisible, tests only): one argument
per unit; ``process`` writes each enabled unit's infotext ("ControlNet N") and records the units."""

from __future__ import annotations

import gradio as gr
import modules.scripts as scripts
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
        ControlNetForForgeStandIn.received.append(enabled)

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
