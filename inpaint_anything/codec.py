"""Images as text and bytes: base64 / data-URL strings and uploaded files in, base64 PNG (with infotext)
out. The wire format of the REST API, and of the items the API hands to Ray workers."""

from __future__ import annotations

import base64
import binascii
import io
import re

import numpy as np

from inpaint_anything.errors import InvalidInputError

_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(;[\w=.+-]+)*;base64,", re.IGNORECASE)
_B64_CHARS = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")


def b64_bytes(text: object, what: str = "image") -> bytes:
    """The bytes of a base64 string or ``data:<type>;base64,<data>`` URL (whitespace ignored;
    standard and URL-safe alphabets, padding optional)."""
    if not isinstance(text, str):
        raise InvalidInputError(f"The {what} must be a base64 string or a data URL, not {type(text).__name__}.")
    body = text.strip()
    match = _DATA_URL.match(body)
    if match:
        body = body[match.end() :]
    elif body.startswith("data:"):
        raise InvalidInputError(f"The {what} data URL must be base64-encoded (data:image/png;base64,...).")
    body = re.sub(r"\s+", "", body)
    if not body:
        raise InvalidInputError(f"The {what} is empty.")
    if not _B64_CHARS.match(body):
        raise InvalidInputError(f"The {what} is not valid base64 (send the file's bytes base64-encoded, or a data URL).")
    body = body.rstrip("=")
    if len(body) % 4 == 1:
        raise InvalidInputError(f"The {what} is not valid base64: its length is wrong (truncated?).")
    body += "=" * (-len(body) % 4)
    try:
        return base64.b64decode(body.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError(f"The {what} is not valid base64 ({exc}).") from None


def decode_image_data(data: str | bytes, max_pixels: int | None, what: str = "image") -> np.ndarray:
    """An uploaded image (base64 text or raw bytes) as uint8 RGB, or RGBA when it has an alpha channel."""
    from inpaint_anything.imaging import decode_image

    raw = data if isinstance(data, (bytes, bytearray)) else b64_bytes(data, what)
    try:
        rgb, alpha = decode_image(raw, max_pixels)
    except InvalidInputError as exc:
        if what == "image":
            raise
        raise type(exc)(f"{what[:1].upper() + what[1:]}: {exc.message}") from exc
    return rgb if alpha is None else np.dstack([rgb, alpha])


def decode_mask_data(data: str | bytes, shape: tuple[int, int] | None, max_pixels: int | None, what: str = "mask") -> np.ndarray:
    """A mask image (base64 or bytes) as bool HxW; with ``shape`` (H, W) it must match that size."""
    from inpaint_anything.masks import as_bool_mask, mask_from_picture

    mask = mask_from_picture(decode_image_data(data, max_pixels, what))
    return as_bool_mask(mask, shape, name=what) if shape is not None else mask


def png_bytes(image: np.ndarray, infotext: str = "") -> bytes:
    """PNG file bytes of a uint8 image (L, RGB or RGBA; bool masks become 0/255) with the infotext
    in a "parameters" text chunk (what the WebUI's PNG Info reads)."""
    from PIL import Image, PngImagePlugin

    arr = np.asarray(image)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {arr.dtype}")
    info = PngImagePlugin.PngInfo()
    if infotext:
        info.add_text("parameters", infotext)
    mode = "L" if arr.ndim == 2 else {3: "RGB", 4: "RGBA"}[arr.shape[2]]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr), mode).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def png_b64(image: np.ndarray, infotext: str = "") -> str:
    """Base64 (no data-URL prefix) of :func:`png_bytes`."""
    return base64.b64encode(png_bytes(image, infotext)).decode("ascii")


__all__ = ["b64_bytes", "decode_image_data", "decode_mask_data", "png_b64", "png_bytes"]
