"""``python -m inpaint_anything batch``: its options (derived from the parameter tables: inpaint, outpaint,
ControlNet, text selection, the engine), the progress bar, and the run (local engine or Ray).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from inpaint_anything import config


def cli_inpaint_fields() -> list:
    """The inpaint parameters that ``batch`` takes as options (``--cfg-scale`` for cfg_scale): every
    field of :data:`~inpaint_anything.inpaint.request.INPAINT_FIELDS` but the model (``--model``) and
    the WebUI-only soft inpainting ones."""
    from inpaint_anything.inpaint.request import INPAINT_FIELDS

    return [f for f in INPAINT_FIELDS if f.name != "model" and not f.name.startswith("soft_")]


def _request(args: argparse.Namespace):
    from inpaint_anything.inpaint.cleaner import removal_request
    from inpaint_anything.inpaint.request import InpaintRequest

    fields = (*(f.name for f in cli_inpaint_fields()), "width", "height")
    given = {f: getattr(args, f) for f in fields if getattr(args, f) is not None}
    if args.op == "remove":
        allowed = {k: given[k] for k in ("mask_blur", "padding", "seed") if k in given}
        return removal_request(**allowed).validated()
    if args.backend in ("diffusers", "controlnet") and args.model:
        from pathlib import Path

        given.setdefault("model", Path(args.model).name if Path(args.model).exists() else args.model)
    return InpaintRequest.from_dict(given)


def controlnet_flag(name: str) -> str:
    """The ``batch`` option of a :data:`~inpaint_anything.inpaint.controlnet.CONTROLNET_FIELDS` field
    (``--cn-weight`` for weight, ``--cn-control-mode`` for control_mode)."""
    return "--cn-" + name.replace("_", "-")


def controlnet_options(args: argparse.Namespace) -> dict:
    """The ControlNet options given as ``--cn-*`` (the others keep the table's defaults)."""
    from inpaint_anything.inpaint.controlnet import CONTROLNET_FIELDS

    return {f.name: getattr(args, "cn_" + f.name) for f in CONTROLNET_FIELDS if getattr(args, "cn_" + f.name) is not None}


def text_flag(name: str) -> str:
    """The ``batch`` option of a :data:`~inpaint_anything.segment.text_fields.TEXT_FIELDS` field:
    ``--text`` for the text, ``--text-<name>`` for the others (``--text-threshold``)."""
    return "--text" if name == "text" else "--text-" + name.replace("_", "-")


def _text_options(args: argparse.Namespace) -> dict | None:
    """The "Select by text" options given on the command line (None: none given)."""
    from inpaint_anything.segment.text_fields import TEXT_FIELDS

    given = {f.name: getattr(args, "text_" + f.name if f.name != "text" else "text") for f in TEXT_FIELDS}
    given = {k: v for k, v in given.items() if v is not None}
    return given or None


def _expansion(args: argparse.Namespace) -> dict:
    if args.aspect:
        return {"mode": "aspect", "preset": args.aspect, "balance_x": args.balance_x, "balance_y": args.balance_y}
    if args.scale:
        return {"mode": "scale", "scale": args.scale, "balance_x": args.balance_x, "balance_y": args.balance_y}
    return {
        "mode": "pixels",
        "left": args.expand_left,
        "right": args.expand_right,
        "up": args.expand_up,
        "down": args.expand_down,
    }


def progress_bar(total: int, what: str) -> Any:
    """A tqdm bar on stderr: images done/total, percent, elapsed and ETA; the postfix counts the failed,
    skipped, retried and left ones, and names the last item's outcome (see :class:`BatchProgress`)."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit="image",
        desc=what,
        file=sys.stderr,
        dynamic_ncols=True,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} done [{elapsed}<{remaining} ETA]{postfix}",
    )


class BatchProgress:
    """The batch's ``on_item`` for the progress bar (both engines): counts each outcome; ``retried``
    (Ray: an item sent again after its worker died) is counted but finishes nothing."""

    def __init__(self, total: int, bar: Any = None):
        self.total, self.bar = total, bar
        self.counts = {"done": 0, "skipped": 0, "failed": 0, "retried": 0}

    @property
    def left(self) -> int:
        return self.total - self.counts["done"] - self.counts["skipped"] - self.counts["failed"]

    def text(self, name: str = "", status: str = "") -> str:
        c = self.counts
        last = f"; {name}: {status}" if name else ""
        return f"{c['failed']} failed, {c['skipped']} skipped, {c['retried']} retried, {self.left} left{last}"

    def __call__(self, index: int, total: int, name: str, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        if self.bar is not None:
            self.bar.set_postfix_str(self.text(name, status), refresh=False)
            if status != "retried":
                self.bar.update(1)
            else:
                self.bar.refresh()


def cli_engine_fields() -> tuple:
    from inpaint_anything.batch_spec import ENGINE_FIELDS

    return ENGINE_FIELDS


def _engine(args: argparse.Namespace):
    from inpaint_anything.batch_spec import EngineOptions

    return EngineOptions(**{f.name: getattr(args, f.name) for f in cli_engine_fields()}).validated()


def batch(settings: config.Settings, args: argparse.Namespace) -> int:
    from inpaint_anything.app import App
    from inpaint_anything.batch import BatchOptions, KeepRule, collect_items, load_manifest, run_batch
    from inpaint_anything.errors import IAError

    if bool(args.input) == bool(args.manifest):
        print("error: give --input (a folder or file list) or --manifest, not both", file=sys.stderr)
        return 2
    if args.op == "outpaint" and args.masks:
        print("error: outpaint does not use masks; leave out --masks", file=sys.stderr)
        return 2
    try:
        engine = _engine(args)
        app = App(settings)
        items = load_manifest(args.manifest) if args.manifest else collect_items(args.input, args.masks)
        everything = {"points_per_side": args.points_per_side} if args.everything else None
        keep = KeepRule(args.keep_largest, args.min_area, args.max_area, args.min_score) if args.everything else None
        options = BatchOptions(
            op=args.op,
            request=_request(args),
            method=args.method or "",
            segmenter=args.segmenter,
            sam_model=args.sam_model,
            everything=everything,
            keep=keep,
            mask_grow=args.mask_grow,
            text=_text_options(args),
            expansion=_expansion(args),
            prefill=args.prefill,
            overlap_px=args.overlap,
            strategy=args.strategy,
        ).validated()
        spec = None
        if args.op != "remove":
            options_ = {"native_size": args.native_size} if args.native_size else {}
            if args.device:
                options_["device"] = args.device
            if args.backend == "controlnet":
                options_["controlnet"] = controlnet_options(args)
            spec = (args.backend, args.model or "", options_)
        backend = None
        if engine.engine == "ray":
            from inpaint_anything.batch_ray import import_ray

            import_ray()  # not installed: say how to install it before anything else
        elif spec is not None:
            backend = app.backend(spec[0], spec[1], **spec[2])
        if not items:
            print("Nothing to do: no images found.", file=sys.stderr)
            return 1
        bar = (
            None
            if args.quiet
            else progress_bar(len(items), args.op if engine.engine == "local" else f"{args.op} on {engine.engine}")
        )
        progress = BatchProgress(len(items), bar)
        common = {"overwrite": args.overwrite, "on_item": progress, "report_path": args.report}
        try:
            if engine.engine == "ray":
                from inpaint_anything.batch_ray import run_batch_ray

                report = run_batch_ray(app, items, options, args.output, engine=engine, backend_spec=spec, **common)
            else:
                report = run_batch(app, items, options, args.output, backend=backend, **common)
        finally:
            if bar is not None:
                bar.close()
    except IAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(report.summary())
    return 0 if not report.failed else 3


def _add_batch_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from inpaint_anything.batch import OPS
    from inpaint_anything.inpaint.cleaner import CLEANERS, FALLBACK_CLEANER, REMOVE
    from inpaint_anything.outpaint.geometry import SIDES
    from inpaint_anything.outpaint.params import OUTPAINT
    from inpaint_anything.segment.everything_fields import EVERYTHING
    from inpaint_anything.segment.text_fields import TEXT_FIELDS

    p = sub.add_parser(
        "batch",
        help="process a folder, file list or manifest of images",
        description="Inpaint, remove or outpaint many images. Masks: <stem>.png or <stem>_mask.png in "
        "--masks, or points/box per image in a --manifest (JSON or CSV), or --everything.",
    )
    src = p.add_argument_group("inputs")
    src.add_argument("--input", help="folder of images, or a text file listing image paths")
    src.add_argument("--masks", help="folder of masks (same stem: <stem>.png or <stem>_mask.png)")
    src.add_argument(
        "--manifest", help="JSON list or CSV (image, mask, points, labels, box, prompt, text, name); 'text' selects by text"
    )
    src.add_argument("--output", required=True, help="output folder (never an input folder)")
    src.add_argument("--op", choices=OPS, default="inpaint")
    src.add_argument("--overwrite", action="store_true", help="redo images whose output exists")
    src.add_argument("--report", help="JSON report path (default: <output>/batch-report.json)")
    src.add_argument(
        "--quiet",
        "-q",
        "--no-progress",
        dest="quiet",
        action="store_true",
        help="no progress bar on stderr (for scripts); the summary is still printed",
    )
    gen = p.add_argument_group("generation")
    gen.add_argument("--backend", default="diffusers", help="diffusers | controlnet | cleaner")
    gen.add_argument(
        "--model",
        help="diffusers: Hub id or local folder/file; controlnet: any listed checkpoint; cleaner: telea | ns | patchmatch | lama",
    )
    gen.add_argument("--native-size", type=int, default=0, help="force the processing resolution (diffusers)")
    gen.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    gen.add_argument(
        "--method",
        help=f"remove: {' | '.join(CLEANERS)} (default: {REMOVE['method'].default}, "
        f"or {FALLBACK_CLEANER} where PatchMatch is not installed)",
    )
    for f in cli_inpaint_fields():  # unset ones keep InpaintRequest's defaults
        flag = "--" + f.name.replace("_", "-")
        if f.type is bool:
            gen.add_argument(flag, action="store_const", const=True)
        else:
            gen.add_argument(flag, type=f.type)
    for name in ("width", "height"):
        gen.add_argument("--" + name, type=int)
    from inpaint_anything.inpaint.controlnet import CONTROLNET_FIELDS

    cn = p.add_argument_group("ControlNet inpaint (--backend controlnet)")
    for f in CONTROLNET_FIELDS:  # unset ones keep the table's defaults
        kind = {"action": "store_const", "const": True} if f.type is bool else {"type": f.type, "choices": f.choices}
        cn.add_argument(controlnet_flag(f.name), dest="cn_" + f.name, help=(f.help or f.label).replace("%", "%%"), **kind)
    seg = p.add_argument_group("masks from prompts / segment everything")
    seg.add_argument("--segmenter", choices=("sam", "grabcut"), default="sam", help="for manifest points/box")
    seg.add_argument("--sam-model", help="SAM model id (default: the setting)")
    seg.add_argument("--everything", action="store_true", help="images without mask/prompts: segment everything")
    seg.add_argument("--keep-largest", type=int, help="keep the N largest segments")
    seg.add_argument("--min-area", type=int, default=0)
    seg.add_argument("--max-area", type=int)
    seg.add_argument("--min-score", type=float, default=0.0)
    seg.add_argument(
        "--points-per-side", type=int, default=EVERYTHING["points_per_side"].default, help=EVERYTHING["points_per_side"].help
    )
    seg.add_argument("--mask-grow", type=int, default=0, help="grow every mask by N pixels")
    txt = p.add_argument_group(
        "select by text",
        "Items without mask, points or box: the mask is what a text "
        "detector finds (boxes -> --segmenter masks); a manifest's 'text' column per item. "
        "An item whose text finds nothing is skipped with the reason.",
    )
    for f in TEXT_FIELDS:
        help_ = f.help + (" Every item without its own text." if f.name == "text" else "")
        choices = {"choices": f.choices} if f.choices else {}
        txt.add_argument(
            text_flag(f.name),
            dest="text" if f.name == "text" else "text_" + f.name,
            type=f.type,
            metavar=f.name.upper(),
            help=f"{help_} (default: {f.default})" if f.default != "" else help_,
            **choices,
        )
    out = p.add_argument_group("outpaint")
    for side in SIDES:
        out.add_argument(f"--expand-{side}", type=int, default=OUTPAINT[side].default, metavar="PX")
    out.add_argument("--aspect", help=f"grow to an aspect preset: {', '.join(OUTPAINT['preset'].choices)}")
    out.add_argument(
        "--scale", type=float, help=f"grow by a factor {OUTPAINT['scale'].minimum:g} .. {OUTPAINT['scale'].maximum:g}"
    )
    out.add_argument("--balance-x", type=float, default=OUTPAINT["balance_x"].default, help=OUTPAINT["balance_x"].help)
    out.add_argument("--balance-y", type=float, default=OUTPAINT["balance_y"].default, help=OUTPAINT["balance_y"].help)
    out.add_argument("--prefill", default=OUTPAINT["prefill"].default, help=", ".join(OUTPAINT["prefill"].choices))
    out.add_argument("--overlap", type=int, default=OUTPAINT["overlap_px"].default, help=OUTPAINT["overlap_px"].help)
    out.add_argument("--strategy", choices=OUTPAINT["strategy"].choices, default=OUTPAINT["strategy"].default)
    eng = p.add_argument_group("engine", "where the batch runs (README: Scaling out)")
    for f in cli_engine_fields():
        eng.add_argument(
            "--" + f.name.replace("_", "-"), type=f.type, default=f.default, choices=f.choices, help=f.help.replace("%", "%%")
        )
    return p
