"""The README's examples run as written.

Every fenced shell block in README.md carries a marker on the line before its fence:
``<!-- runnable -->`` (run here) or ``<!-- needs: REASON -->`` (skipped with that reason: a GPU, a
download, a WebUI, a server that runs until Ctrl+C). Runnable blocks are executed with bash, in
README order, in a temporary folder laid out as the README says a user's folder is: the clone in
``inpaint-anything/`` (here: links to this checkout), ``photo.png``/``mask.png`` and
``photos/``/``masks/`` next to it. The app is started the way the README starts it
(``bash inpaint-anything/tools/run.sh``, which runs ``python -m inpaint_anything``), on a free port
that the examples read from ``$IA``, with an empty models folder (``HOME`` is the temp folder) and
no network (``HF_HUB_OFFLINE=1``). The only stand-in is ``tools/venv.sh``, which prints this test's
environment instead of building one.

Each runnable block must have a check below that looks at what it produced (files, JSON, text).
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inpaint_anything.models.readme_table import END, START, readme_block

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHELLS = ("bash", "sh", "shell", "console")
MARKER = re.compile(r"^<!--\s*(runnable|needs:\s*(?P<why>.+?))\s*-->$")
BOX = (slice(150, 300), slice(200, 380))  # the red object in photo.png (rows, columns)
MASK = (slice(140, 310), slice(190, 390))
BLOCK_TIMEOUT = 180


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    code: str
    marker: str | None  # "runnable", "needs: ...", or None

    @property
    def needs(self) -> str | None:
        m = re.match(r"needs:\s*(.+)", self.marker or "")
        return m.group(1) if m else None

    @property
    def title(self) -> str:
        first = next((ln for ln in self.code.splitlines() if ln.strip()), "")
        return f"L{self.line}:{first[:50]}"


def shell_blocks(text: str) -> list[Block]:
    """Fenced shell blocks with the marker line above each (the nearest non-blank line)."""
    lines = text.splitlines()
    out, i = [], 0
    while i < len(lines):
        fence = re.match(r"^(`{3,})\s*(\w+)?\s*$", lines[i])
        if not fence:
            i += 1
            continue
        ticks, lang = fence.group(1), (fence.group(2) or "").lower()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith(ticks)), len(lines))
        if lang in SHELLS:
            above = next((lines[k].strip() for k in range(i - 1, -1, -1) if lines[k].strip()), "")
            m = MARKER.match(above)
            out.append(Block(i + 1, "\n".join(lines[i + 1 : end]) + "\n", m.group(1) if m else None))
        i = end + 1
    return out


BLOCKS = shell_blocks(README.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------- static checks
def test_every_shell_block_is_marked():
    unmarked = [b.title for b in BLOCKS if b.marker is None]
    assert not unmarked, (
        f"mark these README shell blocks with <!-- runnable --> or <!-- needs: why --> on the line before the fence: {unmarked}"
    )
    assert sum(b.marker == "runnable" for b in BLOCKS) >= 6


def test_sam_table_matches_the_catalogue():
    text = README.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1
    block = text[text.index(START) : text.index(END) + len(END)]
    assert block == readme_block(), "regenerate it: python -m inpaint_anything.models.readme_table"


def test_local_links_resolve():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(((?!https?:|#)[^)]+)\)", text)
    assert "docs/benchmarks.md" in targets and "docs/real-hosts.md" in targets
    for target in targets:
        assert (ROOT / target.split("#")[0]).exists(), target
    anchors = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", text, re.M)}
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        assert anchor in anchors, anchor


# ---------------------------------------------------------------------------------------------- the user's folder
def _photo() -> tuple[np.ndarray, np.ndarray]:
    """A 640x480 photo-sized PNG (noisy, so about 0.8 MB, like a real photo) with a red object."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:480, 0:640]
    base = np.stack([xx * 200 // 640 + 20, yy * 200 // 480 + 20, np.full_like(xx, 120)], -1)
    img = np.clip(base + rng.integers(-40, 40, base.shape), 0, 255).astype(np.uint8)
    img[BOX] = (220, 30, 30)
    mask = np.zeros((480, 640), np.uint8)
    mask[MASK] = 255
    return img, mask


def _shadow_checkout(target: Path) -> None:
    """``target`` looks like a clone of this checkout: links to its files, except tools/venv.sh,
    which prints this interpreter's environment (so nothing is built)."""
    target.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in ("tools", ".git"):
            (target / entry.name).symlink_to(entry)
    tools = target / "tools"
    tools.mkdir()
    for tool in (ROOT / "tools").iterdir():
        if tool.name != "venv.sh":
            (tools / tool.name).symlink_to(tool)
    (tools / "venv.sh").write_text(f"#!/usr/bin/env bash\necho {sys.prefix!s}\n")


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory):
    work = tmp_path_factory.mktemp("readme")
    _shadow_checkout(work / "inpaint-anything")
    img, mask = _photo()
    (work / "photos").mkdir()
    (work / "masks").mkdir()
    for path in (work / "photo.png", work / "photos" / "photo.png"):
        Image.fromarray(img).save(path)
    for path in (work / "mask.png", work / "masks" / "photo.png"):
        Image.fromarray(mask).save(path)
    assert (work / "photo.png").stat().st_size > 450_000
    (work / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IA_", "PYTHONPATH", "XDG_"))}
    env.update(HOME=str(work / "home"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    return work, env, img


@pytest.fixture(scope="module")
def app_url(user_folder):
    """The app as the README starts it, on a free port; its URL (as $IA)."""
    work, env, _ = user_folder
    proc = subprocess.Popen(
        ["bash", "inpaint-anything/tools/run.sh", "--port", "0", "--log-level", "warning"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    url, seen = None, []
    try:
        while url is None:
            line = lines.get(timeout=120)
            seen.append(line)
            m = re.search(r"(http://127\.0\.0\.1:\d+)/ ", line)
            url = m.group(1) if m else None
    except queue.Empty:
        proc.kill()
        pytest.fail(f"the app did not start: {''.join(seen)[-3000:]}")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)


# ---------------------------------------------------------------------------------------------- checks per block
def _png(path: Path) -> np.ndarray:
    assert path.is_file(), f"{path} was not written"
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def _object_removed(out: np.ndarray, img: np.ndarray) -> None:
    assert out.shape == img.shape
    red = out[BOX].astype(int)
    assert (red[..., 0] - red[..., 1]).mean() < 100, "the red object is still there"
    outside = np.ones(img.shape[:2], bool)
    outside[130:330, 170:410] = False  # the mask plus its blend band
    assert np.array_equal(out[outside], img[outside]), "pixels outside the mask changed"


def check_doctor(work: Path, out: str, img: np.ndarray) -> None:
    assert "What will work here:" in out and "Selection: GrabCut only — no SAM model" in out
    assert f"Output folder: {work / 'outputs' / 'inpaint-anything'}" in out


def check_help(work: Path, out: str, img: np.ndarray) -> None:
    assert "usage: python -m inpaint_anything" in out and "batch" in out and "doctor" in out


def check_batch_masks(work: Path, out: str, img: np.ndarray) -> None:
    assert "remove: 1 done, 0 skipped, 0 failed" in out
    _object_removed(_png(work / "out" / "photo.png"), img)
    assert json.loads((work / "out" / "batch-report.json").read_text())


def check_batch_manifest(work: Path, out: str, img: np.ndarray) -> None:
    assert "remove: 1 done" in out
    result = _png(work / "out-boxes" / "photo.png")
    red = result[BOX].astype(int)
    assert (red[..., 0] - red[..., 1]).mean() < 100 and np.array_equal(result[:100], img[:100])


def check_batch_outpaint(work: Path, out: str, img: np.ndarray) -> None:
    assert "outpaint: 1 done" in out
    result = _png(work / "out-wide" / "photo.png")
    assert result.shape == (480, 768, 3)
    assert np.array_equal(result[:, :600], img[:, :600])  # the original, outside the 16 px overlap
    assert result[:, 660:].std() > 1  # a filled border, not a blank one


def check_batch_ray(work: Path, out: str, img: np.ndarray) -> None:
    report = json.loads((work / "out-ray" / "batch-report.json").read_text())
    assert report["engine"] == "ray" and report["counts"] == {"done": 1, "skipped": 0, "failed": 0}
    _object_removed(_png(work / "out-ray" / "photo.png"), img)
    local = work / "out" / "photo.png"  # the local engine's run of the same images, earlier in the README
    assert not local.exists() or (work / "out-ray" / "photo.png").read_bytes() == local.read_bytes()


def check_version(work: Path, out: str, img: np.ndarray) -> None:
    assert json.loads(out)["api_version"] == 1


def check_rest_remove(work: Path, out: str, img: np.ndarray) -> None:
    assert (work / "remove.json").stat().st_size > 600_000  # too long for an argument
    answer = json.loads((work / "answer.json").read_text())
    assert len(answer["images"]) == 1 and answer["infotexts"][0]
    (saved,) = answer["saved"]
    assert re.fullmatch(r"\d{5}-remove\.png", saved) and f"saved: ['{saved}']" in out
    on_disk = _png(work / "outputs" / "inpaint-anything" / saved)  # the app's folder is where it started
    result = _png(work / "result.png")
    assert np.array_equal(on_disk, result)
    _object_removed(result, img)


def check_rest_session(work: Path, out: str, img: np.ndarray) -> None:
    m = re.search(r"(\d+) pixels selected", out)
    assert m and int(m.group(1)) > 0.8 * 150 * 180, out
    removed = _png(work / "removed.png")
    red = removed[BOX].astype(int)
    assert (red[..., 0] - red[..., 1]).mean() < 100


CHECKS: dict[str, Callable[[Path, str, np.ndarray], None]] = {
    "run.sh doctor": check_doctor,
    "inpaint_anything --help": check_help,
    "--output out/": check_batch_masks,
    "--output out-boxes/": check_batch_manifest,
    "--output out-wide/": check_batch_outpaint,
    "--output out-ray/": check_batch_ray,
    "/inpaint-anything/v1/version": check_version,
    "--data-binary @remove.json": check_rest_remove,
    "/grabcut": check_rest_session,
}


def _params():
    for block in BLOCKS:
        if block.marker == "runnable":
            yield pytest.param(block, id=block.title)
        elif block.needs:
            yield pytest.param(block, id=block.title, marks=pytest.mark.skip(reason=f"needs {block.needs}"))


@pytest.mark.parametrize("block", list(_params()))
def test_readme_block(block: Block, user_folder, app_url):
    work, env, img = user_folder
    for tool in ("curl", "python3", "base64"):
        if tool in block.code and shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if "--engine ray" in block.code and importlib.util.find_spec("ray") is None:
        pytest.skip("Ray is not installed (requirements/ray.txt)")
    checks = [check for key, check in CHECKS.items() if key in block.code]
    assert checks, f"README block at line {block.line} has no check in tests/test_readme.py; add one to CHECKS"
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.code],
        cwd=work,
        env={**env, "IA": app_url},
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
    )
    assert run.returncode == 0, f"exit {run.returncode}\n--- stdout\n{run.stdout[-3000:]}\n--- stderr\n{run.stderr[-3000:]}"
    for check in checks:
        check(work, run.stdout, img)


def test_started_app_serves_docs_and_page_from_this_machine(app_url):
    import httpx

    page = httpx.get(app_url + "/docs", timeout=30)
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert urls and all(u.startswith("/") for u in urls)
    for url in urls:
        assert httpx.get(app_url + url, timeout=30).status_code == 200, url
    assert "gradio" in httpx.get(app_url + "/", timeout=30).text.lower()  # the tab is mounted at /
