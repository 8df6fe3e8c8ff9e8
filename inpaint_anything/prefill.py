"""Pre-fills for the new area of an outpainting canvas (before the model repaints it).

Every method takes the canvas (uint8 HxWx3, the original pasted in) and ``known`` (bool HxW, True
where the original is) and returns a filled canvas in which every known pixel is unchanged.

:data:`_METHODS` is the one list of pre-fills: :data:`PREFILLS` (the ids every face offers, in this
order) and :data:`SEEDED_PREFILLS` (those that take a ``seed``, so outpainting passes the request's)
are derived from it. A new pre-fill is its function plus its entry there.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

from inpaint_anything.errors import InvalidInputError, UnavailableError

DEFAULT_PREFILL = "blur"


def _known_box(known: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(known)
    if ys.size == 0:
        raise InvalidInputError("The canvas has no original pixels to extend.")
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _pad_from_original(canvas: np.ndarray, known: np.ndarray, mode: str) -> np.ndarray:
    x0, y0, x1, y1 = _known_box(known)
    h, w = known.shape
    original = canvas[y0:y1, x0:x1]
    return np.pad(original, ((y0, h - y1), (x0, w - x1), (0, 0)), mode=mode)


def edge(canvas: np.ndarray, known: np.ndarray, **_: object) -> np.ndarray:
    """Stretch the border pixels of the original outwards."""
    return _pad_from_original(canvas, known, "edge")


def reflect(canvas: np.ndarray, known: np.ndarray, **_: object) -> np.ndarray:
    """Mirror the original across its borders (repeats for expansions larger than the image)."""
    return _pad_from_original(canvas, known, "symmetric")


def blur(canvas: np.ndarray, known: np.ndarray, **_: object) -> np.ndarray:
    """Push-pull blur pyramid: unknown pixels take a smooth average of the nearest known colours,
    coarse levels fill far areas, and known pixels are restored at every level."""
    import cv2

    levels = []
    image = canvas.astype(np.float32)
    weight = known.astype(np.float32)
    # pull: weighted downsampling until the unknown area is covered
    while True:
        levels.append((image, weight))
        if weight.min() > 0 or min(image.shape[:2]) <= 2:
            break
        premult = cv2.pyrDown(image * weight[..., None])
        w_small = cv2.pyrDown(weight)
        with np.errstate(invalid="ignore", divide="ignore"):
            image = np.where(w_small[..., None] > 1e-6, premult / np.maximum(w_small[..., None], 1e-6), 0).astype(np.float32)
        weight = np.clip(w_small * 4.0, 0, 1)  # a level is "known" where any finer pixel was
    # push: upsample from the coarsest level, keeping each level's own (partly) known values
    filled = levels[-1][0]
    for image, weight in reversed(levels[:-1]):
        up = cv2.resize(filled, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
        up = cv2.GaussianBlur(up, (0, 0), 1.0)
        filled = weight[..., None] * image + (1 - weight[..., None]) * up
    out = np.clip(np.rint(filled), 0, 255).astype(np.uint8)
    out[known] = canvas[known]
    return out


def _cv2_inpaint(canvas: np.ndarray, known: np.ndarray, flag: int, radius: int = 5) -> np.ndarray:
    import cv2

    hole = (~known).astype(np.uint8) * 255
    out = cv2.inpaint(np.ascontiguousarray(canvas), hole, radius, flag)
    out[known] = canvas[known]
    return out


def telea(canvas: np.ndarray, known: np.ndarray, **_: object) -> np.ndarray:
    import cv2

    return _cv2_inpaint(canvas, known, cv2.INPAINT_TELEA)


def ns(canvas: np.ndarray, known: np.ndarray, **_: object) -> np.ndarray:
    import cv2

    return _cv2_inpaint(canvas, known, cv2.INPAINT_NS)


def patchmatch(canvas: np.ndarray, known: np.ndarray, *, patch_size: int = 5, seed: int = 0, **_: object) -> np.ndarray:
    """PatchMatch texture synthesis (pypatchmatch)."""
    try:
        import patchmatch as pm
    except ImportError as exc:
        raise UnavailableError(
            "PatchMatch needs the 'pypatchmatch' package (Python 3.11+ on Linux x86-64); use 'blur' or 'telea'."
        ) from exc
    if hasattr(pm, "set_random_seed"):
        pm.set_random_seed(int(seed))
    out = np.asarray(
        pm.inpaint(np.ascontiguousarray(canvas), mask=(~known).astype(np.uint8) * 255, patch_size=patch_size)
    ).astype(np.uint8)
    out = out.copy()
    out[known] = canvas[known]
    return out


def noise(
    canvas: np.ndarray, known: np.ndarray, *, seed: int = 0, noise_q: float = 1.0, color_variation: float = 0.05, **_: object
) -> np.ndarray:
    """FFT-matched noise (the idea behind the WebUI's outpainting mk2): noise whose spectrum follows
    the known image's magnitude spectrum, histogram-matched to the known colours. Seeded."""
    from skimage.exposure import match_histograms

    rng = np.random.default_rng(int(seed))
    h, w = known.shape
    base = canvas.astype(np.float64) / 255.0
    mean = base[known].mean(axis=0)
    src = np.where(known[..., None], base, mean)
    spectrum = np.fft.fft2(src, axes=(0, 1))
    magnitude = np.abs(spectrum) ** noise_q
    white = rng.random((h, w, 3))
    gray = white.mean(axis=2, keepdims=True)
    white = gray + (white - gray) * color_variation
    noise_spec = np.fft.fft2(white, axes=(0, 1))
    shaped = np.real(np.fft.ifft2(noise_spec / np.maximum(np.abs(noise_spec), 1e-8) * magnitude, axes=(0, 1)))
    shaped -= shaped.min()
    shaped /= max(shaped.max(), 1e-8)
    matched = match_histograms(shaped[~known], base[known], channel_axis=-1)
    out = canvas.copy()
    out[~known] = np.clip(np.rint(matched * 255), 0, 255).astype(np.uint8)
    return out


def solid(canvas: np.ndarray, known: np.ndarray, *, color: tuple[int, int, int] | None = None, **_: object) -> np.ndarray:
    """A single colour: the given one, or the mean colour of the original."""
    out = canvas.copy()
    fill = np.asarray(color if color is not None else canvas[known].mean(axis=0).round(), dtype=np.uint8)
    out[~known] = fill
    return out


_METHODS: dict[str, Callable[..., np.ndarray]] = {
    "blur": blur,
    "edge": edge,
    "reflect": reflect,
    "telea": telea,
    "ns": ns,
    "patchmatch": patchmatch,
    "noise": noise,
    "solid": solid,
}
PREFILLS: tuple[str, ...] = tuple(_METHODS)
SEEDED_PREFILLS: tuple[str, ...] = tuple(n for n, fn in _METHODS.items() if "seed" in inspect.signature(fn).parameters)


def prefill(canvas: np.ndarray, known: np.ndarray, method: str = DEFAULT_PREFILL, **options: object) -> np.ndarray:
    """Fill the unknown area of ``canvas`` with ``method``; known pixels are returned unchanged."""
    if method not in _METHODS:
        raise InvalidInputError(f"Unknown pre-fill {method!r}. Choose one of: {', '.join(PREFILLS)}.")
    if canvas.ndim != 3 or canvas.shape[2] != 3 or canvas.dtype != np.uint8:
        raise InvalidInputError("The outpainting canvas must be an RGB uint8 image.")
    if known.shape != canvas.shape[:2]:
        raise InvalidInputError(
            f"The known-pixel mask is {known.shape[1]}x{known.shape[0]}, the canvas {canvas.shape[1]}x{canvas.shape[0]}."
        )
    known = known.astype(bool)
    if known.all():
        return canvas.copy()
    return _METHODS[method](canvas, known, **options)


def place_on_canvas(image: np.ndarray, expansion) -> tuple[np.ndarray, np.ndarray]:
    """(canvas, known) with ``image`` pasted at the expansion's original box; new pixels are 0."""
    w, h = expansion.canvas_size
    x0, y0, x1, y1 = expansion.original_box
    canvas = np.zeros((h, w, 3), np.uint8)
    canvas[y0:y1, x0:x1] = image[..., :3]
    known = np.zeros((h, w), bool)
    known[y0:y1, x0:x1] = True
    return canvas, known
