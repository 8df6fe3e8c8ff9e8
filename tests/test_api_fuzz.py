"""Property-based fuzz of the served OpenAPI schema: requests generated from each operation's JSON
schema (valid-looking values, wrong types, missing and unknown fields, garbage base64, damaged and
oversized images) must never produce a 5xx, and every error must be JSON with a ``detail``.

schemathesis is not used: its current releases need anyio >= 4, which conflicts with the forge stack's
fastapi 0.104 (anyio < 4). The generator below reads the same schema on both pydantic majors.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
from urllib.parse import quote

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_api import ANYIO_ALIAS, P, b64png, build_client, png_bytes

from inpaint_anything.app import App
from inpaint_anything.config import Settings

pytestmark = [pytest.mark.both_stacks, pytest.mark.filterwarnings(ANYIO_ALIAS)]

IMAGE_FIELDS = {"image", "mask", "scribble"}
ODD_FLOATS = st.sampled_from([float("nan"), float("inf"), -1e308, 1e308, -0.0])
COORD = st.floats(-2, 45) | st.integers(0, 40)
INT_RANGES = {  # realistic ranges, so many requests get past validation and exercise the core
    "px": (0, 12),
    "left": (-8, 80),
    "right": (-8, 80),
    "up": (-8, 80),
    "down": (-8, 80),
    "mask_blur": (0, 70),
    "padding": (0, 80),
    "steps": (0, 4),
    "overlap_px": (-1, 40),
    "min_area": (0, 500),
    "max_area": (0, 2000),
    "largest": (0, 3),
    "iterations": (0, 3),
    "points_per_side": (0, 4),
    "max_side": (8, 64),
    "max_masks": (0, 4),
    "batch_count": (0, 2),
    "labels": (-1, 2),
    "indices": (-1, 4),
    "mask_grow": (-1, 6),
    "native_size": (0, 70),
}
FLOAT_RANGES = {
    "x": (-2, 45),
    "y": (-2, 45),
    "scale": (1.0, 2.6),
    "balance_x": (-0.1, 1.1),
    "balance_y": (-0.1, 1.1),
    "cfg_scale": (0, 31),
    "denoising_strength": (0, 1.1),
    "radius": (-1, 20),
    "min_score": (-0.1, 1.1),
}
STRINGS = {
    "backend": ["cleaner", "cleaner", "cleaner", "diffusers", "webui"],
    "model": ["telea", "ns", "", "file:tiny.pth", "tiny-sd", "../x", "/etc/passwd", "nope", "sam_vit_b"],
    "sam_model": ["file:tiny.pth", "sam_vit_b", "../x"],
    "preset": ["16:9", "1:1", "9:21", "5:1"],
}
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True), st.text(max_size=12))
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _samples(size: tuple[int, int]) -> list[str]:
    """Image strings: good ones of the session's size (the first five, drawn more often), wrong sizes,
    damaged, not images, not base64."""
    from PIL import Image

    h, w = size
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), bool)
    mask[h // 4 : h // 2, w // 4 : w // 2] = True
    jpeg = io.BytesIO()
    Image.fromarray(img).save(jpeg, "JPEG")
    good = png_bytes(img)
    fine = [b64png(img), b64png(mask), "data:image/png;base64," + b64png(mask)]
    return (
        fine * 3
        + [
            b64png(img),
            b64png(mask),
            b64png(np.dstack([img, (mask * 255).astype(np.uint8)])),
            "data:image/png;base64," + b64png(mask),
            base64.b64encode(jpeg.getvalue()).decode(),
            b64png(np.zeros((9, 9), np.uint8)),
            b64png(np.zeros((300, 300, 3), np.uint8)),  # wrong size / too large
            base64.b64encode(good[: len(good) // 3]).decode(),
            base64.b64encode(b"\x89PNG\r\n\x1a\nxx").decode(),
            base64.b64encode(rng.bytes(64)).decode(),
            "",
            "====",
            "data:,hello",
            "not base64 at all!",
            "QQ",
        ]
    )


def _resolve(node: dict, components: dict) -> dict:
    while "$ref" in node:
        node = components[node["$ref"].split("/")[-1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(node["allOf"][0], components)
    return node


def strategy_for(node: dict, components: dict, images: list[str], name: str = "", depth: int = 0):
    """Values that mostly fit ``node`` (a JSON schema) with realistic ranges, sometimes not."""
    node = _resolve(node, components)
    if depth > 5:
        return JSON_SCALARS
    for key in ("anyOf", "oneOf"):
        if key in node:
            return st.one_of([strategy_for(n, components, images, name, depth + 1) for n in node[key]])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "const" in node:
        return st.just(node["const"])
    kind = node.get("type")
    if kind == "string":
        if name in IMAGE_FIELDS:
            return st.sampled_from(images)
        if name in STRINGS:
            return st.sampled_from(STRINGS[name])
        return st.text(max_size=12)
    if kind == "integer":
        lo, hi = INT_RANGES.get(name, (-5, 100))
        return st.one_of(
            st.integers(lo, hi), st.integers(lo, hi), st.integers(lo, hi), st.sampled_from([-1, 2**31, -(2**63), 10**30])
        )
    if kind == "number":
        lo, hi = FLOAT_RANGES.get(name, (-0.1, 1.1))
        return st.one_of(st.floats(lo, hi), st.floats(lo, hi), st.floats(lo, hi), ODD_FLOATS)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        if name == "points":
            return st.lists(st.lists(COORD, min_size=2, max_size=3) | st.lists(COORD, max_size=4), max_size=3)
        if name == "box":
            return st.lists(COORD, min_size=4, max_size=4) | st.lists(COORD, max_size=5)
        return st.lists(strategy_for(node.get("items", {}), components, images, name, depth + 1), max_size=3)
    props = node.get("properties")
    if kind == "object" or props:
        required = set(node.get("required", []))
        fields = {k: strategy_for(v, components, images, k, depth + 1) for k, v in (props or {}).items()}
        return st.fixed_dictionaries(
            {k: v for k, v in fields.items() if k in required}, optional={k: v for k, v in fields.items() if k not in required}
        )
    return ANY_JSON


def body_strategy(schema_node: dict, components: dict, images: list[str]):
    valid = strategy_for(schema_node, components, images)

    def mutate(body, how, junk):
        if not isinstance(body, dict) or not body:
            return junk
        key = sorted(body)[0]
        if how == "drop":
            return {k: v for k, v in body.items() if k != key}
        if how == "retype":
            return {**body, key: junk}
        return {**body, "unexpected_field": junk}

    broken = st.builds(mutate, valid, st.sampled_from(["drop", "retype", "extra"]), ANY_JSON)
    return st.one_of(valid, valid, valid, valid, broken, ANY_JSON)


class FuzzEnv:
    """The client and what the tests draw from (a short repr keeps hypothesis' reports readable)."""

    def __init__(self, client, sid: str, operations: dict, images: list[str], components: dict):
        self.client, self.sid, self.operations, self.images, self.components = client, sid, operations, images, components

    def __repr__(self) -> str:
        return "FuzzEnv()"


def send(client, method: str, url: str, body=None, **kwargs):
    """JSON is encoded here (NaN/Infinity allowed, as Python's json reads them; httpx 0.28 refuses)."""
    if body is not None:
        kwargs["content"] = json.dumps(body).encode()
        kwargs["headers"] = {"content-type": "application/json"}
    return client.request(method.upper(), url, **kwargs)


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory, tiny_sam_files):
    models = tmp_path_factory.mktemp("fuzz-models")
    shutil.copy(tiny_sam_files["sam"], models / "tiny.pth")
    app = App(
        Settings(
            models_dir=str(models),
            offline=True,
            sam_device="cpu",
            default_sam_model="file:tiny.pth",
            max_image_pixels=60_000,
            output_dir=str(tmp_path_factory.mktemp("fuzz-results")),
        )
    )  # save: true
    client = build_client(app)
    schema = client.get("/openapi.json").json()
    size = (32, 40)
    images = _samples(size)
    sid = client.post(f"{P}/sessions").json()["session_id"]
    assert client.post(f"{P}/sessions/{sid}/image", json={"image": images[0]}).status_code == 200
    components = schema.get("components", {}).get("schemas", {})
    operations = {}
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            content = op.get("requestBody", {}).get("content", {})
            json_schema = content.get("application/json", {}).get("schema")
            body = body_strategy(json_schema, components, images) if json_schema else None
            operations[f"{method.upper()} {path}"] = (method, path, op, body, "multipart/form-data" in content)
    return FuzzEnv(client, sid, operations, images, components)


def _path_value(name: str, sid: str, method: str):
    if name == "session_id":
        if method == "delete":
            return st.text(min_size=1, max_size=10)
        return st.one_of(st.just(sid), st.just(sid), st.just(sid), st.text(min_size=1, max_size=10))
    if name == "model_id":
        return st.sampled_from(["file:tiny.pth", "sam_vit_b", "sam_hq_vit_b", "file:..", "nope"]) | st.text(
            min_size=1, max_size=10
        )
    if name == "index":
        return st.integers(-2, 3).map(str) | st.text(min_size=1, max_size=4)
    return st.text(min_size=1, max_size=12)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_no_server_errors_for_generated_requests(fuzz_env, data):
    client, sid, images = fuzz_env.client, fuzz_env.sid, fuzz_env.images
    key = data.draw(st.sampled_from(sorted(fuzz_env.operations)), label="operation")
    method, path, op, body, multipart = fuzz_env.operations[key]
    url = path
    for param in op.get("parameters", []):
        if param["in"] == "path":
            value = data.draw(_path_value(param["name"], sid, method), label=param["name"])
            url = url.replace("{" + param["name"] + "}", quote(str(value), safe=""))
    query = {}
    if any(p["name"] == "async" for p in op.get("parameters", [])):
        query["async"] = "false"  # every error must surface in this response
    kwargs: dict = {"params": query}
    if multipart and data.draw(st.booleans(), label="multipart"):
        payload = data.draw(
            st.sampled_from(images).map(
                lambda s: base64.b64decode(s + "==", validate=False) if s and not s.startswith("data:") else s.encode()
            )
            | st.binary(max_size=64),
            label="file",
        )
        field = "mask" if path.endswith("/mask") else "image"
        kwargs["files"] = {data.draw(st.sampled_from([field, "other"]), label="field"): ("f.png", payload, "image/png")}
    elif body is not None:
        kwargs["body"] = data.draw(body, label="body")
    r = send(client, method, url, **kwargs)
    where = f"{method.upper()} {url} {str(kwargs)[:300]}"
    assert r.status_code < 500, f"{where} -> {r.status_code} {r.text[:500]}"
    if r.status_code >= 400:
        assert "detail" in r.json(), where
    elif r.headers.get("content-type", "").startswith("application/json"):
        r.json()


def _generation_case(components: dict, images: list[str]):
    """(route, body) for the generating routes with a usable backend and image, random otherwise."""
    good_image, good_mask = images[0], images[1]
    cases = []
    for route, component in (
        ("/inpaint", "InpaintBody"),
        ("/remove", "RemoveBody"),
        ("/outpaint", "OutpaintBody"),
        ("/sessions/{session_id}/outpaint", "OutpaintBody"),
    ):
        body = strategy_for(components[component], components, images)
        fixed = {
            "image": st.sampled_from([good_image] * 4 + images),
            "backend": st.just("cleaner"),
            "model": st.sampled_from(["telea", "ns", "patchmatch"]),
        }
        if route != "/outpaint" and "outpaint" not in route:
            fixed["mask"] = st.sampled_from([good_mask] * 4 + images)
        if component == "RemoveBody":
            fixed.pop("backend"), fixed.pop("model")
        if component == "OutpaintBody":
            sides = st.integers(0, 40)
            fixed["expansion"] = st.one_of(
                st.fixed_dictionaries({"left": sides, "right": sides, "up": sides, "down": sides}),
                st.fixed_dictionaries(
                    {
                        "mode": st.just("aspect"),
                        "preset": st.sampled_from(["16:9", "9:16", "1:1"]),
                        "balance_x": st.floats(0, 1),
                        "balance_y": st.floats(0, 1),
                    }
                ),
                st.fixed_dictionaries({"mode": st.just("scale"), "scale": st.floats(1.25, 2)}),
                st.none(),
            )  # none: no expansion (zoom-out frames, or "nothing to outpaint")
        if route.startswith("/sessions"):
            fixed.pop("image")
        drop = {"image"} if route.startswith("/sessions") else set()
        cases.append(
            st.tuples(st.just(route), body, st.fixed_dictionaries(fixed)).map(
                lambda t, drop=drop: (
                    t[0],
                    {k: v for k, v in {**t[1], **t[2]}.items() if k not in drop and not (k == "expansion" and v is None)},
                )
            )
        )
    return st.one_of(cases)


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_generation_routes_with_random_geometry_and_parameters(fuzz_env, data):
    client, sid = fuzz_env.client, fuzz_env.sid
    route, body = data.draw(_generation_case(fuzz_env.components, fuzz_env.images), label="case")
    r = send(client, "post", P + route.replace("{session_id}", sid), body)
    assert r.status_code < 500, f"{route} {str(body)[:400]} -> {r.status_code} {r.text[:500]}"
    if r.status_code >= 400:
        assert "detail" in r.json()
    else:
        out = r.json()
        assert len(out["images"]) == len(out["infotexts"]) == len(out["seeds"]) >= 1


def test_garbage_bodies_are_rejected_cleanly(fuzz_env):
    client, sid = fuzz_env.client, fuzz_env.sid
    for method, path, _op, body, _multipart in fuzz_env.operations.values():
        if body is None:
            continue
        url = path.replace("{session_id}", sid)
        for raw in (b"", b"null", b"[]", b"{", b"\xff\xfe", b'{"image": "' + b"A" * 5000 + b'"}'):
            r = client.request(method.upper(), url, content=raw, headers={"content-type": "application/json"})
            # (FastAPI treats an empty list like a missing body: routes whose fields all have
            # defaults may then answer 200)
            assert r.status_code < 500, f"{method} {url} {raw[:20]!r} -> {r.status_code} {r.text[:300]}"
            if r.status_code >= 400:
                assert "detail" in r.json()
            elif raw not in (b"", b"[]"):
                raise AssertionError(f"{method} {url} accepted {raw[:20]!r}")
