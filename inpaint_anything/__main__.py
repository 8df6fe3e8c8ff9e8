"""``python -m inpaint_anything``: the standalone entry point.

Sub-commands:
  serve    (default) the standalone server: REST API + UI on http://127.0.0.1:7870/
  batch    inpaint / remove / outpaint a folder, a file list or a manifest of images
  doctor   report the environment: packages, devices, models found, output folder, what works here
  download download SAM models, learned removers (lama, migan) or text detectors into the models folder

Every ``--ia-*`` setting flag works before or after the sub-command.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from inpaint_anything import __version__, config
from inpaint_anything.cli_batch import _add_batch_parser, batch


def prepare_environment(environ: dict[str, str] | None = None) -> None:
    """Before gradio or huggingface_hub is imported: no analytics or telemetry from the standalone app
    (gradio reads GRADIO_ANALYTICS_ENABLED when a page is built; the Hub client reads its flag on import)."""
    env = os.environ if environ is None else environ
    env["GRADIO_ANALYTICS_ENABLED"] = "False"
    env.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def doctor(settings: config.Settings) -> int:
    from inpaint_anything.doctor import doctor as run_doctor

    return run_doctor(settings)


def download(settings: config.Settings, args: argparse.Namespace) -> int:
    from inpaint_anything.cli_download import download as run_download

    return run_download(settings, args.models, quiet=args.quiet)


# ---------------------------------------------------------------------------------------------- serve
def serve(settings: config.Settings, args: argparse.Namespace) -> int:
    from inpaint_anything.server import ExposedWithoutAuthError, check_exposure
    from inpaint_anything.server import serve as run_server

    try:  # before gradio and the models are loaded: a refused start is quick
        check_exposure(args.host, args.api_auth, args.insecure)
    except ExposedWithoutAuthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def announce(url: str) -> None:
        print(f"Inpaint Anything {__version__}: {url}  (API: {url}inpaint-anything/v1, docs: {url}docs)", flush=True)

    def warn(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    ui_builder = None
    if not args.no_ui:
        try:
            from inpaint_anything.ui.standalone import mount_ui

            ui_builder = mount_ui
        except ImportError as exc:  # no gradio: the API still works
            print(f"gradio is not available ({exc}); serving the REST API only.", file=sys.stderr)
    try:
        run_server(
            settings,
            args.host,
            args.port,
            api_auth=args.api_auth,
            log_level=args.log_level,
            announce=announce,
            ui_builder=ui_builder,
            insecure=args.insecure,
            warn=warn,
        )
    except OSError as exc:
        print(f"Could not start the server on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


class _NoDefaults:
    """Adds arguments with ``default=SUPPRESS``, so a sub-command's copy of a flag never overwrites
    the value the main parser read before the sub-command."""

    def __init__(self, target: Any):
        self._target = target

    def add_argument_group(self, *args: Any, **kwargs: Any) -> _NoDefaults:
        return _NoDefaults(self._target.add_argument_group(*args, **kwargs))

    def add_argument(self, *args: Any, **kwargs: Any) -> Any:
        return self._target.add_argument(*args, **{**kwargs, "default": argparse.SUPPRESS})


def _ia_flags_after_command(parser: argparse.ArgumentParser) -> None:
    """Accept the --ia-* flags after a sub-command too."""
    config.add_cli_arguments(_NoDefaults(parser))  # type: ignore[arg-type]


def build_parser() -> argparse.ArgumentParser:
    from inpaint_anything.server import DEFAULT_HOST, DEFAULT_PORT

    parser = argparse.ArgumentParser(prog="python -m inpaint_anything", description="Inpaint Anything without the WebUI.")
    config.add_cli_arguments(parser)
    sub = parser.add_subparsers(dest="command")
    serve_p = sub.add_parser("serve", help="run the standalone server (the default command)")
    for p in (parser, serve_p):  # serve's options also work without the sub-command
        default = None if p is parser else argparse.SUPPRESS
        p.add_argument("--host", default=default, help=f"interface to listen on (default {DEFAULT_HOST})")
        p.add_argument("--port", type=int, default=default, help=f"port (default {DEFAULT_PORT}; 0 = any free port)")
        p.add_argument(
            "--auth",
            "--api-auth",
            dest="api_auth",
            default=default,
            metavar="USER:PASS[,USER:PASS]",
            help="require HTTP Basic auth for everything served: the UI, /docs and the API",
        )
        p.add_argument(
            "--insecure",
            action="store_true",
            default=default,
            help="allow a --host beyond this machine without --auth (a trusted network only)",
        )
        p.add_argument("--log-level", default=default, choices=("critical", "error", "warning", "info", "debug"))
        p.add_argument("--no-ui", action="store_true", default=default, help="serve only the REST API (no gradio page)")
    _ia_flags_after_command(serve_p)
    _ia_flags_after_command(_add_batch_parser(sub))
    _ia_flags_after_command(sub.add_parser("doctor", help="report packages, models, folders and what will work here"))
    dl = sub.add_parser(
        "download", help="download SAM models, learned removers or text detectors into the models folder (no ID: list them)"
    )
    dl.add_argument(
        "models",
        nargs="*",
        metavar="ID",
        help="a SAM id (mobile_sam, sam_vit_b), a remover (lama, migan) or a text detector (owlvit-base, clipseg)",
    )
    dl.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _ia_flags_after_command(dl)
    return parser


def main(argv: list[str] | None = None) -> int:
    from inpaint_anything.errors import IAError
    from inpaint_anything.server import DEFAULT_HOST, DEFAULT_PORT

    prepare_environment()
    parser = build_parser()
    args = parser.parse_args(config.explicit_bool_flags(sys.argv[1:] if argv is None else list(argv)))
    try:
        settings = config.settings_from(None, args)
    except IAError as exc:
        parser.error(str(exc))
    command = args.command or "serve"
    if command == "doctor":
        return doctor(settings)
    if command == "batch":
        return batch(settings, args)
    if command == "download":
        return download(settings, args)
    if command == "serve":
        args.host = args.host or DEFAULT_HOST
        args.port = DEFAULT_PORT if args.port is None else args.port
        args.log_level = args.log_level or "info"
        args.no_ui = bool(getattr(args, "no_ui", False))
        args.insecure = bool(getattr(args, "insecure", False))
        return serve(settings, args)
    parser.error(f"unknown command {command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
