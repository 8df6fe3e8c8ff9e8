"""Run by the WebUI on every start (in a subprocess, before the UI loads).

Installs only what is missing, through the host's pip helper, with a constraints file that freezes
every package the host pins. Never raises: a failure prints one line and the WebUI keeps starting.
"""

from __future__ import annotations

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


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
    failed = []
    try:
        for req in plan.install:
            flags = " --no-deps" if req.no_deps else ""
            try:
                launch.run_pip(f'install "{req.spec}" -c "{constraints}"{flags}', f"{req.spec} for Inpaint Anything ({req.reason})")
            except Exception as exc:  # noqa: BLE001 - never break the WebUI's start
                if not req.optional:
                    failed.append(f"{req.spec} ({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})")
    finally:
        os.unlink(constraints)
    if failed:
        print("[Inpaint Anything] could not install: " + "; ".join(failed) + " - the tab will say which features are unavailable.")
        return 1
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # noqa: BLE001
        print(f"[Inpaint Anything] install.py failed: {exc}")
