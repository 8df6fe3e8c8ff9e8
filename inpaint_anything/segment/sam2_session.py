"""Interactive segmentation of one image at a time with a loaded SAM 2 / SAM 2.1 model.

:class:`Sam2Session` is a :class:`~inpaint_anything.segment.prompt_session.PromptSession` (like
:class:`~inpaint_anything.segment.session.SegmentSession`: ``set_image``, ``predict``, ``decode``,
``decode_points``, ``geometry``, ``lock``, ...), so the workspace, "segment everything" and the
UI/API use either one; it supplies SAM 2's encoder and decoder. The image is encoded once per
content hash: the image embedding and SAM 2's two high-resolution feature maps (already projected
by the mask decoder's ``conv_s0`` / ``conv_s1``, as ``SAM2Base.forward_image`` does) are kept and
reused by every prompt. Results equal those of Meta's ``SAM2ImagePredictor``.

SAM 2 stretches the image to a ``1024 x 1024`` square (it does not keep the aspect ratio), so the
model frame is the whole square: ``Geometry.input_size == (img_size, img_size)``, and the
``256 x 256`` low-res logits cover the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.segment.prompt_session import Geometry, PromptSession

if TYPE_CHECKING:
    import torch

    from inpaint_anything.segment.loaded import LoadedSam

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LOGIT_CLAMP = 32.0  # SAM2ImagePredictor clamps the low-res logits it returns (for refinement) to +-32


@dataclass
class Sam2Embedding:
    """What the encoder produced for one image (kept per content hash)."""

    key: str
    geometry: Geometry
    features: Any  # torch [1, C, g, g]: the image embedding (with SAM 2's no-memory embedding added)
    high_res: list[Any] | None  # torch [1, C/8, 4g, 4g] and [1, C/4, 2g, 2g], or None


class Sam2Session(PromptSession):
    """A :class:`~inpaint_anything.segment.prompt_session.PromptSession` for SAM 2 / SAM 2.1.

    ``max_cached_images`` embeddings are kept (least recently used dropped); ``max_pixels`` refuses
    larger images. Methods are serialised by ``lock`` (re-entrant).
    """

    is_hq = False
    mask_threshold = 0.0
    logit_clamp = LOGIT_CLAMP

    def __init__(self, loaded: LoadedSam, *, max_cached_images: int = 2, max_pixels: int | None = None):
        if loaded.spec.family != "sam2":
            raise InvalidInputError(f"{loaded.spec.describe()} is not a SAM 2 model; use SegmentSession.")
        super().__init__(loaded, max_cached_images=max_cached_images, max_pixels=max_pixels)

    # ----------------------------------------------------------------- properties
    @property
    def img_size(self) -> int:
        return int(self.model.image_size)

    @property
    def _dtype(self) -> Any:
        """dtype of the prompt encoder and mask decoder (fp32 unless the whole model was cast)."""
        return self.model.sam_mask_decoder.iou_token.weight.dtype

    def candidates_per_prompt(self, multimask: bool = True) -> int:
        """Masks returned per prompt: 3 with ``multimask``, otherwise 1."""
        return 3 if multimask else 1

    def _model_key(self) -> str:
        return f"{self.loaded.path}|sam2:{self.spec.version}:{self.spec.variant}|{self.device}|{self._encoder_dtype}"

    # ----------------------------------------------------------------- encoding
    def preprocess(self, rgb: np.ndarray) -> torch.Tensor:
        """uint8 RGB -> the normalised ``[1, 3, S, S]`` float32 input (as ``SAM2Transforms``)."""
        import torch
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms.functional import normalize, resize

        x = torch.from_numpy(rgb).permute(2, 0, 1).float().div_(255.0)
        x = resize(x, [self.img_size, self.img_size], interpolation=InterpolationMode.BILINEAR, antialias=True)
        return normalize(x, list(IMAGENET_MEAN), list(IMAGENET_STD))[None]

    def _encode(self, rgb: np.ndarray, key: str) -> Sam2Embedding:
        import torch

        model = self.model
        dec = model.sam_mask_decoder
        x = self.preprocess(rgb).to(self.device)
        with torch.inference_mode():
            x = x.to(self._encoder_dtype)
            first = next(model.image_encoder.parameters())
            if first.ndim == 4 and first.is_contiguous(memory_format=torch.channels_last):
                x = x.contiguous(memory_format=torch.channels_last)
            out = model.image_encoder(x)
            self.encoder_runs += 1
            levels = [f.to(self._dtype) for f in out["backbone_fpn"][-model.num_feature_levels :]]
            high_res = None
            if model.use_high_res_features_in_sam:
                high_res = [dec.conv_s0(levels[0]).contiguous(), dec.conv_s1(levels[1]).contiguous()]
            features = levels[-1]
            if model.directly_add_no_mem_embed:
                features = features + model.no_mem_embed.to(self._dtype).view(1, -1, 1, 1)
        geometry = Geometry(
            original_size=(int(rgb.shape[0]), int(rgb.shape[1])),
            input_size=(self.img_size, self.img_size),
            img_size=self.img_size,
            lowres=int(model.sam_prompt_encoder.mask_input_size[0]),
        )
        return Sam2Embedding(key=key, geometry=geometry, features=features.contiguous(), high_res=high_res)

    # ----------------------------------------------------------------- decoding
    def to_input_coords(self, xy: np.ndarray) -> np.ndarray:
        """Original-image pixel coordinates (..., 2) -> the model's (stretched, square) input frame."""
        h, w = self.geometry.original_size
        scale = np.array([self.img_size / w, self.img_size / h], np.float64)
        return np.asarray(xy, np.float64) * scale

    def _decode(
        self, emb: Sam2Embedding, points: Any, boxes: Any, mask_input: Any, multimask: bool, hq_token_only: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A box is given to SAM 2's prompt encoder as two corner points (labels 2 and 3) before the
        clicks, as ``SAM2ImagePredictor`` does. ``hq_token_only`` is ignored (HQ-SAM only)."""
        import torch

        model = self.model
        dtype, device = self._dtype, self.device
        if boxes is not None:
            corners = boxes.reshape(-1, 2, 2).to(device, dtype)
            corner_labels = torch.tensor([[2, 3]], dtype=torch.int, device=device).repeat(corners.shape[0], 1)
            if points is None:
                points = (corners, corner_labels)
            else:
                points = (torch.cat([corners, points[0]], dim=1), torch.cat([corner_labels, points[1]], dim=1))
        sparse, dense = model.sam_prompt_encoder(
            points=points, boxes=None, masks=None if mask_input is None else mask_input.to(device, dtype)
        )
        batched = points is not None and points[0].shape[0] > 1
        logits, scores, _tokens, _objects = model.sam_mask_decoder(
            image_embeddings=emb.features,
            image_pe=model.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask,
            repeat_image=batched,
            high_res_features=emb.high_res,
        )
        return logits, scores

    def upscale_logits(self, low_res: torch.Tensor) -> torch.Tensor:
        """Low-res logits ``[B, k, S, S]`` -> logits at the original size (as SAM 2's postprocessing)."""
        from torch.nn import functional as F  # noqa: N812

        return F.interpolate(low_res.float(), self.geometry.original_size, mode="bilinear", align_corners=False)


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "LOGIT_CLAMP", "Sam2Embedding", "Sam2Session"]
