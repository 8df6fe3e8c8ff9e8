"""Test helpers for the stand-in WebUI (no host counterpart; the mimicked API is ``modules``/``launch``).

They mimic the host lifecycle steps an extension goes through:

* ``run_install_py(ext_root)`` - step 1: ``install.py`` in a subprocess, PYTHONPATH = the stub folder;
  ``launch.run_pip``/``run`` are recorded (returned as ``InstallResult.calls``), never executed;
* ``reparse_cmd_opts(argv, extension_roots)`` - step 2: a fresh parser, every ``preload(parser)``,
  then the arguments; ``shared.cmd_opts`` is updated in place (same object);
* ``load_extension_scripts(ext_root)`` - step 4: ``scripts.load_scripts()`` with ``ext_root`` as an
  active extension (clears all callbacks, imports every active extension's scripts/*.py);
* ``callbacks_for(kind)`` / ``fire(kind, ...)`` - inspect and call registered callbacks; unlike the
  host's firing functions, ``fire`` lets exceptions propagate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

STUB_DIR = os.path.dirname(os.path.abspath(__file__))


@dataclass
class InstallResult:
    returncode: int
    stdout: str
    stderr: str
    calls: list[dict] = field(default_factory=list)

    @property
    def pip_calls(self) -> list[str]:
        """The ``command`` argument of every launch.run_pip call, in order."""
        return [c["args"] for c in self.calls if c["kind"] == "pip"]


def reparse_cmd_opts(argv: list[str] | tuple = (), extension_roots: list[str] | tuple = ()):
    """Rebuild the parser, run the preloads (user extensions, builtins, ``extension_roots``), parse ``argv``."""
    from modules import cmd_args, script_loading, shared, shared_cmd_options

    parser = cmd_args.build_parser()
    shared_cmd_options.preload_all(parser)
    for root in extension_roots:
        script_loading.preload_extension(os.fspath(root), parser)
    ns = parser.parse_args(list(argv))
    shared_cmd_options.finish(ns)
    vars(shared.cmd_opts).clear()
    vars(shared.cmd_opts).update(vars(ns))
    cmd_args.parser = shared_cmd_options.parser = shared.parser = parser
    return shared.cmd_opts


def run_preload(ext_root, parser=None):
    """Call the extension's ``preload(parser)`` on ``parser`` (default: a fresh host parser)."""
    from modules import cmd_args, script_loading

    parser = parser if parser is not None else cmd_args.build_parser()
    script_loading.preload_extension(os.fspath(ext_root), parser)
    return parser


def load_extension_scripts(ext_root, *, strict: bool = True) -> list:
    """Make ``ext_root`` an active extension and load scripts like the host; returns its ScriptClassData.

    With ``strict`` an error reported while importing raises RuntimeError with the traceback
    (the host only prints it).
    """
    from modules import errors, extensions, scripts

    root = os.path.abspath(os.fspath(ext_root))
    if root not in extensions.stub_extra_roots:
        extensions.stub_extra_roots.append(root)
    extensions.list_extensions()
    before = len(errors.exception_records)
    scripts.load_scripts()
    new_errors = errors.exception_records[before:]
    if strict and new_errors:
        raise RuntimeError("loading scripts failed:\n" + "\n".join(e["message"] + "\n" + e["traceback"] for e in new_errors))
    return [d for d in scripts.scripts_data if os.path.abspath(d.basedir) == root]


def run_install_py(ext_root, *, argv: list[str] | tuple = (), pip_fail: str | None = None, timeout: float = 300) -> InstallResult:
    """Run ``<ext_root>/install.py`` as the host does (subprocess, PYTHONPATH=webui root, cwd=webui root).

    ``pip_fail``: make ``launch.run_pip`` raise for commands containing this substring.
    """
    from modules import paths_internal

    fd, log = tempfile.mkstemp(prefix="webui-stub-calls-", suffix=".jsonl")
    os.close(fd)
    env = os.environ.copy()
    env["PYTHONPATH"] = STUB_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["WEBUI_STUB_ROOT"] = paths_internal.script_path
    env["WEBUI_STUB_ARGV"] = " ".join(argv)
    env["WEBUI_STUB_CALL_LOG"] = log
    env.pop("WEBUI_STUB_PIP_FAIL", None)
    if pip_fail:
        env["WEBUI_STUB_PIP_FAIL"] = pip_fail
    try:
        proc = subprocess.run([sys.executable, os.path.join(os.fspath(ext_root), "install.py")], cwd=paths_internal.script_path,
                              env=env, capture_output=True, text=True, timeout=timeout)
        with open(log, encoding="utf8") as fh:
            calls = [json.loads(line) for line in fh if line.strip()]
    finally:
        os.unlink(log)
    return InstallResult(proc.returncode, proc.stdout, proc.stderr, calls)


def callbacks_for(kind: str) -> list:
    """Registered ScriptCallback entries of a category, e.g. ``"ui_tabs"``, ``"app_started"``, ``"on_reload"``."""
    from modules import script_callbacks

    return list(script_callbacks.callback_map["callbacks_" + kind])


def fire(kind: str, *args, **kwargs) -> list:
    """Call every callback of ``kind`` with the given arguments; returns their results (errors propagate)."""
    return [c.callback(*args, **kwargs) for c in callbacks_for(kind)]


def reported_errors() -> list[dict]:
    """What the host would have printed as errors (callbacks, script loading, call wrappers)."""
    from modules import errors

    return list(errors.exception_records)


def launch_calls() -> list[dict]:
    """launch.run/run_pip/git_clone calls made in this process."""
    from modules import launch_utils

    return list(launch_utils.calls)


def purge(extra_prefixes: tuple[str, ...] = ()) -> None:
    """Forget every stub module (``modules*``, ``launch``, ``webui_stub``) and ``extra_prefixes`` modules."""
    prefixes = ("modules", "launch", "webui_stub", *extra_prefixes)
    for name in list(sys.modules):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            del sys.modules[name]
