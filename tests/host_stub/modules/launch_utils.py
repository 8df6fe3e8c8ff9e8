"""``modules.launch_utils`` (v1.10.1 subset) for install.py scripts.

Differences from the host, on purpose: ``run``/``run_pip``/``git_clone`` never execute anything;
they record the call (in ``calls`` and, when ``WEBUI_STUB_CALL_LOG`` names a file, as JSON lines
there, so calls made by an install.py subprocess can be read back). ``run_pip`` raises the host's
RuntimeError when the command contains ``WEBUI_STUB_PIP_FAIL`` (a substring), to test failures.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys

from modules import cmd_args, errors
from modules.paths_internal import extensions_dir, script_path, stub_argv

args, _ = cmd_args.parser.parse_known_args(stub_argv())

python = sys.executable
git = os.environ.get("GIT", "git")
index_url = os.environ.get("INDEX_URL", "")
dir_repos = "repositories"
default_command_live = os.environ.get("WEBUI_LAUNCH_LIVE_OUTPUT") == "1"

STUB_VERSION = "v1.10.1"
STUB_COMMIT = "82a973c04367123ae98bd9abdf80d9eda9b910e2"

calls: list[dict] = []


def _record(kind: str, **fields) -> None:
    entry = {"kind": kind, **fields}
    calls.append(entry)
    log = os.environ.get("WEBUI_STUB_CALL_LOG")
    if log:
        with open(log, "a", encoding="utf8") as fh:
            fh.write(json.dumps(entry) + "\n")


def commit_hash() -> str:
    return STUB_COMMIT


def git_tag_a1111() -> str:
    """Forge: the A1111 tag its checkout carries."""
    return STUB_VERSION


def git_tag() -> str:
    """A1111: its tag. Forge: ``f<forge version>-<A1111 tag>``."""
    from modules import _stub_flavour

    if _stub_flavour.FORGE:
        from modules_forge import forge_version

        return "f" + forge_version.version + "-" + git_tag_a1111()
    return STUB_VERSION


def run(command, desc=None, errdesc=None, custom_env=None, live: bool = default_command_live) -> str:
    """Record a shell command (the host runs it and raises RuntimeError on failure)."""
    if desc is not None:
        print(desc)
    _record("run", command=command, desc=desc, errdesc=errdesc)
    fail = os.environ.get("WEBUI_STUB_PIP_FAIL")
    if fail and fail in str(command):
        raise RuntimeError(f"{errdesc or 'Error running command'}.\nCommand: {command}\nError code: 1\nstderr: stub failure")
    return ""


def is_installed(package: str) -> bool:
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        try:
            spec = importlib.util.find_spec(package)
        except ModuleNotFoundError:
            return False
        return spec is not None
    return dist is not None


def repo_dir(name: str) -> str:
    return os.path.join(script_path, dir_repos, name)


def run_pip(command, desc=None, live=default_command_live):
    """``python -m pip <command> --prefer-binary`` in the host; recorded here. No-op with --skip-install."""
    if args.skip_install:
        return None
    index_url_line = f" --index-url {index_url}" if index_url != "" else ""
    _record("pip", args=command, desc=desc)
    return run(
        f'"{python}" -m pip {command} --prefer-binary{index_url_line}',
        desc=f"Installing {desc}",
        errdesc=f"Couldn't install {desc}",
        live=live,
    )


def check_run_python(code: str) -> bool:
    result = subprocess.run([python, "-c", code], capture_output=True, shell=False)
    return result.returncode == 0


def git_clone(url, dir, name, commithash=None):
    _record("git_clone", url=url, dir=dir, name=name, commithash=commithash)


def git_pull_recursive(dir):
    _record("git_pull", dir=dir)


def list_extensions(settings_file) -> list[str]:
    settings = {}
    try:
        with open(settings_file, encoding="utf8") as file:
            settings = json.load(file)
    except FileNotFoundError:
        pass
    except Exception:
        errors.report(f"Could not load settings {settings_file}", exc_info=True)
    disabled = set(settings.get("disabled_extensions", []))
    if (
        settings.get("disable_all_extensions", "none") != "none"
        or args.disable_extra_extensions
        or args.disable_all_extensions
        or not os.path.isdir(extensions_dir)
    ):
        return []
    return [x for x in os.listdir(extensions_dir) if x not in disabled]


def run_extension_installer(extension_dir) -> subprocess.CompletedProcess | None:
    """Run ``install.py`` in a subprocess with PYTHONPATH=<webui root> (the stub folder here).

    The host prints stdout and reports failures; the stand-in also returns the completed process.
    """
    path_installer = os.path.join(extension_dir, "install.py")
    if not os.path.isfile(path_installer):
        return None
    env = os.environ.copy()
    stub_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = f"{stub_dir}{os.pathsep}{env.get('PYTHONPATH', '')}"
    env.setdefault("WEBUI_STUB_ROOT", script_path)
    result = subprocess.run([python, path_installer], cwd=script_path, env=env, capture_output=True, text=True)
    if result.stdout.strip():
        print(result.stdout.strip())
    if result.returncode != 0:
        errors.report(f"Error running install.py for extension {extension_dir}.\nstderr: {result.stderr}")
    return result
