"""Build Segment Anything models from a :class:`SamSpec` with the PyPI packages' classes.

``sam`` uses ``segment_anything.modeling``; the HQ families and both TinyViT families use
``segment_anything_hq.modeling`` (its vanilla ``MaskDecoder`` + ``TinyViT`` is the MobileSAM
architecture, as in ``segment_anything_hq.build_sam_baseline``).
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from functools import partial
from types import ModuleType
from typing import TYPE_CHECKING, Any

from inpaint_anything.errors import UnavailableError
from inpaint_anything.segment.spec import SamSpec, TinyViTEncoderSpec, ViTEncoderSpec

if TYPE_CHECKING:
    import torch

    from inpaint_anything.segment.loaded import LoadedSam

PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)


def import_sam_package(name: str) -> ModuleType:
    """Import ``segment_anything`` or ``segment_anything_hq`` (quietly), or raise UnavailableError."""
    import importlib

    try:
        with warnings.catch_warnings():
            # segment_anything_hq imports timm's deprecated paths and re-registers TinyViT models.
            warnings.simplefilter("ignore", FutureWarning)
            warnings.filterwarnings("ignore", message="Overwriting tiny_vit", category=UserWarning)
            return importlib.import_module(name)
    except ImportError as exc:
        pip_name = name.replace("_", "-")
        raise UnavailableError(
            f"The Python package '{pip_name}' is needed for this Segment Anything model but could not be "
            f"imported ({exc}). Install it in the WebUI's environment (pip install {pip_name}) and restart."
        ) from exc


def _vit_encoder(modeling: ModuleType, enc: ViTEncoderSpec) -> torch.nn.Module:
    import torch

    return modeling.ImageEncoderViT(
        depth=enc.depth,
        embed_dim=enc.embed_dim,
        img_size=enc.img_size,
        mlp_ratio=enc.mlp_ratio,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        num_heads=enc.num_heads,
        patch_size=enc.patch_size,
        in_chans=enc.in_chans,
        qkv_bias=enc.qkv_bias,
        use_rel_pos=True,
        global_attn_indexes=tuple(enc.global_attn_indexes),
        window_size=enc.window_size,
        out_chans=enc.out_chans,
    )


def _tinyvit_encoder(modeling: ModuleType, enc: TinyViTEncoderSpec, device: Any) -> torch.nn.Module:
    import torch

    # TinyViT calls .item() while it is built, which a meta tensor cannot do: build it on the CPU.
    on_meta = device is not None and torch.device(device).type == "meta"
    with torch.device("cpu") if on_meta else nullcontext():
        model = modeling.TinyViT(
            img_size=enc.img_size,
            in_chans=enc.in_chans,
            num_classes=enc.num_classes,
            embed_dims=list(enc.embed_dims),
            depths=list(enc.depths),
            num_heads=list(enc.num_heads),
            window_sizes=list(enc.window_sizes),
            mlp_ratio=enc.mlp_ratio,
            drop_rate=0.0,
            drop_path_rate=0.0,
            use_checkpoint=False,
            mbconv_expand_ratio=enc.mbconv_expand_ratio,
            local_conv_size=enc.local_conv_size,
            layer_lr_decay=0.8,
        )
    return model.to("meta") if on_meta else model


def build_sam(spec: SamSpec, device: torch.device | str | None = None) -> torch.nn.Module:
    """A randomly initialised model with the architecture of ``spec``, in eval mode.

    ``device="meta"`` builds it without allocating weights (for shapes and key names).
    """
    import torch

    pkg = import_sam_package(spec.predictor_package)
    modeling = pkg.modeling
    dec = spec.decoder
    grid = spec.embedding_size
    with torch.device(device) if device is not None else nullcontext():
        if isinstance(spec.encoder, TinyViTEncoderSpec):
            encoder = _tinyvit_encoder(modeling, spec.encoder, device)
        else:
            encoder = _vit_encoder(modeling, spec.encoder)
        prompt_encoder = modeling.PromptEncoder(
            embed_dim=dec.transformer_dim,
            image_embedding_size=(grid, grid),
            input_image_size=(spec.img_size, spec.img_size),
            mask_in_chans=dec.mask_in_chans,
        )
        transformer = modeling.TwoWayTransformer(
            depth=dec.depth,
            embedding_dim=dec.transformer_dim,
            mlp_dim=dec.mlp_dim,
            num_heads=dec.num_heads,
            attention_downsample_rate=dec.attention_downsample_rate,
        )
        decoder_kwargs: dict[str, Any] = {
            "num_multimask_outputs": dec.num_multimask_outputs,
            "transformer": transformer,
            "transformer_dim": dec.transformer_dim,
            "iou_head_depth": dec.iou_head_depth,
            "iou_head_hidden_dim": dec.iou_head_hidden_dim,
        }
        if spec.is_hq:
            mask_decoder = modeling.MaskDecoderHQ(vit_dim=dec.hq_vit_dim, **decoder_kwargs)
        else:
            mask_decoder = modeling.MaskDecoder(**decoder_kwargs)
        model = modeling.Sam(
            image_encoder=encoder,
            prompt_encoder=prompt_encoder,
            mask_decoder=mask_decoder,
            pixel_mean=list(PIXEL_MEAN),
            pixel_std=list(PIXEL_STD),
        )
    model.eval()
    return model


def sam_predictor_for(loaded: LoadedSam | Any) -> Any:
    """A ``SamPredictor`` for a :class:`LoadedSam` (or any object with ``.model`` and ``.spec``).

    ``segment_anything.SamPredictor`` for ``sam``; ``segment_anything_hq.SamPredictor`` for the
    others (its ``predict`` also takes ``hq_token_only``; it works with the MobileSAM architecture
    because segment_anything_hq's vanilla MaskDecoder accepts and ignores the HQ arguments).
    """
    pkg = import_sam_package(loaded.spec.predictor_package)
    return pkg.SamPredictor(loaded.model)


__all__ = ["PIXEL_MEAN", "PIXEL_STD", "build_sam", "import_sam_package", "sam_predictor_for"]
