"""SAM 2 / SAM 2.1 architectures described as plain data, and inferred from a state dict.

A SAM 2 checkpoint is recognised from its tensor names and shapes only (any file name): a Hiera
image trunk (``image_encoder.trunk.*``), an FPN neck, the SAM prompt encoder / mask decoder
(``sam_prompt_encoder.*``, ``sam_mask_decoder.*``) and the video memory modules. SAM 2.1 differs
from SAM 2.0 by two tensors, ``no_obj_embed_spatial`` and ``obj_ptr_tpos_proj.weight``.

Not stored in the weights, so taken from Meta's published configurations when the trunk has one of
the published sizes (Hiera-T/S/B+/L): attention heads, global-attention blocks and window sizes of
stages 2-4. For other sizes the assumptions are listed in :func:`infer_sam2_spec`. The input
resolution is never stored: it is 1024 pixels for every model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from inpaint_anything.errors import UnrecognizedCheckpointError
from inpaint_anything.segment.families import FAMILY_TABLE

SAM2_IMAGE_SIZE = 1024
SAM2_VERSIONS = ("2.0", "2.1")
_DEFAULT_WINDOWS = (8, 4, 14, 7)


@dataclass(frozen=True)
class HieraSpec:
    """Sizes of the Hiera trunk (``sam2.modeling.backbones.hieradet.Hiera``)."""

    embed_dim: int = 96
    num_heads: int = 1
    stages: tuple[int, ...] = (1, 2, 7, 2)
    global_att_blocks: tuple[int, ...] = (5, 7, 9)
    window_spec: tuple[int, ...] = _DEFAULT_WINDOWS
    window_pos_embed_bkg_spatial_size: tuple[int, int] = (7, 7)

    @property
    def channel_list(self) -> tuple[int, ...]:
        """Output widths of the stages, deepest first (as the neck lists them)."""
        return tuple(self.embed_dim * 2**i for i in range(len(self.stages)))[::-1]


@dataclass(frozen=True)
class MemorySpec:
    """Sizes of the video memory modules (unused for single images, but part of every checkpoint)."""

    num_maskmem: int = 7
    attention_d_model: int = 256
    attention_layers: int = 4
    attention_ffn: int = 2048
    kv_in_dim: int = 64
    encoder_in_dim: int = 256
    mem_dim: int = 64
    downsampler_dim: int = 256
    fuser_dim: int = 256
    fuser_layers: int = 2


# Published trunks: (embed_dim, stages) -> (variant, config stem, heads, global blocks, windows).
PUBLISHED_TRUNKS: dict[tuple[int, tuple[int, ...]], tuple[str, str, int, tuple[int, ...], tuple[int, ...]]] = {
    (96, (1, 2, 7, 2)): ("hiera_t", "t", 1, (5, 7, 9), _DEFAULT_WINDOWS),
    (96, (1, 2, 11, 2)): ("hiera_s", "s", 1, (7, 10, 13), _DEFAULT_WINDOWS),
    (112, (2, 3, 16, 3)): ("hiera_b+", "b+", 2, (12, 16, 20), _DEFAULT_WINDOWS),
    (144, (2, 6, 36, 4)): ("hiera_l", "l", 2, (23, 33, 43), (8, 4, 16, 8)),
}
VARIANT_LABELS = {"hiera_t": "Hiera-T", "hiera_s": "Hiera-S", "hiera_b+": "Hiera-B+", "hiera_l": "Hiera-L"}


@dataclass(frozen=True)
class Sam2Spec:
    """Everything needed to rebuild a SAM 2 / 2.1 model from Meta's packaged configuration."""

    version: str  # "2.0" | "2.1"
    trunk: HieraSpec
    d_model: int = 256  # neck width = prompt encoder / mask decoder width
    memory: MemorySpec = MemorySpec()
    variant: str = "custom"  # hiera_t / hiera_s / hiera_b+ / hiera_l when the trunk is a published one
    image_size: int = SAM2_IMAGE_SIZE

    family = "sam2"
    is_hq = FAMILY_TABLE["sam2"].hq
    is_tinyvit = False
    predictor_package = FAMILY_TABLE["sam2"].package

    @property
    def img_size(self) -> int:
        return self.image_size

    @property
    def embedding_size(self) -> int:
        """Side of the image embedding grid (stride 16)."""
        return self.image_size // 16

    @property
    def prompt_embed_dim(self) -> int:
        return self.d_model

    @property
    def config_stem(self) -> str:
        """Which packaged config the model is built from (t / s / b+ / l); custom sizes use ``t``."""
        for name, stem, *_ in PUBLISHED_TRUNKS.values():
            if name == self.variant:
                return stem
        return "t"

    @property
    def config_name(self) -> str:
        """Path of the packaged hydra config inside the ``sam2`` package."""
        if self.version == "2.1":
            return f"configs/sam2.1/sam2.1_hiera_{self.config_stem}.yaml"
        return f"configs/sam2/sam2_hiera_{self.config_stem}.yaml"

    def describe(self) -> str:
        """Short human-readable description, e.g. ``"SAM 2.1 Hiera-T"``."""
        label = VARIANT_LABELS.get(self.variant, f"custom Hiera ({self.trunk.embed_dim}-wide)")
        return f"SAM {self.version} {label}"


# ---------------------------------------------------------------------------------------------
# Inference from a state dict (anything whose values have a ``.shape``).

_TRUNK = "image_encoder.trunk."


def _fail(message: str) -> UnrecognizedCheckpointError:
    return UnrecognizedCheckpointError(message)


def _shape(sd: Mapping[str, Any], key: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in sd[key].shape)
    except KeyError:
        raise _fail(f"This SAM 2 checkpoint is incomplete: the tensor '{key}' is missing.") from None


def _dim(sd: Mapping[str, Any], key: str, axis: int, default: int) -> int:
    """One dimension of ``key``, or ``default`` when the tensor is absent (the strict load reports it)."""
    return int(sd[key].shape[axis]) if key in sd else default


def _count(sd: Mapping[str, Any], prefix: str) -> int:
    """Number of consecutive sub-modules ``prefix + N.`` (0 when none)."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = {int(m.group(1)) for k in sd if (m := pattern.match(k))}
    if found and sorted(found) != list(range(len(found))):
        raise _fail(f"This SAM 2 checkpoint is incomplete: '{prefix}*' has gaps ({sorted(found)}).")
    return len(found)


def is_sam2_state_dict(sd: Mapping[str, Any]) -> bool:
    """True when the keys look like SAM 2 / 2.1 (a Hiera trunk plus the SAM 2 mask decoder)."""
    return (_TRUNK + "patch_embed.proj.weight") in sd and any(k.startswith("sam_mask_decoder.") for k in sd)


def _infer_trunk(sd: Mapping[str, Any]) -> HieraSpec:
    embed_dim = _shape(sd, _TRUNK + "patch_embed.proj.weight")[0]
    depth = _count(sd, _TRUNK + "blocks.")
    if depth == 0:
        raise _fail("This SAM 2 checkpoint has a Hiera trunk without blocks.")
    # the first block of every later stage projects to a wider dimension (and has a ``proj``)
    starts = [0] + [i for i in range(1, depth) if f"{_TRUNK}blocks.{i}.proj.weight" in sd]
    stages = tuple(b - a for a, b in zip(starts, [*starts[1:], depth], strict=True))
    if len(stages) != 4:
        raise _fail(f"This SAM 2 checkpoint has a Hiera trunk with {len(stages)} stages; 4 are supported.")
    for s, first in enumerate(starts):
        width = _shape(sd, f"{_TRUNK}blocks.{first}.attn.proj.weight")[0]
        if width != embed_dim * 2**s:
            raise _fail(f"This SAM 2 checkpoint's Hiera stage {s + 1} is {width} wide; {embed_dim * 2**s} was expected.")
    window0 = _shape(sd, _TRUNK + "pos_embed_window")[-1]
    bkg = _shape(sd, _TRUNK + "pos_embed")[2:]
    published = PUBLISHED_TRUNKS.get((embed_dim, stages))
    if published is not None:
        _name, _stem, heads, global_blocks, windows = published
    else:  # not stored in the weights: Hiera-T/S values (see infer_sam2_spec)
        heads = 1 if embed_dim <= 96 else 2
        global_blocks = (sum(stages[:3]) - 1,)
        windows = _DEFAULT_WINDOWS
    return HieraSpec(
        embed_dim=embed_dim,
        num_heads=heads,
        stages=stages,
        global_att_blocks=tuple(global_blocks),
        window_spec=(window0, *windows[1:]),
        window_pos_embed_bkg_spatial_size=(int(bkg[0]), int(bkg[1])),
    )


def _infer_memory(sd: Mapping[str, Any]) -> MemorySpec:
    d = MemorySpec()
    attn = "memory_attention."
    enc = "memory_encoder."
    down = enc + "mask_downsampler.encoder."
    # a Sequential with parameter-free activations in between: its last convolution sets the width
    convs = sorted(
        int(m.group(1)) for k in sd if (m := re.fullmatch(re.escape(down) + r"(\d+)\.weight", k)) and len(sd[k].shape) == 4
    )
    in_dim = _dim(sd, enc + "pix_feat_proj.weight", 0, d.encoder_in_dim)
    return MemorySpec(
        num_maskmem=_dim(sd, "maskmem_tpos_enc", 0, d.num_maskmem),
        attention_d_model=_dim(sd, attn + "norm.weight", 0, d.attention_d_model),
        attention_layers=_count(sd, attn + "layers.") or d.attention_layers,
        attention_ffn=_dim(sd, attn + "layers.0.linear1.weight", 0, d.attention_ffn),
        kv_in_dim=_dim(sd, attn + "layers.0.cross_attn_image.k_proj.weight", 1, d.kv_in_dim),
        encoder_in_dim=in_dim,
        mem_dim=_dim(sd, enc + "out_proj.weight", 0, in_dim),
        downsampler_dim=_dim(sd, f"{down}{convs[-1]}.weight", 0, d.downsampler_dim) if convs else d.downsampler_dim,
        fuser_dim=_dim(sd, enc + "fuser.layers.0.dwconv.weight", 0, d.fuser_dim),
        fuser_layers=_count(sd, enc + "fuser.layers.") or d.fuser_layers,
    )


def sam2_version(sd: Mapping[str, Any]) -> str:
    """``"2.1"`` when the SAM 2.1 tensors are present, else ``"2.0"``."""
    new = ("no_obj_embed_spatial" in sd, "obj_ptr_tpos_proj.weight" in sd)
    if all(new):
        return "2.1"
    if not any(new):
        return "2.0"
    raise _fail(
        "This SAM 2 checkpoint mixes SAM 2.0 and SAM 2.1 layers (only one of 'no_obj_embed_spatial' and "
        "'obj_ptr_tpos_proj' is present); it cannot be loaded."
    )


def infer_sam2_spec(state_dict: Mapping[str, Any]) -> Sam2Spec:
    """Recognise a SAM 2 / 2.1 architecture from tensor names and shapes only.

    Raises :class:`UnrecognizedCheckpointError` for anything else. Published trunk sizes get Meta's
    configuration. Other sizes assume what the weights do not store: 1 attention head at the first
    stage (2 when wider than 96), global attention only in the last block of the third stage, and
    windows of 14 and 7 tokens in stages 3 and 4 (4 in stage 2).
    """
    sd = state_dict
    if not is_sam2_state_dict(sd):
        raise _fail("This file is not a SAM 2 checkpoint (no Hiera image trunk and SAM 2 mask decoder).")
    trunk = _infer_trunk(sd)
    d_model = _shape(sd, "image_encoder.neck.convs.0.conv.weight")[0]
    n_convs = _count(sd, "image_encoder.neck.convs.")
    neck_in = tuple(_shape(sd, f"image_encoder.neck.convs.{i}.conv.weight")[1] for i in range(n_convs))
    if neck_in != trunk.channel_list:
        raise _fail(
            f"This SAM 2 checkpoint's neck takes {list(neck_in)} channels but its trunk gives {list(trunk.channel_list)}."
        )
    prompt_dim = _shape(sd, "sam_prompt_encoder.no_mask_embed.weight")[1]
    decoder_dim = _shape(sd, "sam_mask_decoder.iou_token.weight")[1]
    if not d_model == prompt_dim == decoder_dim:
        raise _fail(
            f"This SAM 2 checkpoint is inconsistent: neck width {d_model}, prompt width {prompt_dim}, "
            f"decoder width {decoder_dim}."
        )
    spec = Sam2Spec(version=sam2_version(sd), trunk=trunk, d_model=d_model, memory=_infer_memory(sd))
    return replace(spec, variant=sam2_variant_of(spec))


def sam2_variant_of(spec: Sam2Spec) -> str:
    """``hiera_t`` / ``hiera_s`` / ``hiera_b+`` / ``hiera_l`` for Meta's sizes, else ``"custom"``."""
    published = PUBLISHED_TRUNKS.get((spec.trunk.embed_dim, spec.trunk.stages))
    if published is None or spec.d_model != 256 or spec.memory != MemorySpec():
        return "custom"
    return published[0]


__all__ = [
    "PUBLISHED_TRUNKS",
    "SAM2_IMAGE_SIZE",
    "SAM2_VERSIONS",
    "HieraSpec",
    "MemorySpec",
    "Sam2Spec",
    "infer_sam2_spec",
    "is_sam2_state_dict",
    "sam2_variant_of",
    "sam2_version",
]
