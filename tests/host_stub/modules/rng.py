"""``modules.rng`` (v1.10.1 subset): per-seed noise. The stand-in draws from CPU generators."""

from __future__ import annotations

import torch


def slerp(val, low, high):
    low_norm = low / torch.norm(low, dim=1, keepdim=True)
    high_norm = high / torch.norm(high, dim=1, keepdim=True)
    dot = (low_norm * high_norm).sum(1)
    if dot.mean() > 0.9995:
        return low * val + high * (1 - val)
    omega = torch.acos(dot)
    so = torch.sin(omega)
    return (torch.sin((1.0 - val) * omega) / so).unsqueeze(1) * low + (torch.sin(val * omega) / so).unsqueeze(1) * high


class ImageRNG:
    """One generator per image seed; ``next()`` returns the next (batch, *shape) draw."""

    def __init__(self, shape, seeds, subseeds=None, subseed_strength=0.0, seed_resize_from_h=0, seed_resize_from_w=0):
        self.shape = tuple(int(x) for x in shape)
        self.seeds = seeds
        self.subseeds = subseeds
        self.subseed_strength = subseed_strength
        self.generators = [torch.Generator("cpu").manual_seed(int(s) & 0xFFFFFFFFFFFFFFFF) for s in seeds]
        self.sub_generators = [torch.Generator("cpu").manual_seed(int(s)) for s in (subseeds or [])]
        self.is_first = True

    def first(self):
        return self.next()

    def next(self):
        from modules import devices

        out = []
        for i, gen in enumerate(self.generators):
            noise = torch.randn(self.shape, generator=gen)
            if self.is_first and self.subseed_strength > 0 and i < len(self.sub_generators):
                noise = slerp(self.subseed_strength, noise, torch.randn(self.shape, generator=self.sub_generators[i]))
            out.append(noise)
        self.is_first = False
        return torch.stack(out).to(devices.device)
