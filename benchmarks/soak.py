"""Soak benchmark of the standalone server (a script that prints numbers, not a test).

Starts ``python -m inpaint_anything serve --no-ui`` as a subprocess on 127.0.0.1, port 0, with temporary
models and output folders, offline, and measures the server process's RSS (``/proc/<pid>/status``):

1. ``--cycles`` (default 1000) create -> upload (1 MP PNG) -> GrabCut (box) -> remove (Telea) -> fetch the
   result -> delete cycles across ``--clients`` (default 8) threads. Reports errors, lost results (a
   remove that answered 200 but whose result cannot be listed/fetched), RSS after the first 50 cycles
   and after the run, both read with no request running (target: within +200 MB).
2. ``--idle`` (default 500) sessions, each with a 1 MP image, left idle on a second server with a small
   session budget (``--session-mb``, default 256): bytes used within the budget (``GET /status``), RSS,
   and whether the oldest sessions answer 410 Gone. (Phases 1 and 3 run on a server with the default
   budget, so that 8 busy clients are not evicted.)
3. ``--large`` (default 4) parallel ~60 MB requests (a 3900x3900 noise PNG in a JSON ``/remove``):
   RSS before, right after, and after ``--settle`` seconds. The server gives freed memory back after
   large requests (glibc ``malloc_trim``); ``--no-trim`` runs it without, for comparison.

    $VENV/bin/python benchmarks/soak.py                # full run
    $VENV/bin/python benchmarks/soak.py --cycles 200   # quicker

Only loopback; every loop is bounded; the server is stopped at the end (also on errors).
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
P = "/inpaint-anything/v1"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def png_b64(arr: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", compress_level=1)
    return base64.b64encode(buf.getvalue()).decode()


def photo_like(width: int, height: int, seed: int) -> np.ndarray:
    """A smooth image with a darker blob (GrabCut has something to find), plus mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.dstack([120 + 60 * np.sin(x / 97.0), 110 + 50 * np.cos(y / 83.0), 140 + 40 * np.sin((x + y) / 131.0)])
    blob = ((x - width * 0.5) ** 2 / (width * 0.18) ** 2 + (y - height * 0.5) ** 2 / (height * 0.2) ** 2) < 1
    img[blob] = (40, 60, 30)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


class Server:
    def __init__(self, session_mb: int, log_path: str, trim: bool = True):
        self.tmp = tempfile.TemporaryDirectory(prefix="ia-soak-")
        env = {
            **os.environ,
            "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            "IA_MALLOC_TRIM": "1" if trim else "0",
        }
        args = [
            sys.executable,
            "-m",
            "inpaint_anything",
            "serve",
            "--no-ui",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--log-level",
            "warning",
            "--ia-models-dir",
            os.path.join(self.tmp.name, "models"),
            "--ia-output-dir",
            os.path.join(self.tmp.name, "out"),
            "--ia-offline",
            "true",
            "--ia-session-memory-mb",
            str(session_mb),
        ]
        self.log = open(log_path, "a")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env, cwd=self.tmp.name)
        line = self.proc.stdout.readline()  # "Inpaint Anything x.y: http://127.0.0.1:PORT/ ..."
        if "http://" not in line:
            self.stop()
            raise SystemExit(f"the server did not start: {line!r} (log: {log_path})")
        self.url = line.split("http://", 1)[1].split()[0].rstrip("/")
        self.url = "http://" + self.url

    @property
    def rss(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
        self.tmp.cleanup()


def cycles(server: Server, n: int, clients: int, image_b64: str, size: tuple[int, int]) -> dict:
    import httpx

    w, h = size
    box = [int(w * 0.25), int(h * 0.22), int(w * 0.75), int(h * 0.78)]
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "errors": 0, "lost": 0, "rss50": None, "error_samples": []}

    def fail(what: str) -> None:
        with lock:
            state["errors"] += 1
            if len(state["error_samples"]) < 5:
                state["error_samples"].append(what)

    def worker(limit: int) -> None:
        with httpx.Client(base_url=server.url + P, timeout=300) as http:
            while True:
                with lock:
                    if state["next"] >= limit:
                        return
                    state["next"] += 1
                try:
                    r = http.post("/sessions")
                    if r.status_code != 200:
                        fail(f"create {r.status_code}")
                        continue
                    sid = r.json()["session_id"]
                    steps = [
                        ("image", {"image": image_b64}),
                        ("grabcut", {"box": box}),
                        ("remove", {"method": "telea", "padding": 32}),
                    ]
                    ok = True
                    for name, body in steps:
                        r = http.post(f"/sessions/{sid}/{name}", json=body)
                        if r.status_code != 200:
                            fail(f"{name} {r.status_code} {r.text[:120]}")
                            ok = False
                            break
                        if name == "grabcut" and not r.json().get("selected_pixels", 1):
                            fail("grabcut selected nothing")
                    if ok:
                        listed = http.get(f"/sessions/{sid}/results")
                        got = http.get(f"/sessions/{sid}/results/0")
                        if (
                            listed.status_code != 200
                            or len(listed.json()["results"]) != 1
                            or got.status_code != 200
                            or not got.content.startswith(b"\x89PNG")
                        ):
                            with lock:
                                state["lost"] += 1
                    r = http.delete(f"/sessions/{sid}")
                    if r.status_code != 200:
                        fail(f"delete {r.status_code}")
                except httpx.HTTPError as exc:
                    fail(f"{type(exc).__name__}: {exc}")
                with lock:
                    state["done"] += 1
                    if state["done"] % 50 == 0:
                        print(f"  ... {state['done']}/{n} cycles, RSS {server.rss:.0f} MB", file=sys.stderr, flush=True)

    def run(limit: int) -> None:
        threads = [threading.Thread(target=worker, args=(limit,)) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    t0 = time.perf_counter()
    run(min(50, n))  # RSS is read with no request running: after the first 50 cycles, and at the end
    state["rss50"] = server.rss
    run(n)
    state["seconds"] = time.perf_counter() - t0
    state["rss_end"] = server.rss
    return state


def idle_sessions(server: Server, n: int, image_b64: str) -> dict:
    import httpx

    ids = []
    with httpx.Client(base_url=server.url + P, timeout=120) as http:
        errors = 0
        for _ in range(n):
            sid = http.post("/sessions").json()["session_id"]
            if http.post(f"/sessions/{sid}/image", json={"image": image_b64}).status_code != 200:
                errors += 1
            ids.append(sid)
        status = http.get("/status").json()
        answers = [http.get(f"/sessions/{sid}").status_code for sid in ids]
    gone = answers.count(410)
    first_alive = next((i for i, a in enumerate(answers) if a == 200), None)
    return {
        "errors": errors,
        "status": status,
        "rss": server.rss,
        "gone": gone,
        "alive": answers.count(200),
        "other": len(answers) - gone - answers.count(200),
        "first_alive": first_alive,
        "oldest_gone": all(a == 410 for a in answers[: max(1, gone)]) if gone else False,
    }


def large_requests(server: Server, n: int, settle: float) -> dict:
    import httpx

    side = 3900  # noise does not compress: ~45 MB PNG, ~61 MB as base64 JSON (under the 64 MB default limit)
    rng = np.random.default_rng(1)
    image = png_b64(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
    mask = np.zeros((side, side), np.uint8)
    mask[1900:2000, 1900:2000] = 255
    body = {"image": image, "mask": png_b64(mask), "method": "telea", "padding": 16}
    size_mb = len(image) / 1e6
    before = server.rss

    def one(_: int) -> int:
        with httpx.Client(base_url=server.url + P, timeout=600) as http:
            return http.post("/remove", json=body).status_code

    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            peak[0] = max(peak[0], server.rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with ThreadPoolExecutor(n) as pool:
        codes = list(pool.map(one, range(n)))
    stop.set()
    sampler.join()
    right_after = server.rss
    time.sleep(settle)
    return {
        "codes": codes,
        "body_mb": size_mb,
        "before": before,
        "peak": peak[0],
        "right_after": right_after,
        "settled": server.rss,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--session-mb", type=int, default=256, help="--ia-session-memory-mb of the server")
    parser.add_argument("--large", type=int, default=4)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds idle before the last RSS reading")
    parser.add_argument("--no-trim", action="store_true", help="server without malloc_trim after large requests")
    parser.add_argument("--log", default=os.path.join(tempfile.gettempdir(), "ia-soak-server.log"))
    args = parser.parse_args(argv)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopping the script stops its server too

    side = int(round((args.megapixels * 1e6) ** 0.5))
    w, h = side, side
    image_b64 = png_b64(photo_like(w, h, 0))
    server = Server(8192, args.log, trim=not args.no_trim)
    try:
        print(
            f"server pid {server.proc.pid} at {server.url}; RSS at start {server.rss:.0f} MB; image {w}x{h} "
            f"({len(image_b64) / 1e6:.1f} MB base64)",
            flush=True,
        )
        if args.cycles:
            c = cycles(server, args.cycles, args.clients, image_b64, (w, h))
            growth = c["rss_end"] - (c["rss50"] or float("nan"))
            print(
                f"[cycles] {c['done']} cycles x {args.clients} clients in {c['seconds']:.0f} s "
                f"({c['done'] / c['seconds']:.2f}/s): errors {c['errors']}, lost results {c['lost']}",
                flush=True,
            )
            print(
                f"[cycles] RSS after {min(50, args.cycles)} cycles {c['rss50']:.0f} MB, after the run "
                f"{c['rss_end']:.0f} MB: {growth:+.0f} MB (target within +200 MB)",
                flush=True,
            )
            for sample_ in c["error_samples"]:
                print(f"[cycles]   error: {sample_}")
        if args.large:
            g = large_requests(server, args.large, args.settle)
            print(
                f"[large] {args.large} parallel {g['body_mb']:.0f} MB requests -> {g['codes']}; RSS before "
                f"{g['before']:.0f} MB, peak {g['peak']:.0f} MB, right after {g['right_after']:.0f} MB, after "
                f"{args.settle:.0f} s {g['settled']:.0f} MB ({g['settled'] - g['before']:+.0f} MB)",
                flush=True,
            )
    finally:
        server.stop()
    if args.idle:
        server = Server(args.session_mb, args.log, trim=not args.no_trim)
        try:
            start = server.rss
            s = idle_sessions(server, args.idle, image_b64)
            st = s["status"]
            print(
                f"[idle] {args.idle} sessions with a {w}x{h} image, budget {args.session_mb} MB: upload errors "
                f"{s['errors']}; /status: {st['sessions']} sessions hold {st['bytes_used'] / 2**20:.0f} MB of "
                f"{st['budget_bytes'] / 2**20:.0f} MB, {st['expired_sessions']} expired",
                flush=True,
            )
            print(
                f"[idle] answers: {s['alive']} alive (200), {s['gone']} gone (410), {s['other']} other; oldest "
                f"sessions 410: {s['oldest_gone']}; first alive is #{s['first_alive']}; RSS {start:.0f} MB at start, "
                f"{s['rss']:.0f} MB with the sessions ({s['rss'] - start:+.0f} MB)",
                flush=True,
            )
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
