"""Exact, faster forms of Segment Anything's mask decoders (they run on every click).

* :class:`PatchExpand`: the decoders upsample with ``ConvTranspose2d(kernel_size=2, stride=2)``.
  When the kernel equals the stride (no padding, dilation or grouping) the output windows do not
  overlap, so the layer is one matrix product per input pixel followed by a pixel shuffle; PyTorch's
  CPU transposed convolution goes through col2im instead. The result is kept channels-last.
* :class:`ChannelNorm2d`: SAM, HQ-SAM and SAM 2 share a ``LayerNorm2d`` written as seven
  elementwise passes (mean, subtract, square, mean, divide, scale, shift), each allocating a
  full-size tensor; on HQ-SAM's 64x256x256 feature map that is about a quarter of a click on a
  2-core CPU. This computes the same normalisation with one fused kernel (``F.layer_norm`` over the
  channels of a channels-last tensor; :class:`PatchExpand` produces channels-last maps).
* :class:`FreshGELU` applies GELU in place when its input is a temporary that nothing else reads.
* :func:`predict_masks`: SAM's and HQ-SAM's ``predict_masks`` without per-prompt copies of the
  image-sized inputs, on channels-last maps (the 3x3 convolutions of HQ-SAM run twice as fast so).
* :func:`image_cache`: the first transformer layer's projections of the image (3 of the 10
  4096-row matrix products of a click) are computed once per image, not per click.

All give the packages' values up to float rounding; parameters keep their names and shapes, so
``state_dict()`` is unchanged. Measured HQ-SAM ViT-B click p50 on 2 CPU cores: 0.15 s -> 0.085 s.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
from collections.abc import Iterator
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
    fresh = (ChannelNorm2d, PatchExpand, nn.Conv2d, nn.ConvTranspose2d)
    return type(module) is nn.GELU and previous is not None and isinstance(previous, fresh)


def reference_layer_norm_2d(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The packages' ``LayerNorm2d`` formula with ``norm``'s parameters (for tests and checks)."""
    u = x.mean(1, keepdim=True)
    s = (x - u).pow(2).mean(1, keepdim=True)
    x = (x - u) / torch.sqrt(s + norm.eps)
    return norm.weight[:, None, None] * x + norm.bias[:, None, None]


def speed_up_decoders(model: nn.Module) -> int:
    """Swap the layers of ``model``'s mask decoder(s) for their exact fast forms.

    Transposed convolutions whose kernel equals the stride become :class:`PatchExpand`,
    ``LayerNorm2d`` becomes :class:`ChannelNorm2d`, a GELU
    right after one of those becomes :class:`FreshGELU`
    (in place), and SAM's and HQ-SAM's ``predict_masks`` becomes :func:`predict_masks`. Idempotent;
    returns how many layers and methods were swapped. Only the mask decoder is touched (including
    HQ-SAM's per-image feature fusion); the image encoder is left as it is.
    """
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
    return F.conv_transpose2d(
        x, conv.weight, conv.bias, conv.stride, conv.padding, conv.output_padding, conv.groups, conv.dilation
    )


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
    _, c, h, w = image.shape
    cache = _image_cache_for(decoder, dense)
    if cache is None:
        src = (image + dense).contiguous(memory_format=cl)  # == repeat_interleave(image, b) + dense
        pos = pe.contiguous(memory_format=cl).expand(b, -1, -1, -1)
        hs, keys = decoder.transformer(src, pos, tokens)
    else:  # no mask prompt: the first layer's image-side projections come from the image's cache
        hs, keys = _two_way_transformer(decoder.transformer, image, dense, pe, tokens, cache)
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


# (decoder, cache) of the image being decoded; set by :func:`image_cache` around a session's decode.
_IMAGE_CACHE: contextvars.ContextVar[tuple[nn.Module, dict] | None] = contextvars.ContextVar("ia_image_cache", default=None)


@contextlib.contextmanager
def image_cache(decoder: nn.Module, cache: dict) -> Iterator[None]:
    """Let :func:`predict_masks` on ``decoder`` keep image-side work in ``cache`` (one dict per image).

    Inside the block, calls for the same image embedding without a mask prompt reuse the first
    transformer layer's projections of the image (key/value of the tokens-to-image attention and
    the query of the image-to-tokens attention): they depend only on the image, the positional
    encoding and the "no mask" embedding, so they are computed once per image instead of per click.
    The caller owns ``cache`` and drops it with the image; the same image embedding and positional
    encoding must be passed while it is in use. Per thread/task (a context variable), so sessions
    sharing one model never see each other's cache.
    """
    token = _IMAGE_CACHE.set((decoder, cache))
    try:
        yield
    finally:
        _IMAGE_CACHE.reset(token)


_TWO_WAY_MODULES = frozenset({"segment_anything.modeling.transformer", "segment_anything_hq.modeling.transformer"})


def _plain_two_way(transformer: nn.Module) -> bool:
    """The packages' own TwoWayTransformer with their own blocks and attention layers."""
    if type(transformer).__module__ not in _TWO_WAY_MODULES or type(transformer).__name__ != "TwoWayTransformer":
        return False
    layers = getattr(transformer, "layers", None)
    if not layers:
        return False
    first = layers[0]
    attn = (first.cross_attn_token_to_image, first.cross_attn_image_to_token, first.self_attn)
    return (
        type(first).__name__ == "TwoWayAttentionBlock"
        and type(first).__module__ in _TWO_WAY_MODULES
        and all(type(a).__name__ == "Attention" and type(a).__module__ in _TWO_WAY_MODULES for a in attn)
    )


def _image_cache_for(decoder: nn.Module, dense: torch.Tensor) -> dict | None:
    """The cache for this call, or None: only inside :func:`image_cache` for this decoder, with the
    package's "no mask" dense embedding (one vector broadcast over the map: stride 0 in H and W)."""
    current = _IMAGE_CACHE.get()
    if current is None or current[0] is not decoder or dense.dim() != 4 or dense.stride()[2:] != (0, 0):
        return None
    if not _plain_two_way(decoder.transformer):
        return None
    cache = current[1]
    vector = dense[0, :, 0, 0]
    if "no_mask" in cache and not torch.equal(cache["no_mask"], vector):
        cache.clear()  # another "no mask" embedding (weights changed): start again
    return cache


def _attend(attn: nn.Module, q, k, v, *, qp=None, kp=None, vp=None) -> torch.Tensor:
    """The packages' ``Attention.forward``; ``qp``/``kp``/``vp`` are projections already made
    (batch 1, broadcast over the prompts)."""
    q = attn.q_proj(q) if qp is None else qp
    k = attn.k_proj(k) if kp is None else kp
    v = attn.v_proj(v) if vp is None else vp
    b = max(q.shape[0], k.shape[0], v.shape[0])
    q, k, v = (attn._separate_heads(t.expand(b, -1, -1), attn.num_heads) for t in (q, k, v))
    scores = q @ k.permute(0, 1, 3, 2)
    scores = torch.softmax(scores / math.sqrt(q.shape[-1]), dim=-1)
    return attn.out_proj(attn._recombine_heads(scores @ v))


def _two_way_transformer(transformer: nn.Module, image, dense, pe, tokens, cache: dict):
    """The packages' ``TwoWayTransformer(image + dense, pe, tokens)`` with the first layer's
    image-side projections taken from (or first put into) ``cache``. Returns ``(queries, keys)``."""
    first = transformer.layers[0]
    if "k0" not in cache:
        keys1 = (image + dense[:1]).contiguous(memory_format=torch.channels_last).flatten(2).permute(0, 2, 1)
        key_pe = pe.contiguous(memory_format=torch.channels_last).flatten(2).permute(0, 2, 1)
        with_pe = keys1 + key_pe
        cache.update(
            no_mask=dense[0, :, 0, 0].clone(),
            keys=keys1,
            key_pe=key_pe,
            k0=first.cross_attn_token_to_image.k_proj(with_pe),
            v0=first.cross_attn_token_to_image.v_proj(keys1),
            q0=first.cross_attn_image_to_token.q_proj(with_pe),
        )
    keys, key_pe = cache["keys"], cache["key_pe"]
    queries = query_pe = tokens
    # the first block (TwoWayAttentionBlock.forward) with the cached projections
    if first.skip_first_layer_pe:
        queries = first.self_attn(q=queries, k=queries, v=queries)
    else:
        q = queries + query_pe
        queries = queries + first.self_attn(q=q, k=q, v=queries)
    queries = first.norm1(queries)
    queries = first.norm2(
        queries + _attend(first.cross_attn_token_to_image, queries + query_pe, None, None, kp=cache["k0"], vp=cache["v0"])
    )
    queries = first.norm3(queries + first.mlp(queries))
    q = queries + query_pe
    keys = first.norm4(keys + _attend(first.cross_attn_image_to_token, None, q, queries, qp=cache["q0"]))
    for layer in transformer.layers[1:]:
        queries, keys = layer(queries=queries, keys=keys, query_pe=query_pe, key_pe=key_pe)
    attn_out = transformer.final_attn_token_to_image(q=queries + query_pe, k=keys + key_pe, v=keys)
    return transformer.norm_final_attn(queries + attn_out), keys


def _install_predict_masks(decoder: nn.Module) -> bool:
    """Make ``decoder.predict_masks`` :func:`predict_masks` (an instance attribute); False if done or n/a."""
    if (type(decoder).__module__, type(decoder).__name__) not in SAM_DECODER_CLASSES:
        return False
    current = decoder.__dict__.get("predict_masks")
    if isinstance(current, functools.partial) and current.func is predict_masks:
        return False
    decoder.predict_masks = functools.partial(predict_masks, decoder)
    return True
