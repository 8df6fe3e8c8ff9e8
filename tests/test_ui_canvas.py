"""Mask editor, Python side: event schema, stroke rasterisation, gradio components and compat."""

from __future__ import annotations

import json
import math
import os
import re

import numpy as np
import pytest

from inpaint_anything.errors import IAError, InvalidInputError
from inpaint_anything.ui import canvas, compat, wire

pytestmark = pytest.mark.both_stacks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def event_json(**overrides) -> str:
    data = {
        "version": 1,
        "kind": "click",
        "image_size": [64, 48],
        "points": [[10.5, 20, 1], [30, 40, 0]],
        "box": [50, 40, 5, 2],
        "strokes": [{"mode": "add", "radius": 3, "points": [[1, 2], [10, 2]]}],
        "seq": 7,
    }
    data.update(overrides)
    return json.dumps(data)


# ---------------------------------------------------------------- parse_event


def test_parse_event_valid_and_sam_prompt():
    ev = canvas.parse_event(event_json())
    assert ev.kind == "click" and ev.image_size == (64, 48) and ev.seq == 7 and ev.version == 1
    assert ev.points == ((10.5, 20.0, 1), (30.0, 40.0, 0))
    assert ev.box == (5.0, 2.0, 50.0, 40.0)  # corners sorted
    assert ev.strokes == (canvas.Stroke("add", 3.0, ((1.0, 2.0), (10.0, 2.0))),)
    coords, labels, box = ev.sam_prompt()
    assert coords.dtype == np.float32 and coords.tolist() == [[10.5, 20.0], [30.0, 40.0]]
    assert labels.tolist() == [1, 0] and box.tolist() == [5.0, 2.0, 50.0, 40.0]
    assert canvas.parse_event(ev.to_json()) == ev
    assert canvas.parse_event(ev.to_json().encode()) == ev


def test_parse_event_minimal_and_box_clamped():
    ev = canvas.parse_event(json.dumps({"version": 1, "kind": "clear", "image_size": [10, 5]}))
    assert ev.points == () and ev.box is None and ev.strokes == () and ev.seq == 0
    assert ev.sam_prompt() == (None, None, None)
    ev = canvas.parse_event(event_json(box=[-20, -3, 500, 400]))
    assert ev.box == (0.0, 0.0, 63.0, 47.0)


def test_strokes_of_filters_in_order():
    strokes = [{"mode": m, "radius": 2, "points": [[i, i]]} for i, m in enumerate(["scribble", "add", "erase", "scribble"])]
    ev = canvas.parse_event(event_json(kind="brush", strokes=strokes))
    assert [s.points[0][0] for s in ev.strokes_of("scribble")] == [0.0, 3.0]
    assert [s.mode for s in ev.strokes_of("add", "erase")] == ["add", "erase"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (event_json(version=2), "schema version"),
        (event_json(kind="paint"), "unknown kind"),
        (event_json(seq=-1), "seq"),
        (event_json(seq=1.5), "seq"),
        (event_json(image_size=[0, 10]), "image_size"),
        (event_json(image_size=[10.5, 10]), "image_size"),
        (event_json(image_size=[10]), "image_size"),
        (event_json(image_size=[100000, 10]), "image_size"),
        (event_json(points=[[1, 2]]), "3 numbers"),
        (event_json(points=[[1, 2, 2]]), "label"),
        (event_json(points=[[1, 2, True]]), "label"),
        (event_json(points=[["1", 2, 1]]), "finite number"),
        (event_json(points=[[1, 2, 1]] * 1001), "too many"),
        (event_json(points=[[200, 2, 1]]), "outside"),
        (event_json(points="nope"), "must be a list"),
        ('{"version": 1, "kind": "click", "image_size": [5, 5], "points": [[NaN, 1, 1]]}', "finite number"),
        (event_json(box=[1, 2, 3]), "box"),
        (event_json(box=[1, 2, 3, "x"]), "finite number"),
        (event_json(strokes=[{"mode": "smudge", "radius": 2, "points": [[1, 1]]}]), "stroke mode"),
        (event_json(strokes=[{"mode": "add", "radius": -1, "points": [[1, 1]]}]), "radius"),
        (event_json(strokes=[{"mode": "add", "radius": 2, "points": []}]), "no points"),
        (event_json(strokes=[{"mode": "add", "radius": 2}]), "must be a list"),
        (event_json(strokes=["x"]), "object"),
        (event_json(strokes={"mode": "add"}), "must be a list"),
    ],
)
def test_parse_event_rejects_malformed(text, fragment):
    with pytest.raises(InvalidInputError, match=re.escape(fragment)) as info:
        canvas.parse_event(text)
    assert "mask editor" in info.value.message and info.value.status_code == 422


def test_parse_event_rejects_huge_text():
    with pytest.raises(InvalidInputError, match="too large"):
        canvas.parse_event('{"x": "' + "a" * wire.MAX_EVENT_CHARS + '"}')


# ---------------------------------------------------------------- rasterize_strokes


def test_rasterize_single_point_is_exact_disk():
    stroke = canvas.Stroke("add", 5.0, ((20.0, 12.0),))
    mask = canvas.rasterize_strokes([stroke], (40, 30))
    yy, xx = np.mgrid[0:30, 0:40]
    assert mask.shape == (30, 40) and mask.dtype == bool
    assert np.array_equal(mask, (xx - 20) ** 2 + (yy - 12) ** 2 <= 25)


def test_rasterize_line_lies_where_drawn():
    stroke = canvas.Stroke("add", 3.0, ((10.0, 20.0), (50.0, 20.0)))
    mask = canvas.rasterize_strokes([stroke], (64, 48))
    ys, xs = np.nonzero(mask)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (7, 53, 17, 23)
    assert mask[20, 10:51].all() and mask[17, 30] and not mask[16, 30]
    assert abs(mask.sum() - (40 * 7 + math.pi * 9)) < 8


def test_rasterize_applies_strokes_in_order_and_keeps_base():
    base = np.zeros((20, 30), np.uint8)
    base[:, :5] = 255
    add = canvas.Stroke("scribble", 2.0, ((10.0, 10.0), (25.0, 10.0)))
    erase = canvas.Stroke("erase", 1.0, ((2.0, 0.0), (2.0, 19.0)))
    out = canvas.rasterize_strokes([add, erase], (30, 20), base=base)
    assert base[:, :5].all() and base.dtype == np.uint8  # input untouched
    assert out[10, 10:26].all() and not out[:, 1:4].any() and out[:, 0].all() and out[:, 4].all()
    again = canvas.rasterize_strokes([erase, canvas.Stroke("add", 1.0, ((2.0, 5.0),))], (30, 20), base=base)
    assert again[5, 2] and not again[15, 2]


def test_rasterize_clips_outside_points_and_rejects_bad_size():
    stroke = canvas.Stroke("add", 4.0, ((-10.0, -10.0), (2.0, 2.0)))
    mask = canvas.rasterize_strokes([stroke], (8, 8))
    assert mask[0, 0] and mask[2, 2] and not mask[7, 7]
    assert not canvas.rasterize_strokes([], (8, 8)).any()
    with pytest.raises(InvalidInputError):
        canvas.rasterize_strokes([stroke], (0, 8))


def test_layer_from_mask():
    assert canvas.layer_from_mask(None) is None
    m = np.array([[True, False]])
    assert canvas.layer_from_mask(m).tolist() == [[255, 0]]
    assert canvas.layer_from_mask(np.array([[1, 0]], np.uint8)).tolist() == [[255, 0]]
    assert canvas.layer_from_mask(np.array([[200, 100]], np.uint8)).tolist() == [[255, 0]]
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 1, 2] = 255
    out = canvas.layer_from_mask(rgb)
    assert out.dtype == np.uint8 and out.tolist() == [[0, 255], [0, 0]]


# ---------------------------------------------------------------- gradio components


def _fns(demo):
    return list(demo.fns.values()) if isinstance(demo.fns, dict) else list(demo.fns)


def _build(handler, n_outputs=1):
    import gradio as gr

    with compat.standalone_blocks() as demo:
        compat.inject_assets(demo)
        comps = canvas.build_canvas(height=400)
        outs = [gr.Textbox() for _ in range(n_outputs)]
        comps.on_event(handler, inputs=[comps.input_image], outputs=outs)
    return demo, comps, outs


def test_build_canvas_components_and_wiring():
    demo, comps, _ = _build(lambda text, image: text)
    cfg = demo.config
    by_id = {c["id"]: c for c in cfg["components"]}
    for name, elem_id in canvas.ELEM_IDS.items():
        comp = getattr(comps, name)
        props = by_id[comp._id]["props"]
        assert props["elem_id"] == elem_id
        hidden = name in (
            "events",
            "submit",
            "image_layer",
            "segments_layer",
            "mask_layer",
            "ack",
            "probe",
            "probe_submit",
            "probe_answer",
            "boxes",
        )
        assert ("ia-hidden" in (props.get("elem_classes") or [])) == hidden
    assert "--ia-cv-height:400px" in by_id[comps.root._id]["props"]["value"]
    assert comps.layers == [comps.image_layer, comps.segments_layer, comps.mask_layer]
    deps = cfg["dependencies"]
    js = [d for d in deps if d.get("js") and "InpaintAnything" in d["js"]]
    assert len(js) == 1 and not js[0]["backend_fn"]
    submit = [d for d in deps if d["inputs"][:1] == [comps.events._id]]
    assert len(submit) == 1 and submit[0]["outputs"][-1] == comps.ack._id
    assert submit[0]["inputs"] == [comps.events._id, comps.input_image._id]
    assert submit[0]["show_progress"] == "hidden"
    if compat.is_gradio4():
        assert submit[0]["trigger_mode"] == "always_last"
        assert comps.mask_layer.format == "png" and comps.input_image.sources == ["upload", "clipboard"]
    else:
        assert comps.input_image.source == "upload"
    upload = [
        d
        for d in deps
        if d["inputs"] == [comps.input_image._id] and d["outputs"] == [c._id for c in (*comps.layers, comps.boxes)]
    ]
    assert len(upload) == 1  # a new upload also empties the "Select by text" boxes
    assert ".ia-cv" in cfg["css"]


def test_on_event_wrapper_adds_ack_and_reports_errors():
    seen = []

    def handler(text, image):
        event = canvas.parse_event(text)
        seen.append(event.seq)
        if event.kind == "clear":
            raise InvalidInputError("Nothing to clear.")
        if event.kind == "undo":
            raise RuntimeError("boom")
        return f"ok {event.seq}"

    demo, comps, _ = _build(handler)
    fn = next(f.fn for f in _fns(demo) if getattr(f.fn, "__name__", "") == "handler")
    assert fn(event_json(seq=3), None) == ("ok 3", "3")
    with pytest.warns(UserWarning, match="Nothing to clear"):
        out = fn(event_json(kind="clear", seq=4), None)
    assert out == {comps.ack: "4"}  # outputs left unchanged
    with pytest.warns(UserWarning, match="unexpected error.*boom"):
        assert fn(event_json(kind="undo", seq=5), None) == {comps.ack: "5"}
    with pytest.warns(UserWarning, match="mask editor sent an unusable event"):
        assert fn("garbage", None) == {comps.ack: "-1"}
    assert seen == [3, 4, 5]


def test_on_event_with_several_outputs_and_dict_results():
    demo, comps, outs = _build(lambda text, image: ("a", "b"), n_outputs=2)
    fn = next(f.fn for f in _fns(demo) if getattr(f.fn, "__name__", "") == "handler")
    assert fn(event_json(seq=9), None) == ("a", "b", "9")
    holder = []
    demo, comps, outs = _build(lambda text, image: {holder[0]: "x"})
    holder.append(outs[0])
    fn = next(f.fn for f in _fns(demo) if getattr(f.fn, "__name__", "") == "handler")
    assert fn(event_json(seq=2), None) == {outs[0]: "x", comps.ack: "2"}
    demo, comps, outs = _build(lambda text, image: None, n_outputs=0)
    fn = next(f.fn for f in _fns(demo) if getattr(f.fn, "__name__", "") == "handler")
    assert fn(event_json(seq=4), None) == "4"


# ---------------------------------------------------------------- compat


def test_js_and_event_kwargs():
    if compat.is_gradio4():
        assert compat.js_kwargs("() => 1") == {"js": "() => 1"}
        assert compat.event_kwargs(trigger_mode="always_last") == {"trigger_mode": "always_last"}
    else:
        assert compat.js_kwargs("() => 1") == {"_js": "() => 1"}
        assert compat.event_kwargs(trigger_mode="always_last") == {}
    assert compat.js_kwargs(None) == {}
    assert compat.update(visible=False)["visible"] is False


def test_gallery_values_of_both_versions(tmp_path):
    from PIL import Image

    arr = np.zeros((4, 6, 3), np.uint8)
    arr[1, 2] = [10, 20, 30]
    path = str(tmp_path / "a.png")
    Image.fromarray(arr).save(path)

    class FileData:
        def __init__(self, p):
            self.path = p

    values = [
        [{"name": path, "data": None, "is_file": True}],  # gradio 3
        [[{"name": path, "data": None, "is_file": True}, "caption"]],  # gradio 3 with captions
        [(path, "caption")],  # gradio 4, type="filepath"
        [(arr, None)],  # gradio 4, type="numpy"
        [(Image.fromarray(arr), "c")],  # gradio 4, type="pil"
        [{"image": {"path": path}, "caption": None}],  # gradio 4 GalleryData dump
        [(FileData(path), "c")],
        [arr[..., 0]],
    ]
    for value in values:
        images = compat.gallery_images(value)
        assert len(images) == 1 and images[0].shape == (4, 6, 3) and images[0].dtype == np.uint8
    assert compat.gallery_images(values[0])[0][1, 2].tolist() == [10, 20, 30]
    assert compat.gallery_images(None) == []
    assert compat.gallery_value([arr, arr], ["a", "b"]) == [(arr, "a"), (arr, "b")]

    class Sel:
        index = 2

    class SelTuple:
        index = (3, 1)

    assert compat.select_index(Sel()) == 2 and compat.select_index(SelTuple()) == 3
    assert compat.select_index(object()) is None


def test_image_factory_per_version():
    import gradio as gr

    with gr.Blocks():
        img = compat.image(label="x", sources=("upload", "clipboard"), elem_classes=["ia-a"])
        layer = compat.image(interactive=False, image_mode="L")
    assert img.elem_classes == ["ia-a"] and layer.image_mode == "L"
    if compat.is_gradio4():
        assert img.sources == ["upload", "clipboard"] and img.format == "png"
    else:
        assert img.source == "upload" and layer.source == "upload"


# ---------------------------------------------------------------- assets stay in our namespace


def _read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as fh:
        return fh.read()


def test_css_selectors_are_all_prefixed():
    css = re.sub(r"/\*.*?\*/", "", _read("style.css"), flags=re.S)
    selectors = [s.strip() for block in re.findall(r"([^{}]+)\{[^{}]*\}", css) for s in block.split(",")]
    assert len(selectors) > 10
    for sel in selectors:
        assert re.match(r"^(\.ia-|#ia_)", sel), sel


def _js_files():
    names = sorted(n for n in os.listdir(os.path.join(ROOT, "javascript")) if n.endswith(".js"))
    return [(n, _read(os.path.join("javascript", n))) for n in names]


def test_js_files_are_iifes_sharing_only_the_namespace():
    """The WebUI runs each javascript/*.js as its own <script> in sorted order, the standalone page
    concatenates them (compat.asset_js): each file must stand alone as an IIFE that takes the
    namespace the same way and returns early when its part is there already."""
    files = _js_files()
    assert len(files) > 1 and all(re.match(r"inpaint_anything_\d_\w+\.js$", n) for n, _ in files)
    for name, js in files:
        code = re.sub(r"^\s*//.*\n", "", js, flags=re.M)
        assert code.startswith('(function () {\n    "use strict";\n'), name
        assert code.rstrip().endswith("})();"), name
        assert "const IA = window.InpaintAnything = window.InpaintAnything || {};\n    if (IA." in code, name
        assert set(re.findall(r"window\.(\w+)\s*=(?!=)", js)) == {"InpaintAnything"}, name
    assert compat.js_paths() == [os.path.join(compat.JS_DIR, n) for n, _ in files]
    bundle = compat.asset_js()
    starts = [bundle.index(js) for _, js in files]
    assert starts == sorted(starts)


def test_js_defines_one_global_and_matches_python_ids():
    js = "\n".join(text for _, text in _js_files())
    assert set(re.findall(r"window\.(\w+)\s*=(?!=)", js)) == {"InpaintAnything"}
    for name, elem_id in canvas.ELEM_IDS.items():
        if name not in ("input_image", "candidates", "wrap"):  # used by Python and style.css only
            assert f'"{elem_id}"' in js, elem_id
    kinds = set(re.findall(r'(?:change|emit)\("(\w+)"', js))
    assert '? "scribble" : "brush"' in js  # freehand strokes
    assert kinds | {"scribble", "brush"} == set(canvas.KINDS)
    for mode in re.findall(r"STROKE_MODE = \{([^}]*)\}", js)[0].split(","):
        assert mode.split(":")[1].strip().strip('"') in canvas.STROKE_MODES
    assert compat.asset_js().startswith("() => {")


def test_errors_are_ia_errors():
    with pytest.raises(IAError):
        canvas.parse_event("{}")
