"""Exact, faster forms of Segment Anything's mask decoders (they run on every click).

* :class:`PatchExpand`: the decoders upsample with ``ConvTranspose2d(kernel_size=2, stride=2)``.
  When the kernel equals the stride (no padding, dilation or grouping) the output windows do not
  overlap, so the layer is one matrix product per input pixel followed by a pixel shuffle; PyTorch's
  CPU transposed convolution goes through col2im instead. The result is kept channels-last.
* ``LayerNorm2d`` and GELU: see :mod:`inpaint_anything.segment.speedups_norm`.
* :func:`predict_masks`: SAM's and HQ-SAM's ``predict_masks`` without per-prompt copies of the
  image-sized inputs, on channels-last maps (the 3x3 convolutions of HQ-SAM run twice as fast so).
* :func:`settle_malloc`: keeps glibc from unmapping and page-faulting each click's feature maps.

All give the packages' values up to float rounding; parameters keep their names and shapes, so
``state_dict()`` is unchanged. HQ-SAM ViT-B click on 2 CPU cores: 0.10-0.15 s -> 0.075 s.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812


class PatchExpand(nn.ConvTranspose2d):
    """``ConvTranspose2d`` whose kernel equals its stride, computed as matmul + pixel shuffle."""

    @classmethod
    def qualifies(cls, module: nn.Module) -> bool:
        if type(module) is not nn.ConvTranspose2d:
            return False
        k, s = tuple(module.kernel_size), tuple(module.stride)
        return (
            k == s
            and tuple(module.padding) == (0, 0)
            and tuple(module.output_padding) == (0, 0)
            and tuple(module.dilation) == (1, 1)
            and module.groups == 1
            and module.padding_mode == "zeros"
        )

    @classmethod
    def from_conv(cls, conv: nn.ConvTranspose2d) -> PatchExpand:
        new = cls.__new__(cls)
        new.__dict__ = conv.__dict__.copy()  # same parameters (shared tensors), hooks and flags
        new._parameters = dict(conv._parameters)
        new._buffers = dict(conv._buffers)
        new._modules = dict(conv._modules)
        return new

    def forward(self, x: torch.Tensor, output_size: Any = None) -> torch.Tensor:
        if output_size is not None or x.dim() != 4:
            return super().forward(x, output_size)
        b, cin, h, w = x.shape
        kh, kw = self.kernel_size
        cout = self.out_channels
        # weight [Cin, Cout, kh, kw] -> [Cin, kh*kw*Cout]; out[b, co, i*kh+a, j*kw+c] = x[b, :, i, j] @ w[:, co, a, c]
        weight = self.weight.permute(0, 2, 3, 1).reshape(cin, kh * kw * cout)
        rows = x.permute(0, 2, 3, 1).reshape(b * h * w, cin)  # a view when x is channels-last
        if self.bias is None:
            y = rows @ weight
        else:
            y = torch.addmm(self.bias.repeat(kh * kw), rows, weight)
        # [b, h, w, kh, kw, Cout] -> [b, h, kh, w, kw, Cout]: the result is kept channels-last, which
        # is what the layers after it (LayerNorm2d as ChannelNorm2d, 3x3 convolutions) run fastest on
        y = y.view(b, h, w, kh, kw, cout).permute(0, 1, 3, 2, 4, 5).reshape(b, h * kh, w * kw, cout)
        return y.permute(0, 3, 1, 2)


def speed_up_decoders(model: nn.Module) -> int:
    """Swap the layers of ``model``'s mask decoder(s) for their exact fast forms.

    Transposed convolutions whose kernel equals the stride become :class:`PatchExpand`,
    ``LayerNorm2d`` becomes :class:`~inpaint_anything.segment.speedups_norm.ChannelNorm2d`, a GELU
    right after one of those becomes :class:`~inpaint_anything.segment.speedups_norm.FreshGELU`
    (in place), and SAM's and HQ-SAM's ``predict_masks`` becomes :func:`predict_masks`. Idempotent;
    returns how many layers and methods were swapped. Only the mask decoder is touched (including
    HQ-SAM's per-image feature fusion); the image encoder is left as it is.
    """
    from inpaint_anything.segment.speedups_norm import ChannelNorm2d, FreshGELU, gelu_follows_fresh_output

    decoder = getattr(model, "mask_decoder", None) or getattr(model, "sam_mask_decoder", None)
    if decoder is None:
        return 0
    swapped = 0
    for parent in list(decoder.modules()):
        previous = None
        for name, child in list(parent.named_children()):
            new = None
            if PatchExpand.qualifies(child):
                new = PatchExpand.from_conv(child)
            elif ChannelNorm2d.qualifies(child):
                new = ChannelNorm2d.from_module(child)
            elif gelu_follows_fresh_output(previous, child):
                new = FreshGELU.from_module(child)
            if new is not None:
                setattr(parent, name, new)
                swapped += 1
            previous = new if new is not None else child
    return swapped + _install_predict_masks(decoder)


def reference_forward(conv: nn.ConvTranspose2d, x: torch.Tensor) -> torch.Tensor:
    """PyTorch's own transposed convolution with ``conv``'s parameters (for tests and checks)."""
    return F.conv_transpose2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.output_padding, conv.groups, conv.dilation)


# The packages' mask decoders whose ``predict_masks`` :func:`predict_masks` reproduces.
SAM_DECODER_CLASSES = frozenset(
    {
        ("segment_anything.modeling.mask_decoder", "MaskDecoder"),
        ("segment_anything_hq.modeling.mask_decoder", "MaskDecoder"),
        ("segment_anything_hq.modeling.mask_decoder_hq", "MaskDecoderHQ"),
    }
)


def predict_masks(
    decoder: nn.Module,
    image_embeddings: torch.Tensor,
    image_pe: torch.Tensor,
    sparse_prompt_embeddings: torch.Tensor,
    dense_prompt_embeddings: torch.Tensor,
    hq_features: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The packages' ``decoder.predict_masks`` for one image and B prompts, with fewer copies.

    Same values up to float rounding: ``(masks [B, n, S, S], iou [B, n])`` for every mask token
    (HQ-SAM: its HQ mask last; ``forward`` then selects). The differences are in memory only: the
    image embedding and positional encoding are broadcast over the prompts instead of copied and
    kept channels-last (the transformer then adds contiguous token tensors, and the upsampling,
    norms and 3x3 convolutions run on channels-last maps); HQ-SAM's per-image features are added
    in place instead of repeated per prompt. :func:`speed_up_decoders` installs it on the decoder,
    so every caller (sessions, the packages' predictors) gets the same numbers. Other decoders,
    and batches of images, go to the class's own method.
    """
    kind = (type(decoder).__module__, type(decoder).__name__)
    hq = kind[1] == "MaskDecoderHQ"
    image, pe, sparse, dense = image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings
    if (
        kind not in SAM_DECODER_CLASSES
        or image.shape[0] != 1
        or pe.shape[0] != 1
        or (hq and (hq_features is None or hq_features.shape[0] != 1))
    ):
        extra = {"hq_features": hq_features} if hq else {}
        return type(decoder).predict_masks(decoder, image, pe, sparse, dense, **extra)
    n_sam = decoder.mask_tokens.num_embeddings  # SAM's mask tokens; HQ-SAM adds its HQ token after them
    token_weights = [decoder.iou_token.weight, decoder.mask_tokens.weight]
    if hq:
        token_weights.append(decoder.hf_token.weight)
    b = sparse.shape[0]
    tokens = torch.cat((torch.cat(token_weights).unsqueeze(0).expand(b, -1, -1), sparse), dim=1)
    cl = torch.channels_last
    src = (image + dense).contiguous(memory_format=cl)  # == repeat_interleave(image, b) + dense
    pos = pe.contiguous(memory_format=cl).expand(b, -1, -1, -1)
    _, c, h, w = src.shape
    hs, keys = decoder.transformer(src, pos, tokens)
    iou_out, mask_out = hs[:, 0, :], hs[:, 1 : 1 + n_sam + int(hq), :]
    upscaled = decoder.output_upscaling(keys.transpose(1, 2).view(b, c, h, w))
    del hs, keys  # lower peak memory for the HQ layers below
    hyper = [decoder.output_hypernetworks_mlps[i](mask_out[:, i, :]) for i in range(n_sam)]
    if hq:
        hyper.append(decoder.hf_mlp(mask_out[:, n_sam, :]))
    hyper_in = torch.stack(hyper, dim=1)
    _, c, h, w = upscaled.shape
    masks = hyper_in[:, :n_sam] @ upscaled.reshape(b, c, h * w)
    if hq:
        fused = decoder.embedding_maskfeature(upscaled)
        if torch.is_grad_enabled() and fused.requires_grad:
            fused = fused + hq_features
        else:
            fused = fused.add_(hq_features)  # a new tensor (the last layer is a convolution)
        masks = torch.cat([masks, hyper_in[:, n_sam:] @ fused.reshape(b, c, h * w)], dim=1)
    return masks.view(b, -1, h, w), decoder.iou_prediction_head(iou_out)


def _install_predict_masks(decoder: nn.Module) -> bool:
    """Make ``decoder.predict_masks`` :func:`predict_masks` (an instance attribute); False if done or n/a."""
    if (type(decoder).__module__, type(decoder).__name__) not in SAM_DECODER_CLASSES:
        return False
    current = decoder.__dict__.get("predict_masks")
    if isinstance(current, functools.partial) and current.func is predict_masks:
        return False
    decoder.predict_masks = functools.partial(predict_masks, decoder)
    return True


def settle_malloc() -> bool:
    """Let glibc keep a click's temporary buffers mapped between clicks (Linux with glibc only).

    glibc serves blocks above its "mmap threshold" with fresh ``mmap`` calls and unmaps them when
    freed, and returns free memory above a "trim threshold" at the top of its heap to the system.
    Both thresholds adapt upwards when a block above the mmap threshold is freed (at most to
    32 MiB and 64 MiB on 64-bit systems), but stay lower until such a block has been freed. Until
    then every click maps its 4-16 MiB feature maps afresh and pays for the page faults: 10-17
    thousand per HQ-SAM click, a third of its time on a 2-core virtual machine. Allocating and
    freeing one block just under the maximum (never written, so it costs no page faults) moves both
    thresholds to glibc's maxima, as freeing any such tensor later would. Returns whether it ran.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl has no adaptive thresholds)
        malloc, free = libc.malloc, libc.free
    except (OSError, AttributeError):
        return False
    malloc.restype, malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    free.restype, free.argtypes = None, [ctypes.c_void_p]
    size = 4 * ctypes.sizeof(ctypes.c_long) * 2**20 - 2**20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX, less 1 MiB
    block = malloc(size)
    if not block:
        return False
    free(block)
    return True
