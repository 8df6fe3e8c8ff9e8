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
# Stand-in only: set to e.g. torch.device("cuda", 0) to make a loaded model report that device while it
# is placed on the device (sd_models.send_model_to_cpu/_to_device switch it); tensors stay on the CPU.
stub_gpu: torch.device | None = None


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
    """The host empties the CUDA/MPS/XPU caches (Forge: through its memory manager); nothing to do on the CPU."""
    from modules import _stub_flavour

    if _stub_flavour.FORGE:
        from backend import memory_management

        memory_management.soft_empty_cache()


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
    """As v1.10.1: looks at the first element only, skipped with --disable-nan-check; the message names
    where (Unet / VAE) and the flags that help (worded by the stand-in)."""
    from modules import shared

    opts = shared.cmd_opts
    if getattr(opts, "disable_nan_check", False):
        return
    if not torch.isnan(x[(0,) * len(x.shape)]):
        return
    if where == "unet":
        message = "A tensor with NaNs was produced in Unet."
        if not getattr(opts, "no_half", False):
            message += " (half precision: try the upcast-cross-attention setting or --no-half.)"
    elif where == "vae":
        message = "A tensor with NaNs was produced in VAE."
        if not getattr(opts, "no_half", False) and not getattr(opts, "no_half_vae", False):
            message += " (half precision: try --no-half-vae.)"
    else:
        message = "A tensor with NaNs was produced."
    message += " --disable-nan-check turns this check off."
    raise NansException(message)
