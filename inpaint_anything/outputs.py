"""Saving results as PNG with WebUI-compatible "parameters" infotext, never overwriting a file."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

_NUMBERED = re.compile(r"^(\d{5})-")


def output_folder(settings: Any) -> Path:
    """Where the standalone app saves results: the output folder setting, else
    ``./outputs/inpaint-anything`` under the working directory (absolute either way)."""
    chosen = getattr(settings, "output_dir", "") or ""
    if chosen:
        return Path(os.path.abspath(os.path.expanduser(chosen)))
    return Path(os.getcwd()) / "outputs" / "inpaint-anything"


def _next_number(folder: Path) -> int:
    highest = -1
    for name in os.listdir(folder):
        m = _NUMBERED.match(name)
        if m:
            highest = max(highest, int(m.group(1)))
    return highest + 1


def save_png(image: np.ndarray, folder: str | os.PathLike[str], infotext: str = "", *, suffix: str = "") -> Path:
    """Write ``image`` as ``NNNNN-<suffix>.png`` in ``folder`` with the infotext in a "parameters"
    text chunk (readable by the WebUI's PNG Info). The file is created exclusively: an existing file
    is never overwritten, the next free number is used instead."""
    from PIL import Image, PngImagePlugin

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    if infotext:
        info.add_text("parameters", infotext)
    arr = np.asarray(image)
    pil = Image.fromarray(arr, "RGBA" if arr.ndim == 3 and arr.shape[2] == 4 else None)
    clean = re.sub(r"[^\w.-]+", "_", suffix)[:60].strip("_")
    number = _next_number(target)
    while True:
        path = target / (f"{number:05d}-{clean}.png" if clean else f"{number:05d}.png")
        try:
            with open(path, "xb") as fh:
                pil.save(fh, format="PNG", pnginfo=info)
            return path
        except FileExistsError:
            number += 1


def read_infotext(path: str | os.PathLike[str]) -> str | None:
    from PIL import Image

    with Image.open(path) as im:
        return im.info.get("parameters")
