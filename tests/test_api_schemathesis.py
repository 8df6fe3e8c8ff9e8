"""A bounded schemathesis run against the standalone API, started as ``python -m inpaint_anything``
starts it: no 5xx, every status code and response body as the OpenAPI document says.

schemathesis lives in its own environment (its anyio/starlette pins clash with the host stacks):
``tools/test.sh`` builds it (``tools/venv.sh fuzz``) and passes its ``st`` as ``$IA_SCHEMATHESIS``.
``$IA_FUZZ_SECONDS`` sets the time budget (default 90).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_schemathesis_finds_no_server_error_and_no_contract_violation(tmp_path):
    st = os.environ.get("IA_SCHEMATHESIS")
    if not st or not os.path.isfile(st):
        pytest.skip("schemathesis is not set up: tools/test.sh builds it and sets IA_SCHEMATHESIS")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inpaint_anything",
            "serve",
            "--no-ui",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--ia-models-dir",
            str(tmp_path / "models"),
            "--ia-output-dir",
            str(tmp_path / "out"),
            "--ia-offline",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/openapi.json"
        budget = int(os.environ.get("IA_FUZZ_SECONDS", "90"))
        run = subprocess.run(
            [
                st,
                "--no-color",
                "run",
                url,
                "--checks",
                CHECKS,
                "--max-examples",
                "10",
                "--workers",
                "1",
                "--max-time",
                str(budget),
                "--seed",
                "1",
                "--suppress-health-check",
                "all",
                "--wait-for-schema",
                "60",
                # /batch reads and writes folders named in the request; downloads would wait on the network
                "--exclude-path-regex",
                "/batch|/download",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=budget + 240,
        )
    finally:
        server.terminate()
        try:
            _, err = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
    out = run.stdout + run.stderr
    summary = re.search(r"(\d+) generated, (\d+) passed", out)
    print(out[-3000:])
    assert run.returncode == 0, out[-6000:] + "\n--- server log ---\n" + (err or "")[-3000:]
    assert summary is not None, out[-3000:]
    generated, passed = map(int, summary.groups())
    assert generated >= 200 and passed == generated
    assert "Traceback" not in (err or ""), (err or "")[-3000:]
