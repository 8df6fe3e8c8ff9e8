"""The standalone app exactly as a user starts it: ``python -m inpaint_anything`` in a subprocess.

:func:`start` runs ``<this python> -m inpaint_anything --host 127.0.0.1 --port 0`` from the
repository root (the same ``__main__`` -> ``server.serve`` -> ``create_app`` + ``ui.standalone.mount_ui``
code path a user gets), with a models folder and an output folder under ``root`` and no network
(``HF_HUB_OFFLINE=1``), reads the URL it announces, and returns a :class:`StandaloneServer`;
:meth:`StandaloneServer.stop` ends that process (and only it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
URL_RE = re.compile(r"(http://127\.0\.0\.1:\d+/)")
START_TIMEOUT = 180.0


@dataclass
class StandaloneServer:
    url: str
    process: subprocess.Popen
    root: Path
    models: Path
    out: Path
    log: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def output(self) -> str:
        return "".join(self.log)


def start(root: str | Path, *extra_args: str, env: dict[str, str] | None = None) -> StandaloneServer:
    root = Path(root)
    models, out = root / "models", root / "out"
    models.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        **(env or {}),
    }
    environment.pop("GRADIO_ANALYTICS_ENABLED", None)  # the page must turn analytics off by itself
    cmd = [
        sys.executable,
        "-m",
        "inpaint_anything",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--log-level",
        "warning",
        "--ia-models-dir",
        str(models),
        "--ia-output-dir",
        str(out),
        "--ia-sam-device",
        "cpu",
        *extra_args,
    ]
    process = subprocess.Popen(
        cmd, cwd=str(REPO), env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    log: list[str] = []
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line)
            match = URL_RE.search(line)
            if match and not found:
                found.append(match.group(1))

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    server = StandaloneServer("", process, root, models, out, log)
    while not found and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not found:
        server.stop()
        raise RuntimeError("python -m inpaint_anything did not announce its URL:\n" + "".join(log)[-4000:])
    server.url = found[0]
    _wait_http(server)
    return server


def _wait_http(server: StandaloneServer) -> None:
    """The URL is announced just before uvicorn listens: wait until the page answers."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError("the server exited:\n" + server.output()[-4000:])
        try:
            with opener.open(server.url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("the standalone page never answered:\n" + server.output()[-4000:])
