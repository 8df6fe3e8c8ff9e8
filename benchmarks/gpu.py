"""Benchmark: the GPU table (issue #16). Real-size models with random weights, built from their
architecture code and the shipped configs (nothing is downloaded; compute is what matters), timed
through the project's own code paths:

* SAM ViT-B, SAM-HQ ViT-B, SAM ViT-H, SAM-HQ ViT-H: ``SamModelCache(device, dtype)`` (its default
  loader, with the checkpoint read replaced by building the random model on the device) ->
  ``SegmentSession``. **encode**: ``set_image`` of a new 1024x768 picture (resize, hash, encoder) in
  fp32, fp16 and bf16 (where the GPU has it); **click**: ``predict`` with one point (decoder on the
  cached embedding, three masks upsampled to full size); **hover**: ``hover.hover_mask`` (one
  decoder pass, low-res mask); click and hover run on the fp32 session (the app's default; the
  decoder stays fp32 for every encoder dtype);
* **segment everything** (SAM ViT-B, fp32): ``everything.segment_everything`` with the app's default
  16 points per side on the cached embedding;
* **SD 1.5 inpaint 512x512** and **SDXL inpaint 1024x1024**, 20 steps, fp16, CFG 7.5, Euler a:
  ``engine.run_inpaint`` (whole picture at the native size) -> ``DiffusersBackend`` on a
  ``PipelineCache`` whose loader builds the diffusers pipeline from ``inpaint_anything/diffusion/
  configs`` (the real SD 1.5 / SDXL inpainting configs) with random weights. Tokenizers: the
  offline CLIP BPE tokenizer (needs open_clip), else a tiny byte-level one (same token count).

Peak VRAM is ``torch.cuda.max_memory_allocated`` since a reset at the start of the row's timed
runs (weights included). ``--budget`` (default 400 s): a section that would not fit in what is left
is skipped with a note; at budget + 60 s the script prints what it has and exits (code 3).
``--smoke``: the same code on the CPU with the tiny models of tests/fixtures (numbers meaningless).

Run: ``bash benchmarks/gpu.sh [--python PATH] [--json OUT] [--budget S] [--smoke]``.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
from _common import add_project_paths, machine_line, print_table

add_project_paths()

SAM_MODELS = {  # name -> (family, variant); the order is the run order (ViT-H HQ last: optional)
    "sam_vit_b": ("sam", "vit_b"),
    "sam_hq_vit_b": ("sam_hq", "vit_b"),
    "sam_vit_h": ("sam", "vit_h"),
    "sam_hq_vit_h": ("sam_hq", "vit_h"),
}
SD_MODELS = {"sd15": ("sd1", 512), "sdxl": ("sdxl", 1024)}  # name -> (family, native size)
# section -> estimated seconds on an H100 (generous); a section starts only if this much budget is left
ESTIMATE_S = {"sam_vit_b": 35, "sam_hq_vit_b": 30, "sam_vit_h": 45, "sam_hq_vit_h": 45, "sd15": 45, "sdxl": 100}
ORDER = ("sam_vit_b", "sam_hq_vit_b", "sam_vit_h", "sd15", "sdxl", "sam_hq_vit_h")
SIZE = (1024, 768)
HEADERS = ["row", "dtype", "p50 s", "p95 s", "n", "peak VRAM MB", "note"]


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (as ``hover.HoverTimer.p95``)."""
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


def picture(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A blocky random RGB picture (content does not matter with random weights)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 32 + 1, w // 32 + 1, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.repeat(np.repeat(small, 32, 0), 32, 1)[:h, :w])


def write_tiny_tokenizer(folder: Path) -> Path:
    """A byte-level CLIPTokenizer without merges (256 symbols, their word-final forms, BOS/EOS)."""
    from inpaint_anything.diffusion.tokenizer import BOS_TOKEN, EOS_TOKEN, MODEL_MAX_LENGTH, bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    tokens = [*chars, *(c + "</w>" for c in chars), BOS_TOKEN, EOS_TOKEN]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    config = {
        "model_max_length": MODEL_MAX_LENGTH,
        "bos_token": BOS_TOKEN,
        "eos_token": EOS_TOKEN,
        "unk_token": EOS_TOKEN,
        "pad_token": EOS_TOKEN,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path):
        import torch

        self.torch = torch
        self.smoke = bool(args.smoke)
        self.cuda = torch.cuda.is_available() and not self.smoke
        if self.smoke:  # tiny models gain nothing from threads, and lose a lot on a busy machine
            torch.set_num_threads(1)
        self.device = "cuda" if self.cuda else "cpu"
        self.tmp = tmp
        self.budget = float(args.budget)
        self.started = time.perf_counter()
        self.rows: dict[str, dict] = {}
        self.skipped: dict[str, str] = {}
        self.entries: list[str] = []  # row keys and skipped section names, in run order
        self.current = ""  # the section running now
        # the app's SAM precision settings; fp16/bf16 are CUDA-only (model_cache.resolve_dtype)
        self.sam_dtypes = ["fp32"] + (["fp16"] + (["bf16"] if torch.cuda.is_bf16_supported() else []) if self.cuda else [])
        # runs per row; smoke: fewer, and a 4x4 grid for segment everything (16x16 is the app's default)
        self.n = (
            {"encode": 2, "click": 4, "hover": 4, "everything": 1, "pps": 4, "sd_steps": 2, "sd_warmup": 1, "sd_runs": 1}
            if self.smoke
            else {"encode": 5, "click": 30, "hover": 40, "everything": 3, "pps": 16, "sd_steps": 20, "sd_warmup": 2, "sd_runs": 2}
        )
        self.header = self._header()

    # ------------------------------------------------------------------ measuring
    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.started)

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def measure(self, key: str, label: str, dtype: str, fn, n: int, warmup: int = 1, note: str = "") -> list[float]:
        """Run ``fn(i)`` ``warmup`` times untimed, then ``n`` times timed; record a row."""
        for i in range(warmup):
            fn(i)
        self.sync()
        if self.cuda:
            self.torch.cuda.reset_peak_memory_stats()
        times = []
        for i in range(warmup, warmup + n):
            t = time.perf_counter()
            fn(i)
            self.sync()
            times.append(time.perf_counter() - t)
        vram = self.torch.cuda.max_memory_allocated() / 2**20 if self.cuda else None
        self.rows[key] = {
            "name": label,
            "dtype": dtype,
            "seconds": pct(times, 0.5),
            "p95_s": pct(times, 0.95),
            "n": n,
            "peak_vram_mb": None if vram is None else round(vram, 1),
            "note": note,
        }
        self.entries.append(key)
        return times

    def section(self, name: str) -> None:
        """Run one section if the budget allows; a failure or a lack of time becomes a note."""
        need, self.current = ESTIMATE_S[name], name
        if self.left() < need:
            why = f"skipped: needs ~{need} s, {max(0.0, self.left()):.0f} s of the budget left"
        else:
            t = time.perf_counter()
            try:
                if name in SAM_MODELS:
                    self.run_sam(name)
                else:
                    self.run_sd(name)
                print(f"  {name}: {time.perf_counter() - t:.1f} s", flush=True)
                return
            except Exception as exc:  # one failed row must not cost the table
                why = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
            finally:
                self.release()
        self.skipped[name] = why
        self.entries.append(name)
        print(f"  {name}: {why}", flush=True)

    def release(self) -> None:
        gc.collect()
        if self.cuda:
            self.torch.cuda.empty_cache()

    # ------------------------------------------------------------------ SAM
    def sam_builder(self, family: str, variant: str):
        """A stand-in for ``checkpoint.load_sam``: the random model, built on the device."""
        torch = self.torch
        from inpaint_anything.segment.loaded import LoadedSam
        from inpaint_anything.segment.spec import infer_sam_spec

        def load_sam(path, device="cpu", dtype=None):
            torch.manual_seed(0)
            if self.smoke:
                from fixtures.tiny_sam import build_tiny_sam

                model = build_tiny_sam(family)  # the tiny "sam" / "sam_hq" of the tests
            else:
                from inpaint_anything.segment.arch import build_sam
                from inpaint_anything.segment.spec import known_sam_specs

                model = build_sam(known_sam_specs()[(family, variant)], device=device)
            spec = infer_sam_spec(model.state_dict())
            model.to(device=torch.device(device), dtype=dtype).eval()
            return LoadedSam(model=model, spec=spec, path=Path(path), device=str(torch.device(device)), dtype=dtype)

        return load_sam

    def run_sam(self, name: str) -> None:
        from inpaint_anything.segment import checkpoint, model_cache

        family, variant = SAM_MODELS[name]
        placeholder = self.tmp / f"random_{name}.pth"  # the cache keys models by an existing file
        placeholder.touch()
        build = self.sam_builder(family, variant)

        def loader(path, device, dtype):
            with mock.patch.object(checkpoint, "load_sam", build):
                return model_cache._default_loader(path, device, dtype)

        for dtype in self.sam_dtypes:
            cache = model_cache.SamModelCache(1, self.device, dtype, loader=loader)
            try:
                self.sam_rows(name, dtype, cache.get(placeholder))
            finally:
                cache.unload()
                self.release()

    def sam_rows(self, name: str, dtype: str, loaded) -> None:
        """encode (every dtype); click, hover and segment everything (fp32) through a ``SegmentSession``."""
        from inpaint_anything.segment.everything import segment_everything
        from inpaint_anything.segment.hover import hover_mask
        from inpaint_anything.segment.session import SegmentSession

        session = SegmentSession(loaded)
        (w, h), tag = SIZE, "tiny model" if self.smoke else ""
        pictures = [picture(w, h, seed) for seed in range(2)]
        points = np.random.default_rng(1).uniform((0, 0), (w - 1, h - 1), size=(max(self.n["click"], self.n["hover"]) + 1, 2))
        current: dict[str, np.ndarray] = {}

        def encode(i: int) -> None:
            session.reset()  # a new picture every time: nothing cached
            current["image"] = pictures[i % 2]
            session.set_image(current["image"])

        self.measure(
            f"encode.{name}.{dtype}",
            f"{name} encode {w}x{h}",
            dtype,
            encode,
            self.n["encode"],
            note=tag or "set_image: resize + hash + encoder",
        )
        if dtype != "fp32":
            return
        image = current["image"]  # the picture the session holds the embedding of

        def hover(i: int) -> None:
            if hover_mask(session, image, *points[i]) is None:
                raise RuntimeError("hover_mask answered 'not ready'")

        self.measure(
            f"click.{name}.fp32",
            f"{name} click",
            dtype,
            lambda i: session.predict(points=[points[i]]),
            self.n["click"],
            note=tag or "1 point, 3 masks at full size",
        )
        self.measure(
            f"hover.{name}.fp32",
            f"{name} hover",
            dtype,
            hover,
            self.n["hover"],
            note=tag or "hover_mask: 1 decoder pass, low-res",
        )
        if name == "sam_vit_b":
            pps, found = self.n["pps"], []
            self.measure(
                f"everything.{name}.fp32",
                f"{name} segment everything {w}x{h}",
                dtype,
                lambda i: found.append(len(segment_everything(session, points_per_side=pps))),
                self.n["everything"],
                warmup=0 if self.smoke else 1,
            )
            self.rows[f"everything.{name}.fp32"]["note"] = (
                f"{tag + '; ' if tag else ''}{pps} points/side, cached embedding; {found[-1]} segments (random weights)"
            )

    # ------------------------------------------------------------------ SD / SDXL
    def config_dir(self, family: str) -> tuple[Path, str]:
        """A diffusers folder of configs + tokenizers: tiny (smoke) or the shipped real-size configs."""
        from inpaint_anything.errors import UnavailableError

        if self.smoke:
            from fixtures.tiny_diffusers import build_tiny_sd_inpaint, build_tiny_sdxl_inpaint

            build = build_tiny_sdxl_inpaint if family == "sdxl" else build_tiny_sd_inpaint
            return build(self.tmp / f"tiny-{family}"), "tiny model"
        from inpaint_anything.diffusion.loader import TOKENIZERS, prepare_config_dir, shipped_config_dir

        try:
            return prepare_config_dir(family, in_channels=9, cache_dir=self.tmp), "CLIP tokenizer"
        except UnavailableError:  # no open_clip: its BPE table is where the real vocabulary comes from
            out = self.tmp / f"{family}-configs"
            shutil.copytree(shipped_config_dir(family), out, dirs_exist_ok=True)
            for sub in TOKENIZERS[family]:
                write_tiny_tokenizer(out / sub)
            return out, "tiny byte tokenizer"

    def pipeline_loader(self, config_dir: Path, family: str):
        """A ``PipelineCache`` loader: the pipeline of ``config_dir`` with random weights, on the device."""
        torch = self.torch

        def load(source, device="cpu", dtype="float32", **_kwargs):
            import diffusers
            import transformers

            from inpaint_anything.diffusion.detect import ModelInfo
            from inpaint_anything.diffusion.loader import PipelineInfo

            index = json.loads((config_dir / "model_index.json").read_text(encoding="utf-8"))
            torch_dtype = getattr(torch, dtype)
            parts, extra = {}, {}
            torch.manual_seed(0)
            for key, value in index.items():
                if key.startswith("_"):
                    continue
                if not isinstance(value, list):
                    extra[key] = value
                    continue
                lib, cls_name = value
                sub = config_dir / key
                if lib is None:
                    parts[key] = None
                elif key.startswith("scheduler"):
                    parts[key] = getattr(diffusers, cls_name).from_pretrained(str(sub))
                elif cls_name == "CLIPTokenizer":
                    parts[key] = transformers.CLIPTokenizer.from_pretrained(str(sub))
                else:  # built on the device (fast random init), then cast
                    cls = getattr(transformers if lib == "transformers" else diffusers, cls_name)
                    with torch.device(device):
                        model = (
                            cls(cls.config_class.from_pretrained(str(sub)))
                            if lib == "transformers"
                            else cls.from_config(cls.load_config(str(sub)))
                        )
                    parts[key] = model.to(torch_dtype).eval()
            pipe = getattr(diffusers, index["_class_name"])(**parts, **extra)
            pipe.set_progress_bar_config(disable=True)
            model = ModelInfo(str(source), "diffusers", family, 9, index["_class_name"])
            return pipe, PipelineInfo(str(source), model, index["_class_name"], device, dtype, str(config_dir))

        return load

    def run_sd(self, name: str) -> None:
        from inpaint_anything.diffusion.cache import PipelineCache
        from inpaint_anything.inpaint.diffusers_backend import DiffusersBackend
        from inpaint_anything.inpaint.engine import run_inpaint
        from inpaint_anything.inpaint.request import InpaintRequest

        family, native = SD_MODELS[name]
        size = 64 if self.smoke else native
        config_dir, tokenizer = self.config_dir(family)
        source = self.tmp / f"random-{name}"  # the backend wants an existing source; the loader builds
        source.mkdir(exist_ok=True)
        cache = PipelineCache(loader=self.pipeline_loader(config_dir, family))
        backend = DiffusersBackend(
            str(source), cache, label=f"random-{name}", device=self.device, native_override=size if self.smoke else 0
        )
        image = picture(size, size, 3)
        mask = np.zeros((size, size), bool)
        mask[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = True
        steps = self.n["sd_steps"]

        def request(steps: int) -> InpaintRequest:
            return InpaintRequest(
                prompt="a red armchair in a sunny room",
                negative_prompt="blurry",
                seed=1,
                steps=steps,
                cfg_scale=7.5,
                sampler="Euler a",
                inpaint_area="whole",
            )

        run_inpaint(image, mask, request(self.n["sd_warmup"]), backend)  # builds the pipeline; warm-up
        runs = self.n["sd_runs"] if name == "sd15" else 1
        dtype = "fp16" if self.cuda else "fp32"
        self.measure(
            f"inpaint.{name}.{dtype}",
            f"{name} inpaint {size}x{size} {steps} steps",
            dtype,
            lambda i: run_inpaint(image, mask, request(steps), backend),
            runs,
            warmup=0,
            note=f"{tokenizer}; run_inpaint -> DiffusersBackend, CFG 7.5, Euler a",
        )
        cache.unload()

    # ------------------------------------------------------------------ output
    def _header(self) -> list[str]:
        torch = self.torch
        import diffusers

        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        self.gpu = torch.cuda.get_device_name() if self.cuda else None
        device = self.gpu or "cpu (smoke: tiny models, numbers not meaningful)"
        return [
            f"GPU table (benchmarks/gpu.sh) - {date}",
            f"device: {device}; torch {torch.__version__} (CUDA {torch.version.cuda}); diffusers {diffusers.__version__}",
            f"machine: {machine_line()}",
        ]

    def report(self, json_out: str | None, stopped: str = "") -> None:
        print("\n" + "\n".join(self.header))
        table = []
        for key in list(self.entries):
            row = self.rows.get(key)
            if row is None:
                table.append([key, "-", "-", "-", "-", "-", self.skipped.get(key, "")])
            else:
                vram = row["peak_vram_mb"]
                table.append(
                    [
                        row["name"],
                        row["dtype"],
                        row["seconds"],
                        row["p95_s"],
                        row["n"],
                        "-" if vram is None else f"{vram:.0f}",
                        row["note"],
                    ]
                )
        print_table(HEADERS, table, digits=4)
        total = time.perf_counter() - self.started
        print(f"total {total:.0f} s (budget {self.budget:.0f} s){'; ' + stopped if stopped else ''}", flush=True)
        if json_out:
            data = {
                "header": self.header,
                "gpu": self.gpu,
                "torch": self.torch.__version__,
                "device": self.device,
                "smoke": self.smoke,
                "size": list(SIZE),
                "budget_s": self.budget,
                "total_s": total,
                "rows": self.rows,
                "skipped": self.skipped,
                "stopped": stopped or None,
            }
            Path(json_out).write_text(json.dumps(data, indent=1), encoding="utf-8")
            print(f"JSON written to {json_out}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny models on the CPU (checks that it works)")
    parser.add_argument("--json", metavar="OUT", help="also write the numbers as JSON")
    parser.add_argument(
        "--budget", type=float, default=400.0, help="seconds for the planned work (default 400); hard stop 60 s later"
    )
    parser.add_argument("--only", default="", help=f"comma-separated sections (default all): {', '.join(ORDER)}")
    args = parser.parse_args(argv)
    import torch

    if not args.smoke and not torch.cuda.is_available():
        print("No CUDA device: the real-size table needs one (use --smoke for the CPU check with tiny models).")
        return 2
    sections = [s.strip() for s in args.only.split(",") if s.strip()] or list(ORDER)
    unknown = sorted(set(sections) - set(ORDER))
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    warnings.filterwarnings("ignore")  # random fp16 weights give NaNs, the packages warn about many things
    with tempfile.TemporaryDirectory(prefix="ia-gpu-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        print("\n".join(bench.header), flush=True)

        def hard_stop() -> None:  # never hang: print what there is and leave
            bench.report(
                args.json,
                stopped=f"STOPPED at the hard limit ({args.budget + 60:.0f} s) during "
                f"{bench.current or 'start-up'}; later sections not run",
            )
            os._exit(3)

        timer = threading.Timer(args.budget + 60.0, hard_stop)
        timer.daemon = True
        timer.start()
        for name in sections:
            bench.section(name)
        timer.cancel()
        bench.report(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
