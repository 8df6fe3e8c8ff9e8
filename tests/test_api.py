"""The REST API through FastAPI's TestClient: every route on tiny models, bad input -> exact 4xx,
async tasks with progress and interrupt."""

from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
import threading
import time

import numpy as np
import pytest

from inpaint_anything.app import App
from inpaint_anything.config import Settings
from inpaint_anything.jobs import JobControl

P = "/inpaint-anything/v1"
# starlette 0.26's TestClient (a1111 stack) uses an alias that anyio 4 deprecates
ANYIO_ALIAS = "ignore:The anyio.abc.BlockingPortal alias:DeprecationWarning"
pytestmark = pytest.mark.filterwarnings(ANYIO_ALIAS)


# ---------------------------------------------------------------------------------------------- helpers
def make_client(fastapi_app):
    """A TestClient on both stacks: starlette < 0.36 passes ``app=`` to httpx.Client, which httpx 0.28
    (in the forge stack) no longer accepts; the transport does the work, so drop the argument."""
    import httpx
    from fastapi.testclient import TestClient

    try:
        return TestClient(fastapi_app)
    except TypeError:
        original = httpx.Client.__init__

        def init(self, *args, app=None, **kwargs):
            original(self, *args, **kwargs)

        httpx.Client.__init__ = init
        try:
            return TestClient(fastapi_app)
        finally:
            httpx.Client.__init__ = original


def png_bytes(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, "PNG")
    return buf.getvalue()


def b64png(arr: np.ndarray) -> str:
    arr = np.asarray(arr)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    return base64.b64encode(png_bytes(arr)).decode()


def decode_png(data: str | bytes):
    """(array, infotext) of a base64 PNG string or PNG bytes."""
    from PIL import Image

    raw = base64.b64decode(data) if isinstance(data, str) else data
    with Image.open(io.BytesIO(raw)) as im:
        return np.asarray(im).copy(), im.info.get("parameters")


def scene(h: int = 48, w: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A gradient with a red square, and the square's mask."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), np.full_like(xx, 90)], -1).astype(np.uint8)
    mask = np.zeros((h, w), bool)
    mask[h // 4 : h // 2 + 4, w // 4 : w // 2 + 4] = True
    img[mask] = (220, 30, 30)
    return img, mask


def build_client(app: App, **router_kw):
    from fastapi import FastAPI

    from inpaint_anything.api import build_router

    fastapi_app = FastAPI()
    fastapi_app.include_router(build_router(app, **router_kw))
    return make_client(fastapi_app)


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def empty_app(tmp_path) -> App:
    """No model files at all (what a fresh machine has)."""
    return App(Settings(models_dir=str(tmp_path / "models"), offline=True, sam_device="cpu", max_image_pixels=200_000))


@pytest.fixture
def bare(empty_app):
    return build_client(empty_app)


@pytest.fixture
def models_app(tmp_path, tiny_sam_files, tiny_sd_inpaint_dir) -> App:
    models = tmp_path / "models"
    (models / "diffusers").mkdir(parents=True)
    shutil.copy(tiny_sam_files["sam"], models / "my_model_01.pth")
    os.symlink(tiny_sd_inpaint_dir, models / "diffusers" / "tiny-sd")
    return App(Settings(models_dir=str(models), offline=True, sam_device="cpu", default_sam_model="file:my_model_01.pth"))


@pytest.fixture
def client(models_app):
    return build_client(models_app)


def new_session(c, image: np.ndarray) -> str:
    sid = c.post(f"{P}/sessions").json()["session_id"]
    r = c.post(f"{P}/sessions/{sid}/image", json={"image": b64png(image)})
    assert r.status_code == 200, r.text
    return sid


# ---------------------------------------------------------------------------------------------- schema / listing
@pytest.mark.both_stacks
def test_openapi_schema_is_served_and_every_ref_resolves(bare):
    schema = bare.get("/openapi.json").json()
    paths = schema["paths"]
    assert all(p.startswith(P) for p in paths)
    for route in (
        "/version",
        "/models/sam",
        "/models/sam/{model_id}/download",
        "/models/inpaint",
        "/backends",
        "/sessions",
        "/sessions/{session_id}",
        "/sessions/{session_id}/image",
        "/sessions/{session_id}/mask",
        "/sessions/{session_id}/mask/alpha",
        "/segment/points",
        "/segment/box",
        "/segment/everything",
        "/sessions/{session_id}/click",
        "/sessions/{session_id}/box",
        "/sessions/{session_id}/everything",
        "/sessions/{session_id}/scribble",
        "/sessions/{session_id}/grabcut",
        "/sessions/{session_id}/mask/op",
        "/sessions/{session_id}/undo",
        "/sessions/{session_id}/redo",
        "/inpaint",
        "/remove",
        "/outpaint",
        "/sessions/{session_id}/inpaint",
        "/batch",
        "/tasks/{task_id}",
        "/tasks/{task_id}/interrupt",
    ):
        assert P + route in paths, route
    upload = paths[P + "/sessions/{session_id}/image"]["post"]["requestBody"]["content"]
    assert set(upload) == {"application/json", "multipart/form-data"}
    inpaint = paths[P + "/inpaint"]["post"]
    assert "202" in inpaint["responses"] and any(p["name"] == "async" for p in inpaint["parameters"])

    def refs(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    yield v
                else:
                    yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    components = schema["components"]["schemas"]
    found = set(refs(schema))
    assert found and all(r.startswith("#/components/schemas/") and r.split("/")[-1] in components for r in found)
    req = components["RequestParams"]["properties"]
    assert req["steps"]["default"] == 20 and set(req["masked_content"]["enum"]) >= {"fill", "original"}


@pytest.mark.both_stacks
def test_listing_routes(client, models_app):
    assert client.get(f"{P}/version").json()["api_version"] == 1
    sam = client.get(f"{P}/models/sam").json()
    ids = {m["id"]: m for m in sam["models"]}
    assert ids["file:my_model_01.pth"]["downloaded"] and ids["sam_vit_b"]["downloaded"] is False
    assert sam["default"] == "file:my_model_01.pth" and sam["offline"] is True
    inpaint = client.get(f"{P}/models/inpaint").json()
    assert "tiny-sd" in inpaint["diffusers"] and not any(os.path.isabs(m) for m in inpaint["diffusers"])
    listed = {m["name"]: m for m in inpaint["diffusers_models"]}
    assert listed["tiny-sd"] == {
        "name": "tiny-sd",
        "source": "models",
        "usable": True,
        "reason": "",
        "family": "sd1",
        "format": "diffusers",
    }
    assert {"telea", "ns"} <= set(inpaint["cleaner"]) and "blur" in inpaint["prefills"]
    assert client.get(f"{P}/backends").json()["backends"][:3] == ["diffusers", "controlnet", "cleaner"]


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.both_stacks
@pytest.mark.parametrize(
    ("route", "body", "status", "message"),
    [
        ("/remove", {"image": "%%%not base64%%%", "mask": "x"}, 422, "is not valid base64"),
        ("/remove", {"image": base64.b64encode(b"hello, not an image").decode(), "mask": "x"}, 422, "not an image format"),
        ("/remove", {"image": "data:image/png,rawbytes", "mask": "x"}, 422, "must be base64-encoded"),
        ("/remove", {"image": "TRUNCATED", "mask": "MASK"}, 422, "damaged or incomplete"),
        ("/remove", {"image": "IMG", "mask": "SMALLMASK"}, 422, "The mask is 10x10 pixels but the image is 64x48"),
        ("/remove", {"image": "IMG", "mask": "EMPTYMASK"}, 422, "The mask is empty"),
        ("/remove", {"image": "HUGE", "mask": "MASK"}, 413, "more than the limit of 200,000 pixels"),
        ("/remove", {"image": "IMG"}, 422, "Send 'image' and 'mask'"),
        ("/remove", {"image": "IMG", "mask": "MASK", "method": "lama"}, 409, "Offline mode is on"),
        ("/remove", {"image": "IMG", "mask": "MASK", "method": "migan"}, 409, "migan_traced.pt"),
        ("/remove", {"image": "IMG", "mask": "MASK", "mask_blur": 99}, 422, "Mask blur must be 0..64"),
        ("/inpaint", {"image": "IMG", "mask": "MASK", "backend": "foo"}, 422, "Unknown backend 'foo'"),
        ("/inpaint", {"image": "IMG", "mask": "MASK", "model": "../x"}, 422, "looks like a file path"),
        ("/inpaint", {"image": "IMG", "mask": "MASK", "model": "/etc/passwd"}, 422, "looks like a file path"),
        ("/inpaint", {"image": "IMG", "mask": "MASK", "model": "someone/unknown"}, 404, "Unknown inpainting model"),
        ("/inpaint", {"image": "IMG", "mask": "MASK", "backend": "cleaner", "model": "magic"}, 422, "Unknown cleaner"),
        (
            "/inpaint",
            {"image": "IMG", "mask": "MASK", "backend": "cleaner", "request": {"steps": 0}},
            422,
            "Steps must be between 1 and 150",
        ),
        (
            "/inpaint",
            {"image": "IMG", "mask": "MASK", "backend": "cleaner", "options": {"native_size": 33}},
            422,
            "native_size must be 0",
        ),
        ("/segment/points", {"image": "IMG", "points": [[5, 5]], "model": "nope"}, 404, "Unknown model 'nope'"),
        ("/segment/points", {"image": "IMG", "points": [[5, 5]], "model": "../../x.pth"}, 422, "not a SAM model id"),
        ("/segment/points", {"image": "IMG", "points": [[5, 5]], "model": "file:../secret.pth"}, 422, "not a SAM model id"),
        ("/segment/points", {"image": "IMG", "points": [[5, 5]], "model": "/abs/sam.pth"}, 422, "not a SAM model id"),
        ("/segment/points", {"image": "IMG", "points": [[5, 5]], "model": "sam_vit_b"}, 404, "not downloaded yet"),
        ("/segment/points", {"image": "IMG", "points": [[5, 5, 7]]}, 422, "labels must be 1 (object) or 0"),
        ("/segment/points", {"image": "IMG", "points": []}, 422, "at least one point"),
        ("/segment/grabcut", {"image": "IMG", "box": [1, 2, 3]}, 422, "four numbers"),
        ("/segment/grabcut", {"image": "IMG", "box": [500, 500, 600, 600]}, 422, "has no area inside the 64x48 image"),
        ("/segment/everything", {"image": "IMG", "points_per_side": 500}, 422, "Points per side must be from 1 to 64"),
        ("/outpaint", {"image": "IMG", "backend": "cleaner"}, 422, "Nothing to outpaint"),
        ("/outpaint", {"image": "IMG", "backend": "cleaner", "expansion": {"left": -8}}, 422, "cannot be negative"),
        (
            "/outpaint",
            {"image": "IMG", "backend": "cleaner", "expansion": {"mode": "aspect", "preset": "5:1"}},
            422,
            "Unknown aspect preset",
        ),
        (
            "/outpaint",
            {"image": "IMG", "backend": "cleaner", "expansion": {"right": 2000, "down": 2000}},
            413,
            "more than the limit",
        ),
        ("/outpaint", {"image": "IMG", "backend": "cleaner", "zoom_out": {"steps": 0}}, 422, "Zoom-out steps"),
        ("/batch", {"items": [], "backend": "cleaner"}, 422, "Send 1 to 256 items"),
        ("/models/sam/sam_nope/download", None, 404, "Unknown model 'sam_nope'"),
        ("/models/sam/sam_vit_b/download", None, 409, "put it in the folder"),
        ("/models/sam/file:..%5Cx/download", None, 422, "not a SAM model id"),
        ("/sessions/nope/click", {"x": 1, "y": 1}, 404, "There is no session 'nope'"),
        ("/tasks/nope/interrupt", None, 404, "There is no task 'nope'"),
    ],
)
def test_bad_input_gives_4xx_with_a_clear_message(bare, route, body, status, message):
    img, mask = scene()
    small = np.zeros((10, 10), np.uint8)
    good_png = png_bytes(img)
    subst = {
        "IMG": b64png(img),
        "MASK": b64png(mask),
        "SMALLMASK": b64png(small),
        "EMPTYMASK": b64png(np.zeros_like(mask)),
        "HUGE": b64png(np.zeros((500, 500, 3), np.uint8)),
        "TRUNCATED": base64.b64encode(good_png[: len(good_png) // 2]).decode(),
    }

    def fill(value):
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return subst.get(value, value) if isinstance(value, str) else value

    r = bare.post(P + route, json=fill(body)) if body is not None else bare.post(P + route)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]


@pytest.mark.both_stacks
def test_pydantic_validation_stays_422_with_field_locations(bare):
    img, mask = scene()
    cases = [
        ({"image": 5, "mask": b64png(mask)}, "image"),  # wrong type
        ({"image": b64png(img), "mask": b64png(mask), "colour": 1}, "colour"),  # unknown field
        ({"image": b64png(img), "mask": b64png(mask), "method": "magic"}, "method"),  # not in the enum
        ({"image": b64png(img), "mask": b64png(mask), "mask_blur": 2.5}, "mask_blur"),  # not an integer
    ]
    for body, field in cases:
        r = bare.post(f"{P}/remove", json=body)
        assert r.status_code == 422, body
        body = r.json()
        assert body["code"] == "validation_error" and field in body["detail"]
        assert any(field in map(str, d["loc"]) for d in body["errors"])
    r = bare.post(f"{P}/remove", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = bare.post(
        f"{P}/sessions/{bare.post(f'{P}/sessions').json()['session_id']}/image",
        content=b"{nope",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]


@pytest.mark.both_stacks
def test_nan_and_infinity_inputs_are_422_not_500(bare):
    """Python's json reads NaN/Infinity; pydantic 2 echoes the input in its errors, and strict JSON
    cannot carry NaN back, so the route renders those errors itself."""
    for raw in (b'{"image": NaN, "mask": "x"}', b'{"image": "x", "mask": "y", "mask_blur": Infinity}'):
        r = bare.post(f"{P}/remove", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422 and isinstance(r.json()["errors"], list) and isinstance(r.json()["detail"], str)
    img, _ = scene()
    raw = b'{"image": "' + b64png(img).encode() + b'", "points": [[NaN, 3]]}'
    r = bare.post(f"{P}/segment/grabcut", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "(x, y) pixel positions" in r.json()["detail"]


@pytest.mark.both_stacks
def test_no_models_end_to_end_grabcut_remove_outpaint(bare):
    """A machine without any model file: GrabCut selection, classical removal, pre-fill outpaint."""
    img, truth = scene(60, 80)
    sid = bare.post(f"{P}/sessions").json()["session_id"]
    r = bare.post(f"{P}/sessions/{sid}/image", files={"image": ("s.png", png_bytes(img), "image/png")})
    assert r.json() == {"width": 80, "height": 60, "has_alpha": False, "embedding": "none"}
    ys, xs = np.nonzero(truth)
    r = bare.post(
        f"{P}/sessions/{sid}/grabcut", json={"box": [int(xs.min()) - 3, int(ys.min()) - 3, int(xs.max()) + 4, int(ys.max()) + 4]}
    )
    sel = decode_png(r.json()["mask"])[0] > 0
    assert (sel & truth).sum() / (sel | truth).sum() > 0.8
    assert r.json()["selected_pixels"] == int(sel.sum())
    bare.post(f"{P}/sessions/{sid}/mask/op", json={"op": "grow", "px": 3})
    r = bare.post(f"{P}/sessions/{sid}/remove", json={"method": "telea"})
    assert r.status_code == 200, r.text
    out, text = decode_png(r.json()["images"][0])
    assert 'Inpaint backend: "cleaner:telea"' in text and out.shape == img.shape
    assert out[truth].mean(axis=0)[0] < 200  # the red square is gone
    assert np.array_equal(out[:5, -5:], img[:5, -5:])  # far pixels untouched
    r = bare.post(
        f"{P}/outpaint",
        json={
            "image": b64png(img),
            "backend": "cleaner",
            "model": "telea",
            "expansion": {"right": 32, "up": 16},
            "prefill": "edge",
        },
    )
    out, text = decode_png(r.json()["images"][0])
    assert out.shape == (76, 112, 3) and r.json()["size"] == [112, 76]
    assert np.array_equal(out[16 + 20 : 16 + 40, 10:40], img[20:40, 10:40])  # the original's middle is exact
    assert 'Outpaint: "left 0, right 32, up 16, down 0"' in text
    r = bare.post(
        f"{P}/outpaint",
        json={
            "image": b64png(img),
            "backend": "cleaner",
            "prefill": "blur",
            "request": {"seed": 7},
            "zoom_out": {"steps": 2, "scale": 1.5},
        },
    )
    body = r.json()
    assert len(body["images"]) == 2 and body["seeds"] == [7, 8]
    assert decode_png(body["images"][1])[0].shape == img.shape and "Zoom out step: 2/2" in body["infotexts"][1]


# ---------------------------------------------------------------------------------------------- sessions with SAM
def test_session_tools_with_sam(client, astronaut):
    img = np.ascontiguousarray(astronaut[::4, ::4])  # 128x128
    sid = new_session(client, img)
    info = client.get(f"{P}/sessions/{sid}").json()
    assert info["size"] == [128, 128] and info["selected_pixels"] == 0
    r = client.post(f"{P}/sessions/{sid}/click", json={"x": 64, "y": 64}).json()
    assert len(r["masks"]) == 3 and len(r["scores"]) == 3 and r["scores"] == sorted(r["scores"], reverse=True)
    first = decode_png(r["masks"][0])[0] > 0
    assert np.array_equal(decode_png(r["mask"])[0] > 0, first)
    mask_png, _ = decode_png(client.get(f"{P}/sessions/{sid}/mask").content)
    assert np.array_equal(mask_png > 0, first)
    r = client.post(f"{P}/sessions/{sid}/box", json={"box": [10, 10, 90, 100]}).json()
    assert len(r["masks"]) == 1
    boxed = decode_png(r["mask"])[0] > 0
    grown = decode_png(client.post(f"{P}/sessions/{sid}/mask/op", json={"op": "grow", "px": 4}).json()["mask"])[0] > 0
    assert grown.sum() >= boxed.sum()
    undone = client.post(f"{P}/sessions/{sid}/undo").json()
    assert np.array_equal(decode_png(undone["mask"])[0] > 0, boxed)
    redone = client.post(f"{P}/sessions/{sid}/redo").json()
    assert np.array_equal(decode_png(redone["mask"])[0] > 0, grown)
    brushed = client.post(
        f"{P}/sessions/{sid}/brush",
        json={
            "strokes": [
                {"mode": "erase", "radius": 200, "points": [[64, 64]]},
                {"mode": "add", "radius": 5, "points": [[20, 20], [40, 20]]},
            ]
        },
    ).json()
    m = decode_png(brushed["mask"])[0] > 0
    assert m[20, 30] and not m[100, 100]
    rgba, _ = decode_png(client.get(f"{P}/sessions/{sid}/mask/alpha").content)
    assert rgba.shape == (128, 128, 4) and np.array_equal(rgba[..., :3], img) and np.array_equal(rgba[..., 3] > 0, m)
    r = client.post(f"{P}/sessions/{sid}/scribble", json={"scribble": b64png(m)})
    assert r.status_code == 422 and "Segment everything" in r.json()["detail"]
    seg = client.post(
        f"{P}/sessions/{sid}/everything",
        json={"points_per_side": 4, "pred_iou_thresh": 0, "stability_thresh": 0, "min_area_frac": 0},
    ).json()
    assert seg["count"] >= 1 and "masks" not in seg
    assert decode_png(seg["segment_map"])[0].shape == (128, 128, 3)
    scribble = np.zeros((128, 128), bool)
    scribble[60:64, 10:120] = True
    picked = client.post(
        f"{P}/sessions/{sid}/scribble", json={"scribble": b64png(scribble), "mode": "replace", "ignore_unsegmented": False}
    ).json()
    assert (decode_png(picked["mask"])[0] > 0)[scribble].all()
    assert client.delete(f"{P}/sessions/{sid}").json()["deleted"] is True
    assert client.post(f"{P}/sessions/{sid}/undo").status_code == 404


def test_stateless_segmentation(client, astronaut):
    img = np.ascontiguousarray(astronaut[::4, ::4])
    r = client.post(f"{P}/segment/points", json={"image": b64png(img), "points": [[64, 64]]}).json()
    assert len(r["masks"]) == 3 and decode_png(r["masks"][0])[0].shape == (128, 128)
    one = client.post(f"{P}/segment/points", json={"image": b64png(img), "points": [[64, 64]], "multimask": False})
    assert len(one.json()["masks"]) == 1
    two = client.post(f"{P}/segment/points", json={"image": b64png(img), "points": [[64, 64, 1], [5, 5, 0]]}).json()
    assert len(two["masks"]) == 1
    box = client.post(f"{P}/segment/box", json={"image": b64png(img), "box": [10, 10, 90, 100]}).json()
    assert len(box["masks"]) == 1 and len(box["scores"]) == 1
    ev = client.post(
        f"{P}/segment/everything",
        json={
            "image": "data:image/png;base64," + b64png(img),
            "points_per_side": 4,
            "pred_iou_thresh": 0,
            "stability_thresh": 0,
            "min_area_frac": 0,
            "keep": {"largest": 1},
        },
    ).json()
    assert len(ev["masks"]) == ev["count"] == len(ev["segments"]) >= 1
    largest = max(ev["segments"], key=lambda s: s["area"])
    assert ev["kept"] == [largest["index"]]
    assert np.array_equal(decode_png(ev["mask"])[0] > 0, decode_png(ev["masks"][largest["index"]])[0] > 0)
    gc = client.post(f"{P}/segment/grabcut", json={"image": b64png(img), "points": [[64, 64]], "labels": [1]})
    assert gc.status_code == 200 and gc.json()["selected_pixels"] > 0


# ---------------------------------------------------------------------------------------------- generation
def test_inpaint_with_tiny_diffusers_stateless_and_on_a_session(client):
    img, mask = scene(64, 64)
    body = {
        "image": b64png(img),
        "mask": b64png(mask),
        "backend": "diffusers",
        "model": "tiny-sd",
        "options": {"native_size": 64, "device": "cpu"},
        "request": {"prompt": "a cat", "steps": 2, "seed": 42, "inpaint_area": "whole", "mask_blur": 2},
    }
    r = client.post(f"{P}/inpaint", json=body)
    assert r.status_code == 200, r.text
    out, text = decode_png(r.json()["images"][0])
    assert r.json()["seeds"] == [42] and r.json()["parameters"]["steps"] == 2
    assert text.startswith("a cat\n") and "Seed: 42" in text and "Model: tiny-sd" in text and "Steps: 2" in text
    ys, xs = np.nonzero(mask)
    far = np.ones_like(mask)
    far[ys.min() - 8 : ys.max() + 9, xs.min() - 8 : xs.max() + 9] = False
    assert far.sum() > 1000 and np.array_equal(out[far], img[far])  # away from the mask: bit-identical
    sid = new_session(client, img)
    r = client.post(f"{P}/sessions/{sid}/inpaint", json={**body, "image": None})
    assert r.status_code == 200
    again, _ = decode_png(r.json()["images"][0])
    assert np.array_equal(again, out)  # same seed, same request: the same picture
    results = client.get(f"{P}/sessions/{sid}/results").json()["results"]
    assert [x["kind"] for x in results] == ["inpaint"] and results[0]["seed"] == 42
    png, text2 = decode_png(client.get(f"{P}/sessions/{sid}/results/0").content)
    assert np.array_equal(png, out) and text2 == text
    r = client.post(f"{P}/sessions/{sid}/inpaint", json={**body, "mask": None})
    assert r.status_code == 422 and "already has its image" in r.json()["detail"]
    used = client.post(f"{P}/sessions/{sid}/results/0/use").json()
    assert used == {"width": 64, "height": 64}
    assert client.get(f"{P}/sessions/{sid}/results/5").status_code == 404


def test_batch_route_reports_bad_items_and_continues(bare):
    img, mask = scene()
    items = [
        {"name": "good", "image": b64png(img), "mask": b64png(mask)},
        {"name": "broken", "image": "bm90IGFuIGltYWdl", "mask": b64png(mask)},
        {"name": "wrong-size", "image": b64png(img), "mask": b64png(np.ones((9, 9), np.uint8) * 255)},
        {"name": "grabcut", "image": b64png(img), "box": [14, 10, 38, 30]},
    ]
    r = bare.post(f"{P}/batch", json={"op": "remove", "method": "telea", "segmenter": "grabcut", "items": items})
    assert r.status_code == 200, r.text
    body = r.json()
    by_name = {i["name"]: i for i in body["items"]}
    assert body["counts"] == {"done": 2, "failed": 2, "skipped": 0}
    assert "not an image format" in by_name["broken"]["reason"]
    assert "is 9x9 pixels but the image is 64x48" in by_name["wrong-size"]["reason"]
    out, text = decode_png(by_name["good"]["images"][0])
    assert out.shape == img.shape and "cleaner:telea" in text


@pytest.mark.both_stacks
def test_batch_route_never_starts_ray_for_a_request(bare, monkeypatch):
    """ "engine": "ray" needs Ray installed and a cluster the operator set (RAY_ADDRESS): a request never
    makes the server start a Ray or join an address it names. Refusals are 422, with what to do."""
    import importlib.util
    import sys

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    if "ray" in sys.modules and sys.modules["ray"].is_initialized():
        pytest.skip("a Ray is running in this test process")
    img, mask = scene()
    body = {"op": "remove", "method": "telea", "engine": "ray", "items": [{"image": b64png(img), "mask": b64png(mask)}]}
    r = bare.post(f"{P}/batch", json=body)
    assert r.status_code == 422
    if importlib.util.find_spec("ray") is None:
        assert 'pip install "ray[default]==' in r.json()["detail"]
    else:
        assert "no Ray cluster" in r.json()["detail"] and "RAY_ADDRESS" in r.json()["detail"]
        assert not sys.modules.get("ray") or not sys.modules["ray"].is_initialized()
    r = bare.post(f"{P}/batch", json={**body, "ray_address": "203.0.113.9:6379"})
    assert r.status_code == 422 and "ray_address" in r.json()["detail"]
    r = bare.post(f"{P}/batch", json={**body, "engine": "spark"})
    assert r.status_code == 422


# ---------------------------------------------------------------------------------------------- tasks
class SlowBackend:
    """Steps forever (until interrupted) so a test can watch progress and interrupt it."""

    name = "slow"
    native_size = 0
    multiple = 1

    def __init__(self, started: threading.Event):
        self.started = started

    def generate(self, image, mask, request, seed, job):
        for i in range(10_000):
            job.step(i, 10_000, f"slow step {i}")
            self.started.set()
            time.sleep(0.005)
        return image


def wait_for(c, task_id, done, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        snap = c.get(f"{P}/tasks/{task_id}").json()
        if done(snap):
            return snap
        time.sleep(0.02)
    raise AssertionError(f"task {task_id} did not get there in {timeout} s: {snap}")


def test_async_task_progress_result_and_interrupt(empty_app):
    started = threading.Event()
    empty_app.register_backend("slow", lambda model="", **kw: SlowBackend(started))
    names = []

    @contextlib.contextmanager
    def factory(name):
        names.append(name)
        yield JobControl()

    c = build_client(empty_app, job_factory=factory)
    img, mask = scene()
    r = c.post(f"{P}/remove?async=true", json={"image": b64png(img), "mask": b64png(mask)})
    assert r.status_code == 202 and r.json()["status"] in ("queued", "running", "done")
    done = wait_for(c, r.json()["task_id"], lambda s: s["status"] == "done")
    assert done["progress"] == 1.0 and decode_png(done["result"]["images"][0])[0].shape == img.shape
    r = c.post(f"{P}/inpaint?async=true", json={"image": b64png(img), "mask": b64png(mask), "backend": "slow"})
    task_id = r.json()["task_id"]
    assert started.wait(30)
    running = wait_for(c, task_id, lambda s: s["status"] == "running" and s["progress"] > 0)
    assert running["text"].startswith("slow step") and "result" not in running
    assert any(t["task_id"] == task_id for t in c.get(f"{P}/tasks").json()["tasks"])
    waiting = c.post(f"{P}/inpaint?async=true", json={"image": b64png(img), "mask": b64png(mask), "backend": "slow"})
    assert waiting.json()["status"] == "queued"  # one worker: it waits for the running task
    assert c.post(f"{P}/tasks/{waiting.json()['task_id']}/interrupt").json()["status"] == "queued"
    c.post(f"{P}/tasks/{task_id}/interrupt")
    stopped = wait_for(c, task_id, lambda s: s["status"] != "running")
    assert stopped["status"] == "interrupted" and stopped["error"]["status_code"] == 409
    never = wait_for(c, waiting.json()["task_id"], lambda s: s["status"] != "queued")
    assert never["status"] == "interrupted" and "before it started" in never["error"]["detail"]
    assert names == ["remove object", "inpaint"]  # the second job never entered the job factory
    # errors found before a task starts are reported at once, not as a failed task
    r = c.post(f"{P}/inpaint?async=true", json={"image": b64png(img), "mask": b64png(mask), "backend": "nope"})
    assert r.status_code == 422


def test_sam_download_task_for_a_present_file(client, models_app):
    r = client.post(f"{P}/models/sam/file:my_model_01.pth/download")
    assert r.status_code == 202
    snap = wait_for(client, r.json()["task_id"], lambda s: s["status"] != "queued" and s["status"] != "running")
    assert snap["status"] == "done" and snap["result"]["path"] == "my_model_01.pth"  # relative
    r = client.post(f"{P}/models/sam/file:missing.pth/download?async=false")
    assert r.status_code == 404 and "missing.pth" in r.json()["detail"]
