"""``backend.memory_management`` (Forge, stand-in subset): the model memory manager.

Forge keeps its models (UNet, text encoders, VAE) as ModelPatchers in ``current_loaded_models``;
``load_models_gpu`` loads them before sampling/encoding/decoding and ``free_memory`` unloads the
least recently used ones (to their offload device, the CPU; never from disk) until ``memory_required``
bytes are free. ``sd_models.send_model_to_cpu``/``send_model_to_device`` do nothing on Forge.

Stand-in specifics (no Forge counterpart): free VRAM is simulated by :data:`stub_free_bytes`
(loading a model subtracts its size, unloading adds it back); every public call is appended to
:data:`stub_calls` as ``(name, args)``. The device is the CPU; a test may set
``stub_device = torch.device("cuda", 0)`` so that probes see a CUDA device (nothing is moved there).
"""

from __future__ import annotations

import sys
from enum import Enum

import torch

cpu = torch.device("cpu")


class VRAMState(Enum):
    DISABLED = 0
    NO_VRAM = 1
    LOW_VRAM = 2
    NORMAL_VRAM = 3
    HIGH_VRAM = 4
    SHARED = 5


class CPUState(Enum):
    GPU = 0
    CPU = 1
    MPS = 2


vram_state = VRAMState.NORMAL_VRAM
cpu_state = CPUState.GPU
ALWAYS_VRAM_OFFLOAD = False
current_loaded_models: list = []
current_inference_memory = 1024 * 1024 * 1024

stub_device = cpu
stub_free_bytes = 8 * 2**30
stub_calls: list = []


def get_torch_device():
    return stub_device


def get_free_memory(dev=None, torch_free_too=False):
    stub_calls.append(("get_free_memory", (dev,)))
    free = int(stub_free_bytes)
    return (free, 0) if torch_free_too else free


def minimum_inference_memory():
    return current_inference_memory


def stub_is_loaded(patcher) -> bool:
    """Stand-in only: whether the memory manager has ``patcher`` loaded ("in VRAM")."""
    return any(m.model is patcher for m in current_loaded_models)


class LoadedModel:
    def __init__(self, model):
        self.model = model
        self.device = model.load_device

    def model_load(self, model_gpu_memory_when_using_cpu_swap=-1):
        global stub_free_bytes
        self.model.current_device = self.model.load_device
        stub_free_bytes -= self.model.model_size()
        return self.model.model

    def model_unload(self, avoid_model_moving=False):
        global stub_free_bytes
        self.model.current_device = self.model.offload_device
        stub_free_bytes += self.model.model_size()

    def __eq__(self, other):
        return self.model is other.model


def free_memory(memory_required, device, keep_loaded=[], free_all=False):  # noqa: B006 - Forge's signature
    stub_calls.append(("free_memory", (memory_required, device, free_all)))
    for i in range(len(current_loaded_models) - 1, -1, -1):
        if sys.getrefcount(current_loaded_models[i].model) <= 2:
            current_loaded_models.pop(i).model_unload(avoid_model_moving=True)
    if free_all:
        memory_required = 1e30
    for i in range(len(current_loaded_models) - 1, -1, -1):
        if get_free_memory(device) > memory_required:
            break
        shift = current_loaded_models[i]
        if shift.device == device and shift not in keep_loaded:
            current_loaded_models.pop(i).model_unload()
    soft_empty_cache()


def load_models_gpu(models, memory_required=0, hard_memory_preservation=0):
    stub_calls.append(("load_models_gpu", (len(models), memory_required)))
    for m in models:
        loaded = LoadedModel(m)
        if loaded in current_loaded_models:
            current_loaded_models.insert(0, current_loaded_models.pop(current_loaded_models.index(loaded)))
            continue
        loaded.model_load()
        current_loaded_models.insert(0, loaded)


def load_model_gpu(model):
    return load_models_gpu([model])


def unload_all_models():
    free_memory(1e30, get_torch_device(), free_all=True)


def soft_empty_cache(force=False):
    stub_calls.append(("soft_empty_cache", (force,)))


def module_size(module, exclude_device=None, include_device=None, return_split=False):
    return sum(p.numel() * p.element_size() for p in module.parameters())


def xformers_enabled():
    return False


def mps_mode():
    return False


def cpu_mode():
    return cpu_state == CPUState.CPU
