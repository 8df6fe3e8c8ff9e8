"""The examples in /openapi.json are bodies the API accepts (issue #15): for every route with a JSON
body, the body built from its fields' examples is posted and must not be refused as invalid."""

from __future__ import annotations

import pytest
from test_api import ANYIO_ALIAS, P, client, models_app  # noqa: F401 - fixtures

from inpaint_anything.api.schemas import EXAMPLE_IMAGE, EXAMPLE_MASK

pytestmark = pytest.mark.filterwarnings(ANYIO_ALIAS)


def _resolve(schema: dict, doc: dict) -> dict:
    while "$ref" in schema:
        node = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _resolve(schema["allOf"][0], doc)
    return schema


def _field_example(prop: dict) -> tuple[bool, object]:
    if "example" in prop:
        return True, prop["example"]
    if prop.get("examples"):
        return True, prop["examples"][0]
    return False, None


def example_body(schema: dict, doc: dict) -> dict:
    """The body made of every field's example; each required field must have one."""
    schema = _resolve(schema, doc)
    body = {}
    for name, prop in schema.get("properties", {}).items():
        found, value = _field_example(prop)
        if found:
            body[name] = value
        else:
            assert name not in schema.get("required", []), f"required field {name!r} has no example"
    return body


@pytest.mark.both_stacks
def test_every_json_body_example_is_accepted(client):  # noqa: F811
    doc = client.get("/openapi.json").json()
    sid = client.post(f"{P}/sessions").json()["session_id"]
    assert client.post(f"{P}/sessions/{sid}/image", json={"image": EXAMPLE_IMAGE}).status_code == 200
    assert client.post(f"{P}/sessions/{sid}/mask", json={"mask": EXAMPLE_MASK}).status_code == 200
    answers = {}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" not in content or "{index}" in path or "{task_id}" in path:
                continue
            body = example_body(content["application/json"]["schema"], doc)
            if "{session_id}" in path and not path.endswith(("/image", "/mask")):
                body = {k: v for k, v in body.items() if k not in ("image", "mask")}  # the session holds them
            r = client.request(method.upper(), path.replace("{session_id}", sid), json=body)
            answers[(method, path)] = r.status_code
            if path.endswith("/text") and r.status_code == 409:  # valid body; this app has no text detector
                assert r.json()["code"] in ("offline", "model_not_found"), r.text[:300]
                continue
            assert r.status_code < 400, (method, path, r.status_code, r.text[:300])
    tried = {p.rsplit("/", 1)[-1] for _, p in answers}
    assert {"image", "mask"} <= tried  # the session upload routes (JSON or multipart)
    # the stateless and session routes of every kind were posted
    assert {
        "points",
        "box",
        "everything",
        "grabcut",
        "click",
        "scribble",
        "brush",
        "inpaint",
        "remove",
        "outpaint",
        "batch",
    } <= tried, tried
    assert len(answers) >= 18, answers


@pytest.mark.both_stacks
def test_examples_are_in_the_document_in_the_stacks_format(client):  # noqa: F811
    doc = client.get("/openapi.json").json()
    remove = _resolve(doc["paths"][f"{P}/remove"]["post"]["requestBody"]["content"]["application/json"]["schema"], doc)
    image = remove["properties"]["image"]
    if doc["openapi"].startswith("3.0"):  # fastapi 0.94 / pydantic 1: OpenAPI 3.0 has one 'example'
        assert image["example"] == EXAMPLE_IMAGE
    else:  # OpenAPI 3.1 (JSON Schema 2020-12): 'examples' is a list
        assert image["examples"] == [EXAMPLE_IMAGE]
