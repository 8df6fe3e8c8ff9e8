"""The Ray batch engine (``batch --engine ray``) on a local Ray that this module starts (2 CPUs, no
dashboard): outputs bit-identical to the local engine, resuming, a worker killed mid-batch (every item
still done exactly once), a worker that dies after writing (not written again), an item that kills its
worker every time (retried, then reported), a corrupt image (reported, the others finish), the CLI and
``POST /batch``, and the diffusers backend built in the workers. Classical removal (telea) on small
images and the tiny models keep it quick."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ray = pytest.importorskip(
    "ray", reason="Ray is not installed (pip install -r requirements/ray.txt); the Ray engine's tests need it"
)

from inpaint_anything.app import App  # noqa: E402
from inpaint_anything.batch import REPORT_NAME, BatchOptions, BatchRunner, collect_items, run_batch  # noqa: E402
from inpaint_anything.batch_ray import BatchWorker, run_batch_ray  # noqa: E402
from inpaint_anything.batch_spec import EngineOptions  # noqa: E402
from inpaint_anything.config import Settings  # noqa: E402
from inpaint_anything.inpaint.cleaner import removal_request  # noqa: E402

pytestmark = pytest.mark.slow  # starting Ray takes a few seconds


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    if ray.is_initialized():
        ray.shutdown()
    ray.init(
        num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False, _node_ip_address="127.0.0.1"
    )  # this machine only
    yield
    ray.shutdown()


def scene(seed: int, h: int = 40, w: int = 56) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 4, yy * 5, np.full_like(xx, 80)], -1).clip(0, 255).astype(np.uint8)
    img = np.clip(img + rng.integers(0, 6, img.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((h, w), bool)
    mask[10:24, 12:30] = True
    img[mask] = (230, 20, 20)
    return img, mask


@pytest.fixture
def folder(tmp_path):
    """n00..n09 with masks; n03 is corrupt."""
    images, masks = tmp_path / "in", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i in range(10):
        img, mask = scene(i)
        Image.fromarray(img).save(images / f"n{i:02d}.png")
        Image.fromarray(mask.astype(np.uint8) * 255).save(masks / f"n{i:02d}.png")
    (images / "n03.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return images, masks


@pytest.fixture
def app(tmp_path) -> App:
    return App(Settings(models_dir=str(tmp_path / "models"), offline=True, sam_device="cpu"))


def remove() -> BatchOptions:
    return BatchOptions(op="remove", request=removal_request(), method="telea")


def two_workers(**kw) -> EngineOptions:
    return EngineOptions(engine="ray", workers=2, **kw)


def pngs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def names(entries) -> list[str]:
    return [e["name"] for e in entries]


def test_same_outputs_and_report_as_the_local_engine_and_a_rerun_skips(app, folder, tmp_path):
    images, masks = folder
    local = run_batch(app, collect_items(images, masks), remove(), tmp_path / "local")
    seen = []
    report = run_batch_ray(
        app,
        collect_items(images, masks),
        remove(),
        tmp_path / "ray",
        engine=two_workers(),
        on_item=lambda i, n, name, status: seen.append((name, status)),
    )
    assert pngs(tmp_path / "ray") == pngs(tmp_path / "local")  # bit-identical files
    assert len(pngs(tmp_path / "ray")) == 9
    assert names(report.done) == names(local.done) and report.failed == local.failed  # the items' order
    assert "not an image format" in report.failed[0]["reason"] and report.failed[0]["name"] == "n03"
    assert sorted(seen) == sorted((f"n{i:02d}", "failed" if i == 3 else "done") for i in range(10))
    saved = json.loads((tmp_path / "ray" / REPORT_NAME).read_text())
    assert saved["engine"] == "ray" and saved["counts"] == {"done": 9, "skipped": 0, "failed": 1}
    assert saved["retries"] == [] and 1 <= len(saved["workers"]) <= 2 and sum(saved["workers"].values()) == 10
    assert not list((tmp_path / "ray").glob(".*"))  # no temp file left behind

    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ray").glob("*.png")}
    again = run_batch_ray(app, collect_items(images, masks), remove(), tmp_path / "ray", engine=two_workers())
    assert len(again.skipped) == 9 and not again.done and names(again.failed) == ["n03"]
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ray").glob("*.png")} == stamps


def test_a_worker_killed_mid_batch_loses_nothing_and_writes_nothing_twice(app, folder, tmp_path):
    images, masks = folder
    log = tmp_path / "runs.log"

    marker = tmp_path / "holding"

    class Logged(BatchRunner):  # defined here: Ray ships it to the workers by value
        paths = (str(log), str(marker))

        def run_item(self, item, job=None):
            with open(self.paths[0], "a") as fh:
                fh.write(f"{item.name}\n")
            if item.name == "n05" and not os.path.exists(self.paths[1]):
                with open(self.paths[1], "w") as fh:  # this worker holds n05: the test kills it now
                    fh.write(str(os.getpid()))
                time.sleep(60)
            time.sleep(0.15)
            return super().run_item(item, job)

    def killer() -> None:  # kills the worker in the middle of n05, as the OOM killer or `ray.kill` would
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (marker.exists() and marker.read_text()):
            time.sleep(0.05)
        os.kill(int(marker.read_text()), signal.SIGKILL)

    seen = []
    watcher = threading.Thread(target=killer, daemon=True)
    watcher.start()
    report = run_batch_ray(
        app,
        collect_items(images, masks),
        remove(),
        tmp_path / "ray",
        engine=two_workers(),
        on_item=lambda index, total, name, status: seen.append((name, status)),
        runner_class=Logged,
    )
    watcher.join(5)
    run_batch(app, collect_items(images, masks), remove(), tmp_path / "local")
    assert pngs(tmp_path / "ray") == pngs(tmp_path / "local")
    assert sorted(names(report.done)) == sorted(f"n{i:02d}" for i in range(10) if i != 3)
    assert names(report.failed) == ["n03"]
    assert "n05" in {r["name"] for r in report.retries} and all("died" in r["reason"] for r in report.retries)
    retried = {r["name"] for r in report.retries}
    assert {name for name, status in seen if status == "retried"} == retried
    finished = [name for name, status in seen if status != "retried"]
    assert sorted(finished) == sorted(set(finished)) and len(finished) == 10  # each item finished once
    runs = log.read_text().split()
    # an item ran twice only when the killed worker held it (and had not finished it)
    assert all(runs.count(n) == 1 for n in set(runs) - retried) and all(runs.count(n) <= 2 for n in retried)


def test_an_item_whose_worker_died_after_writing_is_done_not_redone(app, folder, tmp_path):
    images, masks = folder
    marker, log = tmp_path / "crashed", tmp_path / "runs.log"

    class CrashAfterWriting(BatchWorker):
        paths = (str(marker), str(log))

        def process(self, item, targets, overwrite):
            with open(self.paths[1], "a") as fh:
                fh.write(f"{item.name}\n")
            result = super().process(item, targets, overwrite)
            if item.name == "n05" and not os.path.exists(self.paths[0]):
                open(self.paths[0], "w").close()
                os._exit(1)  # dies after the outputs were renamed into place, before answering
            return result

    report = run_batch_ray(
        app, collect_items(images, masks), remove(), tmp_path / "ray", engine=two_workers(), worker_class=CrashAfterWriting
    )
    assert marker.exists() and "n05" in names(report.done)
    assert "n05" not in {r["name"] for r in report.retries}
    assert log.read_text().split().count("n05") == 1  # not run (or written) again
    run_batch(app, collect_items(images, masks), remove(), tmp_path / "local")
    assert pngs(tmp_path / "ray") == pngs(tmp_path / "local")


def test_an_item_that_kills_its_worker_is_retried_then_reported(app, folder, tmp_path):
    images, masks = folder

    class Poison(BatchRunner):
        def run_item(self, item, job=None):
            if item.name == "n07":
                os._exit(1)  # what the out-of-memory killer does to a worker
            return super().run_item(item, job)

    report = run_batch_ray(
        app, collect_items(images, masks), remove(), tmp_path / "ray", engine=two_workers(max_retries=1), runner_class=Poison
    )
    failed = {f["name"]: f["reason"] for f in report.failed}
    assert set(failed) == {"n03", "n07"}
    assert "its worker died 2 times" in failed["n07"]
    assert [r["name"] for r in report.retries] == ["n07"]
    assert len(report.done) == 8  # the others finish


def test_cli_engine_ray(folder, tmp_path, capsys):
    from inpaint_anything.__main__ import main

    images, masks = folder
    out = tmp_path / "cli"
    code = main(
        [
            "batch",
            "--input",
            str(images),
            "--masks",
            str(masks),
            "--op",
            "remove",
            "--method",
            "telea",
            "--output",
            str(out),
            "--engine",
            "ray",
            "--workers",
            "2",
            "--no-progress",
            "--ia-models-dir",
            str(tmp_path / "m"),
            "--ia-offline",
        ]
    )
    assert code == 3  # n03 failed
    assert "remove: 9 done, 0 skipped, 1 failed" in capsys.readouterr().out
    assert json.loads((out / REPORT_NAME).read_text())["engine"] == "ray"


@pytest.mark.filterwarnings("ignore:The anyio.abc.BlockingPortal alias:DeprecationWarning")
def test_api_batch_on_ray_answers_like_the_local_engine(tmp_path):
    from test_api import b64png, build_client

    app = App(Settings(models_dir=str(tmp_path / "models"), offline=True, sam_device="cpu", max_image_pixels=200_000))
    client = build_client(app)
    items = [{"name": f"i{i}", "image": b64png(scene(i)[0]), "mask": b64png(scene(i)[1])} for i in range(3)]
    items.append({"name": "broken", "image": "bm90IGFuIGltYWdl", "mask": items[0]["mask"]})
    body = {"op": "remove", "method": "telea", "items": items}
    here = client.post("/inpaint-anything/v1/batch", json=body)
    there = client.post("/inpaint-anything/v1/batch", json={**body, "engine": "ray", "workers": 2})
    assert here.status_code == there.status_code == 200, there.text
    assert there.json() == here.json()
    refused = client.post("/inpaint-anything/v1/batch", json={**body, "engine": "ray", "ray_address": "10.0.0.1:6379"})
    assert refused.status_code == 422 and "ray_address" in refused.text


def test_sam_masks_from_a_manifest_load_the_model_once_per_worker(tmp_path, tiny_sam_files):
    import shutil

    from inpaint_anything.batch import load_manifest

    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(tiny_sam_files["sam"], models / "tiny.pth")
    app = App(Settings(models_dir=str(models), offline=True, sam_device="cpu", default_sam_model="file:tiny.pth"))
    data = tmp_path / "data"
    data.mkdir()
    rows = []
    for i in range(6):
        Image.fromarray(scene(i)[0]).save(data / f"s{i}.png")
        rows.append({"image": f"data/s{i}.png", "points": [[20, 16]], "labels": [1]})
    (tmp_path / "job.json").write_text(json.dumps(rows))
    log = tmp_path / "loads.log"

    class Counting(BatchWorker):
        log_path = str(log)

        def process(self, item, targets, overwrite):
            result = super().process(item, targets, overwrite)
            with open(self.log_path, "a") as fh:
                fh.write(f"{self.label} {self.runner.app.sam_cache.loads}\n")
            return result

    report = run_batch_ray(
        app, load_manifest(tmp_path / "job.json"), remove(), tmp_path / "ray", engine=two_workers(), worker_class=Counting
    )
    assert len(report.done) == 6, report.failed
    loads: dict[str, int] = {}
    for line in log.read_text().splitlines():
        worker, n = line.split()
        loads[worker] = max(loads.get(worker, 0), int(n))
    assert set(loads.values()) == {1}  # each worker loaded SAM once, for all its items
    local = run_batch(app, load_manifest(tmp_path / "job.json"), remove(), tmp_path / "local")
    assert len(local.done) == 6 and pngs(tmp_path / "ray") == pngs(tmp_path / "local")


def test_a_worker_that_cannot_start_says_why(app, folder, tmp_path):
    from inpaint_anything.errors import InvalidInputError

    images, masks = folder
    with pytest.raises(InvalidInputError, match="Choose an inpainting model"):
        run_batch_ray(
            app,
            collect_items(images, masks),
            BatchOptions(op="inpaint"),
            tmp_path / "ray",
            engine=two_workers(),
            backend_spec=("diffusers", "", {}),
        )


def test_interrupt_skips_the_rest(app, folder, tmp_path):
    from inpaint_anything.jobs import JobControl

    images, masks = folder
    job = JobControl()

    def on_item(index, total, name, status):
        if status == "done":
            job.interrupt()

    report = run_batch_ray(
        app, collect_items(images, masks), remove(), tmp_path / "ray", engine=two_workers(), job=job, on_item=on_item
    )
    assert report.interrupted and report.done
    assert len(report.done) + len(report.skipped) + len(report.failed) == 10
    assert all(s["reason"] == "interrupted" for s in report.skipped) and report.skipped
    assert json.loads((tmp_path / "ray" / REPORT_NAME).read_text())["interrupted"] is True


def test_gpu_workers_need_gpus(app, folder, tmp_path):
    from inpaint_anything.errors import InvalidInputError

    images, masks = folder
    with pytest.raises(InvalidInputError, match="0 GPUs, not enough for one worker with 1 GPU"):
        run_batch_ray(
            app, collect_items(images, masks), remove(), tmp_path / "ray", engine=EngineOptions(engine="ray", gpus_per_worker=1.0)
        )


def test_diffusers_inpainting_in_the_workers(app, folder, tmp_path, tiny_sd_inpaint_dir):
    """The backend is built in each worker from (kind, model, options): the tiny SD pipeline, 2 steps.
    Not bit-identical on the CPU: torch runs with one thread in a worker (Ray sets OMP_NUM_THREADS to
    the worker's one CPU), which sums in another order."""
    from inpaint_anything.inpaint.request import InpaintRequest

    images, masks = folder
    items = [i for i in collect_items(images, masks) if i.name in ("n00", "n01", "n02", "n04")]
    options = BatchOptions(op="inpaint", request=InpaintRequest(steps=2, seed=7, prompt="grass"))
    spec = ("diffusers", str(tiny_sd_inpaint_dir), {"device": "cpu"})
    report = run_batch_ray(app, items, options, tmp_path / "ray", engine=two_workers(), backend_spec=spec)
    assert len(report.done) == 4, report.failed
    local = run_batch(app, items, options, tmp_path / "local", backend=app.backend(spec[0], spec[1], **spec[2]))
    assert len(local.done) == 4
    for name in ("n00.png", "n04.png"):
        ours = np.asarray(Image.open(tmp_path / "ray" / name)).astype(int)
        theirs = np.asarray(Image.open(tmp_path / "local" / name)).astype(int)
        assert ours.shape == theirs.shape and np.abs(ours - theirs).max() <= 2  # torch: 1 thread in a worker
