"""Benchmark: the same batch on the local engine and on Ray with 1 and 2 workers (issue #20).

N photos-like images of about 1 MP (1152x864, a textured gradient) with a mask of about 4 % (three
blobs), removed with the classical Telea fill (``batch --op remove --method telea``) into a fresh
output folder per run. Every run reads the images from disk and writes PNGs with their infotext,
exactly as the CLI does; the Ray runs start their own pool (actors) inside the timed part, Ray itself
is started once before (its start is printed separately, and so is a 1-item Ray batch: the fixed
cost of starting a pool).

Printed: wall time, throughput, time per item, the ratio of each run's throughput to the local
engine's (measured in the same run), the overhead per item of the Ray engine over the local one
(``(T_ray,1 - T_local) / N``), and from these the throughput to expect from W workers (GPUs):
``W / (t + o)`` items/s for per-item time ``t`` and overhead ``o``, as long as the driver keeps up.
The outputs of every run are checked to be bit-identical to the local engine's.

Run: ``python benchmarks/batch_scale.py [--items 200] [--workers 1,2] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import add_project_paths, machine_line, print_table

add_project_paths()

WIDTH, HEIGHT = 1152, 864  # 0.995 MP


def make_inputs(folder: Path, n: int) -> tuple[Path, Path]:
    from PIL import Image

    images, masks = folder / "images", folder / "masks"
    images.mkdir(parents=True)
    masks.mkdir()
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    base = np.stack([xx * 200 // WIDTH + 20, yy * 200 // HEIGHT + 30, (xx + yy) * 100 // (WIDTH + HEIGHT) + 60], -1)
    for i in range(n):
        rng = np.random.default_rng(i)
        img = np.clip(base + rng.integers(-25, 26, base.shape), 0, 255).astype(np.uint8)
        mask = np.zeros((HEIGHT, WIDTH), bool)
        for _ in range(3):  # three blobs, about 4 % of the picture
            cx, cy = rng.integers(120, WIDTH - 120), rng.integers(120, HEIGHT - 120)
            r = int(rng.integers(60, 75))
            mask |= (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        img[mask] = (240, 30, 30)
        Image.fromarray(img).save(images / f"img{i:04d}.png", compress_level=1)
        Image.fromarray(mask.astype(np.uint8) * 255).save(masks / f"img{i:04d}.png")
    return images, masks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--workers", default="1,2", help="Ray pool sizes to run, comma-separated")
    parser.add_argument("--json", help="write the numbers here too")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    sizes = [int(w) for w in args.workers.split(",") if w]

    import ray

    from inpaint_anything.app import App
    from inpaint_anything.batch import BatchOptions, collect_items, run_batch
    from inpaint_anything.batch_ray import run_batch_ray
    from inpaint_anything.batch_spec import EngineOptions
    from inpaint_anything.config import Settings
    from inpaint_anything.inpaint.cleaner import removal_request

    print(machine_line())
    tmp = Path(tempfile.mkdtemp(prefix="ia-batch-scale-"))
    try:
        t = time.perf_counter()
        images, masks = make_inputs(tmp, args.items)
        print(f"{args.items} inputs of {WIDTH}x{HEIGHT} written in {time.perf_counter() - t:.1f} s")
        app = App(Settings(models_dir=str(tmp / "models"), offline=True, sam_device="cpu"))
        options = BatchOptions(op="remove", request=removal_request(), method="telea")

        def items():  # the CLI's own listing: paths only, nothing decoded by the driver
            return collect_items(images, masks)

        runs: list[dict] = []
        t = time.perf_counter()
        report = run_batch(app, items(), options, tmp / "out-local")
        runs.append({"engine": "local", "workers": 1, "seconds": time.perf_counter() - t, "done": len(report.done)})

        t = time.perf_counter()
        ray.init(
            num_cpus=max([*sizes, 1]),
            include_dashboard=False,
            logging_level="ERROR",
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
        )
        ray_start = time.perf_counter() - t
        print(f"ray.init (a local Ray, {max(sizes)} CPUs): {ray_start:.1f} s, not counted below")
        reference = {p.name: p.read_bytes() for p in (tmp / "out-local").glob("*.png")}
        t = time.perf_counter()  # the fixed cost of a Ray batch: a pool of one worker that starts, one item
        run_batch_ray(app, items()[:1], options, tmp / "out-one", engine=EngineOptions(engine="ray", workers=1))
        one_item = time.perf_counter() - t
        print(
            f"a 1-item batch on Ray (start a worker, import, run, stop): {one_item:.2f} s "
            f"(the local engine's per item: {runs[0]['seconds'] / args.items:.2f} s)"
        )
        for w in sizes:
            out = tmp / f"out-ray-{w}"
            t = time.perf_counter()
            report = run_batch_ray(app, items(), options, out, engine=EngineOptions(engine="ray", workers=w))
            seconds = time.perf_counter() - t
            same = {p.name: p.read_bytes() for p in out.glob("*.png")} == reference
            runs.append(
                {
                    "engine": "ray",
                    "workers": w,
                    "seconds": seconds,
                    "done": len(report.done),
                    "identical": same,
                    "per_worker": report.workers,
                }
            )
        ray.shutdown()
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    n = args.items
    local = runs[0]["seconds"]
    rows = []
    for r in runs:
        r["items_per_s"] = n / r["seconds"]
        r["per_item_s"] = r["seconds"] / n
        r["vs_local"] = local / r["seconds"]
        label = "local engine" if r["engine"] == "local" else f"ray, {r['workers']} worker{'s' if r['workers'] > 1 else ''}"
        rows.append(
            [
                label,
                f"{r['seconds']:.1f} s",
                f"{r['items_per_s']:.2f}",
                f"{r['per_item_s'] * 1000:.0f} ms",
                f"{r['vs_local']:.2f}x",
                "yes" if r.get("identical", True) else "NO",
                r["done"],
            ]
        )
    print_table(
        ["run", "wall", "items/s", "per item", "throughput vs local", "bit-identical", "done"],
        rows,
        title=f"{n} items, telea removal at {WIDTH}x{HEIGHT} ({machine_line()})",
    )
    one = next((r for r in runs if r["engine"] == "ray" and r["workers"] == 1), None)
    summary: dict = {"items": n, "size": [WIDTH, HEIGHT], "ray_init_s": ray_start, "one_item_batch_s": one_item, "runs": runs}
    if one is not None:
        t_item = local / n
        overhead = (one["seconds"] - local) / n
        summary.update(per_item_s=t_item, overhead_per_item_s=overhead)
        print(
            f"\nper item (local engine): {t_item * 1000:.0f} ms; Ray overhead per item (1 worker - local): "
            f"{overhead * 1000:.0f} ms ({overhead / t_item:+.1%})"
        )
        print(
            "expected with W workers, one per GPU or core, while the driver keeps up: "
            f"W / ({t_item * 1000:.0f} ms + {max(overhead, 0) * 1000:.0f} ms) items/s"
        )
        for w in (1, 2, 4, 8):
            print(
                f"  W={w}: {w / (t_item + max(overhead, 0)):.1f} items/s ({w * t_item / (t_item + max(overhead, 0)):.2f}x local)"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0 if all(r.get("identical", True) and r["done"] == n for r in runs) else 1


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
