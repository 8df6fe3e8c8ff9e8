"""Interactive segmentation of one image at a time with a loaded SAM 2 / SAM 2.1 model.

:class:`Sam2Session` has the public interface of :class:`~inpaint_anything.segment.session.SegmentSession`
(``set_image``, ``predict``, ``decode``, ``decode_points``, ``geometry``, ``lock``, ...), so the
workspace, "segment everything" and the UI/API use either one. The image is encoded once per
content hash: the image embedding and SAM 2's two high-resolution feature maps (already projected
by the mask decoder's ``conv_s0`` / ``conv_s1``, as ``SAM2Base.forward_image`` does) are kept and
reused by every prompt. Results equal those of Meta's ``SAM2ImagePredictor``.

SAM 2 stretches the image to a ``1024 x 1024`` square (it does not keep the aspect ratio), so the
model frame is the whole square: ``Geometry.input_size == (img_size, img_size)``, and the
``256 x 256`` low-res logits cover the whole image.
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
from inpaint_anything.segment.session import Geometry, PromptResult

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


class Sam2Session:
    """Embeddings of recent images for one loaded SAM 2 model, and prompt -> mask prediction.

    ``max_cached_images`` embeddings are kept (least recently used dropped); ``max_pixels`` refuses
    larger images. Methods are serialised by ``lock`` (re-entrant).
    """

    is_hq = False
    mask_threshold = 0.0

    def __init__(self, loaded: LoadedSam, *, max_cached_images: int = 2, max_pixels: int | None = None):
        from inpaint_anything.segment.speedups import speed_up_decoders

        if loaded.spec.family != "sam2":
            raise InvalidInputError(f"{loaded.spec.describe()} is not a SAM 2 model; use SegmentSession.")
        speed_up_decoders(loaded.model)  # exact; idempotent on a cached, shared model
        self.loaded = loaded
        self.model = loaded.model
        self.spec = loaded.spec
        self.max_cached_images = max(1, int(max_cached_images))
        self.max_pixels = max_pixels
        self._embeddings: OrderedDict[str, Sam2Embedding] = OrderedDict()
        self._current: Sam2Embedding | None = None
        self.lock = threading.RLock()
        self.encoder_runs = 0

    # ----------------------------------------------------------------- properties
    @property
    def device(self) -> Any:
        return self.model.device

    @property
    def img_size(self) -> int:
        return int(self.model.image_size)

    @property
    def _dtype(self) -> Any:
        """dtype of the prompt encoder and mask decoder (fp32 unless the whole model was cast)."""
        return self.model.sam_mask_decoder.iou_token.weight.dtype

    @property
    def _encoder_dtype(self) -> Any:
        return next(self.model.image_encoder.parameters()).dtype

    @property
    def image_set(self) -> bool:
        return self._current is not None

    @property
    def embedding(self) -> Sam2Embedding:
        if self._current is None:
            raise InvalidInputError("No image is loaded for segmentation; upload an image first.")
        return self._current

    @property
    def geometry(self) -> Geometry:
        return self.embedding.geometry

    def candidates_per_prompt(self, multimask: bool = True) -> int:
        """Masks returned per prompt: 3 with ``multimask``, otherwise 1."""
        return 3 if multimask else 1

    def _model_key(self) -> str:
        return f"{self.loaded.path}|sam2:{self.spec.version}:{self.spec.variant}|{self.device}|{self._encoder_dtype}"

    # ----------------------------------------------------------------- encoding
    def set_image(self, image: Any) -> Sam2Embedding:
        """Make ``image`` current, running the encoder only for content not seen recently."""
        if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
            rgb = np.ascontiguousarray(image)
        else:
            rgb, _alpha = to_rgb_uint8(image)
        check_size(rgb.shape[0], rgb.shape[1], self.max_pixels)
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

    def decode(
        self,
        coords: torch.Tensor | None,
        labels: torch.Tensor | None,
        boxes: torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
        multimask: bool = True,
        hq_token_only: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Batched prompts in the input frame -> (low-res logits ``[B, k, S, S]``, scores ``[B, k]``), float32.

        A box is given to SAM 2's prompt encoder as two corner points (labels 2 and 3) before the
        clicks, as ``SAM2ImagePredictor`` does. ``hq_token_only`` is accepted and ignored (HQ-SAM only).
        """
        import torch

        model = self.model
        dtype, device = self._dtype, self.device
        with self.lock, torch.inference_mode():
            emb = self.embedding
            points = None
            if coords is not None:
                if labels is None:
                    labels = torch.ones(coords.shape[:2], dtype=torch.int)
                points = (coords.to(device, dtype), labels.to(device, torch.int))
            if boxes is not None:
                corners = boxes.reshape(-1, 2, 2).to(device, dtype)
                corner_labels = torch.tensor([[2, 3]], dtype=torch.int, device=device).repeat(corners.shape[0], 1)
                if points is None:
                    points = (corners, corner_labels)
                else:
                    points = (torch.cat([corners, points[0]], dim=1), torch.cat([corner_labels, points[1]], dim=1))
            sparse, dense = model.sam_prompt_encoder(
                points=points,
                boxes=None,
                masks=None if mask_input is None else mask_input.to(device, dtype),
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
            return logits.float(), scores.float()

    def decode_points(self, points_xy: np.ndarray, multimask: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """One object click per row of ``points_xy`` ``[B, 2]`` (original pixels) -> :meth:`decode` output."""
        import torch

        coords = torch.as_tensor(self.to_input_coords(points_xy), dtype=torch.float32)[:, None, :]
        labels = torch.ones(coords.shape[0], 1, dtype=torch.int32)
        return self.decode(coords, labels, multimask=multimask)

    def upscale_logits(self, low_res: torch.Tensor) -> torch.Tensor:
        """Low-res logits ``[B, k, S, S]`` -> logits at the original size (as SAM 2's postprocessing)."""
        from torch.nn import functional as F  # noqa: N812

        return F.interpolate(low_res.float(), self.geometry.original_size, mode="bilinear", align_corners=False)

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

        ``refine_from`` (a previous result, or its low-res logits) is fed back as the mask prompt.
        """
        import torch

        with self.lock:
            size = self.geometry.original_size
            prompt = self._prompt_tensors(points, labels, box, refine_from)
            low, scores = self.decode(*prompt, multimask=multimask)
            low, scores = low[0], scores[0]
            order = torch.argsort(scores, descending=True, stable=True)
            low, scores = low[order], scores[order]
            masks = np.empty((low.shape[0], *size), dtype=bool)
            with torch.inference_mode():
                for i in range(low.shape[0]):  # one full-size plane at a time (big images)
                    up = self.upscale_logits(low[i : i + 1][None])
                    masks[i] = (up[0, 0] > self.mask_threshold).cpu().numpy()
            low = low.clamp(-LOGIT_CLAMP, LOGIT_CLAMP)
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
            mask_t = torch.as_tensor(_mask_prompt(refine_from, geo.lowres))[None, None]
        return coords_t, labels_t, boxes_t, mask_t


def _mask_prompt(refine_from: object, side: int) -> np.ndarray:
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


def session_for(loaded: LoadedSam, **kwargs: Any) -> Any:
    """A :class:`Sam2Session` for a SAM 2 model, a ``SegmentSession`` for the other families."""
    if loaded.spec.family == "sam2":
        return Sam2Session(loaded, **kwargs)
    from inpaint_anything.segment.session import SegmentSession

    return SegmentSession(loaded, **kwargs)


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "Sam2Embedding", "Sam2Session", "session_for"]
