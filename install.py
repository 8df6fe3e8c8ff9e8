"""Run by the WebUI on every start (in a subprocess, before the UI loads).

Installs only what is missing, through the host's pip helper, with a constraints file that freezes
every package the host pins. Never raises: a failure prints one line and the WebUI keeps starting.
A requirement's environment variables (SAM2_BUILD_CUDA=0 for sam2) are set in this process while
its pip command runs: the host's ``launch.run`` passes ``os.environ`` to the pip subprocess.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@contextmanager
def _environment(pairs) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore the previous values."""
    saved = {name: os.environ.get(name) for name, _ in pairs}
    os.environ.update(dict(pairs))
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def main() -> int:
    from inpaint_anything import installer

    plan = installer.plan(installer.installed_distributions())
    if plan.nothing_to_do:
        return 0
    try:
        import launch
    except ImportError:
        print("[Inpaint Anything] install.py must run inside the WebUI; missing:", ", ".join(r.spec for r in plan.install))
        return 1
    fd, constraints = tempfile.mkstemp(prefix="ia-constraints-", suffix=".txt")
    with os.fdopen(fd, "w") as fh:
        fh.write(installer.constraints_text(plan.constraints))
    for note in plan.notes:
        print(f"[Inpaint Anything] {note}")
    failed = []
    try:
        for req in plan.install:
            try:
                with _environment(req.env):
                    launch.run_pip(req.pip_args(constraints), f"{req.spec} for Inpaint Anything ({req.reason})")
            except Exception as exc:  # noqa: BLE001 - never break the WebUI's start
                if not req.optional:
                    failed.append(f"{req.spec} ({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})")
    finally:
        os.unlink(constraints)
    if failed:
        print(
            "[Inpaint Anything] could not install: " + "; ".join(failed) + " - the tab will say which features are unavailable."
        )
        return 1
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # noqa: BLE001
        print(f"[Inpaint Anything] install.py failed: {exc}")
