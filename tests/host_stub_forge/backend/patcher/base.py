"""``backend.patcher.base`` (Forge, stand-in subset): ModelPatcher, the handle Forge's memory manager moves.

A patcher wraps one torch module (the stand-in's UNet, text encoder or VAE). ``current_device`` is
``load_device`` while the memory manager has it loaded and ``offload_device`` after it was unloaded.
The stand-in runs on the CPU: both devices are the CPU and nothing is copied; ``current_device`` and
:func:`backend.memory_management.stub_is_loaded` tell the states apart.
"""

from __future__ import annotations


class ModelPatcher:
    def __init__(self, model, load_device, offload_device, size=0, current_device=None, **kwargs):
        self.size = size
        self.model = model
        self.load_device = load_device
        self.offload_device = offload_device
        self.model_options = {"transformer_options": {}}
        self.model_size()
        self.current_device = offload_device if current_device is None else current_device

    def model_size(self):
        if self.size > 0:
            return self.size
        self.size = sum(p.numel() * p.element_size() for p in self.model.parameters())
        return self.size

    def model_dtype(self):
        return next(self.model.parameters()).dtype

    def is_clone(self, other):
        return getattr(other, "model", None) is self.model
