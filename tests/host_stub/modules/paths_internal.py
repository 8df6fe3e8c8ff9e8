"""Internal paths of the stand-in WebUI (v1.10.1 names).

The WebUI root is a temporary folder: ``WEBUI_STUB_ROOT`` (set by the ``webui_host`` fixture) or a
fresh temp dir. ``--data-dir``/``--models-dir`` are read from the stub's argv (``WEBUI_STUB_ARGV``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import tempfile
from pathlib import Path


def normalized_filepath(filepath: str) -> str:
    return str(Path(filepath).absolute())


def stub_argv() -> list[str]:
    """Command-line arguments the stand-in host was "started" with (tests set WEBUI_STUB_ARGV)."""
    return shlex.split(os.environ.get("WEBUI_STUB_ARGV", ""))


def _root() -> str:
    root = os.environ.get("WEBUI_STUB_ROOT")
    if not root:
        root = tempfile.mkdtemp(prefix="webui-stub-")
        os.environ["WEBUI_STUB_ROOT"] = root
    os.makedirs(root, exist_ok=True)
    return os.path.abspath(root)


cwd = os.getcwd()
modules_path = os.path.dirname(os.path.realpath(__file__))
script_path = _root()

sd_configs_path = os.path.join(script_path, "configs")
sd_default_config = os.path.join(sd_configs_path, "v1-inference.yaml")
sd_model_file = os.path.join(script_path, "model.ckpt")
default_sd_model_file = sd_model_file

parser_pre = argparse.ArgumentParser(add_help=False)
parser_pre.add_argument("--data-dir", type=str, default=script_path)
parser_pre.add_argument("--models-dir", type=str, default=None)
cmd_opts_pre = parser_pre.parse_known_args(stub_argv())[0]

data_path = cmd_opts_pre.data_dir
models_path = cmd_opts_pre.models_dir if cmd_opts_pre.models_dir else os.path.join(data_path, "models")
extensions_dir = os.path.join(data_path, "extensions")
extensions_builtin_dir = os.path.join(script_path, "extensions-builtin")
config_states_dir = os.path.join(script_path, "config_states")
default_output_dir = os.path.join(data_path, "outputs")
roboto_ttf_file = os.path.join(modules_path, "Roboto-Regular.ttf")
