"""``modules.paths`` (v1.10.1): re-exports the internal paths."""

from __future__ import annotations

from modules.paths_internal import (  # noqa: F401
    data_path,
    extensions_builtin_dir,
    extensions_dir,
    models_path,
    script_path,
    sd_configs_path,
    sd_default_config,
    sd_model_file,
)

paths: dict[str, str] = {}
