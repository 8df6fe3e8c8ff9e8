"""Saving results through the WebUI's own image saving (filename patterns, on_image_saved hooks,
infotext readable by PNG Info), into the folder chosen in Settings."""

from __future__ import annotations

import os

import numpy as np


def output_folder() -> str:
    """Our Settings' output folder, else the WebUI's img2img folder (or its common outdir)."""
    from modules import shared

    from inpaint_anything.webui import settings

    chosen = settings.current().output_dir
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    opts = shared.opts
    return (
        getattr(opts, "outdir_samples", "")
        or getattr(opts, "outdir_img2img_samples", "")
        or os.path.join("outputs", "img2img-images")
    )


def save_result(image: np.ndarray, infotext: str, kind: str) -> str:
    """Save one result with modules.images.save_image; returns the file's absolute path.

    The host names files ``NNNNN-<samples_filename_pattern>`` (default ``[seed]-[prompt_spaces]``) and
    drops the pattern when there is no seed; a result without a seed (a removal) is therefore saved as
    ``NNNNN-ia-remove.png`` (the suffix then has no leading dash: ``NNNNN--ia-remove`` otherwise), one with
    a seed as ``NNNNN-<pattern>-ia-inpaint.png``. The prompt comes from the infotext's prompt lines."""
    from modules import images, shared
    from PIL import Image

    from inpaint_anything.inpaint.request import parse_infotext

    pil = Image.fromarray(np.asarray(image))
    request, _ = parse_infotext(infotext) if infotext else (None, {})
    seed = request.seed if request is not None and request.seed >= 0 and "Seed: " in infotext else None
    prompt = request.prompt if request is not None else ""
    suffix = f"-ia-{kind}" if seed is not None else f"ia-{kind}"
    fullfn, _ = images.save_image(
        pil,
        output_folder(),
        "",
        seed=seed,
        prompt=prompt,
        extension=getattr(shared.opts, "samples_format", "png") or "png",
        info=infotext,
        suffix=suffix,
    )
    return os.path.abspath(fullfn)
