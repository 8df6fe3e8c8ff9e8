"""``python -m inpaint_anything``: the standalone entry point.

Sub-commands:
  doctor   report the environment: package versions, devices, models folder, what works here.
"""

from __future__ import annotations

import argparse
import sys

from inpaint_anything import __version__, config


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "missing"


def doctor(settings: config.Settings) -> int:
    """Print what this installation can do; exit code 1 if a required package is missing."""
    required = ["torch", "torchvision", "numpy", "pillow", "opencv-python-headless", "segment-anything", "segment-anything-hq", "timm", "diffusers", "transformers", "huggingface-hub", "safetensors"]
    optional = ["gradio", "fastapi", "pydantic", "pypatchmatch", "open-clip-torch", "accelerate"]
    print(f"Inpaint Anything {__version__} (Python {sys.version.split()[0]})")
    missing = []
    for dist in required + optional:
        version = _version(dist)
        if version == "missing" and dist == "opencv-python-headless" and _version("opencv-python") != "missing":
            version = "via opencv-python " + _version("opencv-python")
        print(f"  {dist:24s} {version}{'' if dist in required else '  (optional)'}")
        if version == "missing" and dist in required:
            missing.append(dist)
    try:
        import torch

        devices = ["cpu"] + (["cuda: " + torch.cuda.get_device_name(0)] if torch.cuda.is_available() else [])
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            devices.append("mps")
        print("  devices:", ", ".join(devices))
    except ImportError:
        pass
    print("  models folder:", settings.resolved_models_dir(None), "(offline)" if settings.offline else "")
    if missing:
        print("Missing required packages:", ", ".join(missing))
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inpaint_anything", description="Inpaint Anything without the WebUI.")
    config.add_cli_arguments(parser)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("doctor", help="report packages, devices and the models folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = config.settings_from(None, args)
    command = args.command or "doctor"
    if command == "doctor":
        return doctor(settings)
    parser.error(f"unknown command {command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
