"""``benchmarks/gpu.sh --smoke``: the GPU table's code paths (SAM encode / click / hover / segment
everything through SegmentSession, SD 1.5 and SDXL inpainting through run_inpaint and the diffusers
backend) run end to end on the CPU with the tiny models, and the table and JSON have every row."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAM = ("sam_vit_b", "sam_hq_vit_b", "sam_vit_h", "sam_hq_vit_h")
EXPECTED = {
    *(f"{what}.{model}.fp32" for what in ("encode", "click", "hover") for model in SAM),
    "everything.sam_vit_b.fp32",
    "inpaint.sd15.fp32",  # fp16 is CUDA-only: on the CPU the backend runs fp32
    "inpaint.sdxl.fp32",
}

pytestmark = pytest.mark.slow


def test_gpu_table_smoke_runs_every_row_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    run = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--python", sys.executable, "--smoke", "--json", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["smoke"] is True and data["device"] == "cpu" and data["gpu"] is None
    assert data["skipped"] == {} and data["stopped"] is None
    assert set(data["rows"]) == EXPECTED
    for key, row in data["rows"].items():
        for field in ("seconds", "p95_s"):
            assert isinstance(row[field], float) and math.isfinite(row[field]) and row[field] > 0, (key, row)
        assert row["p95_s"] >= row["seconds"], (key, row)
        assert row["n"] >= 1 and row["peak_vram_mb"] is None, (key, row)
    assert data["rows"]["click.sam_vit_b.fp32"]["n"] > 1 and data["rows"]["hover.sam_hq_vit_b.fp32"]["n"] > 1
    # the printed table: header lines, the column header, and one line per row
    lines = run.stdout.splitlines()
    assert any(line.startswith("GPU table (benchmarks/gpu.sh) - ") for line in lines)
    assert any(line.startswith("device: cpu (smoke") and "torch " in line for line in lines)
    header = next(line for line in lines if line.startswith("| row "))
    assert [c.strip() for c in header.strip("|").split("|")] == ["row", "dtype", "p50 s", "p95 s", "n", "peak VRAM MB", "note"]
    table = [line for line in lines if line.startswith("| ") and not line.startswith("| row ")]
    assert len(table) == len(EXPECTED)
    for row in data["rows"].values():
        assert any(line.startswith(f"| {row['name']} ") and f"| {row['dtype']} " in line for line in table), row
