"""Build and load SAM 2 / SAM 2.1 models with Meta's ``sam2`` package, from our own safe reader.

The model is described by a :class:`Sam2Spec` inferred from the weights, built from the packaged
hydra configuration (``sam2/configs/sam2.1/sam2.1_hiera_*.yaml``) read with OmegaConf and
instantiated with ``hydra.utils.instantiate`` - without hydra's global configuration search and
without ``sam2.build_sam`` (whose loader unpickles the file). The weights come from
:func:`inpaint_anything.segment.checkpoint.read_state_dict` (safetensors or
``torch.load(weights_only=True)``) and are loaded with a strict key and shape check.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from inpaint_anything.errors import UnavailableError
from inpaint_anything.segment.sam2_spec import Sam2Spec

if TYPE_CHECKING:
    import torch

    from inpaint_anything.segment.loaded import LoadedSam

# What build_sam2() adds for image use: fall back to the best multimask output when the single
# mask is unstable (Meta's default post-processing for clicks).
DECODER_EXTRA_ARGS = {
    "dynamic_multimask_via_stability": True,
    "dynamic_multimask_stability_delta": 0.05,
    "dynamic_multimask_stability_thresh": 0.98,
}


def import_sam2() -> ModuleType:
    """Import the ``sam2`` package, or raise UnavailableError saying what this installation lacks."""
    from inpaint_anything.segment.sam2_requirements import sam2_unavailable_reason

    reason = sam2_unavailable_reason()
    if reason is not None:
        raise UnavailableError(reason)
    import sam2

    return sam2


def _overrides(spec: Sam2Spec) -> dict[str, Any]:
    """Config values that make the packaged configuration match ``spec`` exactly."""
    t, m, d = spec.trunk, spec.memory, spec.d_model
    return {
        "image_size": spec.image_size,
        "num_maskmem": m.num_maskmem,
        "compile_image_encoder": False,
        "sam_mask_decoder_extra_args": dict(DECODER_EXTRA_ARGS),
        "image_encoder": {
            "trunk": {
                "embed_dim": t.embed_dim,
                "num_heads": t.num_heads,
                "stages": list(t.stages),
                "global_att_blocks": list(t.global_att_blocks),
                "window_spec": list(t.window_spec),
                "window_pos_embed_bkg_spatial_size": list(t.window_pos_embed_bkg_spatial_size),
            },
            "neck": {"d_model": d, "backbone_channel_list": list(t.channel_list), "position_encoding": {"num_pos_feats": d}},
        },
        "memory_attention": {
            "d_model": m.attention_d_model,
            "num_layers": m.attention_layers,
            "layer": {
                "d_model": m.attention_d_model,
                "dim_feedforward": m.attention_ffn,
                "self_attention": {"embedding_dim": m.attention_d_model},
                "cross_attention": {"embedding_dim": m.attention_d_model, "kv_in_dim": m.kv_in_dim},
            },
        },
        "memory_encoder": {
            "out_dim": m.mem_dim,
            "in_dim": m.encoder_in_dim,
            "position_encoding": {"num_pos_feats": m.mem_dim},
            "mask_downsampler": {"embed_dim": m.downsampler_dim},
            "fuser": {"num_layers": m.fuser_layers, "layer": {"dim": m.fuser_dim}},
        },
    }


def sam2_config(spec: Sam2Spec, extra: Mapping[str, Any] | None = None) -> Any:
    """The resolved OmegaConf configuration of ``spec`` (the packaged file plus exact sizes).

    ``extra`` is merged last into the ``model`` node (tests use it to build tiny models).
    """
    import importlib.resources

    from omegaconf import OmegaConf

    import_sam2()
    resource = importlib.resources.files("sam2").joinpath(spec.config_name)
    if not resource.is_file():
        raise UnavailableError(
            f"The installed 'sam2' package has no configuration '{spec.config_name}' for {spec.describe()}; "
            "install sam2 1.1.0 (pip install sam2==1.1.0)."
        )
    cfg = OmegaConf.create(resource.read_text(encoding="utf-8"))
    parts = [cfg, OmegaConf.create({"model": _overrides(spec)})]
    if extra:
        parts.append(OmegaConf.create({"model": dict(extra)}))
    cfg = OmegaConf.merge(*parts)
    OmegaConf.resolve(cfg)
    return cfg


def build_sam2_model(spec: Sam2Spec, extra: Mapping[str, Any] | None = None) -> torch.nn.Module:
    """A randomly initialised ``SAM2Base`` with the architecture of ``spec``, in eval mode, on the CPU."""
    import torch
    from hydra.utils import instantiate

    cfg = sam2_config(spec, extra)
    with warnings.catch_warnings(), torch.device("cpu"):
        warnings.simplefilter("ignore", UserWarning)
        model = instantiate(cfg.model, _recursive_=True)
    return model.eval()


def load_sam2_weights(
    state_dict: dict[str, Any],
    path: Path,
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
    spec: Sam2Spec | None = None,
) -> LoadedSam:
    """Build the model of ``state_dict`` (already read safely) and load it strictly, in eval mode
    (:func:`~inpaint_anything.segment.loaded.load_strictly`; ``spec`` defaults to the inferred one)."""
    from inpaint_anything.segment.loaded import load_strictly
    from inpaint_anything.segment.sam2_spec import infer_sam2_spec

    return load_strictly(state_dict, path, infer_sam2_spec, build_sam2_model, device, dtype, spec)


def sam2_predictor_for(loaded: LoadedSam | Any) -> Any:
    """Meta's ``SAM2ImagePredictor`` for a loaded SAM 2 model (for comparisons; sessions do not use it)."""
    import_sam2()
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    return SAM2ImagePredictor(loaded.model)


__all__ = ["DECODER_EXTRA_ARGS", "build_sam2_model", "import_sam2", "load_sam2_weights", "sam2_config", "sam2_predictor_for"]
