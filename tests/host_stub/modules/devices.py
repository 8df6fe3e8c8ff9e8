"""``modules.devices`` (v1.10.1 subset). The stand-in always runs on the CPU in float32."""

from __future__ import annotations

import contextlib

import torch

cpu: torch.device = torch.device("cpu")
fp8: bool = False
force_fp16: bool = False
device: torch.device = cpu
device_interrogate: torch.device = cpu
device_gfpgan: torch.device = cpu
device_esrgan: torch.device = cpu
device_codeformer: torch.device = cpu
dtype: torch.dtype = torch.float32
dtype_vae: torch.dtype = torch.float32
dtype_unet: torch.dtype = torch.float32
dtype_inference: torch.dtype = torch.float32
unet_needs_upcast = False


def has_xpu() -> bool:
    return False


def has_mps() -> bool:
    return False


def get_optimal_device_name() -> str:
    return "cpu"


def get_optimal_device() -> torch.device:
    return torch.device(get_optimal_device_name())


def get_device_for(task) -> torch.device:
    return cpu


def torch_gc() -> None:
    """The host empties the CUDA/MPS/XPU caches; nothing to do on the CPU."""


def cond_cast_unet(input):
    return input


def cond_cast_float(input):
    return input.float() if unet_needs_upcast else input


def autocast(disable=False):
    return contextlib.nullcontext()


def without_autocast(disable=False):
    return contextlib.nullcontext()


class NansException(Exception):
    pass


def test_for_nans(x, where):
    if torch.all(torch.isnan(x)).item():
        raise NansException(f"A tensor with all NaNs was produced in {where}.")
