"""The tab builds on both gradio versions, and its controller drives a full flow per session."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from inpaint_anything.app import App
from inpaint_anything.config import Settings
from inpaint_anything.errors import InvalidInputError


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
        )
    )


@pytest.mark.both_stacks
def test_tab_builds_with_prefixed_ids(app):
    from inpaint_anything.ui.tab import build_tab

    tab = build_tab(app)
    ids = [b.elem_id for b in tab.blocks.values() if getattr(b, "elem_id", None)]
    assert "ia_run_inpaint" in ids and "ia_canvas_root" in ids and "ia_run_outpaint" in ids
    assert all(i.startswith("ia_") for i in ids)
    assert len(ids) == len(set(ids))


@pytest.mark.both_stacks
def test_session_keys_are_unique_per_copy():
    import copy

    from inpaint_anything.ui.handlers import SessionKey

    key = SessionKey()
    assert copy.deepcopy(key).id != key.id


def event(kind, size, points=(), box=None, strokes=(), seq=1):
    return json.dumps(
        {
            "version": 1,
            "kind": kind,
            "image_size": list(size),
            "points": [list(p) for p in points],
            "box": box,
            "strokes": list(strokes),
            "seq": seq,
        }
    )


def test_controller_flow_click_refine_remove_export(app, astronaut):
    from inpaint_anything.ui.handlers import Controller, SessionKey

    ctl = Controller(app)
    key, other = SessionKey(), SessionKey()
    assert "512x512" in ctl.set_image(key, astronaut)
    layer, gallery, status = ctl.canvas_event(
        event("click", (512, 512), [(250, 250, 1)]), key, "file:tiny_sam.pth", "Segment Anything", True
    )
    assert layer.shape == (512, 512) and len(gallery) == 3 and "pixels selected" in status
    layer2, _, _ = ctl.pick_candidate(key, 2, "file:tiny_sam.pth", "Segment Anything", True)
    assert np.array_equal(layer2 > 0, ctl.ws(key).candidates.masks[2])
    # brush strokes on top of the SAM selection, then a refinement that survives the next event
    brush = {"mode": "add", "radius": 6, "points": [[20, 20], [60, 20]]}
    layer3, _, _ = ctl.canvas_event(
        event("brush", (512, 512), [(250, 250, 1)], strokes=[brush], seq=2), key, "file:tiny_sam.pth", "Segment Anything", True
    )
    assert layer3[20, 40] == 255
    _, text = ctl.refine(key, "grow", 3)
    assert "grow 3" in text
    gallery, info, status = ctl.remove(key, "telea", 0, None)
    assert len(gallery) == 1 and "cleaner:telea" in info and "Sampler" not in info and "saved in" in status
    assert list((app.models_dir.parent / "out").glob("*.png"))
    path = ctl.export(key, "alpha")
    from PIL import Image

    assert Image.open(path).mode == "RGBA"
    with pytest.raises(InvalidInputError, match="Upload an image"):
        ctl.canvas_event(event("click", (512, 512), [(1, 1, 1)]), other, "file:tiny_sam.pth", "Segment Anything", True)


def test_grabcut_selector_and_size_mismatch(app, synthetic):
    from inpaint_anything.ui.handlers import Controller, SessionKey

    ctl = Controller(app)
    key = SessionKey()
    case = next(c for c in synthetic if c.name == "disk")
    h, w = case.mask.shape
    ctl.set_image(key, case.image)
    ys, xs = np.nonzero(case.mask)
    box = [int(xs.min()) - 4, int(ys.min()) - 4, int(xs.max()) + 5, int(ys.max()) + 5]
    layer, _, _ = ctl.canvas_event(event("box", (w, h), box=box), key, "", "GrabCut (no model)", True)
    sel = layer > 0
    assert (sel & case.mask).sum() / (sel | case.mask).sum() > 0.9
    with pytest.raises(InvalidInputError, match="different image"):
        ctl.canvas_event(event("box", (w + 1, h), box=box), key, "", "GrabCut (no model)", True)


def test_interrupt_without_a_job_says_so(app):
    from inpaint_anything.ui.handlers import Controller, SessionKey

    assert "Nothing is running" in Controller(app).interrupt(SessionKey())


def _deps_of(demo, elem_id: str) -> list:
    """(BlockFunction, input components, output components) of every event whose trigger is ``elem_id``."""
    blocks = demo.blocks
    by_elem = {b.elem_id: i for i, b in blocks.items() if getattr(b, "elem_id", None)}
    fns = list(demo.fns.values()) if isinstance(demo.fns, dict) else list(demo.fns)
    out = []
    for i, dep in enumerate(demo.config["dependencies"]):
        if any((t[0] if isinstance(t, (list, tuple)) else t) == by_elem[elem_id] for t in dep["targets"]):
            out.append((fns[i], [blocks[c] for c in dep["inputs"]], [blocks[c] for c in dep["outputs"]]))
    return out


@pytest.mark.both_stacks
def test_webui_button_sends_soft_inpainting_and_the_hint_follows_the_checkpoint(app, astronaut):
    from inpaint_anything.ui.handlers import HostHooks, SessionKey
    from inpaint_anything.ui.tab import build_tab

    seen = []

    class Recorder:  # a host backend that records what the tab asked for
        name = "fake"
        native_size = 0
        multiple = 8

        def generate(self, image, mask, request, seed, job):
            seen.append(request)
            out = image.copy()
            out[mask] = 255 - out[mask]
            return out

    app.register_backend("fake", lambda model="", **o: Recorder())
    hint = ["'plain.safetensors' is not an inpainting checkpoint"]
    tab = build_tab(
        app, HostHooks(extra_backends=[("Fake", "fake")], checkpoint_hint=lambda: hint[0], soft_inpainting=lambda: None)
    )
    ids = {getattr(b, "elem_id", None): b for b in tab.blocks.values()}
    assert "not an inpainting checkpoint" in ids["ia_hint_fake"].value
    for name in (
        "soft_enabled",
        "soft_schedule_bias",
        "soft_preservation_strength",
        "soft_transition_contrast",
        "soft_mask_influence",
        "soft_difference_threshold",
        "soft_difference_contrast",
    ):
        assert f"ia_{name}" in ids
    key = SessionKey()
    ws = app.workspace(key.id)
    ws.set_image(astronaut[:128, :128])
    mask = np.zeros((128, 128), np.uint8)
    mask[40:80, 40:80] = 255
    ws.set_mask(mask)
    ((run, inputs, outputs),) = [d for d in _deps_of(tab, "ia_run_fake") if ids["ia_status"] in d[2]]
    values = {c: getattr(c, "value", None) for c in inputs}
    values.update(
        {
            ids["ia_soft_enabled"]: True,
            ids["ia_soft_schedule_bias"]: 2.5,
            ids["ia_steps"]: 3,
            ids["ia_seed"]: 7,
            ids["ia_inpaint_area"]: "whole",
            ids["ia_prompt"]: "a cat",
            ids["ia_negative_prompt"]: "",
        }
    )
    values.update({c: key for c in inputs if c.elem_id is None and isinstance(c.value, SessionKey)})
    result = run.fn(values, None)
    status = result.get(ids["ia_status"], "")
    assert "ia-error" not in status, status
    assert len(seen) == 1 and seen[0].soft_inpainting is True and seen[0].soft_schedule_bias == 2.5
    assert seen[0].steps == 3 and seen[0].soft_preservation_strength == 0.5  # untouched sliders keep the host defaults
    # after the run, and on a new picture, the hint is asked again (the user may have switched checkpoints)
    hint[0] = None
    refresh = _deps_of(tab, "ia_run_fake") + _deps_of(tab, "ia_tab_inpaint")
    fns = [fn for fn, _i, outs in refresh if [o.elem_id for o in outs] == ["ia_hint_fake"]]
    assert fns and fns[0].fn() == [""]
    # the Hub model's run never carries soft inpainting
    ((hub, hub_inputs, _o),) = [d for d in _deps_of(tab, "ia_run_inpaint") if ids["ia_status"] in d[2]]
    assert ids["ia_soft_enabled"] not in hub_inputs
