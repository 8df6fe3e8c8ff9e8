"""Segment Anything architectures described as plain data, and inferred from a state dict.

The architecture of a checkpoint is recognised only from its tensor names and shapes, so a file
works whatever it is called. Four families are known:

- ``sam``: ViT image encoder + vanilla mask decoder (``segment_anything``).
- ``sam_hq``: ViT image encoder + HQ mask decoder (``segment_anything_hq``).
- ``mobile_sam``: TinyViT image encoder + vanilla mask decoder (MobileSAM).
- ``sam_hq_tiny``: TinyViT image encoder + HQ mask decoder (Light HQ-SAM).

SAM 2 / 2.1 (Hiera trunk, ``sam2`` package) is described in :mod:`.sam2_spec`; :func:`infer_spec`
recognises all five families.
Their names, encoders and predictor packages are one table, :mod:`.families`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from inpaint_anything.errors import UnrecognizedCheckpointError
from inpaint_anything.segment.families import FAMILY_TABLE, family_of
from inpaint_anything.segment.sam2_spec import Sam2Spec, infer_sam2_spec, is_sam2_state_dict

FAMILIES = tuple(f.id for f in FAMILY_TABLE.values() if f.encoder != "hiera")  # the four described here
# segment_anything_hq's TinyViT hard-codes the stride of its patch merging layers from the width of
# the next stage: only these widths keep the 64x64 token grid in the last stage.
TINYVIT_LAST_STAGE_WIDTHS = (320, 448, 576)
TINYVIT_NECK_CHANS = 256  # the TinyViT encoder hard-codes a 256-channel neck


@dataclass(frozen=True)
class EncoderSpec:
    """The sizes every SAM image encoder has (ViT and TinyViT alike); each subclass adds its own and
    ``grid_size``, the side of the square token grid it outputs."""

    img_size: int = 1024
    in_chans: int = 3
    mlp_ratio: float = 4.0
    out_chans: int = 256


@dataclass(frozen=True)
class ViTEncoderSpec(EncoderSpec):
    """Sizes of ``ImageEncoderViT`` (SAM / HQ-SAM)."""

    patch_size: int = 16
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    qkv_bias: bool = True
    window_size: int = 14
    global_attn_indexes: tuple[int, ...] = (2, 5, 8, 11)

    @property
    def grid_size(self) -> int:
        return self.img_size // self.patch_size


@dataclass(frozen=True)
class TinyViTEncoderSpec(EncoderSpec):
    """Sizes of ``TinyViT`` (MobileSAM / Light HQ-SAM).

    Stage 0 is convolutional: ``num_heads[0]`` and ``window_sizes[0]`` are not used by the model
    and cannot be read from weights; they are always reported as 2 and 7 (MobileSAM's values).
    The encoder hard-codes a 64x64 output grid (``img_size`` 1024 / 16) and a
    ``TINYVIT_NECK_CHANS``-channel neck.
    """

    embed_dims: tuple[int, ...] = (64, 128, 160, 320)
    depths: tuple[int, ...] = (2, 2, 6, 2)
    num_heads: tuple[int, ...] = (2, 4, 5, 10)
    window_sizes: tuple[int, ...] = (7, 7, 14, 7)
    mbconv_expand_ratio: float = 4.0
    local_conv_size: int = 3
    num_classes: int = 1000

    @property
    def grid_size(self) -> int:
        return 64


@dataclass(frozen=True)
class DecoderSpec:
    """Sizes of the prompt encoder and the (HQ) mask decoder.

    ``num_heads`` of the two-way transformer is not stored in the weights; every published SAM uses 8.
    ``hq_vit_dim`` is the width of the early encoder feature fused by the HQ decoder (None: vanilla).
    """

    transformer_dim: int = 256
    depth: int = 2
    mlp_dim: int = 2048
    num_heads: int = 8
    attention_downsample_rate: int = 2
    num_multimask_outputs: int = 3
    iou_head_depth: int = 3
    iou_head_hidden_dim: int = 256
    mask_in_chans: int = 16
    hq_vit_dim: int | None = None


@dataclass(frozen=True)
class SamSpec:
    """Everything needed to rebuild a Segment Anything model; see :func:`infer_sam_spec`."""

    family: str
    encoder: ViTEncoderSpec | TinyViTEncoderSpec
    decoder: DecoderSpec
    variant: str = "custom"  # vit_b / vit_l / vit_h / vit_tiny when the sizes are the published ones

    @property
    def is_hq(self) -> bool:
        return FAMILY_TABLE[self.family].hq

    @property
    def is_tinyvit(self) -> bool:
        return isinstance(self.encoder, TinyViTEncoderSpec)

    @property
    def img_size(self) -> int:
        """Long side the image is resized to before encoding."""
        return self.encoder.img_size

    @property
    def embedding_size(self) -> int:
        """Side of the (square) image embedding grid."""
        return self.encoder.grid_size

    @property
    def prompt_embed_dim(self) -> int:
        return self.decoder.transformer_dim

    @property
    def predictor_package(self) -> str:
        """Python package whose ``SamPredictor`` drives this model."""
        return FAMILY_TABLE[self.family].package

    def describe(self) -> str:
        """Short human-readable description, e.g. ``"HQ-SAM vit_b"``."""
        return f"{FAMILY_TABLE[self.family].title} {self.variant}"


def known_sam_specs() -> dict[tuple[str, str], SamSpec]:
    """The published models, keyed by (family, variant)."""
    vits = {
        "vit_b": ViTEncoderSpec(embed_dim=768, depth=12, num_heads=12, global_attn_indexes=(2, 5, 8, 11)),
        "vit_l": ViTEncoderSpec(embed_dim=1024, depth=24, num_heads=16, global_attn_indexes=(5, 11, 17, 23)),
        "vit_h": ViTEncoderSpec(embed_dim=1280, depth=32, num_heads=16, global_attn_indexes=(7, 15, 23, 31)),
    }
    specs: dict[tuple[str, str], SamSpec] = {}
    for name, enc in vits.items():
        specs[("sam", name)] = SamSpec("sam", enc, DecoderSpec(), name)
        specs[("sam_hq", name)] = SamSpec("sam_hq", enc, DecoderSpec(hq_vit_dim=enc.embed_dim), name)
    tiny = TinyViTEncoderSpec()
    specs[("mobile_sam", "vit_tiny")] = SamSpec("mobile_sam", tiny, DecoderSpec(), "vit_tiny")
    specs[("sam_hq_tiny", "vit_tiny")] = SamSpec("sam_hq_tiny", tiny, DecoderSpec(hq_vit_dim=160), "vit_tiny")
    return specs


def variant_of(spec: SamSpec) -> str:
    """Name of the published model with exactly these sizes, or ``"custom"``.

    The TinyViT classification head size (``num_classes``) is ignored: it is unused by SAM.
    """
    for (family, name), known in known_sam_specs().items():
        if family != spec.family:
            continue
        enc = spec.encoder
        if isinstance(enc, TinyViTEncoderSpec) and isinstance(known.encoder, TinyViTEncoderSpec):
            known = replace(known, encoder=replace(known.encoder, num_classes=enc.num_classes))
        if replace(known, variant=spec.variant) == spec:
            return name
    return "custom"


# ---------------------------------------------------------------------------------------------
# Inference from a state dict (anything whose values have a ``.shape``: real or meta tensors).


def _shape(sd: Mapping[str, Any], key: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in sd[key].shape)
    except KeyError:
        raise UnrecognizedCheckpointError(
            f"This Segment Anything checkpoint is incomplete: the tensor '{key}' is missing."
        ) from None


def _indices(sd: Mapping[str, Any], prefix: str) -> list[int]:
    """Sorted integer indexes ``N`` of keys that start with ``prefix + "N."``."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = {int(m.group(1)) for k in sd if (m := pattern.match(k))}
    if found and sorted(found) != list(range(len(found))):
        raise UnrecognizedCheckpointError(
            f"This Segment Anything checkpoint is incomplete: '{prefix}*' has gaps ({sorted(found)})."
        )
    return sorted(found)


def _ratio(num: int, den: int) -> float:
    return float(num) / float(den)


def _fail(message: str) -> UnrecognizedCheckpointError:
    return UnrecognizedCheckpointError(message)


def describe_keys(sd: Mapping[str, Any], limit: int = 6) -> str:
    """A short summary of what a state dict contains, for error messages."""
    if not sd:
        return "no tensors at all"
    heads = Counter(k.split(".")[0] for k in sd)
    parts = ", ".join(f"'{name}' ({n})" for name, n in heads.most_common(limit))
    more = f" and {len(heads) - limit} more groups" if len(heads) > limit else ""
    hint = ""
    if any(k.startswith(("model.diffusion_model.", "first_stage_model.", "cond_stage_model.")) for k in sd):
        hint = " It looks like a Stable Diffusion checkpoint, which belongs in the WebUI's models folder."
    return f"{len(sd)} tensor{'s' if len(sd) != 1 else ''} grouped as {parts}{more}.{hint}"


def _infer_vit(sd: Mapping[str, Any]) -> ViTEncoderSpec:
    p = "image_encoder."
    embed_dim, in_chans, patch, _ = _shape(sd, p + "patch_embed.proj.weight")
    if p + "pos_embed" not in sd:
        raise _fail("This SAM checkpoint has no absolute position embedding, so its image size is unknown.")
    _, grid_h, grid_w, pos_dim = _shape(sd, p + "pos_embed")
    if grid_h != grid_w or pos_dim != embed_dim:
        raise _fail(f"Unexpected SAM position embedding shape {_shape(sd, p + 'pos_embed')}.")
    blocks = _indices(sd, p + "blocks.")
    if not blocks:
        raise _fail("This SAM checkpoint has an image encoder without transformer blocks.")
    spans, head_dims = [], set()
    for i in blocks:
        key = f"{p}blocks.{i}.attn.rel_pos_h"
        if key not in sd:
            raise _fail("This SAM checkpoint has no relative position tables, so its attention layout is unknown.")
        length, head_dim = _shape(sd, key)
        spans.append((length + 1) // 2)
        head_dims.add(head_dim)
    if len(head_dims) != 1 or embed_dim % next(iter(head_dims)):
        raise _fail(f"Inconsistent SAM attention head sizes {sorted(head_dims)} for width {embed_dim}.")
    global_idx = tuple(i for i, s in zip(blocks, spans, strict=True) if s == grid_h)
    windows = {s for s in spans if s != grid_h}
    if len(windows) > 1:
        raise _fail(f"This SAM checkpoint mixes several attention window sizes {sorted(windows)}.")
    hidden = _shape(sd, p + "blocks.0.mlp.lin1.weight")[0]
    return ViTEncoderSpec(
        img_size=grid_h * patch,
        patch_size=patch,
        in_chans=in_chans,
        embed_dim=embed_dim,
        depth=len(blocks),
        num_heads=embed_dim // next(iter(head_dims)),
        mlp_ratio=_ratio(hidden, embed_dim),
        qkv_bias=(p + "blocks.0.attn.qkv.bias") in sd,
        window_size=windows.pop() if windows else 0,
        global_attn_indexes=global_idx,
        out_chans=_shape(sd, p + "neck.0.weight")[0],
    )


def _infer_tinyvit(sd: Mapping[str, Any]) -> TinyViTEncoderSpec:
    p = "image_encoder."
    layers = _indices(sd, p + "layers.")
    if len(layers) != 4:
        raise _fail(f"This MobileSAM-style checkpoint has {len(layers)} TinyViT stages; 4 are supported.")
    dims = [_shape(sd, p + "patch_embed.seq.2.c.weight")[0]]
    for i in range(3):
        dims.append(_shape(sd, f"{p}layers.{i}.downsample.conv1.c.weight")[0])
    depths = [len(_indices(sd, f"{p}layers.{i}.blocks.")) for i in range(4)]
    if min(depths) < 1:
        raise _fail(f"This TinyViT checkpoint has an empty stage (depths {depths}).")
    heads, windows = [2], [7]
    for i in range(1, 4):
        n_heads, n_offsets = _shape(sd, f"{p}layers.{i}.blocks.0.attn.attention_biases")
        window = math.isqrt(n_offsets)
        if window * window != n_offsets:
            raise _fail(f"Unexpected TinyViT attention bias table of {n_offsets} entries in stage {i}.")
        heads.append(n_heads)
        windows.append(window)
    if dims[3] not in TINYVIT_LAST_STAGE_WIDTHS or dims[1] in TINYVIT_LAST_STAGE_WIDTHS or dims[2] in TINYVIT_LAST_STAGE_WIDTHS:
        raise _fail(
            f"This TinyViT checkpoint has stage widths {dims}; segment_anything_hq only supports a last "
            f"stage of {', '.join(map(str, TINYVIT_LAST_STAGE_WIDTHS))} channels (and no other stage that wide)."
        )
    neck = _shape(sd, p + "neck.0.weight")[0]
    if neck != TINYVIT_NECK_CHANS:
        raise _fail(f"This TinyViT checkpoint has a {neck}-channel neck; segment_anything_hq needs 256.")
    head = p + "head.weight"
    return TinyViTEncoderSpec(
        embed_dims=tuple(dims),
        depths=tuple(depths),
        num_heads=tuple(heads),
        window_sizes=tuple(windows),
        mlp_ratio=_ratio(_shape(sd, f"{p}layers.1.blocks.0.mlp.fc1.weight")[0], dims[1]),
        mbconv_expand_ratio=_ratio(_shape(sd, f"{p}layers.0.blocks.0.conv1.c.weight")[0], dims[0]),
        local_conv_size=_shape(sd, f"{p}layers.1.blocks.0.local_conv.c.weight")[-1],
        num_classes=_shape(sd, head)[0] if head in sd else 0,
        in_chans=_shape(sd, p + "patch_embed.seq.0.c.weight")[1],
    )


def _infer_decoder(sd: Mapping[str, Any], hq: bool) -> DecoderSpec:
    p = "mask_decoder."
    dim = _shape(sd, p + "iou_token.weight")[1]
    layers = _indices(sd, p + "transformer.layers.")
    if not layers:
        raise _fail("This SAM checkpoint has a mask decoder without transformer layers.")
    internal = _shape(sd, p + "transformer.layers.0.cross_attn_token_to_image.q_proj.weight")[0]
    iou_layers = _indices(sd, p + "iou_prediction_head.layers.")
    return DecoderSpec(
        transformer_dim=dim,
        depth=len(layers),
        mlp_dim=_shape(sd, p + "transformer.layers.0.mlp.lin1.weight")[0],
        attention_downsample_rate=dim // internal,
        num_multimask_outputs=_shape(sd, p + "mask_tokens.weight")[0] - 1,
        iou_head_depth=len(iou_layers),
        iou_head_hidden_dim=_shape(sd, p + "iou_prediction_head.layers.0.weight")[0],
        mask_in_chans=_shape(sd, "prompt_encoder.mask_downscaling.3.weight")[0],
        hq_vit_dim=_shape(sd, p + "compress_vit_feat.0.weight")[0] if hq else None,
    )


def infer_sam_spec(state_dict: Mapping[str, Any]) -> SamSpec:
    """Recognise a Segment Anything architecture from tensor names and shapes only.

    Raises :class:`UnrecognizedCheckpointError` (saying what was found) for anything else.
    Not stored in weights, so assumed: decoder ``num_heads`` = 8, the TinyViT input size (1024), and
    a ViT whose window equals its token grid is reported as all-global (``window_size=0``).
    """
    sd = state_dict
    if is_sam2_state_dict(sd):
        raise UnrecognizedCheckpointError(
            "This is a SAM 2 checkpoint (Hiera image encoder); it is recognised by infer_spec / infer_sam2_spec."
        )
    has_vit = "image_encoder.patch_embed.proj.weight" in sd
    has_tiny = "image_encoder.patch_embed.seq.0.c.weight" in sd
    has_decoder = "mask_decoder.iou_token.weight" in sd and "prompt_encoder.no_mask_embed.weight" in sd
    if not has_decoder or has_vit == has_tiny:
        raise UnrecognizedCheckpointError(
            "This file is not a Segment Anything (SAM, HQ-SAM, MobileSAM, SAM 2) checkpoint: found " + describe_keys(sd)
        )
    hq = "mask_decoder.hf_token.weight" in sd or "mask_decoder.compress_vit_feat.0.weight" in sd
    encoder: ViTEncoderSpec | TinyViTEncoderSpec = _infer_tinyvit(sd) if has_tiny else _infer_vit(sd)
    decoder = _infer_decoder(sd, hq)
    family = family_of("tinyvit" if has_tiny else "vit", hq)
    early_dim = encoder.embed_dims[2] if has_tiny else encoder.embed_dim  # type: ignore[union-attr]
    prompt_dim = _shape(sd, "prompt_encoder.no_mask_embed.weight")[1]
    if not encoder.out_chans == decoder.transformer_dim == prompt_dim:
        raise _fail(
            f"This SAM checkpoint is inconsistent: encoder output {encoder.out_chans}, prompt width "
            f"{prompt_dim}, decoder width {decoder.transformer_dim}."
        )
    if hq and decoder.hq_vit_dim != early_dim:
        raise _fail(f"This HQ-SAM checkpoint fuses {decoder.hq_vit_dim}-channel features, but its encoder gives {early_dim}.")
    spec = SamSpec(family=family, encoder=encoder, decoder=decoder)
    return replace(spec, variant=variant_of(spec))


def infer_spec(state_dict: Mapping[str, Any]) -> SamSpec | Sam2Spec:
    """:func:`infer_sam2_spec` for a SAM 2 / 2.1 state dict, :func:`infer_sam_spec` for anything else."""
    if is_sam2_state_dict(state_dict):
        return infer_sam2_spec(state_dict)
    return infer_sam_spec(state_dict)


__all__ = [
    "FAMILIES",
    "DecoderSpec",
    "EncoderSpec",
    "SamSpec",
    "TinyViTEncoderSpec",
    "ViTEncoderSpec",
    "describe_keys",
    "infer_sam_spec",
    "infer_spec",
    "known_sam_specs",
    "variant_of",
]
