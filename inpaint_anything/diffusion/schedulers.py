"""WebUI sampler / schedule-type names mapped to diffusers schedulers.

The WebUI (1.9+) names a sampler ("DPM++ 2M") and a schedule type ("Karras") separately; older
infotexts combine them ("DPM++ 2M Karras"). :func:`resolve` accepts both forms, and
:func:`make_scheduler` builds the matching diffusers scheduler from a pipeline's scheduler config,
so "Karras" really gives Karras sigmas and "Exponential" exponential ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inpaint_anything.errors import InvalidInputError, UnavailableError


@dataclass(frozen=True)
class SamplerSpec:
    name: str
    cls: str  # diffusers class name
    kwargs: dict[str, Any] = field(default_factory=dict)
    sigma_schedules: bool = True  # accepts Karras / Exponential sigmas
    needs: str | None = None  # optional package the class needs


SAMPLERS: tuple[SamplerSpec, ...] = (
    SamplerSpec("Euler a", "EulerAncestralDiscreteScheduler", sigma_schedules=False),
    SamplerSpec("Euler", "EulerDiscreteScheduler"),
    SamplerSpec("LMS", "LMSDiscreteScheduler"),
    SamplerSpec("Heun", "HeunDiscreteScheduler"),
    SamplerSpec("DPM2", "KDPM2DiscreteScheduler"),
    SamplerSpec("DPM2 a", "KDPM2AncestralDiscreteScheduler"),
    SamplerSpec("DPM++ 2M", "DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    SamplerSpec("DPM++ 2M SDE", "DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++", "solver_order": 2}),
    SamplerSpec("DPM++ SDE", "DPMSolverSDEScheduler", needs="torchsde"),
    SamplerSpec("UniPC", "UniPCMultistepScheduler"),
    SamplerSpec("DDIM", "DDIMScheduler", sigma_schedules=False),
    SamplerSpec("PLMS", "PNDMScheduler", {"skip_prk_steps": True}, sigma_schedules=False),
    SamplerSpec("LCM", "LCMScheduler", sigma_schedules=False),
)
SAMPLERS_BY_NAME = {s.name.lower(): s for s in SAMPLERS}

# WebUI schedule types -> scheduler config flag; "Automatic"/"Uniform" keep the model's default.
SCHEDULE_TYPES: dict[str, str | None] = {
    "Automatic": None,
    "Uniform": None,
    "Karras": "use_karras_sigmas",
    "Exponential": "use_exponential_sigmas",
}
DEFAULT_SAMPLER = "Euler a"


def resolve(sampler: str, schedule: str | None = None) -> tuple[SamplerSpec, str]:
    """(spec, schedule type) for a sampler name, splitting combined names like "DPM++ 2M Karras"."""
    text = (sampler or DEFAULT_SAMPLER).strip()
    sched = (schedule or "Automatic").strip()
    key = text.lower()
    if key not in SAMPLERS_BY_NAME:
        for schedule_name in SCHEDULE_TYPES:
            suffix = " " + schedule_name.lower()
            if key.endswith(suffix) and key[: -len(suffix)] in SAMPLERS_BY_NAME:
                key, sched = key[: -len(suffix)], schedule_name
                break
    spec = SAMPLERS_BY_NAME.get(key)
    if spec is None:
        raise InvalidInputError(f"Unknown sampler {sampler!r}. Available: {', '.join(available_samplers())}.")
    schedule_match = {s.lower(): s for s in SCHEDULE_TYPES}.get(sched.lower())
    if schedule_match is None:
        raise InvalidInputError(f"Unknown schedule type {schedule!r}. Available: {', '.join(SCHEDULE_TYPES)}.")
    return spec, schedule_match


def _has_package(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def available_samplers() -> list[str]:
    """Sampler names usable here (e.g. "DPM++ SDE" needs the torchsde package)."""
    return [s.name for s in SAMPLERS if not s.needs or _has_package(s.needs)]


def make_scheduler(base_config: dict[str, Any], sampler: str, schedule: str | None = None):
    """A diffusers scheduler for ``sampler``/``schedule`` built from a pipeline's scheduler config."""
    import diffusers

    spec, sched = resolve(sampler, schedule)
    if spec.needs and not _has_package(spec.needs):
        raise UnavailableError(f"Sampler {spec.name!r} needs the '{spec.needs}' package, which is not installed.")
    cls = getattr(diffusers, spec.cls)
    overrides: dict[str, Any] = dict(spec.kwargs)
    flag = SCHEDULE_TYPES[sched]
    if flag is not None:
        if not spec.sigma_schedules:
            raise InvalidInputError(f"Sampler {spec.name!r} does not support the {sched} schedule; use Automatic.")
        overrides[flag] = True
    config = {k: v for k, v in dict(base_config).items() if not k.startswith("_")}
    # drop flags from the model's own config that would conflict with the chosen schedule
    for other in ("use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas"):
        config.pop(other, None)
    return cls.from_config({**config, **overrides})
