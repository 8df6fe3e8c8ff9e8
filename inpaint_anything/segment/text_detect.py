"""Text -> boxes (and CLIPSeg's masks): running a loaded detector on an image, in image pixels.

Two steps, so that the coordinate path can be checked on its own:

1. :func:`raw_output` runs the model and returns :class:`RawBoxes` (unit ``cx, cy, w, h`` boxes of
   a *frame*, with a score per phrase) or :class:`RawMaps` (CLIPSeg: per-phrase probabilities at the
   image's size). The frame is what the model's unit boxes cover: the image itself for OWL-ViT and
   Grounding DINO, the square the image is padded into (bottom and right) for OWLv2.
2. :func:`detections` turns them into :class:`Detection` boxes ``x0, y0, x1, y1`` in image pixels
   (clipped to the image), keeping scores at or above the threshold, one box per object (NMS), best
   first; ``mode="best"`` keeps only the first. For CLIPSeg each connected region of a phrase's
   thresholded map is one detection and the union of the kept regions is the mask.

The image is the workspace's (RGB, EXIF orientation already applied at upload), so the boxes are in
the same pixels as every click and box prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inpaint_anything.segment.text_fields import TextQuery

MAX_DETECTIONS = 32
NMS_IOU = 0.5
MIN_REGION_FRACTION = 0.0005  # CLIPSeg regions smaller than this share of the image are noise


@dataclass(frozen=True)
class Detection:
    """One found object: ``box`` ``(x0, y0, x1, y1)`` in image pixels, its score and the phrase."""

    box: tuple[float, float, float, float]
    score: float
    label: str

    def as_dict(self) -> dict[str, Any]:
        return {"box": [round(v, 2) for v in self.box], "score": round(self.score, 4), "label": self.label}


@dataclass
class RawBoxes:
    boxes: np.ndarray  # (N, 4) unit cx, cy, w, h of the frame
    scores: np.ndarray  # (N, P) score of each box for each phrase
    frame: tuple[int, int]  # (w, h) in image pixels that the unit boxes cover


@dataclass
class RawMaps:
    probs: np.ndarray  # (P, H, W) per-phrase probabilities at the image's size


@dataclass
class Found:
    """What a detector found: the detections (best first) and, for CLIPSeg, the mask itself and
    ``regions``, one mask per detection (their union is ``mask``)."""

    detections: list[Detection]
    mask: np.ndarray | None = None
    phrases: tuple[str, ...] = field(default_factory=tuple)
    regions: list[np.ndarray] | None = None

    def describe(self) -> str:
        """``"2 × 'dog' (0.41, 0.37)"``, phrase by phrase; or that nothing was found."""
        if not self.detections:
            return "Nothing found for " + ", ".join(f"'{p}'" for p in self.phrases) + "."
        parts = []
        for phrase in dict.fromkeys(d.label for d in self.detections):
            scores = [d.score for d in self.detections if d.label == phrase]
            parts.append(f"{len(scores)} × '{phrase}' ({', '.join(f'{s:.2f}' for s in scores)})")
        return "; ".join(parts)


# ---------------------------------------------------------------------------------------------- running
def raw_output(loaded: Any, image: np.ndarray, phrases: tuple[str, ...]) -> RawBoxes | RawMaps:
    """Run ``loaded`` (a :class:`~inpaint_anything.models.text_models.LoadedDetector`) on an RGB
    uint8 image for ``phrases``."""
    import torch
    from PIL import Image

    pil = Image.fromarray(image)
    h, w = image.shape[:2]
    kind = loaded.spec.module
    with torch.inference_mode():
        if kind == "clipseg":
            inputs = loaded.processor(text=list(phrases), images=[pil] * len(phrases), padding=True, return_tensors="pt")
            logits = loaded.model(**_to(inputs, loaded.device)).logits.float()
            logits = logits.reshape(len(phrases), 1, *logits.shape[-2:])
            up = torch.nn.functional.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
            return RawMaps(torch.sigmoid(up[:, 0]).cpu().numpy())
        if kind == "grounding_dino":
            text = " . ".join(phrases) + " ."
            inputs = loaded.processor(images=pil, text=text, return_tensors="pt")
            out = loaded.model(**_to(inputs, loaded.device))
            probs = torch.sigmoid(out.logits[0].float()).cpu().numpy()  # (Q, max_text_len)
            spans = _phrase_tokens(loaded.processor.tokenizer, inputs["input_ids"][0].tolist(), len(phrases))
            scores = np.stack([probs[:, s].max(axis=1) if s else np.zeros(len(probs)) for s in spans], axis=1)
            return RawBoxes(out.pred_boxes[0].float().cpu().numpy(), scores, (w, h))
        inputs = loaded.processor(text=[list(phrases)], images=pil, return_tensors="pt")
        out = loaded.model(**_to(inputs, loaded.device))
        scores = torch.sigmoid(out.logits[0].float()).cpu().numpy()  # (N, P)
        side = max(w, h)  # OWLv2 pads the image into a square (bottom, right) before resizing
        return RawBoxes(out.pred_boxes[0].float().cpu().numpy(), scores, (side, side) if kind == "owlv2" else (w, h))


def _to(inputs: Any, device: str) -> dict[str, Any]:
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in dict(inputs).items()}


def _phrase_tokens(tokenizer: Any, ids: list[int], count: int) -> list[list[int]]:
    """The token positions of each phrase in Grounding DINO's ``"a . b ."`` text."""
    dot = tokenizer.convert_tokens_to_ids(".")
    skip = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
    spans: list[list[int]] = [[]]
    for pos, tok in enumerate(ids):
        if tok == dot:
            spans.append([])
        elif tok not in skip:
            spans[-1].append(pos)
    return (spans + [[]] * count)[:count]


# ---------------------------------------------------------------------------------------------- results
def unit_to_pixels(boxes: np.ndarray, frame: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Unit ``cx, cy, w, h`` boxes of a ``frame = (w, h)`` -> ``x0, y0, x1, y1`` pixels, clipped to an
    image of ``size = (w, h)`` (whose top-left the frame shares)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    fw, fh = frame
    x0, x1 = (b[:, 0] - b[:, 2] / 2) * fw, (b[:, 0] + b[:, 2] / 2) * fw
    y0, y1 = (b[:, 1] - b[:, 3] / 2) * fh, (b[:, 1] + b[:, 3] / 2) * fh
    out = np.stack([x0, y0, x1, y1], axis=1)
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, size[0] - 1)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, size[1] - 1)
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def detections(raw: RawBoxes | RawMaps, query: TextQuery, size: tuple[int, int]) -> Found:
    """The detections of ``raw`` for ``query`` on an image of ``size = (w, h)`` (see the module doc)."""
    phrases = query.phrases
    if isinstance(raw, RawMaps):
        return _regions(raw, query, size)
    scores = np.asarray(raw.scores, np.float64).reshape(len(raw.boxes), -1)
    best, label = scores.max(axis=1), scores.argmax(axis=1)
    pixels = unit_to_pixels(raw.boxes, raw.frame, size)
    order = [
        i
        for i in np.argsort(-best, kind="stable")
        if best[i] >= query.threshold and pixels[i, 2] > pixels[i, 0] and pixels[i, 3] > pixels[i, 1]
    ]
    kept: list[int] = []
    for i in order:  # one box per object: a box overlapping a better one of the same phrase is dropped
        same = [k for k in kept if label[k] == label[i]]
        if same and _iou(pixels[i], pixels[same]).max() > NMS_IOU:
            continue
        kept.append(i)
        if len(kept) == (1 if query.mode == "best" else MAX_DETECTIONS):
            break
    found = [Detection(tuple(float(v) for v in pixels[i]), float(best[i]), phrases[int(label[i])]) for i in kept]
    return Found(found, None, phrases)


def _regions(raw: RawMaps, query: TextQuery, size: tuple[int, int]) -> Found:
    import cv2

    w, h = size
    regions: list[tuple[Detection, np.ndarray]] = []
    for p, phrase in enumerate(query.phrases):
        on = (raw.probs[p] >= query.threshold).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(on, connectivity=8)
        for r in range(1, n):
            if stats[r, cv2.CC_STAT_AREA] < MIN_REGION_FRACTION * w * h:
                continue
            region = labels == r
            x, y, bw, bh = (int(v) for v in stats[r, :4])
            box = (float(x), float(y), float(x + bw - 1), float(y + bh - 1))
            regions.append((Detection(box, float(raw.probs[p][region].max()), phrase), region))
    regions.sort(key=lambda dr: -dr[0].score)
    regions = regions[: 1 if query.mode == "best" else MAX_DETECTIONS]
    mask = np.zeros((h, w), bool)
    for _, region in regions:
        mask |= region
    return Found([d for d, _ in regions], mask, query.phrases, [r for _, r in regions])


def find(loaded: Any, image: np.ndarray, query: TextQuery) -> Found:
    """Run the detector and keep what ``query`` asks for."""
    return detections(raw_output(loaded, image, query.phrases), query, (image.shape[1], image.shape[0]))


__all__ = ["Detection", "Found", "RawBoxes", "RawMaps", "detections", "find", "raw_output", "unit_to_pixels"]
