"""Benchmark: interactive segmentation (ours) against the original extension's path (baseline).

Real-size architectures with random weights (no weights can be downloaded), built on the CPU with a
fixed seed and saved to a temporary file; both paths load that file.

* ours: ``SamModelCache.get`` -> ``SegmentSession.set_image`` (once per image) -> ``predict`` per click,
  and ``segment_everything`` on the cached embedding (low-res filtering, lazy upsampling).
* baseline (what the current extension does on "Run Segment Anything"): rebuild the model from disk
  with the package's registry, then ``SamAutomaticMaskGenerator(points_per_side=32,
  pred_iou_thresh=0.88, stability_score_thresh=0.95).generate(image)`` at full resolution; clicks
  with the package's ``SamPredictor`` (embedding cached, masks upsampled by the package).

Run: ``python benchmarks/segment.py [--quick] [--models mobile_sam,sam_vit_b,sam_hq_vit_b] [--device cpu]``.
``--quick`` uses small sizes and grids (about 2 minutes on 2 CPU cores) to check that it works.
Times in seconds; "ref" is a 2048x2048 fp32 matmul measured at the start, to compare machines.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODELS = {  # name -> (family, variant, baseline module, its registry, registry key)
    "sam_vit_b": ("sam", "vit_b", "segment_anything", "sam_model_registry", "vit_b"),
    "sam_hq_vit_b": ("sam_hq", "vit_b", "segment_anything_hq", "sam_model_registry", "vit_b"),
    "mobile_sam": ("mobile_sam", "vit_tiny", "segment_anything_hq.build_sam_baseline", "sam_model_registry_baseline", "vit_tiny"),
}


class PeakRSS:
    """Peak resident memory above the level at entry, sampled every few milliseconds."""

    def __init__(self, interval: float = 0.005):
        import psutil

        self._proc = psutil.Process()
        self._interval = interval
        self.peak = 0

    def __enter__(self) -> PeakRSS:
        self._base = self._proc.memory_info().rss
        self._max = self._base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._max = max(self._max, self._proc.memory_info().rss)
            time.sleep(self._interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._max = max(self._max, self._proc.memory_info().rss)
        self.peak = self._max - self._base


def ref_op() -> float:
    import torch

    a = torch.randn(2048, 2048)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def test_image(w: int, h: int) -> np.ndarray:
    import cv2
    import skimage.data

    return np.ascontiguousarray(cv2.resize(skimage.data.astronaut(), (w, h), interpolation=cv2.INTER_CUBIC))


def save_random_model(name: str, folder: Path) -> Path:
    import torch

    from inpaint_anything.segment.arch import build_sam
    from inpaint_anything.segment.spec import known_sam_specs

    family, variant = MODELS[name][:2]
    torch.manual_seed(0)
    model = build_sam(known_sam_specs()[(family, variant)])
    path = folder / f"{name}.pth"
    torch.save(model.state_dict(), path)
    return path


def baseline_model(name: str, path: Path, device: str):
    import contextlib
    import importlib
    import io

    _, _, package, registry_name, key = MODELS[name]
    registry = getattr(importlib.import_module(package), registry_name)
    with contextlib.redirect_stdout(io.StringIO()):  # the HQ builders print the load result
        model = registry[key](checkpoint=str(path))
    return model.to(device).eval()


def baseline_package(name: str):
    import importlib

    return importlib.import_module("segment_anything" if MODELS[name][0] == "sam" else "segment_anything_hq")


def clicks(h: int, w: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.stack([rng.uniform(0, w - 1, n), rng.uniform(0, h - 1, n)], axis=1)


def run_model(name: str, folder: Path, args, rows: list) -> None:
    import gc

    from inpaint_anything.segment.everything import segment_everything
    from inpaint_anything.segment.model_cache import SamModelCache
    from inpaint_anything.segment.session import SegmentSession

    w, h = args.size
    image = test_image(w, h)
    path = save_random_model(name, folder)
    pts = clicks(h, w, args.clicks)
    add = lambda metric, ours, base=None, note="": rows.append((name, metric, ours, base, note))  # noqa: E731

    ref_before = ref_op()
    pkg = baseline_package(name)
    # Both paths side by side, alternating, so that load from other processes hits both alike.
    cache = SamModelCache(device=args.device)
    loaded, t_load = timed(cache.get, path)
    model, t_bload = timed(baseline_model, name, path, args.device)
    session = SegmentSession(loaded)
    predictor = pkg.SamPredictor(model)
    _, t_enc = timed(session.set_image, image)
    _, t_benc = timed(predictor.set_image, image)
    _, t_again = timed(session.set_image, image.copy())
    _, t_bagain = timed(predictor.set_image, image)
    lat, blat = [], []
    for p in pts:
        lat.append(timed(session.predict, points=[p])[1])
        blat.append(timed(predictor.predict, point_coords=p[None], point_labels=np.array([1]), multimask_output=True)[1])
    del predictor, model
    gc.collect()

    def amg_path():
        fresh_model = baseline_model(name, path, args.device)  # the extension reloads it every time
        gen = pkg.SamAutomaticMaskGenerator(
            fresh_model, points_per_side=args.base_pps, pred_iou_thresh=0.88, stability_score_thresh=0.95
        )
        return gen.generate(image)

    # everything: ours, baseline, ours again (the mean of ours brackets the baseline in time)
    with PeakRSS() as mem:
        seg, t_all = timed(segment_everything, session, points_per_side=args.ours_pps)
    with PeakRSS() as bmem:
        anns, t_amg = timed(amg_path)
    gc.collect()
    t_all = (t_all + timed(segment_everything, session, points_per_side=args.ours_pps)[1]) / 2
    seg_same = None
    if args.ours_pps != args.base_pps:
        seg_same, t_same = timed(segment_everything, session, points_per_side=args.base_pps)
    _, t_cold = timed(segment_everything, SegmentSession(loaded), image.copy(), points_per_side=args.ours_pps)

    # big image, our path only
    big = test_image(*args.big)
    gc.collect()
    big_session = SegmentSession(loaded)
    with PeakRSS() as big_enc_mem:
        _, t_big_enc = timed(big_session.set_image, big)
    with PeakRSS() as big_mem:
        big_seg, t_big_all = timed(segment_everything, big_session, points_per_side=args.ours_pps)
    _, t_big_click = timed(big_session.predict, points=[(args.big[0] / 2, args.big[1] / 2)])
    t_sel = timed(big_seg.mask, 0)[1] if len(big_seg) else None
    del big_session, big, big_seg
    cache.unload()
    del loaded, session
    gc.collect()
    ref_after = ref_op()

    p50, p95 = np.percentile(lat, [50, 95])
    b50, b95 = np.percentile(blat, [50, 95])
    drift = max(ref_before, ref_after) / min(ref_before, ref_after)
    add("ref op before / after (s)", ref_before, ref_after, "BUSY: the ref op drifted > 1.3x" if drift > 1.3 else "steady")
    add("load model", t_load, t_bload)
    add(f"encode {w}x{h} (set_image)", t_enc, t_benc)
    add("set_image again, same image", t_again, t_bagain, "ours: hash only")
    add(f"click p50 ({args.clicks} clicks)", p50, b50)
    add(f"click p95 ({args.clicks} clicks)", p95, b95)
    add(
        f"everything: ours pps={args.ours_pps} cached emb. (mean of 2) vs reload+AMG pps={args.base_pps}",
        t_all,
        t_amg,
        f"segments {len(seg)} / {len(anns)}",
    )
    if seg_same is not None:
        add(f"everything pps={args.base_pps} (same grid), cached emb.", t_same, t_amg, f"segments {len(seg_same)}")
    add(f"everything pps={args.ours_pps} incl. encode (new image)", t_cold, t_amg)
    add("everything peak RSS above model (MB)", mem.peak / 2**20, bmem.peak / 2**20, "baseline incl. reload")
    bw, bh = args.big
    add(f"{bw}x{bh}: set_image (resize+hash+encode)", t_big_enc, None)
    add(f"{bw}x{bh}: set_image peak RSS above model (MB)", big_enc_mem.peak / 2**20, None, "encoder activations")
    add(f"{bw}x{bh}: everything pps={args.ours_pps}", t_big_all, None)
    add(f"{bw}x{bh}: everything peak RSS above model (MB)", big_mem.peak / 2**20, None)
    add(f"{bw}x{bh}: one click (3 full-size masks)", t_big_click, None)
    if t_sel is not None:
        add(f"{bw}x{bh}: one segment at full resolution", t_sel, None)


def print_table(rows: list, ref: float) -> None:
    print(f"\nref op (2048^2 fp32 matmul): {ref:.3f} s\n")
    head = f"{'model':<13} {'metric':<78} {'ours':>9} {'baseline':>9} {'ours/base':>9}  note"
    print(head)
    print("-" * len(head))
    for name, metric, ours, base, note in rows:
        b = f"{base:9.3f}" if base is not None else f"{'-':>9}"
        r = f"{ours / base:9.3f}" if base else f"{'-':>9}"
        print(f"{name:<13} {metric:<78} {ours:9.3f} {b} {r}  {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=None, help=f"comma-separated: {', '.join(MODELS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="small image and grids, MobileSAM only by default")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    parser.add_argument("--clicks", type=int, default=None)
    args = parser.parse_args(argv)
    from inpaint_anything.server import settle_malloc

    settle_malloc()  # as the standalone server does (the WebUI's process is left as it is)
    names = (args.models or ("mobile_sam" if args.quick else ",".join(MODELS))).split(",")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    if args.quick:
        args.size, args.big, args.base_pps, args.ours_pps = (512, 384), (1500, 1000), 8, 8
        args.clicks = args.clicks or 5
    else:
        args.size, args.big, args.base_pps, args.ours_pps = (1024, 768), (6000, 4000), 32, 16
        args.clicks = args.clicks or 20
    from inpaint_anything.segment.model_cache import resolve_device

    args.device = resolve_device(args.device)
    warnings.filterwarnings("ignore")
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, models {names}")
    ref = ref_op()
    rows: list = []
    with tempfile.TemporaryDirectory(prefix="ia-bench-") as tmp:
        for name in names:
            t = time.perf_counter()
            run_model(name, Path(tmp), args, rows)
            print(f"  {name}: done in {time.perf_counter() - t:.0f} s", flush=True)
    print_table(rows, ref)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    raise SystemExit(main())
