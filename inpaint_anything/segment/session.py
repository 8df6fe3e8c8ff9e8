"""Interactive segmentation of one image at a time with a loaded Segment Anything model.

A :class:`SegmentSession` encodes each image once (the expensive part: 2 s with TinyViT, 16-70 s
with ViT on a CPU) and keeps the embedding keyed by the pixels' hash, so clicks, boxes and "segment
everything" only run the small mask decoder. For HQ-SAM the decoder's image-only features (the
fusion of the encoder's early features with the image embedding) are computed once per image too,
instead of once per prompt as ``segment_anything_hq.SamPredictor`` does.

Prompt coordinates are pixels of the original image: points ``(x, y)`` with labels 1 (object) or
0 (background), boxes ``(x0, y0, x1, y1)``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.imaging import check_size, content_hash, to_rgb_uint8

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


from inpaint_anything.segment.prompts import validate_box, validate_points  # noqa: E402, F401 - re-exported

# --------------------------------------------------------------------------- results


@dataclass
class PromptResult:
    """Candidate masks for one prompt, best first."""

    masks: np.ndarray  # bool [N, H, W]
    scores: np.ndarray  # float32 [N], the model's predicted IoU
    low_res_logits: np.ndarray  # float32 [N, S, S] (S = 256 for published models), for refinement

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @property
    def best(self) -> np.ndarray:
        return self.masks[0]


@dataclass(frozen=True)
class Geometry:
    """Where an image sits in the model's frame.

    ``input_size``: (h, w) after resizing the long side to ``img_size``; the decoder's low-res
    logits are ``lowres`` x ``lowres`` and cover the padded ``img_size`` square.
    """

    original_size: tuple[int, int]
    input_size: tuple[int, int]
    img_size: int
    lowres: int


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


class SegmentSession:
    """Embeddings of recent images for one loaded model, and prompt -> mask prediction.

    ``max_cached_images`` embeddings are kept (least recently used dropped); ``max_pixels`` refuses
    larger images. Methods are serialised by a lock (one model, one decoder at a time).
    """

    def __init__(self, loaded: LoadedSam, *, max_cached_images: int = 2, max_pixels: int | None = None):
        from inpaint_anything.segment.arch import import_sam_package
        from inpaint_anything.segment.speedups import settle_malloc, speed_up_decoders

        speed_up_decoders(loaded.model)  # exact; idempotent on a cached, shared model
        settle_malloc()  # no fresh page faults for each click's feature maps (glibc)
        self.loaded = loaded
        self.model = loaded.model
        self.spec = loaded.spec
        self.max_cached_images = max(1, int(max_cached_images))
        self.max_pixels = max_pixels
        pkg = import_sam_package(self.spec.predictor_package)
        self._transform = pkg.utils.transforms.ResizeLongestSide(self.model.image_encoder.img_size)
        self._hq_package = self.spec.predictor_package == "segment_anything_hq"
        self._embeddings: OrderedDict[str, ImageEmbedding] = OrderedDict()
        self._current: ImageEmbedding | None = None
        self.lock = threading.RLock()  # held while the current image is used (re-entrant)
        self.encoder_runs = 0
        self._dense_pe: Any = None  # the decoder's positional encoding (image-independent)

    # ----------------------------------------------------------------- properties
    @property
    def is_hq(self) -> bool:
        return self.spec.is_hq

    @property
    def device(self) -> Any:
        return self.model.device

    @property
    def _dtype(self) -> Any:
        """dtype of the prompt encoder and mask decoder (fp32 unless the whole model was cast)."""
        return self.model.mask_decoder.iou_token.weight.dtype

    @property
    def _encoder_dtype(self) -> Any:
        return next(self.model.image_encoder.parameters()).dtype

    @property
    def image_set(self) -> bool:
        return self._current is not None

    @property
    def embedding(self) -> ImageEmbedding:
        if self._current is None:
            raise InvalidInputError("No image is loaded for segmentation; upload an image first.")
        return self._current

    @property
    def geometry(self) -> Geometry:
        return self.embedding.geometry

    def candidates_per_prompt(self, multimask: bool = True) -> int:
        """Masks returned per prompt: 3 for SAM/MobileSAM with ``multimask``, otherwise 1.

        HQ-SAM always returns one: with ``multimask`` it adds its HQ mask to the best of the three
        SAM masks (that is how HQ-SAM was trained to be used).
        """
        return 3 if multimask and not self.is_hq else 1

    def _model_key(self) -> str:
        return (
            f"{self.loaded.path}|{self.spec.family}:{self.spec.variant}|{self.device}|{self._encoder_dtype}"
        )

    # ----------------------------------------------------------------- encoding
    def set_image(self, image: Any) -> ImageEmbedding:
        """Make ``image`` current, running the encoder only for content not seen recently."""
        if (
            isinstance(image, np.ndarray)
            and image.dtype == np.uint8
            and image.ndim == 3
            and image.shape[2] == 3
        ):
            rgb = np.ascontiguousarray(image)
        else:
            rgb, _alpha = to_rgb_uint8(image)
        check_size(rgb.shape[0], rgb.shape[1], self.max_pixels)
        check_sam_aspect(rgb.shape[1], rgb.shape[0])
        key = f"{self._model_key()}|{content_hash(rgb)}"
        with self.lock:
            cached = self._embeddings.get(key)
            if cached is None:
                cached = self._encode(rgb, key)
                self._embeddings[key] = cached
                while len(self._embeddings) > self.max_cached_images:
                    self._embeddings.popitem(last=False)
            self._embeddings.move_to_end(key)
            self._current = cached
            return cached

    def reset(self) -> None:
        """Forget every embedding."""
        with self.lock:
            self._embeddings.clear()
            self._current = None

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

    def decode(
        self,
        coords: torch.Tensor | None,
        labels: torch.Tensor | None,
        boxes: torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
        multimask: bool = True,
        hq_token_only: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Batched prompts in the input frame -> (low-res logits ``[B, k, S, S]``, scores ``[B, k]``), float32."""
        import contextlib

        import torch

        from inpaint_anything.segment.speedups import image_cache

        model = self.model
        dtype = self._dtype
        with self.lock, torch.inference_mode():
            emb = self.embedding
            points = None
            if coords is not None:
                if labels is None:
                    labels = torch.ones(coords.shape[:2], dtype=torch.int)
                points = (coords.to(self.device, dtype), labels.to(self.device, torch.int))
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
                    logits, scores = self._decode_hq(emb, pe, sparse, dense, multimask, hq_token_only)
                elif self._hq_package:  # MobileSAM: segment_anything_hq's vanilla decoder (extra args ignored)
                    logits, scores = dec(emb.features, pe, sparse, dense, multimask, False, None)
                else:
                    logits, scores = dec(emb.features, pe, sparse, dense, multimask)
            return logits.float(), scores.float()

    def decode_points(
        self, points_xy: np.ndarray, multimask: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One object click per row of ``points_xy`` ``[B, 2]`` (original pixels) -> :meth:`decode` output."""
        import torch

        coords = torch.as_tensor(self.to_input_coords(points_xy), dtype=torch.float32)[:, None, :]
        labels = torch.ones(coords.shape[0], 1, dtype=torch.int32)
        return self.decode(coords, labels, multimask=multimask)

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

    def predict(
        self,
        points: object = None,
        labels: object = None,
        box: object = None,
        multimask: bool = True,
        refine_from: PromptResult | np.ndarray | None = None,
        *,
        hq_token_only: bool = False,
    ) -> PromptResult:
        """Masks for points and/or a box on the current image, best first.

        ``refine_from`` (a previous result, or its low-res logits) is fed back as the mask prompt,
        refining the previous selection with the new clicks.
        """
        import torch

        with self.lock:  # the image must not change between validation and decoding
            size = self.geometry.original_size
            prompt = self._prompt_tensors(points, labels, box, refine_from)
            low, scores = self.decode(*prompt, multimask=multimask, hq_token_only=hq_token_only)
            low, scores = low[0], scores[0]
            order = torch.argsort(scores, descending=True, stable=True)
            low, scores = low[order], scores[order]
            masks = np.empty((low.shape[0], *size), dtype=bool)
            with torch.inference_mode():
                for i in range(low.shape[0]):  # one full-size plane at a time (big images)
                    up = self.upscale_logits(low[i : i + 1][None])
                    masks[i] = (up[0, 0] > self.model.mask_threshold).cpu().numpy()
        return PromptResult(
            masks=masks,
            scores=scores.cpu().numpy().astype(np.float32),
            low_res_logits=low.cpu().numpy().astype(np.float32),
        )

    def _prompt_tensors(self, points: object, labels: object, box: object, refine_from: object) -> tuple:
        """Validated prompts as batch-of-one tensors in the input frame: (coords, labels, boxes, mask)."""
        import torch

        geo = self.geometry
        pts, labs = validate_points(points, labels, geo.original_size)
        box_arr = validate_box(box, geo.original_size)
        if len(pts) == 0 and box_arr is None:
            raise InvalidInputError("Click on the object or drag a box around it first.")
        coords_t = labels_t = boxes_t = mask_t = None
        if len(pts):
            coords_t = torch.as_tensor(self.to_input_coords(pts), dtype=torch.float32)[None]
            labels_t = torch.as_tensor(labs, dtype=torch.int32)[None]
        if box_arr is not None:
            corners = self.to_input_coords(box_arr.reshape(2, 2)).reshape(1, 4)
            boxes_t = torch.as_tensor(corners, dtype=torch.float32)
        if refine_from is not None:
            mask_t = torch.as_tensor(self._mask_prompt(refine_from, geo.lowres))[None, None]
        return coords_t, labels_t, boxes_t, mask_t

    @staticmethod
    def _mask_prompt(refine_from: object, side: int) -> np.ndarray:
        logits = refine_from.low_res_logits[0] if isinstance(refine_from, PromptResult) else refine_from
        arr = np.asarray(logits, dtype=np.float32)
        while arr.ndim > 2 and arr.shape[0] >= 1:
            arr = arr[0]
        if arr.shape != (side, side) or not np.isfinite(arr).all():
            raise InvalidInputError(
                f"The previous mask to refine has shape {np.shape(logits)}; expected {side}x{side} low-res logits "
                f"from the same model."
            )
        return arr


__all__ = [
    "Geometry",
    "ImageEmbedding",
    "PromptResult",
    "SegmentSession",
    "validate_box",
    "validate_points",
]
