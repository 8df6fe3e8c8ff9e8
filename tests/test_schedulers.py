"""Sampler names map to the right diffusers schedulers; Karras really uses Karras sigmas."""

from __future__ import annotations

import numpy as np
import pytest

from inpaint_anything.diffusion import schedulers
from inpaint_anything.errors import InvalidInputError, UnavailableError

SD_SCHEDULER_CONFIG = {
    "_class_name": "PNDMScheduler",
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "steps_offset": 1,
    "skip_prk_steps": True,
    "set_alpha_to_one": False,
    "clip_sample": False,
}


def karras(sigma_min: float, sigma_max: float, n: int, rho: float = 7.0) -> np.ndarray:
    ramp = np.linspace(0, 1, n)
    return (sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("Euler a", "EulerAncestralDiscreteScheduler"),
        ("Euler", "EulerDiscreteScheduler"),
        ("DPM++ 2M", "DPMSolverMultistepScheduler"),
        ("DDIM", "DDIMScheduler"),
        ("UniPC", "UniPCMultistepScheduler"),
        ("PLMS", "PNDMScheduler"),
        ("LMS", "LMSDiscreteScheduler"),
    ],
)
def test_sampler_classes(name, cls):
    assert type(schedulers.make_scheduler(SD_SCHEDULER_CONFIG, name)).__name__ == cls


@pytest.mark.both_stacks
def test_karras_schedule_gives_karras_sigmas():
    plain = schedulers.make_scheduler(SD_SCHEDULER_CONFIG, "Euler")
    plain.set_timesteps(10)
    sched = schedulers.make_scheduler(SD_SCHEDULER_CONFIG, "Euler", "Karras")
    sched.set_timesteps(10)
    sigmas = sched.sigmas.numpy()[:-1]  # the last entry is the appended final 0
    alphas = np.cumprod(1 - np.linspace(0.00085**0.5, 0.012**0.5, 1000) ** 2)
    all_sigmas = ((1 - alphas) / alphas) ** 0.5
    expected = karras(all_sigmas.min(), all_sigmas.max(), 10)
    np.testing.assert_allclose(sigmas, expected, rtol=1e-4)
    assert not np.allclose(plain.sigmas.numpy()[:-1], expected, rtol=1e-2)


def test_combined_names_are_split():
    spec, sched = schedulers.resolve("DPM++ 2M Karras")
    assert (spec.name, sched) == ("DPM++ 2M", "Karras")
    s = schedulers.make_scheduler(SD_SCHEDULER_CONFIG, "DPM++ 2M Karras")
    assert s.config.use_karras_sigmas is True
    assert s.config.algorithm_type == "dpmsolver++"


def test_sde_variant_and_case_insensitivity():
    s = schedulers.make_scheduler(SD_SCHEDULER_CONFIG, "dpm++ 2m sde", "karras")
    assert s.config.algorithm_type == "sde-dpmsolver++"
    assert s.config.use_karras_sigmas is True


def test_model_config_karras_flag_does_not_leak_into_automatic():
    s = schedulers.make_scheduler({**SD_SCHEDULER_CONFIG, "use_karras_sigmas": True}, "Euler", "Automatic")
    assert not s.config.use_karras_sigmas


def test_errors_are_clear():
    with pytest.raises(InvalidInputError, match="Unknown sampler 'Nope'"):
        schedulers.make_scheduler(SD_SCHEDULER_CONFIG, "Nope")
    with pytest.raises(InvalidInputError, match="schedule type"):
        schedulers.make_scheduler(SD_SCHEDULER_CONFIG, "Euler", "Cosine-ish")
    with pytest.raises(InvalidInputError, match="does not support the Karras"):
        schedulers.make_scheduler(SD_SCHEDULER_CONFIG, "DDIM", "Karras")


def test_sde_sampler_without_torchsde_is_unavailable(monkeypatch):
    monkeypatch.setattr(schedulers, "_has_package", lambda name: False)
    assert "DPM++ SDE" not in schedulers.available_samplers()
    with pytest.raises(UnavailableError, match="torchsde"):
        schedulers.make_scheduler(SD_SCHEDULER_CONFIG, "DPM++ SDE")
