"""The prompt session shared by every Segment Anything family: recent image embeddings and prompt -> masks.

:class:`PromptSession` keeps the embeddings of recent images keyed by the model and the pixels' hash
(least recently used dropped), checks prompts (points, boxes, a previous mask to refine), orders the
candidates and upscales them to the image. A family's session supplies the model-specific parts:

- :meth:`~PromptSession._encode` (image -> embedding with its :class:`Geometry`),
- :meth:`~PromptSession._decode` (prompt encoder + mask decoder -> low-res logits and scores),
- :meth:`~PromptSession.to_input_coords` and :meth:`~PromptSession.upscale_logits` (the model frame),
- :meth:`~PromptSession._model_key`, :meth:`~PromptSession.candidates_per_prompt`, ``mask_threshold``.

The families: :class:`~inpaint_anything.segment.session.SegmentSession` (SAM, HQ-SAM, MobileSAM,
Light HQ-SAM) and :class:`~inpaint_anything.segment.sam2_session.Sam2Session` (SAM 2 / 2.1);
:func:`~inpaint_anything.segment.session.session_for` picks one for a loaded model.

Prompt coordinates are pixels of the original image: points ``(x, y)`` with labels 1 (object) or
0 (background), boxes ``(x0, y0, x1, y1)``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.imaging import check_size, content_hash, to_rgb_uint8
from inpaint_anything.segment.prompts import validate_box, validate_points

if TYPE_CHECKING:
    import torch

    from inpaint_anything.segment.loaded import LoadedSam


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


class PromptSession:
    """Embeddings of recent images for one loaded model, and prompt -> mask prediction.

    ``max_cached_images`` embeddings are kept (least recently used dropped); ``max_pixels`` refuses
    larger images. Methods are serialised by ``lock`` (re-entrant: held while the current image is used).
    """

    logit_clamp: float | None = None  # clamp of the low-res logits a result keeps (for refinement)

    def __init__(self, loaded: LoadedSam, *, max_cached_images: int = 2, max_pixels: int | None = None):
        from inpaint_anything.segment.speedups import speed_up_decoders

        speed_up_decoders(loaded.model)  # exact; idempotent on a cached, shared model
        self.loaded = loaded
        self.model = loaded.model
        self.spec = loaded.spec
        self.max_cached_images = max(1, int(max_cached_images))
        self.max_pixels = max_pixels
        self._embeddings: OrderedDict[str, Any] = OrderedDict()
        self._current: Any = None
        self.lock = threading.RLock()
        self.encoder_runs = 0

    # ----------------------------------------------------------------- what a family supplies
    @property
    def mask_threshold(self) -> float:
        raise NotImplementedError

    def candidates_per_prompt(self, multimask: bool = True) -> int:
        raise NotImplementedError

    def _model_key(self) -> str:
        raise NotImplementedError

    def _check_image(self, rgb: np.ndarray) -> None:
        """Refuse an image the model cannot see (before it is hashed or encoded); all pass by default."""

    def _encode(self, rgb: np.ndarray, key: str) -> Any:
        raise NotImplementedError

    def to_input_coords(self, xy: np.ndarray) -> np.ndarray:
        """Original-image pixel coordinates (..., 2) -> the model's input frame."""
        raise NotImplementedError

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
        import torch

        with self.lock, torch.inference_mode():
            points = None
            if coords is not None:  # labels default to 1 (object)
                if labels is None:
                    labels = torch.ones(coords.shape[:2], dtype=torch.int)
                points = (coords.to(self.device, self._dtype), labels.to(self.device, torch.int))
            logits, scores = self._decode(self.embedding, points, boxes, mask_input, multimask, hq_token_only)
            return logits.float(), scores.float()

    def _decode(
        self, emb: Any, points: Any, boxes: Any, mask_input: Any, multimask: bool, hq_token_only: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's prompt encoder and mask decoder on the current embedding (under the lock, no grad)."""
        raise NotImplementedError

    @property
    def _dtype(self) -> Any:
        """dtype of the prompt encoder and mask decoder (fp32 unless the whole model was cast)."""
        raise NotImplementedError

    def upscale_logits(self, low_res: torch.Tensor) -> torch.Tensor:
        """Low-res logits ``[B, k, S, S]`` -> logits at the original size."""
        raise NotImplementedError

    # ----------------------------------------------------------------- properties
    @property
    def device(self) -> Any:
        return self.model.device

    @property
    def _encoder_dtype(self) -> Any:
        return next(self.model.image_encoder.parameters()).dtype

    @property
    def image_set(self) -> bool:
        return self._current is not None

    @property
    def embedding(self) -> Any:
        if self._current is None:
            raise InvalidInputError("No image is loaded for segmentation; upload an image first.")
        return self._current

    @property
    def geometry(self) -> Geometry:
        return self.embedding.geometry

    # ----------------------------------------------------------------- encoding
    def set_image(self, image: Any) -> Any:
        """Make ``image`` current, running the encoder only for content not seen recently."""
        if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
            rgb = np.ascontiguousarray(image)
        else:
            rgb, _alpha = to_rgb_uint8(image)
        check_size(rgb.shape[0], rgb.shape[1], self.max_pixels)
        self._check_image(rgb)
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

    # ----------------------------------------------------------------- prompts
    def decode_points(self, points_xy: np.ndarray, multimask: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """One object click per row of ``points_xy`` ``[B, 2]`` (original pixels) -> :meth:`decode` output."""
        import torch

        coords = torch.as_tensor(self.to_input_coords(points_xy), dtype=torch.float32)[:, None, :]
        labels = torch.ones(coords.shape[0], 1, dtype=torch.int32)
        return self.decode(coords, labels, multimask=multimask)

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
        refining the previous selection with the new clicks. ``hq_token_only``: HQ-SAM only.
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
            threshold = self.mask_threshold
            with torch.inference_mode():
                for i in range(low.shape[0]):  # one full-size plane at a time (big images)
                    up = self.upscale_logits(low[i : i + 1][None])
                    masks[i] = (up[0, 0] > threshold).cpu().numpy()
            if self.logit_clamp is not None:
                low = low.clamp(-self.logit_clamp, self.logit_clamp)
        return PromptResult(
            masks=masks, scores=scores.cpu().numpy().astype(np.float32), low_res_logits=low.cpu().numpy().astype(np.float32)
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
            mask_t = torch.as_tensor(mask_prompt(refine_from, geo.lowres))[None, None]
        return coords_t, labels_t, boxes_t, mask_t


def mask_prompt(refine_from: object, side: int) -> np.ndarray:
    """The ``side x side`` low-res logits of a previous result (or of an array of them)."""
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


__all__ = ["Geometry", "PromptResult", "PromptSession", "mask_prompt"]
