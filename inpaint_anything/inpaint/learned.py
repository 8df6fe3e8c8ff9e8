"""Learned object removers run from TorchScript files (LaMa's big-lama.pt, IOPaint's MI-GAN).

The engine (:func:`~inpaint_anything.inpaint.engine.run_inpaint`) hands :class:`TorchScriptRemover` a
crop around the mask already at the model's size (``native_size`` / ``max_size`` / ``multiple``
from :data:`~inpaint_anything.models.removers.REMOVER_MODELS`) and pastes the fill back, so every
pixel outside the blend band stays bit-exact. The two input contracts (read from IOPaint's
``iopaint/model/lama.py`` and ``mi_gan.py``):

- ``image+mask`` (LaMa): ``model(image, mask)``, image [1,3,H,W] RGB in [0, 1], mask [1,1,H,W] in
  {0, 1} (1 = hole); returns [1,3,H,W] in [0, 1]; H and W multiples of 8.
- ``migan``: ``model(x)`` with x [1,4,512,512] = concat(0.5 - mask, image * (1 - mask)), image RGB in
  [-1, 1], mask in {0, 1}; returns [1,3,512,512] RGB in [-1, 1]. A smaller crop is reflect-padded to
  512 x 512 and the padding cut off again.

The file is fetched on first use (verified download, progress on the job) unless it is present.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from inpaint_anything.errors import InvalidInputError, UnrecognizedCheckpointError
from inpaint_anything.jobs import JobControl
from inpaint_anything.models.removers import RemoverModel

# torch.jit is deprecated in recent torch (TorchScript files still load); only that warning is hidden
_JIT_DEPRECATION = r".*(TorchScript|torch\.jit).*deprecat.*"

PathProvider = Callable[..., Path]  # (progress=, cancel=) -> the model file, downloaded when missing


def load_torchscript(path: str | Path, device: str, title: str):
    """A TorchScript module from ``path`` on ``device`` in eval mode (UnrecognizedCheckpointError
    naming the file when it is not TorchScript)."""
    import torch

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_JIT_DEPRECATION, category=DeprecationWarning)
            warnings.filterwarnings("ignore", message=_JIT_DEPRECATION, category=FutureWarning)
            return torch.jit.load(str(path), map_location=device).eval()
    except (RuntimeError, ValueError, OSError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise UnrecognizedCheckpointError(
            f"Could not load {title} from {Path(path).name} (damaged, or not the TorchScript file: {first}). "
            f"Delete it and let it download again, or use another removal method."
        ) from exc


class TorchScriptRemover:
    """One learned remover as an inpainting backend; the model is loaded once per instance."""

    samples = False  # no sampler, steps or CFG: the infotext leaves them out

    def __init__(self, spec: RemoverModel, path: PathProvider, device: str = "cpu"):
        self.spec = spec
        self._path = path
        self.device = device
        self._model = None
        self.name = f"cleaner:{spec.method}"
        self.native_size = spec.native_size
        self.max_size = spec.max_size
        self.multiple = spec.multiple

    def _load(self, job: JobControl):
        if self._model is None:
            title = self.spec.entry.title

            def progress(done: int, total: int | None) -> bool:
                job.step(int(done), int(total or 0), f"downloading {self.spec.entry.filename}")
                return not job.interrupted

            path = self._path(progress=progress, cancel=lambda: job.interrupted)
            self._model = load_torchscript(path, self.device, title)
        return self._model

    def generate(self, image: np.ndarray, mask: np.ndarray, request: Any, seed: int, job: JobControl) -> np.ndarray:
        import torch

        model = self._load(job)
        job.step(0, 1, f"removing with {self.spec.entry.title}")
        h, w = image.shape[:2]
        with torch.inference_mode():
            img = torch.from_numpy(np.ascontiguousarray(image[..., :3])).permute(2, 0, 1)[None].float().div(255)
            hole = torch.from_numpy(mask.astype(np.float32))[None, None]
            if self.spec.input_kind == "migan":
                out = self._migan(model, img, hole)
            else:
                out = model(img.to(self.device), hole.to(self.device))
        job.step(1, 1)
        arr = out[0].permute(1, 2, 0).clamp(0, 1).mul(255).round().byte().cpu().numpy()
        if arr.shape[:2] != (h, w):
            raise RuntimeError(f"{self.spec.entry.title} returned {arr.shape[:2]}, expected {(h, w)}.")
        return arr

    def _migan(self, model, img, hole):
        import torch
        import torch.nn.functional as F

        size = self.spec.native_size
        h, w = img.shape[2:]
        if h > size or w > size:
            raise InvalidInputError(f"MI-GAN takes at most {size} x {size} pixels, not {w} x {h}.")
        pad = (0, size - w, 0, size - h)
        if any(pad):  # reflect needs pad < side; replicate covers the rest
            mode = "reflect" if size - w < w and size - h < h else "replicate"
            img, hole = F.pad(img, pad, mode=mode), F.pad(hole, pad, mode="replicate")
        x = img * 2 - 1
        hole = (hole > 0.5).float()
        packed = torch.cat([0.5 - hole, x * (1 - hole)], dim=1)
        out = model(packed.to(self.device))
        return ((out + 1) / 2)[:, :, :h, :w]


__all__ = ["TorchScriptRemover", "load_torchscript"]
