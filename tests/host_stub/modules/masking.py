"""``modules.masking`` (v1.10.1): crop regions for "Only masked" and the "fill" pre-fill."""

from __future__ import annotations

from PIL import Image, ImageFilter, ImageOps


def get_crop_region_v2(mask, pad=0):
    """Bounding box (x1, y1, x2, y2) of the non-zero mask plus ``pad``; None for a blank mask."""
    mask = mask if isinstance(mask, Image.Image) else Image.fromarray(mask)
    box = mask.getbbox()
    if not box:
        return None
    if not pad:
        return box
    x1, y1, x2, y2 = box
    return max(x1 - pad, 0), max(y1 - pad, 0), min(x2 + pad, mask.size[0]), min(y2 + pad, mask.size[1])


def get_crop_region(mask, pad=0):
    """Like get_crop_region_v2 but returns an (invalid) box for a blank mask."""
    mask = mask if isinstance(mask, Image.Image) else Image.fromarray(mask)
    box = get_crop_region_v2(mask, pad)
    if box:
        return box
    w, h = mask.size
    return max(w - pad, 0), max(h - pad, 0), min(pad, w), min(pad, h)


def _grow(lo, hi, want, limit):
    diff = int(want - (hi - lo))
    lo -= diff // 2
    hi += diff - diff // 2
    if hi >= limit:
        lo -= hi - limit
        hi = limit
    if lo < 0:
        hi -= lo
        lo = 0
    return lo, min(hi, limit)


def expand_crop_region(crop_region, processing_width, processing_height, image_width, image_height):
    """Grow the region along one axis so it has the processing width/height aspect ratio."""
    x1, y1, x2, y2 = crop_region
    ratio_processing = processing_width / processing_height
    if (x2 - x1) / (y2 - y1) > ratio_processing:
        y1, y2 = _grow(y1, y2, (x2 - x1) / ratio_processing, image_height)
    else:
        x1, x2 = _grow(x1, x2, (y2 - y1) * ratio_processing, image_width)
    return x1, y1, x2, y2


def fill(image, mask):
    """Replace masked pixels by repeated blurs of the unmasked colours (RGB result)."""
    image_mod = Image.new("RGBA", (image.width, image.height))
    image_masked = Image.new("RGBa", (image.width, image.height))
    image_masked.paste(image.convert("RGBA").convert("RGBa"), mask=ImageOps.invert(mask.convert("L")))
    image_masked = image_masked.convert("RGBa")
    for radius, repeats in [(256, 1), (64, 1), (16, 2), (4, 4), (2, 2), (0, 1)]:
        blurred = image_masked.filter(ImageFilter.GaussianBlur(radius)).convert("RGBA")
        for _ in range(repeats):
            image_mod.alpha_composite(blurred)
    return image_mod.convert("RGB")
