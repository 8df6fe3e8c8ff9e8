"""Server safety regressions (issue #15): odd image shapes on every SAM route answer a readable 4xx."""

from __future__ import annotations

import numpy as np
import pytest
from test_api import ANYIO_ALIAS, P, b64png, client, models_app, new_session  # noqa: F401 - fixtures

pytestmark = pytest.mark.filterwarnings(ANYIO_ALIAS)

MODEL = "file:my_model_01.pth"


@pytest.mark.parametrize("size", [(2100, 1), (1, 2100), (2100, 4), (200000, 1)])
def test_too_thin_images_get_a_readable_422_on_every_sam_route(client, size):  # noqa: F811
    w, h = size
    img = np.full((h, w, 3), 128, np.uint8)
    data = b64png(img)
    one_shot = [
        ("/segment/points", {"image": data, "points": [[w // 2, h // 2]], "model": MODEL}),
        ("/segment/box", {"image": data, "box": [0, 0, w - 1, h - 1], "model": MODEL}),
        ("/segment/everything", {"image": data, "model": MODEL, "points_per_side": 4}),
    ]
    for route, body in one_shot:
        r = client.post(P + route, json=body)
        assert r.status_code == 422, (route, r.status_code, r.text)
        assert "too thin for Segment Anything" in r.json()["detail"]
    sid = new_session(client, img)
    for route, body in [("click", {"x": w // 2, "y": h // 2, "model": MODEL}),
                        ("box", {"box": [0, 0, w - 1, h - 1], "model": MODEL}),
                        ("everything", {"model": MODEL, "points_per_side": 4})]:
        r = client.post(f"{P}/sessions/{sid}/{route}", json=body)
        assert r.status_code == 422, (route, r.status_code, r.text)
        assert f"{w}x{h}" in r.json()["detail"]


def test_thin_but_usable_images_still_segment(client):  # noqa: F811
    img = np.full((9, 2100, 3), 128, np.uint8)
    r = client.post(f"{P}/segment/points", json={"image": b64png(img), "points": [[1000, 4]], "model": MODEL})
    assert r.status_code == 200, r.text
