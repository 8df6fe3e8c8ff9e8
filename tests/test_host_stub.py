"""The stand-in WebUI (tests/host_stub) behaves like A1111 v1.10.1 where extensions depend on it."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from fixtures.images import photo
from PIL import Image

SIZE = 64
STUB_DIR = Path(__file__).resolve().parent / "host_stub"


@pytest.fixture(scope="module")
def photo_and_mask():
    image = Image.fromarray(photo("astronaut")).resize((SIZE, SIZE), Image.LANCZOS)
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[20:40, 24:44] = 255
    return image, Image.fromarray(mask)


@pytest.fixture
def host(webui_host, tiny_sd_inpaint_dir):
    webui_host.load_model(tiny_sd_inpaint_dir)
    return webui_host


def _p(host, image, mask, **kw):
    args = {
        "init_images": [image],
        "mask": mask,
        "width": SIZE,
        "height": SIZE,
        "steps": 2,
        "denoising_strength": 1.0,
        "seed": 123,
        "cfg_scale": 5.0,
        "prompt": "an astronaut",
        "mask_blur": 2,
        "inpainting_fill": 1,
        "inpaint_full_res": False,
    }
    return host.img2img(**{**args, **kw})


IMG2IMG_INIT_FIELDS_V1_10_1 = [
    "sd_model",
    "outpath_samples",
    "outpath_grids",
    "prompt",
    "prompt_for_display",
    "negative_prompt",
    "styles",
    "seed",
    "subseed",
    "subseed_strength",
    "seed_resize_from_h",
    "seed_resize_from_w",
    "seed_enable_extras",
    "sampler_name",
    "scheduler",
    "batch_size",
    "n_iter",
    "steps",
    "cfg_scale",
    "width",
    "height",
    "restore_faces",
    "tiling",
    "do_not_save_samples",
    "do_not_save_grid",
    "extra_generation_params",
    "overlay_images",
    "eta",
    "do_not_reload_embeddings",
    "denoising_strength",
    "ddim_discretize",
    "s_min_uncond",
    "s_churn",
    "s_tmax",
    "s_tmin",
    "s_noise",
    "override_settings",
    "override_settings_restore_afterwards",
    "sampler_index",
    "refiner_checkpoint",
    "refiner_switch_at",
    "disable_extra_networks",
    "firstpass_image",
    "comments",
    "init_images",
    "resize_mode",
    "image_cfg_scale",
    "mask",
    "mask_blur_x",
    "mask_blur_y",
    "mask_blur",
    "mask_round",
    "inpainting_fill",
    "inpaint_full_res",
    "inpaint_full_res_padding",
    "inpainting_mask_invert",
    "initial_noise_multiplier",
    "latent_mask",
    "force_task_id",
]


def test_processing_fields_and_defaults_match_v1_10_1(webui_host):
    import dataclasses

    cls = webui_host.processing.StableDiffusionProcessingImg2Img
    assert [f.name for f in dataclasses.fields(cls) if f.init] == IMG2IMG_INIT_FIELDS_V1_10_1
    p = cls(mask_blur=8)
    assert (p.steps, p.cfg_scale, p.width, p.height, p.seed, p.batch_size, p.n_iter) == (50, 7.0, 512, 512, -1, 1, 1)
    assert (p.denoising_strength, p.resize_mode, p.inpainting_fill, p.inpaint_full_res, p.inpaint_full_res_padding) == (
        0.75,
        0,
        0,
        True,
        0,
    )
    assert (p.mask_blur_x, p.mask_blur_y, p.mask_round, p.inpainting_mask_invert, p.initial_noise_multiplier) == (
        8,
        8,
        True,
        0,
        1.0,
    )
    p.mask_blur_x = 3
    assert p.mask_blur is None and p.sampler_name is None and p.scheduler is None
    with pytest.raises(TypeError):
        cls(script_args=[])  # scripts/script_args are properties, set after construction
    p.seed = -1
    webui_host.processing.fix_seed(p)
    assert 0 <= p.seed < 4294967294
    with pytest.raises(FileNotFoundError, match="No checkpoints found"):  # as on a host without any model
        webui_host.processing.process_images(cls(init_images=[Image.new("RGB", (8, 8))], do_not_save_samples=True))


@pytest.mark.both_stacks
def test_ui_components_build_in_blocks(webui_host):
    import gradio as gr
    from modules import ui_components as uc

    with gr.Blocks():
        with uc.FormRow():
            button = uc.ToolButton("x", elem_id="tb")
        with uc.InputAccordion(False, label="Acc", elem_id="acc") as acc:
            with acc.extra():
                uc.FormHTML(value="hi")
            gr.Slider(0, 1)
        multi = uc.DropdownMulti(choices=["a", "b"], label="m")
    assert button.elem_classes == ["tool"] and multi.multiselect
    assert (acc.accordion_id, acc.elem_id, acc.value, acc.visible) == ("acc", "acc-checkbox", False, False)
    assert not list(STUB_DIR.rglob("*.pyi"))  # gradio 4 must not write .pyi files into the stub


def test_model_looks_like_an_a1111_inpainting_checkpoint(host, tiny_sd_inpaint_dir):
    m = host.shared.sd_model
    assert m.model.diffusion_model.input_blocks[0][0].in_channels == 9
    assert m.model.conditioning_key == "hybrid"
    assert (m.is_sdxl, m.is_sdxl_inpaint) == (False, False)
    info = m.sd_checkpoint_info
    assert info.filename == os.path.abspath(tiny_sd_inpaint_dir) and info.title in host.sd_models.checkpoint_tiles()
    assert host.shared.opts.sd_model_checkpoint == info.title
    assert host.sd_models.reload_model_weights() is m
    sdxl = host.load_model(tiny_sd_inpaint_dir, is_sdxl=True)
    assert (sdxl.is_sdxl_inpaint, sdxl.model.conditioning_key) == (True, "crossattn")


@pytest.mark.both_stacks
def test_whole_picture_overlay_keeps_unmasked_pixels_exactly(host, photo_and_mask):
    image, mask = photo_and_mask
    p = _p(host, image, mask)
    assert p.image_mask is mask and p.mask is None  # __post_init__ moves mask -> image_mask
    res = host.processing.process_images(p)
    out = np.asarray(res.images[0])
    assert res.images[0].mode == "RGB" and res.images[0].size == (SIZE, SIZE)
    overlay = np.asarray(p.mask_for_overlay)
    original = np.asarray(image)
    assert overlay[0, 0] == 0 and overlay[30, 34] == 255
    np.testing.assert_array_equal(out[overlay == 0], original[overlay == 0])
    inside = overlay == 255
    assert np.abs(out[inside].astype(int) - original[inside]).mean() > 5
    assert res.info == res.infotexts[0] and "Denoising strength: 1.0" in res.info and "Mask blur: 2" in res.info
    assert res.is_using_inpainting_conditioning and "Conditional mask weight: 1.0" in res.info
    assert json.loads(res.js())["all_seeds"] == [123]


def test_normal_checkpoint_inpaints_by_latent_blending(webui_host, tiny_sd_dir, photo_and_mask):
    image, mask = photo_and_mask
    m = webui_host.load_model(tiny_sd_dir)
    assert m.model.diffusion_model.input_blocks[0][0].in_channels == 4 and m.model.conditioning_key == "crossattn"
    p = _p(webui_host, image, mask, inpainting_fill=0)
    res = webui_host.processing.process_images(p)
    out, original, overlay = np.asarray(res.images[0]), np.asarray(image), np.asarray(p.mask_for_overlay)
    np.testing.assert_array_equal(out[overlay == 0], original[overlay == 0])
    assert np.abs(out[overlay == 255].astype(int) - original[overlay == 255]).mean() > 5
    assert not res.is_using_inpainting_conditioning and "Conditional mask weight" not in res.info
    assert p.nmask.shape == (4, SIZE // 8, SIZE // 8) and set(np.unique(p.nmask.numpy())) == {0.0, 1.0}


def test_sdxl_inpainting_checkpoint(webui_host, tiny_sdxl_inpaint_dir, photo_and_mask):
    image, mask = photo_and_mask
    m = webui_host.load_model(tiny_sdxl_inpaint_dir)
    assert (m.is_sdxl, m.is_sdxl_inpaint, m.model.conditioning_key) == (True, True, "crossattn") and hasattr(m, "conditioner")
    res = webui_host.processing.process_images(_p(webui_host, image, mask, steps=1))
    assert res.images[0].size == (SIZE, SIZE) and res.is_using_inpainting_conditioning


def test_whole_picture_returns_processing_size(host, photo_and_mask):
    image, mask = photo_and_mask
    res = host.processing.process_images(_p(host, image, mask, width=48, height=32, steps=2))
    assert res.images[0].size == (48, 32)


def test_fill_modes_differ_and_are_reported(host, photo_and_mask):
    image, mask = photo_and_mask
    outs, labels = [], []
    for fill in range(4):
        res = host.processing.process_images(_p(host, image, mask, inpainting_fill=fill))
        outs.append(np.asarray(res.images[0]).astype(int))
        labels.append(res.extra_generation_params.get("Masked content"))
    assert labels == ["fill", None, "latent noise", "latent nothing"]
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(outs[i] - outs[j]).sum() > 0, (i, j)


def test_only_masked_returns_original_size_and_pastes_back(host, photo_and_mask):
    image, mask = photo_and_mask
    big = image.resize((96, 80))
    big_mask = mask.resize((96, 80), Image.NEAREST)
    p = _p(host, big, big_mask, inpaint_full_res=True, inpaint_full_res_padding=4, width=32, height=32, steps=2)
    res = host.processing.process_images(p)
    assert res.images[0].size == (96, 80)
    x, y, w, h = p.paste_to
    assert w == h  # crop expanded to the 32x32 aspect
    assert res.extra_generation_params["Inpaint area"] == "Only masked"
    out, original, overlay = np.asarray(res.images[0]), np.asarray(big), np.asarray(p.mask_for_overlay)
    np.testing.assert_array_equal(out[overlay == 0], original[overlay == 0])
    assert np.abs(out[overlay == 255].astype(int) - original[overlay == 255]).mean() > 5


def test_blank_mask_with_only_masked_falls_back_to_img2img(host, photo_and_mask):
    image, _ = photo_and_mask
    p = _p(host, image, Image.new("L", (SIZE, SIZE), 0), inpaint_full_res=True, steps=2)
    res = host.processing.process_images(p)
    assert p.inpaint_full_res is False and p.paste_to is None and "mask is blank" in res.comments


def test_seeds_are_reproducible_and_batches_use_consecutive_seeds(host, photo_and_mask):
    image, mask = photo_and_mask
    a = host.processing.process_images(_p(host, image, mask, seed=7, batch_size=2))
    b = host.processing.process_images(_p(host, image, mask, seed=7, batch_size=2))
    assert a.all_seeds == [7, 8] and a.seed == 7 and len(a.images) == 2  # do_not_save_grid: no grid
    np.testing.assert_array_equal(np.asarray(a.images[0]), np.asarray(b.images[0]))
    assert np.abs(np.asarray(a.images[0]).astype(int) - np.asarray(a.images[1])).sum() > 0
    r = host.processing.process_images(_p(host, image, mask, seed=-1, n_iter=2, steps=1))
    assert r.seed != -1 and r.all_seeds == [r.seed, r.seed + 1] and len(r.images) == 2


def test_grid_is_prepended_like_the_host(host, photo_and_mask):
    image, mask = photo_and_mask
    p = _p(host, image, mask, batch_size=2, steps=2, do_not_save_grid=False)
    res = host.processing.process_images(p)
    assert res.index_of_first_image == 1 and len(res.images) == 3 and res.images[0].size == (2 * SIZE, SIZE)
    grids = list((host.outputs / "img2img-grids").rglob("grid-*.png"))
    assert len(grids) == 1


def test_progress_and_steps_follow_denoising_strength(host, photo_and_mask):
    image, mask = photo_and_mask
    seen = []
    host.script_callbacks.on_cfg_denoiser(
        lambda params: seen.append((params.sampling_step, params.total_sampling_steps, host.shared.state.sampling_steps))
    )
    host.shared.state.begin(job="test")
    host.processing.process_images(_p(host, image, mask, steps=4, denoising_strength=0.5, n_iter=2))
    # k-diffusion img2img: t_enc = int(0.5 * 4) = 2, the sampler runs t_enc + 1 steps
    assert seen == [(0, 3, 3), (1, 3, 3), (2, 3, 3)] * 2
    assert host.shared.state.job_count == 2 and host.shared.state.job_no == 2
    host.shared.state.end()
    seen.clear()  # override_settings apply during the call only (img2img_fix_steps: run all requested steps)
    host.processing.process_images(
        _p(host, image, mask, steps=3, denoising_strength=0.5, override_settings={"img2img_fix_steps": True})
    )
    assert [s[1] for s in seen] == [3, 3, 3] and host.shared.opts.img2img_fix_steps is False


def test_interrupt_stops_sampling_and_later_batches(host, photo_and_mask):
    image, mask = photo_and_mask
    steps_run = []

    def interrupt_after_first(params):
        steps_run.append(params.sampling_step)
        host.shared.state.interrupt()

    host.script_callbacks.on_cfg_denoiser(interrupt_after_first)
    host.shared.state.begin(job="test")
    res = host.processing.process_images(_p(host, image, mask, steps=4, n_iter=3))
    assert steps_run == [0] and len(res.images) == 1 and host.shared.state.interrupted


def test_always_on_script_hooks_run(host, photo_and_mask):
    image, mask = photo_and_mask
    calls = []

    class Hook(host.scripts.Script):
        def title(self):
            return "Hook"

        def show(self, is_img2img):
            return host.scripts.AlwaysVisible

        def process(self, p, *args):
            calls.append(("process", args))

        def on_mask_blend(self, p, mba, *args):
            calls.append(("blend", mba.is_final_blend))

        def postprocess(self, p, processed, *args):
            calls.append(("postprocess", len(processed.images)))

    runner = host.scripts.ScriptRunner()
    runner.alwayson_scripts.append(Hook())
    runner.alwayson_scripts[0].args_from, runner.alwayson_scripts[0].args_to = 1, 2
    p = _p(host, image, mask, steps=2)
    p.scripts, p.script_args = runner, [None, "arg"]
    host.processing.process_images(p)
    assert calls[0] == ("process", ("arg",)) and calls[-1] == ("postprocess", 1)
    assert [c for c in calls if c[0] == "blend"] == [("blend", False), ("blend", False), ("blend", True)]


def test_save_image_numbers_files_and_writes_parameters(webui_host):
    images = webui_host.images
    seen = []
    webui_host.script_callbacks.on_before_image_saved(lambda params: seen.append(("before", params.filename)))
    webui_host.script_callbacks.on_image_saved(lambda params: seen.append(("after", params.filename)))
    img = Image.new("RGB", (16, 16), (10, 20, 30))
    out = webui_host.outputs / "ia"
    a, txt = images.save_image(img, str(out), "", seed=5, prompt="p", info="hello\nSteps: 2, Seed: 5, Size: 16x16")
    b, _ = images.save_image(img, str(out), "", seed=5, prompt="p", info="second")
    c, _ = images.save_image(img, str(out), "ia", extension="png", info="third", save_to_dirs=False)
    assert txt is None and a != b and os.path.exists(a) and os.path.exists(b)
    assert os.path.basename(a) == "00000-5.png" and os.path.basename(b) == "00001-5.png"  # [date] subfolder, number-seed
    assert os.path.dirname(a) != str(out) and os.path.basename(c) == "ia-0000.png"
    with Image.open(a) as reread:
        info, items = images.read_info_from_image(reread)
    assert info == "hello\nSteps: 2, Seed: 5, Size: 16x16" and "parameters" not in items
    assert [k for k, _ in seen] == ["before", "after"] * 3
    from modules import infotext_utils

    params = infotext_utils.parse_generation_parameters(info)
    assert params["Prompt"] == "hello" and params["Steps"] == "2" and params["Size-1"] == "16"


def test_options_and_option_info(webui_host):
    shared = webui_host.shared
    info = shared.OptionInfo(3, "Things", section=("x", "X")).info("help").needs_reload_ui().link("wiki", "https://e.x")
    assert "help" in info.comment_after and "Reload UI" in info.comment_after and "wiki" in info.comment_before
    assert shared.options_templates is shared.opts.data_labels
    shared.options_templates.update(shared.options_section(("ia", "Inpaint Anything", "ui"), {"ia_a": shared.OptionInfo(1, "A")}))
    assert shared.opts.ia_a == 1 and shared.opts.data_labels["ia_a"].section == ("ia", "Inpaint Anything")
    assert shared.opts.data_labels["ia_a"].category_id == "ui" and "ia_a" not in shared.opts.data
    changes = []
    shared.opts.add_option("ia_b", shared.OptionInfo("x", "B", onchange=lambda: changes.append(shared.opts.ia_b)))
    assert shared.opts.set("ia_b", "y") is True and shared.opts.set("ia_b", "y") is False and changes == ["y"]
    shared.opts.onchange("ia_b", lambda: changes.append("now"), call=True)
    assert changes == ["y", "now"] and getattr(shared.opts, "missing", "fallback") == "fallback"
    with pytest.raises(KeyError):
        shared.opts.set("not_an_option", 1)


def test_callbacks_register_fire_and_remove(webui_host):
    cb = webui_host.script_callbacks
    stub = webui_host.stub

    def tabs():
        return [("blocks", "Title", "elem")]

    def broken():
        raise ValueError("boom")

    cb.on_ui_tabs(tabs, name="mine")
    cb.on_ui_tabs(broken)
    cb.on_app_started(lambda demo, app: None)
    assert [c.name for c in stub.callbacks_for("ui_tabs")][0].endswith("test_host_stub.py/ui_tabs/mine")
    assert cb.ui_tabs_callback() == [("blocks", "Title", "elem")]  # the failing one is reported, not raised
    assert webui_host.reported_errors[-1]["type"] == "ValueError"
    with pytest.raises(ValueError, match="boom"):
        stub.fire("ui_tabs")
    cb.remove_callbacks_for_function(broken)
    assert stub.fire("ui_tabs") == [[("blocks", "Title", "elem")]]
    cb.remove_current_script_callbacks()
    assert stub.callbacks_for("ui_tabs") == [] and stub.callbacks_for("app_started") == []


def test_call_queue_wraps_like_the_host(webui_host):
    cq, state = webui_host.call_queue, webui_host.shared.state

    def job(id_task, x):
        assert state.job == id_task and cq.queue_lock.locked()
        return ["image", f"<p>{x}</p>"]

    ok = cq.wrap_gradio_gpu_call(job, extra_outputs=[None])("task(abc)", 1)
    assert ok[0] == "image" and ok[1].startswith("<p>1</p><div class='performance'>") and state.job == ""
    failed = cq.wrap_gradio_gpu_call(lambda id_task: 1 / 0, extra_outputs=[None])("task(x)")
    assert failed[0] is None and "ZeroDivisionError" in failed[1] and "Time taken" in failed[1]
    assert webui_host.shared.state.job_count == 0 and not cq.queue_lock.locked()


def _write_extension(root):
    (root / "scripts").mkdir(parents=True)
    (root / "helper_pkg").mkdir()
    (root / "helper_pkg" / "__init__.py").write_text("VALUE = 42\n")
    (root / "preload.py").write_text("def preload(parser):\n    parser.add_argument('--demo-flag', action='store_true')\n")
    (root / "scripts" / "demo.py").write_text(
        textwrap.dedent("""
        import sys
        from modules import script_callbacks, scripts
        import helper_pkg

        BASEDIR = scripts.basedir()
        ON_PATH = BASEDIR in sys.path

        class DemoScript(scripts.Script):
            def title(self):
                return "Demo Script"

            def show(self, is_img2img):
                return is_img2img

        script_callbacks.on_ui_tabs(lambda: [], name="demo")
    """)
    )
    # importing the class (not the module) registers the base Script too, as on the host
    (root / "scripts" / "zz_imports_class.py").write_text("from modules.scripts import Script\n")


@pytest.mark.both_stacks
def test_load_extension_scripts_like_the_host(webui_host, tmp_path):
    ext = tmp_path / "demo-ext"
    _write_extension(ext)
    loaded = webui_host.load_extension(ext, argv=["--demo-flag"])
    assert webui_host.shared.cmd_opts.demo_flag is True
    assert [(d.script_class.__name__, os.path.basename(d.path)) for d in loaded] == [
        ("DemoScript", "demo.py"),
        ("Script", "zz_imports_class.py"),
    ]
    module = loaded[0].module
    assert module.__name__ == "demo.py" and "demo.py" not in sys.modules
    assert str(ext) == module.BASEDIR and module.ON_PATH and module.helper_pkg.VALUE == 42
    assert webui_host.scripts.basedir() != str(ext) and str(ext) not in sys.path
    assert [c.name for c in webui_host.stub.callbacks_for("ui_tabs")] == ["demo-ext/demo.py/ui_tabs/demo"]
    runner = webui_host.scripts.scripts_img2img
    runner.initialize_scripts(is_img2img=True)
    assert [s.title() for s in runner.selectable_scripts[:1]] == ["Demo Script"]
    assert runner.selectable_scripts[0].elem_id("px") == "script_demo_script_px"


def test_install_py_runs_in_a_subprocess_with_launch(webui_host, tmp_path):
    ext = tmp_path / "inst-ext"
    ext.mkdir()
    (ext / "install.py").write_text(
        textwrap.dedent("""
        import launch
        if not launch.is_installed("surely-not-installed-pkg"):
            launch.run_pip("install surely-not-installed-pkg", "demo requirement")
        try:
            launch.run_pip("install failing-pkg", "failing")
        except RuntimeError as e:
            print("failed:", str(e).splitlines()[0])
        print("version", launch.git_tag(), launch.is_installed("numpy"))
    """)
    )
    res = webui_host.run_install(ext, pip_fail="failing-pkg")
    assert res.returncode == 0, res.stderr
    assert res.pip_calls == ["install surely-not-installed-pkg", "install failing-pkg"]
    assert "failed: Couldn't install failing." in res.stdout and "version v1.10.1 True" in res.stdout


def test_fixture_teardown_removed_the_stub():
    """Runs after the webui_host tests in this file: nothing of the stand-in is left behind."""
    assert not [
        m
        for m in sys.modules
        if m == "modules" or m.startswith(("modules.", "inpaint_anything.webui")) or m in ("launch", "webui_stub")
    ]
    assert str(STUB_DIR) not in sys.path
