"""Image normalisation at the edges of the core: anything a user can send becomes uint8 RGB.

:func:`to_rgb_uint8` accepts PIL images and numpy arrays of every common kind (grayscale, LA, RGB,
RGBA, palette, 16-bit, float, bool) and returns ``(rgb uint8 HxWx3, alpha uint8 HxW | None)``.
:func:`decode_image` turns uploaded bytes into the same pair. :func:`check_size` enforces the
configured pixel limit and :func:`content_hash` gives a cheap key for per-image caches.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import numpy as np

from inpaint_anything.errors import ImageTooLargeError, InvalidInputError

# PIL modes whose numpy view is not 8-bit: "I" (32-bit int, how Pillow 9 opens 16-bit grayscale PNGs),
# "I;16*" (16-bit) and "F" (32-bit float).
_PIL_16BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} MP"


def check_size(h: int, w: int, max_pixels: int | None) -> None:
    """Refuse an image of ``h`` x ``w`` pixels that is empty or larger than ``max_pixels``."""
    h, w = int(h), int(w)
    if h <= 0 or w <= 0:
        raise InvalidInputError(f"The image is empty ({w}x{h} pixels); upload a picture.")
    if max_pixels is not None and h * w > int(max_pixels):
        raise ImageTooLargeError(
            f"The image is {w}x{h} pixels ({_megapixels(h * w)}), more than the limit of "
            f"{int(max_pixels):,} pixels ({_megapixels(int(max_pixels))}). Resize it first, or raise "
            f"'Largest image accepted (pixels)' in the Inpaint Anything settings."
        )


def _scale_16bit(arr: np.ndarray) -> np.ndarray:
    """0..65535 -> 0..255 with rounding (65535 -> 255, 32768 -> 128)."""
    wide = np.clip(arr, 0, 65535).astype(np.uint32)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)


def _to_uint8_values(arr: np.ndarray) -> np.ndarray:
    """Any numeric array -> uint8 with the same shape, scaling by the type's or values' range."""
    dtype = arr.dtype
    if dtype == np.uint8:
        return arr
    if dtype == np.bool_:
        return arr.astype(np.uint8) * np.uint8(255)
    if dtype == np.uint16:
        return _scale_16bit(arr)
    if np.issubdtype(dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0:
            raise InvalidInputError(
                f"The image has negative pixel values ({lo}); pixel values must be 0..255 (8-bit) or 0..65535 (16-bit)."
            )
        if hi <= 255:
            return arr.astype(np.uint8)
        if hi <= 65535:
            return _scale_16bit(arr)
        raise InvalidInputError(f"The image has pixel values up to {hi}; only 8-bit and 16-bit images are supported.")
    if np.issubdtype(dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InvalidInputError("The image contains NaN or infinite pixel values.")
        as_f32 = arr.astype(np.float32, copy=False)
        # Floats are [0, 1]; a float image with larger values is taken as 0..255.
        scale = 255.0 if float(as_f32.max(initial=0.0)) <= 1.0 else 1.0
        return np.clip(np.rint(as_f32 * scale), 0, 255).astype(np.uint8)
    raise InvalidInputError(f"Images with pixels of type {dtype} are not supported.")


def _split_channels(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 HxW / HxWxC (C in 1..4) -> (RGB, alpha | None)."""
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2), None
    channels = arr.shape[2]
    if channels == 1:
        return np.repeat(arr, 3, axis=2), None
    if channels == 2:
        return np.repeat(arr[:, :, :1], 3, axis=2), np.ascontiguousarray(arr[:, :, 1])
    if channels == 3:
        return np.array(arr, copy=True, order="C"), None
    return np.ascontiguousarray(arr[:, :, :3]), np.ascontiguousarray(arr[:, :, 3])


def _check_array_shape(arr: np.ndarray) -> None:
    if arr.size == 0:
        raise InvalidInputError(f"The image is empty (shape {tuple(arr.shape)}); upload a picture.")
    if arr.ndim not in (2, 3):
        raise InvalidInputError(
            f"The image must be a HxW or HxWxC array, but it has {arr.ndim} dimension(s) (shape {tuple(arr.shape)})."
        )
    if arr.ndim == 3 and arr.shape[2] > 4:
        raise InvalidInputError(
            f"The image has {arr.shape[2]} channels (shape {tuple(arr.shape)}); use grayscale, RGB or "
            f"RGBA with the channels last."
        )


def _pil_to_array(image: Any) -> np.ndarray:
    """A PIL image -> numpy array in a mode :func:`_to_uint8_values` understands."""
    mode = image.mode
    if mode == "P":
        has_alpha = "transparency" in image.info or image.palette is not None and image.palette.mode == "RGBA"
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif mode == "PA":
        image = image.convert("RGBA")
    elif mode == "1":
        return np.asarray(image.convert("L"))
    elif mode in _PIL_16BIT_MODES:
        # 16-bit data: Pillow 9 opens 16-bit grayscale PNGs as "I" (int32) holding 0..65535.
        arr = np.asarray(image)
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 65535):
            raise InvalidInputError("The image has 32-bit pixel values; only 8-bit and 16-bit images are supported.")
        return arr.astype(np.uint16)
    elif mode == "F":
        return np.asarray(image, dtype=np.float32)
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in mode else "RGB")
    return np.asarray(image)


def to_rgb_uint8(image: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Normalise an image to ``(rgb uint8 HxWx3, alpha uint8 HxW | None)`` (new, C-contiguous arrays).

    Accepts a PIL image or a numpy array: grayscale (HxW or HxWx1), LA (HxWx2), RGB, RGBA (alpha
    returned separately), palette images, 16-bit (scaled so 65535 -> 255), float ([0, 1]; a float
    image with values above 1 is taken as 0..255) and bool. Raises :class:`InvalidInputError` for
    anything else (empty, 1-D, more than 4 channels, not an image).
    """
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is always there in the WebUI
        Image = None  # type: ignore[assignment]
    if Image is not None and isinstance(image, Image.Image):
        w, h = image.size
        if w == 0 or h == 0:
            raise InvalidInputError(f"The image is empty ({w}x{h} pixels); upload a picture.")
        arr = _pil_to_array(image)
    elif isinstance(image, np.ndarray):
        arr = image
    else:
        raise InvalidInputError(f"Expected an image (a picture or a pixel array), got {type(image).__name__}.")
    _check_array_shape(arr)
    if arr.dtype.kind not in "biuf":
        raise InvalidInputError(f"Images with pixels of type {arr.dtype} are not supported.")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return _split_channels(_to_uint8_values(arr))


def content_hash(rgb: np.ndarray) -> str:
    """A short hex digest of the pixels, shape and dtype (BLAKE2b-128) for cache keys."""
    arr = np.ascontiguousarray(rgb)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{arr.dtype.str}{arr.shape}".encode())
    digest.update(memoryview(arr).cast("B"))
    return digest.hexdigest()


def decode_image(data: bytes | bytearray | memoryview, max_pixels: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode an uploaded file (PNG, JPEG, WebP, ...) to ``(rgb, alpha | None)`` like :func:`to_rgb_uint8`.

    EXIF orientation is applied. ``max_pixels`` is checked from the header, before decoding.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInputError(f"Expected the bytes of an image file, got {type(data).__name__}.")
    if len(data) == 0:
        raise InvalidInputError("The uploaded image file is empty.")
    try:
        with Image.open(io.BytesIO(bytes(data))) as im:
            check_size(im.height, im.width, max_pixels)
            im.load()
            image = ImageOps.exif_transpose(im)
    except (ImageTooLargeError, InvalidInputError):
        raise
    except UnidentifiedImageError as exc:
        raise InvalidInputError("The uploaded file is not an image format that can be read (use PNG, JPEG or WebP).") from exc
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"The image is too large to open safely: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidInputError(
            f"The image file is damaged or incomplete and could not be decoded ({str(exc).strip()[:120]})."
        ) from exc
    return to_rgb_uint8(image)


__all__ = ["check_size", "content_hash", "decode_image", "to_rgb_uint8"]
