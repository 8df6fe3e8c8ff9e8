"""Prompt-free object removal ("Cleaner"): weight-free fills that run anywhere, fast.

- ``telea`` / ``ns``: OpenCV's fast marching and Navier-Stokes inpainting (instant, smooth);
- ``patchmatch``: PatchMatch texture synthesis via the ``pypatchmatch`` wheel (plausible texture);
- ``lama`` / ``migan``: learned removers from TorchScript files, downloaded on first use (the files are
  listed in :data:`~inpaint_anything.models.removers.REMOVER_MODELS`; see :mod:`.learned`).

All of them plug into :func:`inpaint_anything.inpaint.engine.run_inpaint`, so the result keeps every
pixel outside the blend band exactly.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass

import numpy as np

from inpaint_anything import fields
from inpaint_anything.errors import UnavailableError
from inpaint_anything.fields import Field
from inpaint_anything.inpaint.request import INPAINT, InpaintRequest
from inpaint_anything.jobs import JobControl, run_interruptible
from inpaint_anything.models.removers import REMOVERS

CLASSICAL = ("telea", "ns", "patchmatch")
# every removal method: the classical ones, then one per learned remover (adding a remover to
# REMOVER_MODELS adds it here, to the tab, the API, the CLI and batch)
CLEANERS = CLASSICAL + tuple(REMOVERS)
# used when the table's default method (PatchMatch, plausible texture) is not installed here
FALLBACK_CLEANER = "telea"

# The "Remove object" parameters: the tab's controls (method, grow), the API's RemoveBody (method,
# mask_blur, padding) and the defaults of :func:`removal_request`.
REMOVE_FIELDS: tuple[Field, ...] = (
    Field(
        "method",
        str,
        "patchmatch",
        "Method",
        choices=CLEANERS,
        control="radio",
        elem="cleaner",
        help=f"The cleaner (default: patchmatch, or {FALLBACK_CLEANER} where PatchMatch is not installed; "
        "lama and migan download their file on first use).",
    ),
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


def available_cleaners() -> list[str]:
    """Cleaner methods usable here (a learned remover is usable before its file is downloaded: it is
    fetched on first use, or reported with where to put it when offline)."""
    return [m for m in CLEANERS if m != "patchmatch" or patchmatch_available()]


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
            raise UnavailableError(f"Unknown cleaner {self.method!r}; choose one of: {', '.join(CLEANERS)}.")
        if self.method == "patchmatch" and not patchmatch_available():
            raise UnavailableError(
                "PatchMatch needs the 'pypatchmatch' package (Python 3.11+, Linux x86-64). Use Telea or NS instead."
            )

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


def cleaner_backend(method: str, model_path=None, device: str = "cpu"):
    """The backend for a cleaner method name (``prefill``: keep the pre-fill, no model).
    ``model_path(progress=, cancel=)``: the learned remover's file (downloading it when missing)."""
    if method == PREFILL_ONLY:
        return PrefillOnlyBackend()
    if method in REMOVERS:
        from inpaint_anything.inpaint.learned import TorchScriptRemover

        if model_path is None:
            raise UnavailableError(
                f"{REMOVERS[method].entry.title} needs its model file ({REMOVERS[method].entry.filename}) in the models folder."
            )
        return TorchScriptRemover(REMOVERS[method], model_path, device)
    return ClassicalBackend(method)


def removal_request(
    mask_blur: int = REMOVE["mask_blur"].default, padding: int = REMOVE["padding"].default, seed: int = 0
) -> InpaintRequest:
    """The request used for prompt-free removal: only-masked crop with context, light feathering."""
    return InpaintRequest(seed=seed, mask_blur=mask_blur, padding=padding, inpaint_area="only masked", masked_content="original")
