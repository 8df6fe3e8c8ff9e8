"""The WebUI checkpoint leaves VRAM only when our SAM / diffusers work is short of it, and comes back
(A1111 stand-in: send_model_to_cpu / send_model_to_device; Forge: see test_webui_forge.py).

No GPU here: the stand-in's model reports a CUDA device (``devices.stub_gpu``) while it is placed on
the device, and free VRAM comes from a fake probe (``memory.free_vram_bytes``) that gains the
checkpoint's (pretended) 4 GiB while the checkpoint is on the CPU.
"""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest

from inpaint_anything.errors import InvalidInputError, UnavailableError

GiB = 2**30


class FakeVram:
    """Free VRAM: ``base``, plus 4 GiB while the checkpoint is off the GPU; None = no CUDA."""

    def __init__(self, host, base: int | None):
        self.host, self.base = host, base

    def __call__(self) -> int | None:
        if self.base is None:
            return None
        sd_model = self.host.sd_models.model_data.sd_model
        return self.base + (4 * GiB if getattr(sd_model, "stub_placement", "device") != "device" else 0)


@pytest.fixture
def gpu_host(webui_host, tiny_sd_inpaint_dir, monkeypatch):
    import torch
    from modules import devices

    from inpaint_anything.webui import memory

    monkeypatch.setattr(devices, "stub_gpu", torch.device("cuda", 0))
    webui_host.load_extension()
    webui_host.load_model(tiny_sd_inpaint_dir)
    vram = FakeVram(webui_host, 1 * GiB)
    monkeypatch.setattr(memory, "free_vram_bytes", vram)
    webui_host.vram = vram
    return webui_host


def _guard(**kwargs):
    from inpaint_anything.webui import memory

    return memory.HostMemoryGuard(**kwargs)


def test_short_vram_moves_the_checkpoint_to_the_cpu_and_back(gpu_host):
    from inpaint_anything.webui import compat

    host = gpu_host
    model = host.shared.sd_model
    assert compat.sd_model_on_gpu(model)
    short = []
    with _guard(on_short=lambda: short.append(1))(2 * GiB, "a test"):
        assert model.stub_placement == "cpu" and not compat.sd_model_on_gpu(model)
        assert host.call_queue.queue_lock.locked()  # no WebUI generation while its model is on the CPU
    assert model.stub_placement == "device" and compat.sd_model_on_gpu(model)
    assert host.sd_models.stub_moves == [("cpu", model), ("device", model)]
    assert host.shared.sd_model is model  # moved, not reloaded
    assert not host.call_queue.queue_lock.locked() and short == []


def test_enough_vram_or_no_cuda_moves_nothing(gpu_host):
    gpu_host.vram.base = 8 * GiB
    with _guard()(2 * GiB, "a test"):
        assert not gpu_host.call_queue.queue_lock.locked()
    gpu_host.vram.base = None  # the WebUI does not run on CUDA
    with _guard()(2 * GiB, "a test"):
        pass
    with _guard()(0, "nothing needed"):
        pass
    assert gpu_host.sd_models.stub_moves == []


def test_the_checkpoint_comes_back_when_the_work_fails(gpu_host):
    model = gpu_host.shared.sd_model
    with pytest.raises(ValueError, match="work failed"), _guard()(2 * GiB, "a test"):
        raise ValueError("work failed")
    assert model.stub_placement == "device"
    assert [kind for kind, _ in gpu_host.sd_models.stub_moves] == ["cpu", "device"]
    assert not gpu_host.call_queue.queue_lock.locked()


def test_nested_guards_move_once(gpu_host):
    guard = _guard()
    with guard(2 * GiB, "outer"), guard(3 * GiB, "inner"):
        assert gpu_host.shared.sd_model.stub_placement == "cpu"
    assert [kind for kind, _ in gpu_host.sd_models.stub_moves] == ["cpu", "device"]


def test_inside_a_queued_job_the_guard_uses_the_jobs_lock(gpu_host):
    from inpaint_anything.webui.jobs import queued_job

    with queued_job("segment everything"), _guard()(2 * GiB, "a test"):
        assert gpu_host.shared.sd_model.stub_placement == "cpu"
    assert gpu_host.shared.sd_model.stub_placement == "device"
    assert not gpu_host.call_queue.queue_lock.locked()


def test_a_busy_webui_is_waited_for_then_reported(gpu_host):
    lock = gpu_host.call_queue.queue_lock
    with lock, pytest.raises(UnavailableError, match="while the WebUI is generating"), _guard(queue_wait_s=0.2)(2 * GiB, "SAM"):
        pass
    assert gpu_host.sd_models.stub_moves == []
    # a generation that ends while we wait: we get our turn
    lock.acquire()
    threading.Timer(0.2, lock.release).start()
    with _guard(queue_wait_s=60)(2 * GiB, "SAM"):
        assert gpu_host.shared.sd_model.stub_placement == "cpu"
    assert gpu_host.shared.sd_model.stub_placement == "device"


def test_lowvram_and_medvram_are_left_to_the_host(webui_host, tiny_sd_inpaint_dir, monkeypatch):
    import torch
    from modules import devices

    from inpaint_anything.webui import memory

    monkeypatch.setattr(devices, "stub_gpu", torch.device("cuda", 0))
    webui_host.load_extension(argv=["--medvram"])
    model = webui_host.load_model(tiny_sd_inpaint_dir)
    assert model.lowvram is True
    monkeypatch.setattr(memory, "free_vram_bytes", FakeVram(webui_host, 1 * GiB))
    with _guard()(2 * GiB, "a test"):
        pass
    assert webui_host.sd_models.stub_moves == []


def test_the_setting_turns_it_off_and_a_model_in_ram_stays_there(gpu_host):
    shared = gpu_host.shared
    assert (
        shared.opts.data_labels["ia_offload_host_model"].label
        == "Inpaint Anything: Move the WebUI model to the CPU when VRAM is short"
    )
    assert shared.opts.ia_offload_host_model is True
    shared.opts.set("ia_offload_host_model", False)
    with _guard()(2 * GiB, "a test"):
        pass
    assert gpu_host.sd_models.stub_moves == []
    shared.opts.set("ia_offload_host_model", True)
    gpu_host.sd_models.unload_model_weights()  # the user sent the checkpoint to RAM
    gpu_host.vram.base = 256 * 2**20
    with _guard()(8 * GiB, "a test"):
        pass
    assert [kind for kind, _ in gpu_host.sd_models.stub_moves] == ["cpu"]  # only the user's unload
    assert shared.sd_model.stub_placement == "cpu"


def test_our_models_make_way_when_the_checkpoint_cannot_come_back(gpu_host, monkeypatch):
    sd_models = gpu_host.sd_models
    real = sd_models.send_model_to_device
    failures = [RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB")]

    def flaky(m):
        if failures:
            raise failures.pop()
        real(m)

    monkeypatch.setattr(sd_models, "send_model_to_device", flaky)
    freed = []
    with _guard(on_short=lambda: freed.append("ours"))(2 * GiB, "a test"):
        pass
    assert freed == ["ours"] and gpu_host.shared.sd_model.stub_placement == "device"

    def broken(m):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(sd_models, "send_model_to_device", broken)
    with pytest.raises(UnavailableError, match="could not go back to the GPU"), _guard(on_short=lambda: None)(2 * GiB, "a test"):
        pass
    with pytest.raises(KeyError), _guard(on_short=lambda: None)(2 * GiB, "a test"):  # the work's own error wins
        raise KeyError("work")


# ---------------------------------------------------------------------------------------------- the App
@pytest.fixture
def guarded_app(gpu_host, tiny_sam_files, tmp_path, monkeypatch):
    from inpaint_anything.app import App
    from inpaint_anything.config import Settings
    from inpaint_anything.webui import memory

    models = tmp_path / "ia"
    models.mkdir()
    shutil.copy(tiny_sam_files["sam"], models / "s.pth")
    app = App(Settings(models_dir=str(models), sam_device="cpu", offline=True, default_sam_model="file:s.pth"))
    memory.install(app)
    monkeypatch.setattr(App, "_on_cuda", staticmethod(lambda device: True))  # pretend SAM and diffusers use CUDA
    gpu_host.vram.base = 256 * 2**20
    return app


def test_sam_loading_and_encoding_make_room_once_per_image(gpu_host, guarded_app, monkeypatch):
    from inpaint_anything.segment.session import SegmentSession

    model = gpu_host.shared.sd_model
    seen = []
    loader = guarded_app.sam_cache._loader
    guarded_app.sam_cache._loader = lambda *a: (seen.append(("load", model.stub_placement)), loader(*a))[1]
    encode = SegmentSession._encode
    monkeypatch.setattr(
        SegmentSession, "_encode", lambda self, *a: (seen.append(("encode", model.stub_placement)), encode(self, *a))[1]
    )
    ws = guarded_app.workspace("s")
    image = np.zeros((48, 64, 3), np.uint8)
    image[10:30, 20:40] = 200
    ws.set_image(image)
    ws.click(30, 20)
    assert seen == [("load", "cpu"), ("encode", "cpu")]
    assert [kind for kind, _ in gpu_host.sd_models.stub_moves] == ["cpu", "device", "cpu", "device"]
    ws.click(25, 15)  # same image, model cached: nothing moves
    ws.click(25, 15, reset=True)
    assert len(gpu_host.sd_models.stub_moves) == 4 and model.stub_placement == "device"


def test_diffusers_generation_makes_room_and_soft_inpainting_is_refused_first(
    gpu_host, guarded_app, tiny_sd_inpaint_dir, monkeypatch
):
    from inpaint_anything.inpaint.diffusers_backend import DiffusersBackend
    from inpaint_anything.inpaint.request import InpaintRequest

    model = gpu_host.shared.sd_model
    seen = []
    generate = DiffusersBackend.generate
    monkeypatch.setattr(DiffusersBackend, "generate", lambda self, *a: (seen.append(model.stub_placement), generate(self, *a))[1])
    backend = guarded_app.backend("diffusers", str(tiny_sd_inpaint_dir), native_size=64)
    ws = guarded_app.workspace("d")
    ws.set_image(np.full((64, 64, 3), 90, np.uint8))
    ws.brush([{"mode": "add", "radius": 10, "points": [[32, 32]]}])
    result = ws.inpaint(InpaintRequest(steps=2, seed=4, inpaint_area="whole"), backend)
    assert result.images[0].shape == (64, 64, 3) and backend.name.startswith("diffusers:")
    assert seen == ["cpu"] and model.stub_placement == "device"
    moves = len(gpu_host.sd_models.stub_moves)
    with pytest.raises(InvalidInputError, match="Soft inpainting"):
        ws.inpaint(InpaintRequest(steps=2, seed=4, soft_inpainting=True), backend)
    assert len(gpu_host.sd_models.stub_moves) == moves


def test_the_extension_app_has_the_guard_and_the_setting_turns_it_off(webui_host):
    from inpaint_anything.webui import memory

    webui_host.load_extension()
    from inpaint_anything.webui.extension import WebuiExtension

    app = WebuiExtension().app()
    assert isinstance(app._memory_guard, memory.HostMemoryGuard)
    assert app.backend("webui").name.startswith("webui:")
    assert memory.offload_enabled() is True
    webui_host.shared.opts.data["ia_offload_host_model"] = False
    assert memory.offload_enabled() is False
