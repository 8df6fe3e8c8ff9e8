"""Segment Anything's first family (SAM, HQ-SAM, MobileSAM, Light HQ-SAM) in the shared prompt session.

A :class:`SegmentSession` encodes each image once (the expensive part: 2 s with TinyViT, 16-70 s
with ViT on a CPU) and keeps the embedding keyed by the pixels' hash, so clicks, boxes and "segment
everything" only run the small mask decoder. For HQ-SAM the decoder's image-only features (the
fusion of the encoder's early features with the image embedding) are computed once per image too,
instead of once per prompt as ``segment_anything_hq.SamPredictor`` does. The embedding cache,
prompt checks, refinement and upscaling loop are :class:`~inpaint_anything.segment.prompt_session.PromptSession`'s;
:func:`session_for` gives the right session for any loaded model (SAM 2: :mod:`.sam2_session`).

Prompt coordinates are pixels of the original image: points ``(x, y)`` with labels 1 (object) or
0 (background), boxes ``(x0, y0, x1, y1)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.segment.prompt_session import Geometry, PromptResult, PromptSession
from inpaint_anything.segment.prompts import validate_box, validate_points  # re-exported

if TYPE_CHECKING:
    import torch

    from inpaint_anything.segment.loaded import LoadedSam


def check_sam_aspect(width: int, height: int, long_side: int = 1024) -> None:
    """SAM scales the long side to ``long_side`` px and its masks come back at a quarter of that: the
    short side must keep at least 2 px there (0.5 px in the masks), or the model has nothing to see."""
    short, long = sorted((int(width), int(height)))
    if short * long_side < 2 * long:
        raise InvalidInputError(
            f"This image is {width}x{height} pixels: too thin for Segment Anything, which scales the long side "
            f"to {long_side} px (the short side would be under 2 px). Use GrabCut or the brush, or pad or crop "
            f"the image to at most {long_side // 2}:1."
        )


# --------------------------------------------------------------------------- results


@dataclass
class ImageEmbedding:
    """What the encoder produced for one image (kept per content hash)."""

    key: str
    geometry: Geometry
    features: Any  # torch [1, C, g, g]
    hq_features: Any = None  # torch [1, C/8, 4g, 4g] for HQ decoders
    # the decoder's image-side work shared by clicks without a mask prompt (speedups.image_cache)
    decoder_cache: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- session


class SegmentSession(PromptSession):
    """A :class:`~inpaint_anything.segment.prompt_session.PromptSession` for SAM, HQ-SAM, MobileSAM
    and Light HQ-SAM (the ``segment_anything`` / ``segment_anything_hq`` packages' models).

    ``max_cached_images`` embeddings are kept (least recently used dropped); ``max_pixels`` refuses
    larger images. Methods are serialised by a lock (one model, one decoder at a time).
    """

    def __init__(self, loaded: LoadedSam, *, max_cached_images: int = 2, max_pixels: int | None = None):
        from inpaint_anything.segment.arch import import_sam_package

        super().__init__(loaded, max_cached_images=max_cached_images, max_pixels=max_pixels)
        pkg = import_sam_package(self.spec.predictor_package)
        self._transform = pkg.utils.transforms.ResizeLongestSide(self.model.image_encoder.img_size)
        self._hq_package = self.spec.predictor_package == "segment_anything_hq"
        self._dense_pe: Any = None  # the decoder's positional encoding (image-independent)

    # ----------------------------------------------------------------- properties
    @property
    def is_hq(self) -> bool:
        return self.spec.is_hq

    @property
    def _dtype(self) -> Any:
        """dtype of the prompt encoder and mask decoder (fp32 unless the whole model was cast)."""
        return self.model.mask_decoder.iou_token.weight.dtype

    @property
    def mask_threshold(self) -> float:
        return self.model.mask_threshold

    def candidates_per_prompt(self, multimask: bool = True) -> int:
        """Masks returned per prompt: 3 for SAM/MobileSAM with ``multimask``, otherwise 1.

        HQ-SAM always returns one: with ``multimask`` it adds its HQ mask to the best of the three
        SAM masks (that is how HQ-SAM was trained to be used).
        """
        return 3 if multimask and not self.is_hq else 1

    def _model_key(self) -> str:
        return f"{self.loaded.path}|{self.spec.family}:{self.spec.variant}|{self.device}|{self._encoder_dtype}"

    # ----------------------------------------------------------------- encoding
    def _check_image(self, rgb: np.ndarray) -> None:
        check_sam_aspect(rgb.shape[1], rgb.shape[0])

    def _encode(self, rgb: np.ndarray, key: str) -> ImageEmbedding:
        import torch

        model = self.model
        resized = self._transform.apply_image(rgb)
        x = torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous()[None]
        with torch.inference_mode():
            # the encoder may run in half precision (CUDA); the small prompt/mask decoders stay fp32
            x = model.preprocess(x.to(model.pixel_mean.dtype)).to(self._encoder_dtype)
            first = next(model.image_encoder.parameters())
            if first.ndim == 4 and first.is_contiguous(memory_format=torch.channels_last):
                x = x.contiguous(memory_format=torch.channels_last)
            out = model.image_encoder(x)
            self.encoder_runs += 1
            features, interm = (out[0], out[1]) if isinstance(out, (tuple, list)) else (out, None)
            # channels-last: what the decoder's transformer and convolutions read fastest (speedups.py)
            features = features.to(self._dtype).contiguous(memory_format=torch.channels_last)
            hq = None
            if self.is_hq:
                dec = model.mask_decoder
                early = interm[0].permute(0, 3, 1, 2).to(self._dtype)
                hq = dec.embedding_encoder(features) + dec.compress_vit_feat(early)
                hq = hq.contiguous(memory_format=torch.channels_last)
        lowres = int(model.prompt_encoder.mask_input_size[0])
        geometry = Geometry(
            original_size=(int(rgb.shape[0]), int(rgb.shape[1])),
            input_size=(int(resized.shape[0]), int(resized.shape[1])),
            img_size=int(model.image_encoder.img_size),
            lowres=lowres,
        )
        return ImageEmbedding(key=key, geometry=geometry, features=features, hq_features=hq)

    # ----------------------------------------------------------------- decoding
    def to_input_coords(self, xy: np.ndarray) -> np.ndarray:
        """Original-image pixel coordinates (..., 2) -> the model's input frame."""
        return self._transform.apply_coords(np.asarray(xy, np.float64), self.geometry.original_size)

    def _decode(
        self, emb: ImageEmbedding, points: Any, boxes: Any, mask_input: Any, multimask: bool, hq_token_only: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        import contextlib

        import torch

        from inpaint_anything.segment.speedups import image_cache

        model, dtype = self.model, self._dtype
        sparse, dense = model.prompt_encoder(
            points=points,
            boxes=None if boxes is None else boxes.to(self.device, dtype),
            masks=None if mask_input is None else mask_input.to(self.device, dtype),
        )
        if self._dense_pe is None:
            pe = model.prompt_encoder.get_dense_pe()
            self._dense_pe = pe.contiguous(memory_format=torch.channels_last)
        pe = self._dense_pe
        dec = model.mask_decoder
        shared = image_cache(dec, emb.decoder_cache) if mask_input is None else contextlib.nullcontext()
        with shared:
            if self.is_hq:
                return self._decode_hq(emb, pe, sparse, dense, multimask, hq_token_only)
            if self._hq_package:  # MobileSAM: segment_anything_hq's vanilla decoder (extra args ignored)
                return dec(emb.features, pe, sparse, dense, multimask, False, None)
            return dec(emb.features, pe, sparse, dense, multimask)

    def _decode_hq(self, emb, pe, sparse, dense, multimask: bool, hq_token_only: bool):
        """MaskDecoderHQ with the per-image HQ features from the cache (same result as its forward)."""
        import torch

        dec = self.model.mask_decoder
        masks, iou = dec.predict_masks(
            image_embeddings=emb.features,
            image_pe=pe,
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            hq_features=emb.hq_features,
        )
        n_sam = dec.num_mask_tokens - 1  # SAM's single + multimask tokens; the last one is the HQ token
        hq_mask = masks[:, n_sam:]
        if multimask:
            scores, best = iou[:, 1:n_sam].max(dim=1)
            sam_mask = masks[:, 1:n_sam][torch.arange(masks.shape[0], device=masks.device), best][:, None]
            scores = scores[:, None]
        else:
            sam_mask, scores = masks[:, :1], iou[:, :1]
        return (hq_mask if hq_token_only else sam_mask + hq_mask), scores

    def upscale_logits(self, low_res: torch.Tensor) -> torch.Tensor:
        """Low-res logits ``[B, k, S, S]`` -> logits at the original size (as SAM's postprocessing)."""
        g = self.geometry
        return self.model.postprocess_masks(low_res, g.input_size, g.original_size)


def session_for(loaded: LoadedSam, **kwargs: Any) -> PromptSession:
    """The session of a loaded model's family: :class:`~inpaint_anything.segment.sam2_session.Sam2Session`
    for SAM 2, :class:`SegmentSession` for the others."""
    if loaded.spec.family == "sam2":
        from inpaint_anything.segment.sam2_session import Sam2Session

        return Sam2Session(loaded, **kwargs)
    return SegmentSession(loaded, **kwargs)


__all__ = [
    "Geometry",
    "ImageEmbedding",
    "PromptResult",
    "PromptSession",
    "SegmentSession",
    "check_sam_aspect",
    "session_for",
    "validate_box",
    "validate_points",
]
