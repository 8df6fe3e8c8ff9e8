"""Fidelity benchmark for the inpainting engine (a script, not a test).

Prints three tables:

1. Changed pixels outside the blend band, for every backend (target: 0).
2. Seam quality on flat and gradient cards and on photos: CIEDE2000 across the mask boundary and the
   boundary gradient ratio, for a "colour-shifted generator" (what real SD inpainting often does:
   plausible content that is a little darker / tinted, the WebUI complaint #5098) with and without
   colour match, and for the tiny random-weight SD pipeline. Target: seam dE2000 <= 2 on the cards
   with colour match.
3. PSNR inside held-out holes on textured photos for the classical fills (Telea, NS, PatchMatch)
   and the learned removers (LaMa, MI-GAN) whose files are in the models folder (else skipped, with
   the reason). Target: PatchMatch >= Telea + 1 dB on average.
4. Large object (a held-out hole of >= 15 % of the photo): PSNR, the seam (CIEDE2000 across the
   boundary, gradient ratio) and pasted-in foreign content: the Bhattacharyya distance between the
   colour histogram of the fill and of the ring around it, next to the same distance for the true
   pixels (the floor): a fill far above the floor brings colours the surroundings do not have.

Usage: python benchmarks/fidelity.py [--quick] [--models-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from fixtures.images import photo  # noqa: E402

from inpaint_anything import metrics  # noqa: E402
from inpaint_anything.inpaint import cleaner  # noqa: E402
from inpaint_anything.inpaint.engine import run_inpaint  # noqa: E402
from inpaint_anything.inpaint.request import InpaintRequest  # noqa: E402


class ShiftedTruth:
    """A stand-in generator that returns the true pixels with a colour cast (darker, warmer) over the
    whole generated area, as latent-diffusion inpainting drifts the colours of its whole output."""

    name = "shifted-truth"
    native_size = 0
    multiple = 1

    def __init__(self, truth: np.ndarray):
        self.truth = truth

    def generate(self, image, mask, request, seed, job):
        shifted = self.truth.astype(np.float32) * np.array([0.92, 0.86, 0.80]) + np.array([10.0, 4.0, 0.0])
        return np.clip(shifted, 0, 255).astype(np.uint8)


def cards(size: int = 256) -> dict[str, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    flat = np.zeros((size, size, 3), np.uint8)
    flat[:] = (168, 120, 84)
    grad = np.stack([60 + 150 * xx / size, 90 + 100 * yy / size, 200 - 120 * xx / size], -1).astype(np.uint8)
    return {"flat card": flat, "gradient card": grad}


def disk(h: int, w: int, r: float, cx: float | None = None, cy: float | None = None) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (xx - (w / 2 if cx is None else cx)) ** 2 + (yy - (h / 2 if cy is None else cy)) ** 2 <= r * r


def scattered_holes(h: int, w: int, n: int, side: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = np.zeros((h, w), bool)
    for _ in range(n):
        y, x = rng.integers(side, h - 2 * side), rng.integers(side, w - 2 * side)
        m[y : y + side, x : x + side] = True
    return m


def psnr(a: np.ndarray, b: np.ndarray, sel: np.ndarray) -> float:
    err = np.mean((a[sel].astype(np.float64) - b[sel].astype(np.float64)) ** 2)
    return 99.0 if err == 0 else 10 * np.log10(255.0**2 / err)


def tiny_sd_backend():
    from fixtures.tiny_diffusers import build_tiny_sd_inpaint

    from inpaint_anything.diffusion.cache import PipelineCache
    from inpaint_anything.inpaint.diffusers_backend import DiffusersBackend

    folder = build_tiny_sd_inpaint(tempfile.mkdtemp(prefix="ia-fidelity-"))
    return DiffusersBackend(str(folder), PipelineCache(1), device="cpu", native_override=256)


def removers(models_dir: str) -> tuple[list[tuple[str, object]], list[str]]:
    """(method, backend) for every removal method runnable here, and the skipped ones with why."""
    from pathlib import Path

    from inpaint_anything.models.removers import REMOVER_MODELS

    found = [
        (m, cleaner.ClassicalBackend(m))
        for m in ("telea", "ns", "patchmatch")
        if m != "patchmatch" or cleaner.patchmatch_available()
    ]
    skipped = [] if cleaner.patchmatch_available() else ["patchmatch: the pypatchmatch wheel is not installed"]
    for r in REMOVER_MODELS:
        path = Path(models_dir) / r.entry.filename
        if path.is_file():
            found.append((r.method, cleaner.cleaner_backend(r.method, lambda _p=path, **_: _p, "cpu")))
        else:
            skipped.append(f"{r.method}: {r.entry.filename} is not in {models_dir}")
    return found, skipped


def ring_histogram_distance(image: np.ndarray, mask: np.ndarray, ring_px: int = 16) -> float:
    """Bhattacharyya distance (0 = same colours) between the 8x8x8 RGB histogram inside ``mask`` and
    that of a ``ring_px`` ring around it."""
    import cv2

    m = mask.astype(np.uint8)
    ring = cv2.dilate(m, np.ones((2 * ring_px + 1, 2 * ring_px + 1), np.uint8)) & (1 - m)
    hists = [cv2.calcHist([np.ascontiguousarray(image)], [0, 1, 2], sel, [8, 8, 8], [0, 256] * 3) for sel in (m, ring)]
    for h in hists:
        cv2.normalize(h, h, 1.0, 0, cv2.NORM_L1)
    return float(cv2.compareHist(hists[0], hists[1], cv2.HISTCMP_BHATTACHARYYA))


def large_object(photos: dict[str, np.ndarray], methods: list[tuple[str, object]]) -> None:
    rows = []
    for name, img in photos.items():
        h, w = img.shape[:2]
        mask = np.zeros((h, w), bool)
        bh, bw = int(h * 0.42), int(w * 0.42)  # 17.6 % of the image, off centre
        y0, x0 = int(h * 0.3), int(w * 0.35)
        mask[y0 : y0 + bh, x0 : x0 + bw] = True
        mask &= disk(h, w, max(bh, bw) * 0.62, x0 + bw / 2, y0 + bh / 2)  # rounded corners
        share = mask.mean()
        floor = ring_histogram_distance(img, mask)
        for label, backend in methods:
            t0 = time.perf_counter()
            res = run_inpaint(img, mask, InpaintRequest(seed=0, mask_blur=4, padding=64), backend)
            dt = time.perf_counter() - t0
            out = res.images[0]
            ratio = metrics.boundary_gradient_ratio(out, mask)
            rows.append(
                [
                    name,
                    f"{share:.0%}",
                    label,
                    psnr(out, img, mask),
                    metrics.seam_delta_e(out, mask),
                    ratio,
                    ring_histogram_distance(out, mask),
                    floor,
                    f"{dt:.2f}s",
                ]
            )
    table(
        "Large object (held-out hole >= 15 %): quality, seam, foreign content",
        [
            "image",
            "hole",
            "method",
            "PSNR dB",
            "seam dE2000",
            "gradient ratio",
            "fill-vs-ring hist dist",
            "truth-vs-ring (floor)",
            "time",
        ],
        rows,
    )


def table(title: str, header: list[str], rows: list[list[object]]) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images (smoke run)")
    parser.add_argument(
        "--models-dir", default="", help="folder with big-lama.pt / migan_traced.pt (default: the app's models folder)"
    )
    args = parser.parse_args()
    from inpaint_anything.config import Settings

    models_dir = args.models_dir or Settings().resolved_models_dir()
    methods, skipped = removers(models_dir)
    photos = {n: photo(n) for n in (["astronaut"] if args.quick else ["astronaut", "coffee", "chelsea", "grace_hopper"])}
    images = {**cards(), **photos}
    sd = tiny_sd_backend()

    # 1 + 2: exactness and seams
    exact_rows, seam_rows = [], []
    for name, img in images.items():
        h, w = img.shape[:2]
        mask = disk(h, w, min(h, w) / 5, w * 0.55, h * 0.45)
        backends = [
            ("telea", cleaner.ClassicalBackend("telea")),
            ("ns", cleaner.ClassicalBackend("ns")),
            ("tiny SD (random weights)", sd),
            ("shifted truth", ShiftedTruth(img)),
        ]
        if cleaner.patchmatch_available():
            backends.insert(2, ("patchmatch", cleaner.ClassicalBackend("patchmatch")))
        for label, backend in backends:
            for cm in (False, True) if label in ("shifted truth", "tiny SD (random weights)") else (False,):
                area = "whole" if label == "shifted truth" else "only masked"  # the stand-in needs full-size truth
                req = InpaintRequest(seed=0, steps=2, mask_blur=4, padding=32, color_match=cm, inpaint_area=area)
                t0 = time.perf_counter()
                res = run_inpaint(img, mask, req, backend)
                dt = time.perf_counter() - t0
                out = res.images[0]
                changed = int(np.any(out != img, axis=-1)[res.alpha == 0].sum())
                exact_rows.append([name, label + (" + colour match" if cm else ""), changed, f"{dt:.2f}s"])
                ratio = metrics.boundary_gradient_ratio(out, mask)
                truth_de = "-"
                if label == "shifted truth":
                    from inpaint_anything.colormatch import rgb_to_lab

                    truth_de = float(metrics.delta_e_ciede2000(rgb_to_lab(out[mask]), rgb_to_lab(img[mask])).mean())
                seam_rows.append(
                    [
                        name,
                        label + (" + colour match" if cm else ""),
                        metrics.seam_delta_e(out, mask),
                        metrics.seam_delta_e(img, mask),
                        "n/a (flat)" if ratio > 1e3 else ratio,
                        truth_de,
                    ]
                )
    table("Changed pixels outside the blend band (target 0)", ["image", "backend", "changed px", "time"], exact_rows)
    table(
        "Seam: CIEDE2000 across the boundary and boundary gradient ratio",
        ["image", "backend", "seam dE2000", "same seam on the untouched image (floor)", "gradient ratio", "dE inside vs truth"],
        seam_rows,
    )

    # 3: held-out holes on textured photos
    textured = {
        n: photo(n) for n in (["coffee"] if args.quick else ["astronaut", "coffee", "chelsea", "brick", "grass", "gravel"])
    }
    backends = dict(methods)
    rows, sums = [], {m: [] for m in backends}
    for name, img in textured.items():
        h, w = img.shape[:2]
        holes = scattered_holes(h, w, 6, max(12, min(h, w) // 16), seed=1)
        row: list[object] = [name]
        for m, backend in backends.items():
            res = run_inpaint(img, holes, InpaintRequest(seed=0, mask_blur=0, padding=48), backend)
            value = psnr(res.images[0], img, holes)
            sums[m].append(value)
            row.append(value)
        rows.append(row)
    rows.append(["mean", *[float(np.mean(sums[m])) for m in backends]])
    table("PSNR inside held-out holes (dB, higher is better)", ["image", *backends], rows)
    large_object({n: photo(n) for n in (["astronaut"] if args.quick else ["astronaut", "coffee", "chelsea", "brick"])}, methods)
    for reason in skipped:
        print(f"skipped {reason}")
    if "patchmatch" in sums:
        gain = float(np.mean(sums["patchmatch"]) - np.mean(sums["telea"]))
        print(f"\nPatchMatch - Telea: {gain:+.2f} dB (target >= +1 dB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
