"""The img2img script "Outpainting (Inpaint Anything)" in the WebUI stand-in, end to end."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


def script_class(webui_host):
    data = webui_host.load_extension()
    classes = [d.script_class for d in data if d.script_class.__name__ == "InpaintAnythingOutpaint"]
    assert len(classes) == 1
    return classes[0]


def test_script_registers_for_img2img_only(webui_host):
    script = script_class(webui_host)()
    assert script.title() == "Outpainting (Inpaint Anything)"
    assert script.show(True) is True and script.show(False) is False


@pytest.mark.parametrize("strategy", ["all", "per_side"])
def test_script_outpaints_with_the_loaded_checkpoint(strategy, webui_host, tiny_sd_inpaint_dir):
    from fixtures.images import photo

    webui_host.load_model(tiny_sd_inpaint_dir)
    script = script_class(webui_host)()
    src = Image.fromarray(np.ascontiguousarray(photo("rocket")[::8, ::8][:53, :75]))
    p = webui_host.img2img(
        init_images=[src],
        prompt="sky",
        steps=2,
        seed=7,
        denoising_strength=0.9,
        width=64,
        height=64,
        sampler_name="Euler a",
        n_iter=2 if strategy == "all" else 1,
    )
    # mode, left, right, up, down, preset, scale, bx, by, prefill, overlap, strategy, blur
    processed = script.run(p, "pixels", 16, 24, 8, 0, "16:9", 1.5, 0.5, 0.5, "blur", 8, strategy, 2)
    n = 2 if strategy == "all" else 1
    assert len(processed.images) == n and processed.all_seeds == [7, 8][:n]
    for img in processed.images:
        assert img.size == (75 + 40, 53 + 8)
        arr = np.asarray(img)
        inner = arr[8 + 8 : 8 + 53 - 8, 16 + 8 : 16 + 75 - 8]  # the original, minus the overlap band
        assert np.array_equal(inner, np.asarray(src)[8:-8, 8:-8])
        assert arr[:8].std() > 0  # the new area is generated, not flat
    assert 'Outpaint: "left 16, right 24, up 8, down 0"' in processed.info
    assert "Outpainting (Inpaint Anything)" in processed.infotexts[-1]


def test_script_bad_parameters_are_clear(webui_host, tiny_sd_inpaint_dir):
    from inpaint_anything.errors import InvalidInputError

    webui_host.load_model(tiny_sd_inpaint_dir)
    script = script_class(webui_host)()
    src = Image.new("RGB", (64, 48), (10, 20, 30))
    p = webui_host.img2img(init_images=[src], steps=2, seed=1)
    with pytest.raises(InvalidInputError, match="every side adds 0"):
        script.run(p, "pixels", 0, 0, 0, 0)
    with pytest.raises(InvalidInputError, match="at most 2048"):
        script.run(p, "pixels", 4096, 0, 0, 0)


# ---------------------------------------------------------------------------------------------- the script's UI
def _script_ui(host, *, denoising_after=False):
    """img2img as the host builds it: its picture (and denoising slider), then the Scripts dropdown UI,
    with the gradio patch firing the scripts' on_after_component(elem_id=...) hooks."""
    import gradio as gr
    from webui_stub import component_callbacks

    from inpaint_anything.webui.outpaint_script import TITLE

    host.load_extension()
    runner = host.scripts.scripts_img2img
    runner.initialize_scripts(is_img2img=True)
    runner.prepare_ui()
    host.scripts.scripts_current = runner
    made = {}
    try:
        with component_callbacks(), gr.Blocks(analytics_enabled=False) as demo:
            made["image"] = gr.Image(type="pil", elem_id="img2img_image")
            if not denoising_after:
                made["denoising"] = gr.Slider(0, 1, value=0.75, elem_id="img2img_denoising_strength")
            runner.setup_ui()
            if denoising_after:  # a user's ui_reorder_list can put the slider after the scripts
                made["denoising"] = gr.Slider(0, 1, value=0.75, elem_id="img2img_denoising_strength")
    finally:
        host.scripts.scripts_current = None
    script = next(s for s in runner.selectable_scripts if s.title() == TITLE)
    return demo, script, made


def _inside(component, layout) -> bool:
    parent = getattr(component, "parent", None)
    while parent is not None:
        if parent is layout:
            return True
        parent = getattr(parent, "parent", None)
    return False


def _handlers(demo, component):
    """(fn, input ids, output ids) of every change handler gradio would call for ``component``."""
    out = []
    for i, dep in enumerate(demo.config["dependencies"]):
        fn = demo.fns[dep.get("id", i)] if isinstance(demo.fns, dict) else demo.fns[i]  # gradio 4: {id: fn}
        triggers = [t[0] if isinstance(t, (list, tuple)) else t for t in dep["targets"]]
        if component._id in triggers:
            out.append((fn.fn, dep["inputs"], dep["outputs"]))
    return out


def _values(demo, ids, given):
    """Current values of the components ``ids`` (``given``: id -> value overrides), as gradio sends them."""
    blocks = demo.blocks
    return [given[i] if i in given else getattr(blocks[i], "value", None) for i in ids]


@pytest.mark.both_stacks
def test_script_shows_only_the_chosen_modes_controls_with_words_and_units(any_webui_host):
    demo, script, _ = _script_ui(any_webui_host)
    mode, left, right, up, down, preset, scale, bx, by, pre, overlap, strategy, blur = script._controls[:13]
    assert mode.value == "pixels per side" and "per_side" not in str(strategy.get_config()["choices"])
    assert "one side at a time" in str(strategy.get_config()["choices"]) and pre.value == "blurred edge"
    assert left.label == "Left (px)" and overlap.label.endswith("(px)") and blur.label.endswith("(px)")
    # at start (pixels): the sides shown, aspect / scale / balance hidden
    assert preset.visible is False and scale.visible is False
    ((fn, inputs, outputs),) = [h for h in _handlers(demo, mode) if len(h[2]) == 4]
    sides_row, *_ = (demo.blocks[i] for i in outputs)
    assert _inside(left, sides_row) and _inside(script._controls[7], demo.blocks[outputs[3]])
    assert sides_row.visible is not False and demo.blocks[outputs[3]].visible is False
    shown = {
        "pixels per side": (True, False, False, False),
        "aspect ratio": (False, True, False, True),
        "scale": (False, False, True, True),
    }
    for word, expected in shown.items():
        assert tuple(u["visible"] for u in fn(word)) == expected, word


@pytest.mark.both_stacks
@pytest.mark.parametrize("denoising_after", [False, True])
def test_script_preview_line_shows_the_output_size_and_warns_on_low_denoising(any_webui_host, denoising_after):
    from PIL import Image

    demo, script, made = _script_ui(any_webui_host, denoising_after=denoising_after)
    start = script._preview.value
    assert "Output size is set here: the input + 128 px wide" in start and "Width/Height are ignored" in start
    ((fn, inputs, outputs),) = _handlers(demo, made["image"])
    image_id, size_id, den_id = made["image"]._id, script._size._id, script._denoising._id
    assert script._denoising.value == 0.75  # the slider's start value, also when it was built after the script
    size, text = fn(*_values(demo, inputs, {image_id: Image.new("RGB", (96, 64)), den_id: 0.9}))
    assert size == (96, 64) and "96×64 → 224×64" in text and "Width/Height are ignored" in text and "⚠" not in text
    # a control changes: the size stays known (State), the new expansion shows
    left = script._controls[1]
    ((fn, inputs, outputs),) = _handlers(demo, left)
    text = fn(*_values(demo, inputs, {left._id: 32, den_id: 0.9, size_id: (96, 64)}))
    assert "96×64 → 256×64" in text and "⚠" not in text
    # img2img's denoising strength is too low for a pre-filled area: said in the same line, and kept
    ((fn, inputs, outputs),) = _handlers(demo, made["denoising"])
    assert outputs == [den_id, script._preview._id]
    stored, text = fn(*_values(demo, inputs, {made["denoising"]._id: 0.5, size_id: (96, 64)}))
    assert stored == 0.5 and "96×64 → 224×64" in text and "Denoising strength 0.5 is below 0.8" in text
    mode = script._controls[0]
    ((fn, inputs, outputs),) = [h for h in _handlers(demo, mode) if len(h[2]) == 1]
    text = fn(*_values(demo, inputs, {mode._id: "scale", den_id: 0.5, size_id: (96, 64)}))
    assert "96×64 → 144×96" in text and "below 0.8" in text


def test_words_and_ids_are_both_accepted(webui_host):
    from inpaint_anything.errors import InvalidInputError
    from inpaint_anything.webui.outpaint_script import ARG_NAMES, DEFAULTS, normalized

    args = dict(zip(ARG_NAMES, DEFAULTS, strict=True))
    worded = {**args, "mode": "Aspect ratio", "strategy": "one side at a time", "prefill": "blurred edge"}
    assert normalized(worded) == {**args, "mode": "aspect", "strategy": "per_side", "prefill": "blur"}
    assert normalized(args) == args
    with pytest.raises(InvalidInputError, match="'per_side' \\(one side at a time\\)"):
        normalized({**args, "strategy": "sideways"})


@pytest.mark.both_stacks
@pytest.mark.parametrize("restore", [True, False])
def test_script_honours_the_requests_override_settings(restore, any_webui_host, tiny_sd_dir, tiny_sd_inpaint_dir):
    host = any_webui_host
    other = host.load_model(tiny_sd_dir).sd_checkpoint_info  # registered, then replaced by the inpainting one
    loaded = host.load_model(tiny_sd_inpaint_dir).sd_checkpoint_info
    assert host.shared.opts.sd_model_checkpoint == loaded.title
    script = script_class(host)()
    used = []
    host.script_callbacks.on_model_loaded(lambda m: used.append(m.sd_checkpoint_info.title))
    src = Image.new("RGB", (48, 32), (90, 120, 150))
    p = host.img2img(
        init_images=[src],
        prompt="sky",
        steps=2,
        seed=3,
        denoising_strength=0.9,
        width=512,
        height=512,
        override_settings={"sd_model_checkpoint": other.title, "img2img_fix_steps": True},
        override_settings_restore_afterwards=restore,
    )
    processed = script.run(p, "pixels per side", 0, 16, 0, 0, "16:9", 1.5, 0.5, 0.5, "blurred edge", 8, "one side at a time", 2)
    assert processed.images[0].size == (64, 32)  # the script's size, not img2img's 512x512
    assert f'Inpaint backend: "webui:{other.title}"' in processed.info, processed.info
    assert used and used[0] == other.title  # the override's checkpoint generated
    if restore:
        assert host.shared.opts.sd_model_checkpoint == loaded.title and host.shared.opts.img2img_fix_steps is False
    else:
        assert host.shared.opts.sd_model_checkpoint == other.title and host.shared.opts.img2img_fix_steps is True


def test_forge_canvas_html_is_not_taken_for_the_picture(webui_host_forge):
    """Forge's img2img picture is a ForgeCanvas whose element "img2img_image" is an HTML block: the
    preview then shows the expansion without the input size instead of reading HTML as a picture."""
    import gradio as gr
    from webui_stub import component_callbacks

    from inpaint_anything.webui.outpaint_script import TITLE

    host = webui_host_forge
    host.load_extension()
    runner = host.scripts.scripts_img2img
    runner.initialize_scripts(is_img2img=True)
    runner.prepare_ui()
    host.scripts.scripts_current = runner
    try:
        with component_callbacks(), gr.Blocks(analytics_enabled=False) as demo:
            canvas = gr.HTML("<div>canvas</div>", elem_id="img2img_image")
            runner.setup_ui()
    finally:
        host.scripts.scripts_current = None
    script = next(s for s in runner.selectable_scripts if s.title() == TITLE)
    assert script.host_components["image"] is canvas and not _handlers(demo, canvas)
    assert "the input + 128 px wide" in script._preview.value
