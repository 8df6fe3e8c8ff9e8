"""Exact, faster forms of the channel LayerNorm and GELU in Segment Anything's mask decoders.

SAM, HQ-SAM and SAM 2 share a ``LayerNorm2d`` written as seven elementwise passes (mean, subtract,
square, mean, divide, scale, shift), each allocating a full-size tensor. On HQ-SAM's 64x256x256
feature map that is about a quarter of a click on a 2-core CPU. :class:`ChannelNorm2d` computes the
same normalisation with one fused kernel (``F.layer_norm`` over the channels of a channels-last
tensor; the decoders' upsampling layers produce channels-last maps, see ``speedups.PatchExpand``).
:class:`FreshGELU` applies GELU in place when its input is a temporary that nothing else reads.
Parameters keep their names and shapes, so ``state_dict()`` is unchanged.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

# The packages' LayerNorm2d classes (all the same formula): module -> class name.
LAYER_NORM_2D_CLASSES = frozenset(
    {
        ("segment_anything.modeling.common", "LayerNorm2d"),
        ("segment_anything_hq.modeling.common", "LayerNorm2d"),
        ("sam2.modeling.sam2_utils", "LayerNorm2d"),
    }
)


def _moved(cls: type[nn.Module], module: nn.Module) -> nn.Module:
    """An instance of ``cls`` sharing ``module``'s parameters, buffers, submodules, hooks and flags."""
    new = cls.__new__(cls)
    new.__dict__ = module.__dict__.copy()
    new._parameters = dict(module._parameters)
    new._buffers = dict(module._buffers)
    new._modules = dict(module._modules)
    return new


class ChannelNorm2d(nn.Module):
    """SAM's ``LayerNorm2d`` (normalise over channels of ``[B, C, H, W]``) in fused kernels."""

    weight: nn.Parameter
    bias: nn.Parameter
    eps: float

    @classmethod
    def qualifies(cls, module: nn.Module) -> bool:
        kind = (type(module).__module__, type(module).__name__)
        return (
            kind in LAYER_NORM_2D_CLASSES
            and set(module._parameters) == {"weight", "bias"}
            and not module._buffers
            and not module._modules
            and isinstance(getattr(module, "eps", None), float)
            and module.weight is not None
            and module.weight.dim() == 1
        )

    @classmethod
    def from_module(cls, module: nn.Module) -> ChannelNorm2d:
        return _moved(cls, module)  # type: ignore[return-value]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            return reference_layer_norm_2d(self, x)
        nhwc = x.permute(0, 2, 3, 1)
        if nhwc.is_contiguous():  # channels-last memory: one kernel, no copies
            return F.layer_norm(nhwc, (x.shape[1],), self.weight, self.bias, self.eps).permute(0, 3, 1, 2)
        # NCHW memory: the packages' formula with in-place steps (a channel reduction is slow here)
        d = x - x.mean(1, keepdim=True)
        var = (d * d).mean(1, keepdim=True)
        d = d.div_(var.add_(self.eps).sqrt_())
        return d.mul_(self.weight[:, None, None]).add_(self.bias[:, None, None])


class FreshGELU(nn.GELU):
    """``nn.GELU`` that overwrites its input when no gradient is needed.

    Only swapped in right after a layer whose output is a new tensor that nothing else keeps
    (see :func:`gelu_follows_fresh_output`), so the in-place update is invisible.
    """

    @classmethod
    def from_module(cls, module: nn.GELU) -> FreshGELU:
        return _moved(cls, module)  # type: ignore[return-value]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return F.gelu(x, approximate=self.approximate)
        return torch.ops.aten.gelu_(x, approximate=self.approximate)


def gelu_follows_fresh_output(previous: nn.Module | None, module: nn.Module) -> bool:
    """True for a plain ``nn.GELU`` fed by ``previous``, a layer that returns a new tensor."""
    from inpaint_anything.segment.speedups import PatchExpand

    fresh = (ChannelNorm2d, PatchExpand, nn.Conv2d, nn.ConvTranspose2d)
    return type(module) is nn.GELU and previous is not None and isinstance(previous, fresh)


def reference_layer_norm_2d(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The packages' ``LayerNorm2d`` formula with ``norm``'s parameters (for tests and checks)."""
    u = x.mean(1, keepdim=True)
    s = (x - u).pow(2).mean(1, keepdim=True)
    x = (x - u) / torch.sqrt(s + norm.eps)
    return norm.weight[:, None, None] * x + norm.bias[:, None, None]
