"""The extension inside the WebUI v1.10.1 stand-in's page (tests/host_stub), for browser tests.

:func:`start` puts the stand-in on ``sys.path`` (like the ``webui_host`` fixture), loads this
repository as an extension through the host's steps (argument parsing with our ``--ia-*`` flags,
``scripts/*.py``), and builds the page with ``webui_stub.build_ui``: txt2img / img2img / Extras
with v1.10.1's element ids and result rows, then our tab from on_ui_tabs, with our buttons added by
the real adapter's on_after_component. :meth:`HostServer.stop` closes it and forgets the stand-in.

    $VENV/bin/python tests/browser/host_app.py [PORT]   # by hand; prints the URL, Ctrl+C to stop
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
STUB_DIR = TESTS / "host_stub"
SAM_ID = "file:tiny_sam.pth"


@dataclass
class HostServer:
    url: str
    demo: Any
    ui: Any  # webui_stub.StandInUI
    extension: Any  # our WebuiExtension instance
    root: Path

    @property
    def app(self) -> Any:
        return self.extension.app()

    def workspace(self) -> Any:
        """The most recently used workspace (tests drive one session at a time)."""
        return list(self.app._workspaces.values())[-1]

    def stop(self) -> None:
        self.demo.close()
        _forget_stub()


def _forget_stub() -> None:
    for name in list(sys.modules):
        if any(name == p or name.startswith(p + ".") for p in ("modules", "launch", "webui_stub", "inpaint_anything.webui")):
            del sys.modules[name]
    while str(STUB_DIR) in sys.path:
        sys.path.remove(str(STUB_DIR))


def start(
    root: str | Path,
    sam_checkpoint: str | Path,
    generate: Callable[[str, str], list] | None = None,
    port: int | None = None,
    block: bool = False,
    *,
    choose_sam: bool = True,
) -> HostServer:
    """Serve the stand-in page with the extension on 127.0.0.1 (a fresh WebUI root under ``root``).

    ``choose_sam=False`` leaves the "default SAM model" setting at its default (``sam_vit_b``, not
    downloaded), as on a first run: the tab must then pick the tiny SAM file it finds by itself."""
    from tab_app import free_port

    root = Path(root)
    webui = root / "webui"
    for sub in ("models/Stable-diffusion", "outputs", "extensions", "extensions-builtin"):
        (webui / sub).mkdir(parents=True, exist_ok=True)
    models = root / "ia_models"
    models.mkdir(exist_ok=True)
    shutil.copy(sam_checkpoint, models / "tiny_sam.pth")
    os.environ["WEBUI_STUB_ROOT"] = str(webui)
    for var in ("WEBUI_STUB_ARGV", "WEBUI_STUB_PRELOAD", "WEBUI_STUB_CALL_LOG", "WEBUI_STUB_PIP_FAIL", "COMMANDLINE_ARGS"):
        os.environ.pop(var, None)
    _forget_stub()
    sys.path.insert(0, str(STUB_DIR))
    try:
        import webui_stub
        from modules import shared

        webui_stub.reparse_cmd_opts(
            ["--ia-models-dir", str(models), "--ia-offline", "--ia-sam-device", "cpu"], extension_roots=[REPO]
        )
        webui_stub.load_extension_scripts(REPO)
        if choose_sam:
            shared.opts.set("ia_default_sam_model", SAM_ID)
        shared.opts.set("ia_output_dir", str(root / "out"))
        extension = webui_stub.callbacks_for("ui_tabs")[0].callback.__self__
        ui = webui_stub.build_ui(generate)
        ui.demo.queue()
        port = port or free_port()
        ui.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=not block, quiet=True)
    except BaseException:
        _forget_stub()
        raise
    return HostServer(f"http://127.0.0.1:{port}/", ui.demo, ui, extension, root)


def main(argv: list[str]) -> None:
    import tempfile

    sys.path.insert(0, str(TESTS))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fixtures.tiny_sam import save_tiny_sam

    root = Path(tempfile.mkdtemp(prefix="ia-host-app-"))
    sam = save_tiny_sam("sam", root / "tiny.pth")
    start(root, sam, port=int(argv[0]) if argv else None, block=True)


if __name__ == "__main__":
    main(sys.argv[1:])
