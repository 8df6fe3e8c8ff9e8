"""Prompt-free object removal ("Cleaner"): weight-free fills that run anywhere, fast.

- ``telea`` / ``ns``: OpenCV's fast marching and Navier-Stokes inpainting (instant, smooth);
- ``patchmatch``: PatchMatch texture synthesis via the ``pypatchmatch`` wheel (plausible texture);
- ``lama``: the big-lama TorchScript model when its file is present (see :class:`LamaBackend`).

All of them plug into :func:`inpaint_anything.inpaint.engine.run_inpaint`, so the result keeps every
pixel outside the blend band exactly.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inpaint_anything import fields
from inpaint_anything.errors import UnavailableError, UnrecognizedCheckpointError
from inpaint_anything.fields import Field
from inpaint_anything.inpaint.request import INPAINT, InpaintRequest
from inpaint_anything.jobs import JobControl, run_interruptible

CLEANERS = ("telea", "ns", "patchmatch", "lama")
# used when the table's default method (PatchMatch, plausible texture) is not installed here
FALLBACK_CLEANER = "telea"

# The "Remove object" parameters: the tab's controls (method, grow), the API's RemoveBody (method,
# mask_blur, padding) and the defaults of :func:`removal_request`.
REMOVE_FIELDS: tuple[Field, ...] = (
    Field("method", str, "patchmatch", "Method", choices=CLEANERS, control="radio", elem="cleaner",
          help=f"The cleaner (default: patchmatch, or {FALLBACK_CLEANER} where PatchMatch is not installed)."),
    Field("mask_blur", int, 2, INPAINT["mask_blur"].label, 0, 64, step=1, error=INPAINT["mask_blur"].error, control=None),
    Field("padding", int, 64, INPAINT["padding"].label, 0, 512, step=4, error=INPAINT["padding"].error, control=None),
    Field("grow_px", int, 6, "Grow the mask first (px)", 0, 64, step=1, elem="cleaner_grow"),
)
REMOVE = fields.by_name(REMOVE_FIELDS)


def patchmatch_available() -> bool:
    return importlib.util.find_spec("patchmatch") is not None


def default_cleaner(method: str | None = None) -> str:
    """``method`` when given, else the table's default method where it is usable here, else
    :data:`FALLBACK_CLEANER` (PatchMatch needs the optional ``pypatchmatch`` wheel)."""
    if method:
        return method
    default = REMOVE["method"].default
    return default if default != "patchmatch" or patchmatch_available() else FALLBACK_CLEANER


def available_cleaners(lama_path: str | None = None) -> list[str]:
    """Cleaner methods usable here."""
    found = ["telea", "ns"]
    if patchmatch_available():
        found.append("patchmatch")
    if lama_path:
        found.append("lama")
    return found


@dataclass
class ClassicalBackend:
    """OpenCV / PatchMatch fill as an inpainting backend (works at the image's own resolution)."""

    method: str = "telea"
    radius: int = 5
    patch_size: int = 5
    native_size: int = 0
    multiple: int = 1
    samples: bool = False  # no sampler, steps or CFG: the infotext leaves them out

    def __post_init__(self) -> None:
        if self.method not in ("telea", "ns", "patchmatch"):
            raise UnavailableError(f"Unknown cleaner {self.method!r}; choose telea, ns or patchmatch.")
        if self.method == "patchmatch" and not patchmatch_available():
            raise UnavailableError("PatchMatch needs the 'pypatchmatch' package (Python 3.11+, Linux x86-64). Use Telea or NS instead.")

    @property
    def name(self) -> str:
        return f"cleaner:{self.method}"

    @property
    def seeded(self) -> bool:
        """PatchMatch draws random patches (seeded); Telea and NS are deterministic."""
        return self.method == "patchmatch"

    def generate(self, image: np.ndarray, mask: np.ndarray, request: InpaintRequest, seed: int, job: JobControl) -> np.ndarray:
        job.step(0, 1, f"removing with {self.method}")
        hole = mask.astype(np.uint8) * 255
        if self.method == "patchmatch":
            import patchmatch

            if hasattr(patchmatch, "set_random_seed"):
                patchmatch.set_random_seed(int(seed))
            fill = functools.partial(patchmatch.inpaint, mask=hole, patch_size=self.patch_size)
            out = run_interruptible(job, fill, np.ascontiguousarray(image))
            out = np.asarray(out).astype(np.uint8)
        else:
            import cv2

            flag = cv2.INPAINT_TELEA if self.method == "telea" else cv2.INPAINT_NS
            out = run_interruptible(job, cv2.inpaint, np.ascontiguousarray(image), hole, self.radius, flag)
        job.step(1, 1)
        return out


@dataclass
class LamaBackend:
    """big-lama as a TorchScript file (``big-lama.pt``): image [1,3,H,W] in [0,1] and mask
    [1,1,H,W] in {0,1} in, image [1,3,H,W] in [0,1] out. Loaded once per instance."""

    path: str
    device: str = "cpu"
    native_size: int = 0
    multiple: int = 8
    name: str = "cleaner:lama"
    samples: bool = False

    def __post_init__(self) -> None:
        self._model = None

    def _load(self):
        if self._model is None:
            import torch

            try:
                self._model = torch.jit.load(self.path, map_location=self.device).eval()
            except (RuntimeError, ValueError, OSError) as exc:
                raise UnrecognizedCheckpointError(
                    f"Could not load LaMa from {Path(self.path).name} (damaged, or not the TorchScript big-lama.pt: "
                    f"{str(exc).strip().splitlines()[0][:200]}). Replace it with the TorchScript big-lama.pt, or use "
                    "another removal method.") from exc
        return self._model

    def generate(self, image: np.ndarray, mask: np.ndarray, request: InpaintRequest, seed: int, job: JobControl) -> np.ndarray:
        import torch

        model = self._load()
        job.step(0, 1, "removing with LaMa")
        with torch.inference_mode():
            img = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255).to(self.device)
            m = torch.from_numpy(mask.astype(np.float32))[None, None].to(self.device)
            out = model(img, m)
        job.step(1, 1)
        arr = out[0].permute(1, 2, 0).clamp(0, 1).mul(255).round().byte().cpu().numpy()
        return arr[: image.shape[0], : image.shape[1]]


@dataclass
class PrefillOnlyBackend:
    """No model: the masked area keeps what it holds. Outpainting with it returns the pre-filled canvas
    (blur, edge, noise... as chosen), blended into the original across the overlap."""

    native_size: int = 0
    multiple: int = 1
    name: str = "pre-fill only"
    samples: bool = False

    @staticmethod
    def infotext_fields() -> dict[str, object]:
        return {}  # the outpaint fields name the pre-fill ("Outpaint pre-fill: blur")

    def generate(self, image: np.ndarray, mask: np.ndarray, request: InpaintRequest, seed: int, job: JobControl) -> np.ndarray:
        job.step(1, 1, "pre-fill only")
        return np.ascontiguousarray(image[..., :3])


PREFILL_ONLY = "prefill"  # the cleaner "method" that keeps the pre-fill


def cleaner_backend(method: str, lama_path: str | None = None, device: str = "cpu"):
    """The backend for a cleaner method name (``prefill``: keep the pre-fill, no model)."""
    if method == PREFILL_ONLY:
        return PrefillOnlyBackend()
    if method == "lama":
        if not lama_path:
            raise UnavailableError("LaMa needs its model file (big-lama.pt) in the models folder.")
        return LamaBackend(lama_path, device)
    return ClassicalBackend(method)


def removal_request(mask_blur: int = REMOVE["mask_blur"].default, padding: int = REMOVE["padding"].default,
                    seed: int = 0) -> InpaintRequest:
    """The request used for prompt-free removal: only-masked crop with context, light feathering."""
    return InpaintRequest(seed=seed, mask_blur=mask_blur, padding=padding, inpaint_area="only masked", masked_content="original")
