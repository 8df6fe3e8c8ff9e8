"""``modules.shared_cmd_options`` (v1.10.1): runs extension preloads, then parses the arguments.

The stand-in parses ``WEBUI_STUB_ARGV`` instead of sys.argv, and also preloads the extension roots
listed in ``WEBUI_STUB_PRELOAD`` (os.pathsep-separated), which is how tests put an extension that
lives outside ``extensions/`` through the preload step.
"""

from __future__ import annotations

import os

import launch
from modules import cmd_args, script_loading
from modules.paths_internal import (  # noqa: F401
    data_path,
    default_sd_model_file,
    extensions_builtin_dir,
    extensions_dir,
    models_path,
    script_path,
    sd_configs_path,
    sd_default_config,
    sd_model_file,
    stub_argv,
)

parser = cmd_args.parser


def preload_all(target_parser) -> None:
    script_loading.preload_extensions(
        extensions_dir, target_parser, extension_list=launch.list_extensions(launch.args.ui_settings_file)
    )
    script_loading.preload_extensions(extensions_builtin_dir, target_parser)
    for root in filter(None, os.environ.get("WEBUI_STUB_PRELOAD", "").split(os.pathsep)):
        script_loading.preload_extension(root, target_parser)


def finish(opts_ns) -> None:
    opts_ns.webui_is_non_local = any([opts_ns.share, opts_ns.listen, opts_ns.ngrok, opts_ns.server_name])
    opts_ns.disable_extension_access = opts_ns.webui_is_non_local and not opts_ns.enable_insecure_extension_access


preload_all(parser)
if os.environ.get("IGNORE_CMD_ARGS_ERRORS", None) is None:
    cmd_opts = parser.parse_args(stub_argv())
else:
    cmd_opts, _ = parser.parse_known_args(stub_argv())
finish(cmd_opts)
