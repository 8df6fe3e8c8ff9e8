"""Benchmark: how much UNet work an inpaint costs, and that a second run loads nothing.

A 2048x1536 photo with a 15 % mask, inpainted with the tiny random-weight SD inpainting pipeline
(tests/fixtures; compute is counted, not timed):

* **ours, only masked** (the default): the mask's box plus padding, cropped and processed at the
  model's native size;
* **ours, whole picture**: the picture resized to the native size;
* **original extension's path**: the whole picture at its own size rounded down to a multiple of 8
  (what its ``auto_resize_to_pil`` does), straight through the diffusers pipeline.

"UNet latent pixels" = sum over UNet calls of batch x latent height x latent width (a global forward
hook on every ``UNet2DConditionModel``). A second run of ours counts ``from_pretrained`` /
``from_single_file`` calls and files opened under the model folder (all must be 0) and checks that
the same UNet object ran.

Run: ``python benchmarks/inpaint_cost.py [--json OUT] [--steps 2]``.
Target (issue #16): only-masked UNet pixels <= 0.25x the original extension's path; a second run loads nothing.
"""

from __future__ import annotations

import argparse
import builtins
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import add_project_paths, print_table

add_project_paths()


class UnetCounter:
    """Latent pixels seen by any UNet2DConditionModel while active, and which UNet objects ran."""

    def __init__(self) -> None:
        self.pixels = 0
        self.calls = 0
        self.unets: set[int] = set()

    def __enter__(self) -> UnetCounter:
        import torch

        def hook(module, args, kwargs=None):
            if type(module).__name__ == "UNet2DConditionModel":
                sample = args[0] if args else (kwargs or {}).get("sample")
                b, _, h, w = sample.shape
                self.pixels += int(b * h * w)
                self.calls += 1
                self.unets.add(id(module))

        self._handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()


class LoadCounter:
    """from_pretrained / from_single_file calls and file opens under ``folder`` while active."""

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder)
        self.loads = 0
        self.opens = 0

    def __enter__(self) -> LoadCounter:
        import diffusers
        import safetensors

        self._patched = []

        def wrap(owner, name):
            descriptor = owner.__dict__.get(name)
            if not isinstance(descriptor, classmethod):
                return
            func = descriptor.__func__

            def counted(cls, *a, **k):
                self.loads += 1
                return func(cls, *a, **k)

            setattr(owner, name, classmethod(counted))
            self._patched.append((owner, name, descriptor))

        from diffusers.loaders.single_file import FromSingleFileMixin

        for cls in (diffusers.DiffusionPipeline, diffusers.ModelMixin):
            wrap(cls, "from_pretrained")
        wrap(FromSingleFileMixin, "from_single_file")
        original_open = builtins.open
        original_safe_open = safetensors.safe_open

        def counting_open(file, *a, **k):
            if str(file).startswith(self.folder):
                self.opens += 1
            return original_open(file, *a, **k)

        def counting_safe_open(file, *a, **k):
            if str(file).startswith(self.folder):
                self.opens += 1
            return original_safe_open(file, *a, **k)

        builtins.open = counting_open
        safetensors.safe_open = counting_safe_open
        self._patched += [(builtins, "open", original_open), (safetensors, "safe_open", original_safe_open)]
        return self

    def __exit__(self, *exc) -> None:
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)


def photo_and_mask(w: int = 2048, h: int = 1536, fraction: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    import cv2
    import skimage.data

    img = cv2.resize(skimage.data.astronaut(), (w, h), interpolation=cv2.INTER_CUBIC)
    mask = np.zeros((h, w), bool)
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = int(w * 0.55), int(h * 0.5)
    radius = np.sqrt(fraction * w * h / np.pi)  # a disc covering `fraction` of the picture
    mask[(xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2] = True
    return np.ascontiguousarray(img), mask


def original_extension_path(model_dir: Path, image: np.ndarray, mask: np.ndarray, steps: int) -> None:
    """The current extension's inpainting call: whole picture at its own size (multiples of 8)."""
    import torch
    from diffusers import StableDiffusionInpaintPipeline
    from PIL import Image

    pipe = StableDiffusionInpaintPipeline.from_pretrained(str(model_dir), safety_checker=None)
    h, w = (image.shape[0] // 8) * 8, (image.shape[1] // 8) * 8
    pipe(
        prompt="",
        image=Image.fromarray(image[:h, :w]),
        mask_image=Image.fromarray(mask[:h, :w].astype(np.uint8) * 255),
        width=w,
        height=h,
        num_inference_steps=steps,
        generator=torch.Generator().manual_seed(0),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)

    from fixtures.tiny_diffusers import build_tiny_sd_inpaint

    from inpaint_anything.app import App
    from inpaint_anything.config import Settings
    from inpaint_anything.diffusion.tokenizer import ensure_clip_tokenizer
    from inpaint_anything.inpaint.engine import run_inpaint
    from inpaint_anything.inpaint.request import InpaintRequest

    image, mask = photo_and_mask()
    out: dict = {"image": [image.shape[1], image.shape[0]], "mask_fraction": float(mask.mean()), "steps": args.steps}
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = ensure_clip_tokenizer(Path(tmp) / "tokenizer-cache")
        models = Path(tmp) / "models"
        model_dir = build_tiny_sd_inpaint(models / "diffusers" / "tiny-sd-inpaint", tokenizer_dir=tokenizer)
        app = App(Settings(models_dir=str(models), offline=True))
        backend = app.backend("diffusers", str(model_dir))
        rows = []
        for name, area in (("ours, only masked", "only masked"), ("ours, whole picture", "whole")):
            req = InpaintRequest(steps=args.steps, seed=1, inpaint_area=area, padding=32).validated()
            with UnetCounter() as first:
                run_inpaint(image, mask, req, backend)
            with UnetCounter() as second, LoadCounter(models) as loads:
                run_inpaint(image, mask, req, app.backend("diffusers", str(model_dir)))
            reused = first.unets == second.unets
            out[area] = {
                "unet_latent_pixels": first.pixels,
                "unet_calls": first.calls,
                "second_run": {"loads": loads.loads, "file_opens": loads.opens, "same_unet": reused},
            }
            rows.append([name, first.pixels, first.calls, f"{loads.loads} / {loads.opens}", "yes" if reused else "NO"])
        with UnetCounter() as base:
            original_extension_path(model_dir, image, mask, args.steps)
        out["original_extension"] = {"unet_latent_pixels": base.pixels, "unet_calls": base.calls}
        rows.append(["original extension (whole, own size)", base.pixels, base.calls, "(loads every time)", "-"])
    ratio = out["only masked"]["unet_latent_pixels"] / base.pixels
    out["only_masked_vs_original"] = ratio
    print(
        f"{image.shape[1]}x{image.shape[0]} picture, mask {100 * out['mask_fraction']:.1f} %, {args.steps} steps, tiny SD inpainting"
    )
    print_table(["path", "UNet latent pixels", "UNet calls", "second run: loads / file opens", "same UNet"], rows)
    print(f"only masked / original extension: {ratio:.3f}x (target <= 0.25x)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
