"""Pictures between the WebUI's tabs and ours: decoding what the browser sends, results to Extras,
and the tab's wiring of the host's send buttons and the Extras target (gradio 3 and 4)."""

from __future__ import annotations

import base64
import io
import json
import shutil

import numpy as np
import pytest

from inpaint_anything.app import App
from inpaint_anything.config import Settings
from inpaint_anything.errors import ImageTooLargeError, InvalidInputError
from inpaint_anything.ui import crosstab


def data_url(arr: np.ndarray, fmt: str = "PNG", mime: str = "image/png") -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@pytest.fixture
def app(tmp_path, tiny_sam_files):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(tiny_sam_files["sam"], models / "tiny_sam.pth")
    return App(
        Settings(
            models_dir=str(models),
            output_dir=str(tmp_path / "out"),
            sam_device="cpu",
            offline=True,
            default_sam_model="file:tiny_sam.pth",
            max_image_pixels=400 * 400,
        )
    )


def test_png_data_url_round_trips_exactly(astronaut):
    rgb = np.ascontiguousarray(astronaut[:300, :200])
    got = crosstab.image_from_data_url(data_url(rgb), 10**7)
    assert got.dtype == np.uint8 and np.array_equal(got, rgb)
    rgba = np.dstack([rgb, np.arange(200, dtype=np.uint8)[None, :].repeat(300, 0)])
    assert np.array_equal(crosstab.image_from_data_url(data_url(rgba), 10**7), rgba)  # alpha is kept


def test_other_formats_decode(astronaut):
    got = crosstab.image_from_data_url(data_url(astronaut, "JPEG", "image/jpeg"), 10**7)
    assert got.shape == astronaut.shape and np.abs(got.astype(int) - astronaut).mean() < 6
    gray = crosstab.image_from_data_url(data_url(astronaut[..., 0], "WEBP", "image/webp"), 10**7)
    assert gray.shape == astronaut.shape  # grey pictures come back as RGB


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ("", "There is no image in the txt2img gallery"),
        (None, "There is no image in the txt2img gallery"),
        ("error:HTTP 403 for the image", "could not read the image from the txt2img gallery (HTTP 403"),
        ("https://example.com/a.png", "is not an image"),
        ("data:text/plain;base64,aGVsbG8=", "is not an image"),
        ("data:image/png;base64,###", "arrived damaged"),
        ("data:image/png;base64," + base64.b64encode(b"not a picture").decode(), "could not be decoded"),
    ],
)
def test_bad_payloads_give_readable_errors(payload, needle):
    with pytest.raises(InvalidInputError, match=needle.replace("(", r"\(")):
        crosstab.image_from_data_url(payload, 10**7, "the txt2img gallery")


def test_pixel_limit_applies_before_decoding():
    big = np.zeros((100, 300, 3), np.uint8)
    with pytest.raises(ImageTooLargeError, match="300x100"):
        crosstab.image_from_data_url(data_url(big), 100 * 299)


def test_js_snippets_name_their_targets():
    js = crosstab.gallery_send_js('txt2img_gallery"x')
    assert json.dumps('txt2img_gallery"x') in js and "sendFromGallery" in js and "[data, key]" in js
    assert "error:" in js  # a missing script is reported, not taken for an empty gallery
    reveal = crosstab.reveal_js("extras_image", "switch_to_extras();")
    assert reveal.startswith("() =>") and '"extras_image"' in reveal and reveal.rstrip().endswith("switch_to_extras(); }")


def test_receive_image_is_per_session_and_checked(app, astronaut):
    from inpaint_anything.ui.handlers import Controller, SessionKey

    ctl = Controller(app)
    key = SessionKey()
    small = np.ascontiguousarray(astronaut[:120, :160])
    other, theirs = SessionKey(), np.ascontiguousarray(astronaut[200:300, 200:300])
    ctl.set_image(other, theirs)
    ctl.set_image(key, small)
    ctl.ws(key).set_mask(np.ones(small.shape[:2], bool))
    got, status = ctl.receive_image(key, data_url(small), "txt2img")  # the same picture again: starts over
    assert np.array_equal(got, small) and "Image 160x120 from txt2img" in status
    assert np.array_equal(ctl.ws(key).image, small) and not ctl.ws(key).mask.any()
    assert np.array_equal(ctl.ws(other).image, theirs)  # another session is untouched
    with pytest.raises(ImageTooLargeError):
        ctl.receive_image(key, data_url(astronaut), "img2img")  # 512x512 > the 400x400 limit
    with pytest.raises(InvalidInputError, match="img2img gallery"):
        ctl.receive_image(key, "", "img2img")


def test_send_result_to_extras_writes_the_selected_result(app, astronaut):
    from PIL import Image

    from inpaint_anything.ui.handlers import Controller, SessionKey

    ctl = Controller(app)
    key = SessionKey()
    with pytest.raises(InvalidInputError, match="no result yet"):
        ctl.send_result_to_extras(key, 0)
    image = np.ascontiguousarray(astronaut[:200, :200])
    ctl.set_image(key, image)
    ws = ctl.ws(key)
    ws.set_mask(np.pad(np.ones((20, 20), bool), 90))
    ctl.remove(key, "telea", 0)
    ctl.remove(key, "ns", 4)
    assert len(ws.results) == 2
    for index, result in ((0, ws.results[-1]), (1, ws.results[0])):  # the gallery shows the newest first
        path = ctl.send_result_to_extras(key, index)
        with Image.open(path) as im:
            assert im.format == "PNG" and np.array_equal(np.asarray(im.convert("RGB")), result.image)
    with pytest.raises(InvalidInputError, match="Select a result"):
        ctl.send_result_to_extras(key, 2)


@pytest.mark.both_stacks
def test_tab_wires_host_send_buttons_and_the_extras_target(app):
    import gradio as gr

    from inpaint_anything.ui.handlers import HostHooks
    from inpaint_anything.ui.tab import build_tab

    with gr.Blocks() as host:
        button = gr.Button("send", elem_id="txt2img_send_to_inpaint_anything")
        extras = gr.Image(elem_id="extras_image")
        tab = build_tab(app, HostHooks(send_buttons=[("txt2img", button)], extras_target=extras, extras_switch_js="() => 1"))
    config = host.get_config_file()
    ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    visible = {c.get("props", {}).get("elem_id"): c.get("props", {}).get("visible") for c in config["components"]}
    assert visible["ia_send_extras"] is not False
    deps = [
        d
        for d in config["dependencies"]
        if any((t[0] if isinstance(t, (list, tuple)) else t) == button._id for t in d["targets"])
    ]
    assert len(deps) == 1
    assert [ids[i] for i in deps[0]["outputs"]] == [
        "ia_input_image",
        "ia_layer_segments",
        "ia_layer_mask",
        "ia_canvas_candidates",
        "ia_status",
    ]
    assert "txt2img_gallery" in (deps[0].get("js") or "")
    assert any(ids.get(o) == "extras_image" for d in config["dependencies"] for o in d["outputs"])
    plain = build_tab(app)  # no host: no extras button
    hidden = [b for b in plain.blocks.values() if getattr(b, "elem_id", None) == "ia_send_extras"]
    assert len(hidden) == 1 and hidden[0].visible is False
    assert tab is not None
