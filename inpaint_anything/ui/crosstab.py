"""Pictures that travel between the WebUI's tabs and ours.

Into the tab
    The host adapter adds a "Send to Inpaint Anything" button to the result rows of txt2img and
    img2img (``HostHooks.send_buttons``). Its click first runs JS in the browser:
    ``InpaintAnything.sendFromGallery("<tab>_gallery")`` fetches the gallery's selected picture (or
    the first one) from the URL the gallery shows and returns it as a ``data:`` URL (or ``""`` when
    the gallery is empty, ``"error:<why>"`` when it could not be read), and switches to our tab when
    there is a picture. Python decodes it with :func:`image_from_data_url` and returns it to the tab's
    input image *of the same browser session*; the input's change handler then loads it into that
    session's workspace, exactly like an upload. Reading the picture in the browser works the same
    on gradio 3 and 4 (whose gallery values differ: dicts with temp-file names vs. FileData / tuples)
    and never trusts a server path sent by the client.

Out of the tab
    Results go to img2img's Inpaint upload or the Extras tab's single image (``extras_image``) as PNG
    files (see ``Controller.send_result_to_extras``), followed by a JS tab switch.
"""

from __future__ import annotations

import base64
import binascii
import io
import json

import numpy as np

from inpaint_anything.errors import InvalidInputError

ERROR_PREFIX = "error:"
MAX_PAYLOAD_CHARS = 400_000_000  # ~300 MB of image file; the pixel limit usually refuses earlier
OWN_TAB_ELEM = "ia_canvas_root"  # revealing it shows our tab wherever the host put it


def gallery_send_js(gallery_id: str) -> str:
    """The JS of a send button's click: ``(payload, key) -> [data URL | "" | "error:...", key]``."""
    gid = json.dumps(gallery_id)
    return (
        "(payload, key) => { const ia = window.InpaintAnything;"
        f" const got = ia && ia.sendFromGallery ? ia.sendFromGallery({gid}) : Promise.resolve({json.dumps(ERROR_PREFIX)} + 'script not loaded');"
        " return got.then((data) => [data, key]); }"
    )


def reveal_js(elem_id: str, fallback: str = "") -> str:
    """JS that shows the (nested) tabs holding ``elem_id``; ``fallback`` (JS statements) runs when
    our script is missing or cannot find the element."""
    eid = json.dumps(elem_id)
    return f"() => {{ const ia = window.InpaintAnything; if (ia && ia.reveal && ia.reveal({eid})) return; {fallback} }}"


def image_from_data_url(text: str | None, max_pixels: int | None, source: str = "the gallery") -> np.ndarray:
    """Decode the ``data:image/...;base64,`` URL the browser sent into an RGB(A) uint8 array.

    ``""`` means the gallery was empty and ``"error:<why>"`` that the browser could not read the
    picture; both raise :class:`InvalidInputError` with a message for the user, as do anything that
    is not an image and pictures above ``max_pixels``.
    """
    from inpaint_anything.imaging import check_size

    if not text:
        raise InvalidInputError(f"There is no image in {source} to send. Generate or select one first.")
    if not isinstance(text, str):
        raise InvalidInputError(f"The image from {source} arrived in an unexpected form; reload the page and try again.")
    if text.startswith(ERROR_PREFIX):
        why = text[len(ERROR_PREFIX) :].strip()[:200] or "unknown reason"
        raise InvalidInputError(f"The browser could not read the image from {source} ({why}). Reload the page and try again.")
    if len(text) > MAX_PAYLOAD_CHARS:
        raise InvalidInputError(f"The image from {source} is too large to send ({len(text) // 1_000_000} MB).")
    head, sep, body = text.partition(",")
    if not sep or not head.startswith("data:image/") or not head.endswith(";base64"):
        raise InvalidInputError(f"What came from {source} is not an image; reload the page and try again.")
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"The image from {source} arrived damaged; try again.") from None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as im:
            check_size(im.height, im.width, max_pixels)
            has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
            converted = im.convert("RGBA" if has_alpha else "RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as exc:
        raise InvalidInputError(f"The image from {source} could not be decoded ({exc}).") from None
    return np.asarray(converted).copy()


__all__ = ["ERROR_PREFIX", "OWN_TAB_ELEM", "gallery_send_js", "image_from_data_url", "reveal_js"]
