"""``modules.cmd_args`` (v1.10.1 subset): the WebUI's argparse parser with the host's defaults."""

from __future__ import annotations

import argparse
import os

from modules import _stub_flavour
from modules.paths_internal import data_path, models_path, normalized_filepath, script_path, sd_default_config, sd_model_file


def build_parser() -> argparse.ArgumentParser:
    """A fresh parser with the host's flags that extensions read or that change host behaviour."""
    p = argparse.ArgumentParser()
    flag = lambda name, help="": p.add_argument(name, action="store_true", help=help)  # noqa: E731
    for name in (
        "--update-all-extensions",
        "--skip-python-version-check",
        "--skip-torch-cuda-test",
        "--test-server",
        "--skip-prepare-environment",
        "--skip-install",
        "--dump-sysinfo",
        "--no-half",
        "--no-half-vae",
        "--medvram",
        "--medvram-sdxl",
        "--lowvram",
        "--lowram",
        "--share",
        "--enable-insecure-extension-access",
        "--xformers",
        "--disable-nan-check",
        "--listen",
        "--hide-ui-dir-config",
        "--freeze-settings",
        "--api",
        "--api-log",
        "--nowebui",
        "--ui-debug-mode",
        "--no-gradio-queue",
        "--no-hashing",
        "--no-download-sd-model",
        "--disable-all-extensions",
        "--disable-extra-extensions",
        "--skip-load-model-at-start",
        "--unix-filenames-sanitization",
        "--no-prompt-history",
        "--disable-safe-unpickle",
        "--autolaunch",
        "--allow-code",
        "--upcast-sampling",
    ):
        flag(name)
    p.add_argument("--loglevel", type=str, default=None)
    p.add_argument("--data-dir", type=normalized_filepath, default=data_path)
    p.add_argument("--models-dir", type=normalized_filepath, default=None)
    p.add_argument("--config", type=normalized_filepath, default=sd_default_config)
    p.add_argument("--ckpt", type=normalized_filepath, default=sd_model_file)
    p.add_argument("--ckpt-dir", type=normalized_filepath, default=None)
    p.add_argument("--vae-dir", type=normalized_filepath, default=None)
    p.add_argument("--embeddings-dir", type=normalized_filepath, default=os.path.join(data_path, "embeddings"))
    p.add_argument("--hypernetwork-dir", type=normalized_filepath, default=os.path.join(models_path, "hypernetworks"))
    p.add_argument("--localizations-dir", type=normalized_filepath, default=os.path.join(script_path, "localizations"))
    p.add_argument("--precision", type=str, choices=["full", "half", "autocast"], default="autocast")
    p.add_argument("--ngrok", type=str, default=None)
    p.add_argument("--use-cpu", nargs="+", default=[], type=str.lower)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--ui-config-file", type=str, default=os.path.join(data_path, "ui-config.json"))
    p.add_argument("--freeze-settings-in-sections", type=str, default=None)
    p.add_argument("--freeze-specific-settings", type=str, default=None)
    p.add_argument("--ui-settings-file", type=str, default=os.path.join(data_path, "config.json"))
    p.add_argument("--gradio-auth", type=str, default=None)
    p.add_argument("--gradio-allowed-path", action="append", default=[data_path])
    p.add_argument("--styles-file", type=str, action="append", default=[])
    p.add_argument("--theme", type=str, default=None)
    p.add_argument("--api-auth", type=str, default=None)
    p.add_argument("--device-id", type=str, default=None)
    p.add_argument("--server-name", type=str, default=None)
    p.add_argument("--subpath", type=str, default=None)
    p.add_argument("--filenames-max-length", type=int, default=128)
    p.add_argument("--cors-allow-origins", type=str, default=None)
    if _stub_flavour.FORGE:  # Forge's backend/args.py flags (memory ones; --lowvram/--medvram stay, unused)
        for name in (
            "--always-gpu",
            "--always-high-vram",
            "--always-normal-vram",
            "--always-low-vram",
            "--always-no-vram",
            "--always-cpu",
            "--always-offload-from-vram",
            "--cuda-malloc",
            "--cuda-stream",
            "--pin-shared-memory",
            "--disable-gpu-warning",
        ):
            flag(name)
        p.add_argument("--gpu-device-id", type=int, default=None)
    return p


parser = build_parser()
