"""``modules.script_loading`` (v1.10.1): import a file as a module named by its basename."""

from __future__ import annotations

import importlib.util
import os

from modules import errors

loaded_scripts: dict = {}


def load_module(path: str):
    """Import ``path`` under the module name ``os.path.basename(path)``; not put in sys.modules."""
    spec = importlib.util.spec_from_file_location(os.path.basename(path), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    loaded_scripts[path] = module
    return module


def preload_extensions(extensions_dir: str, parser, extension_list=None) -> None:
    """Run ``preload(parser)`` of every extension folder's preload.py (sorted); errors are reported."""
    if not os.path.isdir(extensions_dir):
        return
    names = extension_list if extension_list is not None else os.listdir(extensions_dir)
    for dirname in sorted(names):
        preload_extension(os.path.join(extensions_dir, dirname), parser)


def preload_extension(extension_root: str, parser) -> None:
    """Stub building block of preload_extensions for one extension folder."""
    preload_script = os.path.join(extension_root, "preload.py")
    if not os.path.isfile(preload_script):
        return
    try:
        module = load_module(preload_script)
        if hasattr(module, "preload"):
            module.preload(parser)
    except Exception:
        errors.report(f"Error running preload() for {preload_script}", exc_info=True)
