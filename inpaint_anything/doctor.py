"""``python -m inpaint_anything doctor``: what this installation has and what will work with it.

The report lists package versions, devices, the models folder (SAM files with family and state,
diffusers models, LaMa's file), the output folder, the optional packages, and a short summary per
feature ("Selection: GrabCut only — no SAM model; ..."). It reads the folders and package metadata;
it never downloads and never loads a model (SAM files are recognised from their tensor shapes).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from inpaint_anything import __version__
from inpaint_anything.config import Settings
from inpaint_anything.models.removers import REMOVER_FILES, REMOVER_MODELS

REQUIRED = (
    "torch",
    "torchvision",
    "numpy",
    "pillow",
    "opencv-python-headless",
    "segment-anything",
    "segment-anything-hq",
    "timm",
    "diffusers",
    "transformers",
    "huggingface-hub",
    "safetensors",
)
OPTIONAL = (
    "gradio",
    "fastapi",
    "pydantic",
    "uvicorn",
    "python-multipart",
    "swagger-ui-py",
    "sam2",
    "pypatchmatch",
    "open-clip-torch",
    "accelerate",
)
README_MODELS = "README.md, section 'SAM model files'"


def package_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        if dist == "opencv-python-headless":
            other = package_version("opencv-python")
            return f"via opencv-python {other}" if other else None
        return None


@dataclass
class SamFile:
    """One SAM model that is present (or half-present) in the models folder."""

    id: str
    title: str
    family: str
    state: str  # verified | unverified | recognised | incomplete | not usable | refused
    usable: bool
    path: str
    detail: str = ""


@dataclass
class Report:
    settings: Settings
    models_dir: Path
    output_dir: Path
    sam: list[SamFile] = field(default_factory=list)
    sam_missing: list[str] = field(default_factory=list)  # catalogue ids not downloaded
    diffusers_local: list[str] = field(default_factory=list)
    diffusers_cached: list[str] = field(default_factory=list)  # Hub models already in the HF cache
    other: list[tuple[str, str]] = field(default_factory=list)  # (file name, why it is not used)
    removers: dict[str, bool] = field(default_factory=dict)  # learned remover title -> file present
    patchmatch: bool = False
    sam2_problem: str | None = None
    missing_required: list[str] = field(default_factory=list)


def _sam_state(info: Any) -> tuple[str, str]:
    """(state, detail) of a SamModelInfo whose file is present."""
    reason = info.reason or ""
    if "refused" in reason.lower():  # e.g. a pickle that would run code
        return "refused", reason
    if info.id.startswith("file:"):
        return ("recognised", "recognised from its weights") if info.available else ("not usable", reason)
    if not info.downloaded:
        return "incomplete", reason or "the file has the wrong size"
    if not info.available:
        return "not usable", reason
    from inpaint_anything.models.catalogue import get_entry
    from inpaint_anything.models.download import VerifiedHashes

    path = Path(info.path)
    record = VerifiedHashes(path.parent).get(path) or {}
    entry = get_entry(info.id)
    ok = record.get("sha256") == entry.sha256 if entry.sha256 else record.get("verified_by") in ("catalogue", "server")
    if ok:
        return "verified", "SHA-256 checked"
    return "unverified", "right size; its SHA-256 is checked when it is first loaded" if entry.sha256 else "right size"


def collect(settings: Settings, app: Any = None) -> Report:
    """What is installed and present, as a :class:`Report` (``app``: an existing App to reuse)."""
    from inpaint_anything.app import App
    from inpaint_anything.inpaint.cleaner import patchmatch_available
    from inpaint_anything.models.catalogue import sam2_unavailable_reason
    from inpaint_anything.outputs import output_folder

    core = app if app is not None else App(settings)
    report = Report(core.settings, core.models_dir, output_folder(core.settings))
    for info in core.sam_models():
        if info.path is None:
            report.sam_missing.append(info.id)
            continue
        if not info.family:  # not a SAM checkpoint (the list keeps such files, with the reason)
            continue
        state, detail = _sam_state(info)
        report.sam.append(
            SamFile(info.id, info.title, info.family, state, state in ("verified", "unverified", "recognised"), info.path, detail)
        )
    listed = {s.path for s in report.sam}
    for found in core.scanner.scan(core.models_dir):
        if found.family is None and str(found.path) not in listed and found.path.name not in REMOVER_FILES:
            report.other.append((found.path.name, found.problem or "not a SAM model"))
    for entry in core.inpaint_model_entries():  # local ones by name relative to their folder
        if entry.source == "hub":
            if _in_hf_cache(entry.name):
                report.diffusers_cached.append(entry.name)
        elif entry.usable:
            report.diffusers_local.append(entry.name)
        else:
            report.other.append((entry.name, entry.reason))
    report.removers = {r.entry.title: (core.models_dir / r.entry.filename).is_file() for r in REMOVER_MODELS}
    report.patchmatch = patchmatch_available()
    report.sam2_problem = sam2_unavailable_reason()
    report.missing_required = [d for d in REQUIRED if package_version(d) is None]
    return report


def _in_hf_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "model_index.json"), str)
    except Exception:  # an old or broken huggingface_hub: treat as not cached
        return False


def summary(report: Report) -> list[str]:
    """'What will work here' lines, one per feature."""
    folder = report.models_dir
    usable = [s for s in report.sam if s.usable]
    if usable:
        selection = f"Selection: Segment Anything with {', '.join(s.id for s in usable)}, and GrabCut."
    else:
        how = (
            "put a SAM file into "
            if report.settings.offline
            else "download one with `python -m inpaint_anything download mobile_sam` (or the Download button), or put a file into "
        )
        selection = f"Selection: GrabCut only — no SAM model; {how}{folder} ({README_MODELS})."
    present = [title for title, here in report.removers.items() if here]
    cleaners = ["Telea", "Navier-Stokes"] + (["PatchMatch"] if report.patchmatch else []) + present
    remove = f"Remove object: {', '.join(cleaners)}."
    for r in REMOVER_MODELS:
        if not report.removers.get(r.entry.title):
            remove += (
                f" {r.entry.title} needs {r.entry.filename} in {folder}."
                if report.settings.offline
                else f" {r.entry.title} downloads {r.entry.filename} on first use."
            )
    generators = [Path(p).name for p in report.diffusers_local] + report.diffusers_cached
    if generators:
        inpaint = f"Inpaint with a prompt: diffusers models {', '.join(generators)}."
    elif report.settings.offline:
        inpaint = (
            f"Inpaint with a prompt: no diffusers model here (offline); put a diffusers folder or a "
            f".safetensors inpainting checkpoint into {folder / 'diffusers'}. Without one: Remove object and pre-fills."
        )
    else:
        inpaint = (
            "Inpaint with a prompt: no diffusers model downloaded yet; a Hub model is downloaded on first use "
            f"(about 2-7 GB), or put one into {folder / 'diffusers'}."
        )
    outpaint = "Outpaint: pre-fills (blur, edge, reflect, noise, ...) and the classical fills" + (
        ", and generated borders with the diffusers models above."
        if generators
        else "; generated borders need a diffusers model."
    )
    return [selection, remove, inpaint, outpaint]


def render(report: Report) -> str:
    lines = [f"Inpaint Anything {__version__} (Python {sys.version.split()[0]}, {sys.executable})", "Packages:"]
    for dist in REQUIRED + OPTIONAL:
        version = package_version(dist)
        lines.append(f"  {dist:24s} {version or 'missing'}{'' if dist in REQUIRED else '  (optional)'}")
    lines.append(f"  devices: {', '.join(_devices())}")
    lines.append(f"  SAM 2.1: {'usable' if report.sam2_problem is None else 'not usable: ' + report.sam2_problem}")
    lines.append(f"  PatchMatch: {'usable' if report.patchmatch else 'not installed (pypatchmatch; Python 3.11+, Linux x86-64)'}")
    exists = report.models_dir.is_dir()
    lines.append(
        f"Models folder: {report.models_dir}"
        + ("" if exists else "  (does not exist yet)")
        + ("  [offline mode]" if report.settings.offline else "")
    )
    if report.sam:
        lines.append("  SAM models:")
        for s in report.sam:
            lines.append(f"    {s.id}  ({s.family})  {s.state}{': ' + s.detail if s.detail else ''}  {Path(s.path).name}")
    else:
        lines.append(f"  SAM models: none (catalogue files: {', '.join(report.sam_missing)})")
    if report.other:
        lines.append("  other files in the models folder, not used:")
    for name, why in report.other:
        state = "refused" if "refused" in why.lower() else "not used"
        lines.append(f"    {name}  {state}: {why}")
    if report.diffusers_local:
        lines.append("  diffusers models: " + ", ".join(Path(p).name for p in report.diffusers_local))
    else:
        lines.append(f"  diffusers models: none in {report.models_dir / 'diffusers'}")
    if report.diffusers_cached:
        lines.append("  Hub models in the Hugging Face cache: " + ", ".join(report.diffusers_cached))
    for r in REMOVER_MODELS:
        lines.append(f"  {r.entry.title} ({r.entry.filename}): {'present' if report.removers.get(r.entry.title) else 'missing'}")
    lines.append(f"Output folder: {report.output_dir}" + ("" if report.output_dir.is_dir() else "  (created on first save)"))
    lines.append("What will work here:")
    lines += [f"  {line}" for line in summary(report)]
    if report.missing_required:
        lines.append("Missing required packages: " + ", ".join(report.missing_required))
    return "\n".join(lines)


def _devices() -> list[str]:
    try:
        import torch
    except ImportError:
        return ["torch missing"]
    devices = ["cpu"] + (["cuda: " + torch.cuda.get_device_name(0)] if torch.cuda.is_available() else [])
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def doctor(settings: Settings) -> int:
    """Print the report; exit code 1 when a required package is missing."""
    report = collect(settings)
    sys.stdout.write(render(report) + "\n")
    return 1 if report.missing_required else 0


__all__ = ["Report", "SamFile", "collect", "doctor", "render", "summary"]
