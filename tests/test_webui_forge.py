"""The host adapter on both stand-ins: A1111 v1.10.1 and Forge (tests/host_stub_forge + the Forge flavour).

The integration tests that matter run on both (``any_webui_host``); the Forge-only ones check what
Forge does differently: a placeholder model until the first generation loads the selected checkpoint,
``is_inpaint`` on its engine instead of an ldm UNet to probe, and memory through its own manager.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

pytestmark = pytest.mark.both_stacks


def _photo_and_mask():
    from fixtures.images import photo

    image = np.ascontiguousarray(photo("astronaut")[100:197, 150:251])
    mask = np.zeros(image.shape[:2], bool)
    mask[30:70, 40:80] = True
    return image, mask


def _backend(**kwargs):
    from inpaint_anything.webui.backend import WebuiCheckpointBackend

    return WebuiCheckpointBackend(**{"native_override": 64, **kwargs})


# ---------------------------------------------------------------------------------------------- both hosts
def test_the_host_is_told_apart_by_feature_probes(any_webui_host):
    from inpaint_anything.webui import compat

    host = any_webui_host
    assert compat.is_forge() is host.is_forge
    assert (compat.forge_memory_management() is not None) is host.is_forge
    assert compat.processing_has_scheduler()
    assert host.launch.git_tag() == ("f2.0.1v1.10.1-v1.10.1" if host.is_forge else "v1.10.1")


def test_checkpoint_backend_produces_real_pixels_and_progress(any_webui_host, tiny_sd_inpaint_dir):
    from inpaint_anything.inpaint.engine import run_inpaint
    from inpaint_anything.inpaint.request import InpaintRequest
    from inpaint_anything.webui.backend import checkpoint_hint
    from inpaint_anything.webui.jobs import queued_job

    host = any_webui_host
    host.load_model(tiny_sd_inpaint_dir)
    assert checkpoint_hint() is None  # a 9-channel checkpoint is detected as inpainting on both
    image, mask = _photo_and_mask()
    seen = []
    with queued_job("inpaint") as job:
        job._on_progress = lambda j: (job._mirror(j), seen.append(host.shared.state.job_count))
        result = run_inpaint(
            image,
            mask,
            InpaintRequest(prompt="x", steps=2, seed=3, masked_content="fill", mask_blur=2, padding=8),
            _backend(),
            job,
        )
    out = result.images[0]
    assert out.shape == image.shape
    assert np.array_equal(out[result.alpha == 0], image[result.alpha == 0])
    assert np.abs(out[mask].astype(int) - image[mask]).mean() > 1
    assert seen and max(seen) >= 1
    assert not host.call_queue.queue_lock.locked()


def test_a_normal_checkpoint_gets_the_hint(any_webui_host, tiny_sd_dir):
    from inpaint_anything.inpaint.engine import run_inpaint
    from inpaint_anything.inpaint.request import InpaintRequest
    from inpaint_anything.webui.backend import checkpoint_hint

    any_webui_host.load_model(tiny_sd_dir)
    assert "not an inpainting checkpoint" in checkpoint_hint()
    image, mask = _photo_and_mask()
    result = run_inpaint(image, mask, InpaintRequest(steps=2, seed=1, denoising_strength=0.7, mask_blur=2), _backend())
    assert np.array_equal(result.images[0][result.alpha == 0], image[result.alpha == 0])


def test_without_a_checkpoint_the_backend_says_so(any_webui_host):
    from inpaint_anything.errors import UnavailableError
    from inpaint_anything.inpaint.engine import run_inpaint
    from inpaint_anything.inpaint.request import InpaintRequest
    from inpaint_anything.webui.backend import checkpoint_hint

    host = any_webui_host
    assert (host.shared.sd_model is not None) is host.is_forge  # Forge: its placeholder model
    assert checkpoint_hint() == "No checkpoint is loaded in the WebUI yet."
    image, mask = _photo_and_mask()
    with pytest.raises(UnavailableError, match="No checkpoint"):
        run_inpaint(image, mask, InpaintRequest(steps=2), _backend())


def test_host_interrupt_stops_our_job(any_webui_host):
    from inpaint_anything.errors import JobInterrupted
    from inpaint_anything.webui.jobs import holds_queue_lock, queued_job

    host = any_webui_host
    with queued_job("x") as job:
        assert holds_queue_lock()
        job.begin("x", 2)
        job.step(1, 4)
        assert host.shared.state.sampling_step == 1 and host.shared.state.job_count == 2
        host.shared.state.interrupt()
        with pytest.raises(JobInterrupted):
            job.step(2, 4)
    assert not host.call_queue.queue_lock.locked() and not holds_queue_lock()


def test_flags_settings_tab_and_api_register(any_webui_host, tiny_sam_files, tmp_path):
    import shutil

    from fastapi import FastAPI

    from inpaint_anything.webui import extension, settings

    host = any_webui_host
    models = tmp_path / "m"
    models.mkdir()
    shutil.copy(tiny_sam_files["sam"], models / "s.pth")
    host.load_extension(argv=["--ia-models-dir", str(models), "--ia-offload-host-model", "false", "--api"])
    assert host.shared.opts.data_labels["ia_offload_host_model"].section[0] == "inpaint_anything"
    current = settings.current()
    assert current.models_dir == str(models) and current.offload_host_model is False
    tabs = [t for group in host.stub.fire("ui_tabs") for t in (group or [])]
    assert [t[1:] for t in tabs] == [("Inpaint Anything", "inpaint_anything")]
    app = FastAPI()
    host.stub.fire("app_started", None, app)
    assert any(r.path.startswith("/inpaint-anything/v1/") for r in app.routes)
    samplers, schedulers = extension._host_sampler_names()
    assert "Euler a" in samplers and "Karras" in schedulers
    assert ("Turbo" in schedulers) is host.is_forge  # Forge's extra schedule types reach the UI


def test_results_are_saved_through_the_host(any_webui_host):
    from PIL import Image

    from inpaint_anything.webui.saving import save_result

    host = any_webui_host
    saved = []
    host.load_extension()
    host.script_callbacks.on_image_saved(lambda params: saved.append(params.filename))
    path = save_result(np.zeros((8, 8, 3), np.uint8), "a cat\nSteps: 2, Seed: 42", "inpaint")
    assert os.path.isfile(path) and "42" in os.path.basename(path)
    assert saved and os.path.abspath(saved[0]) == os.path.abspath(path)
    assert Image.open(path).info["parameters"].startswith("a cat")


def test_outpaint_script_runs_on_the_loaded_checkpoint(any_webui_host, tiny_sd_inpaint_dir):
    from PIL import Image

    host = any_webui_host
    data = host.load_extension()
    (cls,) = [d.script_class for d in data if d.script_class.__name__ == "InpaintAnythingOutpaint"]
    host.load_model(tiny_sd_inpaint_dir)
    src = Image.fromarray(np.full((40, 56, 3), 120, np.uint8))
    p = host.img2img(
        init_images=[src], prompt="sky", steps=2, seed=7, denoising_strength=0.9, width=64, height=64, sampler_name="Euler a"
    )
    processed = cls().run(p, "pixels", 0, 16, 0, 0, "16:9", 1.5, 0.5, 0.5, "blur", 8, "all", 2)
    (img,) = processed.images
    assert img.size == (56 + 16, 40)
    assert np.array_equal(np.asarray(img)[:, : 56 - 8], np.asarray(src)[:, : 56 - 8])


# ---------------------------------------------------------------------------------------------- Forge only
def test_forge_loads_the_selected_checkpoint_on_first_use(webui_host_forge, tiny_sd_inpaint_dir):
    from inpaint_anything.inpaint.engine import run_inpaint
    from inpaint_anything.inpaint.request import InpaintRequest
    from inpaint_anything.webui import compat
    from inpaint_anything.webui.backend import WebuiCheckpointBackend, checkpoint_hint

    host = webui_host_forge
    info = host.sd_models.stub_select_checkpoint(tiny_sd_inpaint_dir)
    assert compat.loaded_sd_model() is None and compat.pending_checkpoint() is info
    assert checkpoint_hint() is None  # not "no checkpoint": Forge loads it on first use
    assert _backend().name == "webui:" + info.title
    image, mask = _photo_and_mask()
    result = run_inpaint(image, mask, InpaintRequest(prompt="x", steps=2, seed=5, mask_blur=2, padding=8), _backend())
    sd_model = compat.loaded_sd_model()
    assert sd_model is host.shared.sd_model and sd_model.sd_checkpoint_info is info
    assert sd_model.is_inpaint and not hasattr(sd_model, "model")  # detected from Forge's flag, no ldm UNet
    assert WebuiCheckpointBackend().native_size == 512 and result.images[0].shape == image.shape


def test_forge_switching_checkpoints_uses_the_selected_one(webui_host_forge, tiny_sd_dir, tiny_sd_inpaint_dir):
    """Forge keeps the old checkpoint loaded until the next generation after the dropdown (or the
    options API) picks another: the hint, the name and the native size must be about the new one."""
    from inpaint_anything.inpaint.engine import run_inpaint
    from inpaint_anything.inpaint.request import InpaintRequest
    from inpaint_anything.webui import compat
    from inpaint_anything.webui.backend import WebuiCheckpointBackend, checkpoint_hint

    host = webui_host_forge
    old = host.load_model(tiny_sd_dir, is_sdxl=True)  # flags only: a loaded "SDXL" normal checkpoint
    assert WebuiCheckpointBackend().native_size == 1024 and "not an inpainting checkpoint" in checkpoint_hint()
    info = host.sd_models.stub_select_checkpoint(tiny_sd_inpaint_dir)
    assert compat.loaded_sd_model() is old and compat.forge_reload_pending()
    assert checkpoint_hint() is None  # not a hint about the checkpoint being replaced
    assert WebuiCheckpointBackend().name == "webui:" + info.title
    assert WebuiCheckpointBackend().native_size == 512  # planned for the selected SD1 checkpoint: loads it
    assert compat.loaded_sd_model().sd_checkpoint_info is info and not compat.forge_reload_pending()
    image, mask = _photo_and_mask()
    result = run_inpaint(image, mask, InpaintRequest(prompt="x", steps=2, seed=5, mask_blur=2, padding=8), _backend())
    assert result.images[0].shape == image.shape and compat.loaded_sd_model().sd_checkpoint_info is info
    assert checkpoint_hint() is None


def test_forge_memory_goes_through_its_memory_manager(webui_host_forge, tiny_sd_inpaint_dir):
    import torch

    from inpaint_anything.inpaint.engine import run_inpaint
    from inpaint_anything.inpaint.request import InpaintRequest
    from inpaint_anything.webui import memory

    host = webui_host_forge
    mm = host.memory_management
    mm.stub_device = torch.device("cuda", 0)  # Forge on a GPU: its probe is the one we read
    sd_model = host.load_model(tiny_sd_inpaint_dir)
    image, mask = _photo_and_mask()
    request = InpaintRequest(prompt="x", steps=2, seed=5, mask_blur=2, padding=8)
    run_inpaint(image, mask, request, _backend())  # a generation loads the parts
    parts = [sd_model.forge_objects.unet, sd_model.forge_objects.clip, sd_model.forge_objects.vae]
    assert all(mm.stub_is_loaded(p) for p in parts)

    mm.stub_free_bytes = 8 * 2**30
    with memory.HostMemoryGuard()(2 * 2**30, "a test"):
        pass
    assert not any(c[0] == "free_memory" for c in mm.stub_calls)  # enough VRAM: Forge is left alone

    mm.stub_free_bytes = 256 * 2**20
    with memory.HostMemoryGuard()(2 * 2**30, "a test"):
        assert not any(mm.stub_is_loaded(p) for p in parts)
        assert host.call_queue.queue_lock.locked()
    frees = [c[1] for c in mm.stub_calls if c[0] == "free_memory"]
    assert frees == [(2 * 2**30 + memory.MARGIN_BYTES, mm.stub_device, False)]
    assert host.sd_models.stub_moves == []  # A1111's send_model_to_* are no-ops on Forge: not used
    run_inpaint(image, mask, request, _backend())  # Forge brings its models back when it needs them
    assert all(mm.stub_is_loaded(p) for p in parts)
