"""``modules.sd_schedulers`` (v1.9+): the Schedule type list (names and labels as in v1.10.1; the
Forge flavour adds Forge's Turbo and Align Your Steps GITS/11/32)."""

from __future__ import annotations

import dataclasses
from typing import Any

from modules import _stub_flavour


@dataclasses.dataclass
class Scheduler:
    name: str
    label: str
    function: Any
    default_rho: float = -1
    need_inner_model: bool = False
    aliases: list = None


schedulers = [
    Scheduler("automatic", "Automatic", None),
    Scheduler("uniform", "Uniform", None, need_inner_model=True),
    Scheduler("karras", "Karras", None, default_rho=7.0),
    Scheduler("exponential", "Exponential", None),
    Scheduler("polyexponential", "Polyexponential", None, default_rho=1.0),
    Scheduler("sgm_uniform", "SGM Uniform", None, need_inner_model=True, aliases=["SGMUniform"]),
    Scheduler("kl_optimal", "KL Optimal", None),
    Scheduler("align_your_steps", "Align Your Steps", None),
    Scheduler("simple", "Simple", None, need_inner_model=True),
    Scheduler("normal", "Normal", None, need_inner_model=True),
    Scheduler("ddim", "DDIM", None, need_inner_model=True),
    Scheduler("beta", "Beta", None, need_inner_model=True),
]
if _stub_flavour.FORGE:
    schedulers += [
        Scheduler("turbo", "Turbo", None, need_inner_model=True),
        Scheduler("align_your_steps_GITS", "Align Your Steps GITS", None),
        Scheduler("align_your_steps_11", "Align Your Steps 11", None),
        Scheduler("align_your_steps_32", "Align Your Steps 32", None),
    ]

schedulers_map = {**{x.name: x for x in schedulers}, **{x.label: x for x in schedulers}}
