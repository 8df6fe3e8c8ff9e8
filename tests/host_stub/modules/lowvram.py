"""``modules.lowvram`` (v1.10.1 subset): --lowvram / --medvram / --medvram-sdxl.

With them the host keeps the model's parts on the CPU and moves each to the GPU only while it runs
(the stand-in only sets ``sd_model.lowvram``; it installs no hooks). Forge keeps this module with
every function a no-op (``is_needed`` is always False): its memory manager does that job.
"""

from __future__ import annotations

from modules import _stub_flavour, shared

module_in_gpu = None


def send_everything_to_cpu():
    global module_in_gpu
    if _stub_flavour.FORGE:
        return
    if module_in_gpu is not None:
        module_in_gpu.stub_placement = "cpu"
    module_in_gpu = None


def is_needed(sd_model):
    if _stub_flavour.FORGE:
        return False
    opts = shared.cmd_opts
    return bool(opts.lowvram or opts.medvram or opts.medvram_sdxl and hasattr(sd_model, "conditioner"))


def apply(sd_model):
    if _stub_flavour.FORGE:
        return
    enable = is_needed(sd_model)
    shared.parallel_processing_allowed = not enable
    if enable:
        setup_for_low_vram(sd_model, not shared.cmd_opts.lowvram)
    else:
        sd_model.lowvram = False


def setup_for_low_vram(sd_model, use_medvram):
    if _stub_flavour.FORGE or getattr(sd_model, "lowvram", False):
        return
    sd_model.lowvram = True


def is_enabled(sd_model):
    return False if _stub_flavour.FORGE else bool(sd_model.lowvram)
