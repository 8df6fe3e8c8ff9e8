"""Stand-in only (no host counterpart): which host the stand-in plays.

``WEBUI_STUB_FLAVOUR`` = ``a1111`` (default: AUTOMATIC1111 v1.10.1) or ``forge`` (Stable Diffusion WebUI
Forge, main branch 2025: its ``modules`` API on top of ``backend``/``modules_forge``). The Forge-only
packages live in ``tests/host_stub_forge`` (put on sys.path by the ``webui_host_forge`` fixture);
the few ``modules.*`` differences read :data:`FORGE` at import.
"""

from __future__ import annotations

import os

FLAVOUR = (os.environ.get("WEBUI_STUB_FLAVOUR", "") or "a1111").strip().lower()
FORGE = FLAVOUR == "forge"
