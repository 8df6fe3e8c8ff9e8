"""Outpainting benchmark (a script, not a test): seam quality and exactness per pre-fill method.

Each photo (scikit-image astronaut, coffee, rocket; matplotlib's grace_hopper) is cut so that the
"original" lacks its top 64 and right 128 pixels; every method outpaints those back (so the real photo
is a reference, row "truth"). Rows:

- ``prefill:<method>`` — :func:`inpaint_anything.outpaint.engine.outpaint`, strategy "all", 16 px
  feathered overlap, for every pre-fill method; ``blur per_side`` — the default pre-fill, one side at
  a time;
- ``baseline:poor-man`` — a black canvas, the model fills the new area only, pasted hard;
- ``baseline:mk2`` — FFT-matched noise pre-fill, new area only, pasted hard (no overlap feathering).

Columns: pixels of the original changed outside the overlap band (must be 0; the baselines have no
band), the boundary gradient ratio at the original's border (``metrics.boundary_gradient_ratio``, mean
and worst over the photos; target <= 1.5 for the default pre-fill), CIEDE2000 across the border
(``metrics.seam_delta_e``), and the time per image (seconds and multiple of the reference op).

Backends (``--backend``): ``tiny-sd`` (the tiny random-weight SD-inpaint pipeline from
``tests/fixtures/tiny_diffusers.py`` through the project's diffusers backend; random weights, so its
pixels are noise-like and only the plumbing and the seam handling are measured), ``telea``
(``ClassicalBackend("telea")``), ``noise`` (returns the pre-filled canvas plus seeded Gaussian noise
in the mask: a stand-in for a model that keeps the init and adds texture), or ``all``.

Usage: python benchmarks/outpaint.py [--backend all|tiny-sd|telea|noise] [--steps 4] [--quick]

Runtime on the 2-core CPU: about 1 minute for telea or noise; tiny-sd works at 512 px (10-17 s per
image), so ``--backend all`` takes about 12 minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time

import numpy as np
from _common import add_project_paths, machine_line, print_table, ratio, ref_op_seconds

add_project_paths()

from fixtures.images import photo  # noqa: E402

from inpaint_anything import metrics  # noqa: E402
from inpaint_anything.inpaint.cleaner import ClassicalBackend, patchmatch_available  # noqa: E402
from inpaint_anything.inpaint.engine import run_inpaint  # noqa: E402
from inpaint_anything.inpaint.request import InpaintRequest  # noqa: E402
from inpaint_anything.outpaint import geometry  # noqa: E402
from inpaint_anything.outpaint.engine import OutpaintSettings, outpaint  # noqa: E402
from inpaint_anything.prefill import PREFILLS, place_on_canvas, prefill  # noqa: E402

PHOTOS = ("astronaut", "coffee", "rocket", "grace_hopper")
RIGHT, UP, OVERLAP = 128, 64, 16


class NoiseModel:
    """The pre-filled canvas plus seeded Gaussian noise (sigma 10) inside the mask."""

    name = "noise-model"
    native_size = 0
    multiple = 1

    def generate(self, image, mask, request, seed, job):
        rng = np.random.default_rng(seed)
        out = image.astype(np.float32)
        out[mask] += rng.normal(0, 10, (int(mask.sum()), 3))
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def make_backend(name: str, workdir: str):
    if name == "telea":
        return ClassicalBackend("telea")
    if name == "noise":
        return NoiseModel()
    from fixtures.tiny_diffusers import build_tiny_sd_inpaint

    from inpaint_anything.diffusion.cache import PipelineCache
    from inpaint_anything.inpaint.diffusers_backend import DiffusersBackend

    folder = build_tiny_sd_inpaint(f"{workdir}/tiny-sd-inpaint")
    backend = DiffusersBackend(str(folder), PipelineCache(), device="cpu")
    backend.pipeline()  # load once, outside the timings
    return backend


def baseline(kind: str, original: np.ndarray, exp: geometry.Expansion, request: InpaintRequest, backend) -> np.ndarray:
    """The WebUI-style baselines: new area only, hard paste (mask blur 0), no overlap."""
    canvas, known = place_on_canvas(original, exp)
    if kind == "mk2":
        canvas = prefill(canvas, known, "noise", seed=request.seed)
    req = dataclasses.replace(request, mask_blur=0, masked_content="original")
    return run_inpaint(canvas, ~known, req, backend).images[0]


def measure(result: np.ndarray, original: np.ndarray, exp: geometry.Expansion, overlap: int) -> tuple[int, float, float]:
    """(changed original pixels outside the band, gradient ratio, seam dE2000)."""
    x0, y0, x1, y1 = exp.original_box
    known = np.zeros(result.shape[:2], bool)
    known[y0:y1, x0:x1] = True
    inner = result[
        y0 + (overlap if exp.up else 0) : y1 - (overlap if exp.down else 0),
        x0 + (overlap if exp.left else 0) : x1 - (overlap if exp.right else 0),
    ]
    ref = original[
        (overlap if exp.up else 0) : original.shape[0] - (overlap if exp.down else 0),
        (overlap if exp.left else 0) : original.shape[1] - (overlap if exp.right else 0),
    ]
    changed = int((inner != ref).any(axis=2).sum())
    return changed, metrics.boundary_gradient_ratio(result, known), metrics.seam_delta_e(result, known)


def methods() -> list[str]:
    names = [f"prefill:{m}" for m in PREFILLS if m != "patchmatch" or patchmatch_available()]
    return ["truth", *names, "blur per_side", "baseline:poor-man", "baseline:mk2"]


def run_backend(name: str, backend, photos: dict[str, np.ndarray], steps: int, ref: float) -> None:
    request = InpaintRequest(
        prompt="a photo", seed=1, steps=steps, cfg_scale=7.5, mask_blur=4, padding=32, inpaint_area="only masked"
    )
    rows = []
    detail = []
    for method in methods():
        stats = []
        for pname, full in photos.items():
            original = np.ascontiguousarray(full[UP:, : full.shape[1] - RIGHT])
            exp = geometry.by_pixels(original.shape[1], original.shape[0], right=RIGHT, up=UP)
            overlap = OVERLAP
            t = time.perf_counter()
            if method == "truth":
                result, overlap = full, 0
            elif method.startswith("baseline:"):
                result, overlap = baseline(method.split(":")[1], original, exp, request, backend), 0
            else:
                strategy = "per_side" if method.endswith("per_side") else "all"
                pre = "blur" if strategy == "per_side" else method.split(":")[1]
                settings = OutpaintSettings(exp, prefill=pre, overlap_px=OVERLAP, strategy=strategy)
                result = outpaint(original, settings, request, backend).images[0]
            seconds = time.perf_counter() - t
            assert result.shape[:2] == (exp.canvas_size[1], exp.canvas_size[0])
            changed, grad, de = measure(result, original, exp, overlap)
            stats.append((changed, grad, de, seconds))
            detail.append([method, pname, changed, grad, de])
        changed, grad, de, secs = (np.array(c) for c in zip(*stats, strict=True))
        t_mean = float(secs.mean())
        rows.append(
            [
                method,
                int(changed.sum()),
                float(grad.mean()),
                float(grad.max()),
                float(de.mean()),
                "-" if method == "truth" else f"{t_mean:.2f}",
                "-" if method == "truth" else ratio(t_mean, ref),
            ]
        )
    print_table(
        ["method", "changed px outside band", "grad ratio mean", "grad ratio max", "seam dE2000", "s / image", "x ref"],
        rows,
        title=f"Backend: {name}  (expand right {RIGHT}, up {UP}; overlap {OVERLAP} px; {len(photos)} photos)",
    )
    if len(photos) > 1:
        print_table(
            ["method", "photo", "changed", "grad ratio", "dE2000"],
            [d for d in detail if d[0] in ("truth", "prefill:blur", "baseline:poor-man", "baseline:mk2")],
            title=f"Per photo ({name}): truth, default pre-fill and baselines",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("all", "tiny-sd", "telea", "noise"), default="all")
    parser.add_argument("--steps", type=int, default=4, help="sampling steps for tiny-sd")
    parser.add_argument("--quick", action="store_true", help="two photos only")
    args = parser.parse_args()
    names = ["tiny-sd", "telea", "noise"] if args.backend == "all" else [args.backend]
    photos = {p: photo(p) for p in (PHOTOS[:2] if args.quick else PHOTOS)}
    ref = ref_op_seconds()
    print(machine_line())
    print(f"reference op (median of 3 fp32 2048x2048 torch.mm): {ref:.3f} s")
    print("photos: " + ", ".join(f"{k} {v.shape[1]}x{v.shape[0]}" for k, v in photos.items()))
    with tempfile.TemporaryDirectory() as workdir:
        for name in names:
            try:
                backend = make_backend(name, workdir)
            except Exception as exc:  # a missing optional stack must not hide the other backends
                print(f"\nBackend {name}: unavailable ({type(exc).__name__}: {exc})")
                continue
            run_backend(name, backend, photos, args.steps, ref)


if __name__ == "__main__":
    main()
