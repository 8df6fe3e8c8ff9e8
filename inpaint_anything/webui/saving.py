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
    return getattr(opts, "outdir_samples", "") or getattr(opts, "outdir_img2img_samples", "") or os.path.join("outputs", "img2img-images")


def save_result(image: np.ndarray, infotext: str, kind: str) -> str:
    """Save one result with modules.images.save_image; returns the file path."""
    from modules import images, shared
    from PIL import Image

    pil = Image.fromarray(np.asarray(image))
    seed = None
    for part in infotext.split(", "):
        if part.startswith("Seed: "):
            seed = part[len("Seed: "):]
    fullfn, _ = images.save_image(pil, output_folder(), "", seed=seed, prompt=infotext.split("\n", 1)[0],
                                  extension=getattr(shared.opts, "samples_format", "png") or "png", info=infotext,
                                  suffix=f"-ia-{kind}")
    return fullfn
