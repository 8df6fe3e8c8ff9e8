"""The diffusers backend end to end on tiny random-weight pipelines (SD, SD non-inpaint, SDXL)."""

from __future__ import annotations

import numpy as np
import pytest

from inpaint_anything.diffusion.cache import PipelineCache, load_inpaint_pipeline
from inpaint_anything.errors import JobInterrupted, UnrecognizedCheckpointError
from inpaint_anything.inpaint.diffusers_backend import DiffusersBackend
from inpaint_anything.inpaint.engine import run_inpaint
from inpaint_anything.inpaint.request import InpaintRequest
from inpaint_anything.jobs import JobControl


class CountingLoader:
    def __init__(self):
        self.calls = 0

    def __call__(self, source, **kw):
        self.calls += 1
        return load_inpaint_pipeline(source, **kw)


@pytest.fixture(scope="module")
def loader():
    return CountingLoader()


@pytest.fixture(scope="module")
def cache(loader):
    return PipelineCache(max_items=3, loader=loader)


def odd_image(astronaut, w=101, h=77):
    return np.ascontiguousarray(astronaut[100 : 100 + h, 200 : 200 + w])


def mask_for(h, w):
    m = np.zeros((h, w), bool)
    m[h // 4 : 3 * h // 4, w // 3 : 2 * w // 3] = True
    return m


def req(**kw):
    base = dict(prompt="a photo", steps=2, seed=11, mask_blur=2, padding=8, inpaint_area="whole")
    base.update(kw)
    return InpaintRequest(**base)


@pytest.mark.both_stacks
def test_end_to_end_odd_size_exact_outside_and_cached(tiny_sd_inpaint_dir, cache, loader, astronaut):
    image = odd_image(astronaut)
    mask = mask_for(*image.shape[:2])
    backend = DiffusersBackend(str(tiny_sd_inpaint_dir), cache, device="cpu", native_override=64)
    first = run_inpaint(image, mask, req(), backend)
    calls = loader.calls
    second = run_inpaint(image, mask, req(), backend)
    assert loader.calls == calls  # the second run loads nothing
    out = first.images[0]
    assert out.shape == image.shape
    assert np.array_equal(out[first.alpha == 0], image[first.alpha == 0])
    assert (out[mask] != image[mask]).any()
    assert np.array_equal(out, second.images[0])  # same seed, same pixels


def test_different_seed_changes_the_result(tiny_sd_inpaint_dir, cache, astronaut):
    image = odd_image(astronaut)
    mask = mask_for(*image.shape[:2])
    backend = DiffusersBackend(str(tiny_sd_inpaint_dir), cache, device="cpu", native_override=64)
    a = run_inpaint(image, mask, req(seed=1), backend).images[0]
    b = run_inpaint(image, mask, req(seed=2), backend).images[0]
    assert not np.array_equal(a[mask], b[mask])


@pytest.mark.parametrize("area", ["only masked", "whole"])
def test_only_masked_and_whole_geometry(area, tiny_sd_inpaint_dir, cache, astronaut):
    image = np.ascontiguousarray(astronaut[:383, :257])
    mask = np.zeros(image.shape[:2], bool)
    mask[300:340, 200:240] = True
    backend = DiffusersBackend(str(tiny_sd_inpaint_dir), cache, device="cpu", native_override=64)
    result = run_inpaint(image, mask, req(inpaint_area=area), backend)
    assert result.images[0].shape == image.shape
    assert np.array_equal(result.images[0][result.alpha == 0], image[result.alpha == 0])


def test_masked_content_modes_differ(tiny_sd_inpaint_dir, cache, astronaut):
    image = odd_image(astronaut, 64, 64)
    mask = mask_for(64, 64)
    backend = DiffusersBackend(str(tiny_sd_inpaint_dir), cache, device="cpu", native_override=64)
    outs = {
        mode: run_inpaint(image, mask, req(masked_content=mode, denoising_strength=0.6, steps=4), backend).images[0]
        for mode in ("original", "fill", "latent noise", "latent nothing")
    }
    modes = list(outs)
    for i, a in enumerate(modes):
        for b in modes[i + 1 :]:
            assert not np.array_equal(outs[a][mask], outs[b][mask]), (a, b)
    # nothing is put on the cached pipeline (tests/test_diffusers_masked_content.py checks every attribute)
    pipe, _ = backend.pipeline()
    assert {"prepare_latents", "_encode_vae_image"}.isdisjoint(vars(pipe))


def test_karras_sampler_runs(tiny_sd_inpaint_dir, cache, astronaut):
    image = odd_image(astronaut, 64, 64)
    backend = DiffusersBackend(str(tiny_sd_inpaint_dir), cache, device="cpu", native_override=64)
    out = run_inpaint(image, mask_for(64, 64), req(sampler="DPM++ 2M", scheduler="Karras", steps=3), backend)
    pipe, _ = backend.pipeline()
    assert pipe.scheduler.config.use_karras_sigmas is True
    assert out.images[0].shape == image.shape


def test_interrupt_stops_within_one_step(tiny_sd_inpaint_dir, cache, astronaut):
    steps_seen = []

    def on_progress(job):
        if job.step_no:
            steps_seen.append(job.step_no)
            job.interrupt()

    image = odd_image(astronaut, 64, 64)
    backend = DiffusersBackend(str(tiny_sd_inpaint_dir), cache, device="cpu", native_override=64)
    with pytest.raises(JobInterrupted):
        run_inpaint(image, mask_for(64, 64), req(steps=10), backend, JobControl(on_progress))
    assert steps_seen == [1]


@pytest.mark.both_stacks
def test_sdxl_end_to_end(tiny_sdxl_inpaint_dir, cache, astronaut):
    image = odd_image(astronaut, 72, 64)
    mask = mask_for(64, 72)
    backend = DiffusersBackend(str(tiny_sdxl_inpaint_dir), cache, device="cpu", native_override=64)
    result = run_inpaint(image, mask, req(), backend)
    assert result.images[0].shape == image.shape
    assert np.array_equal(result.images[0][result.alpha == 0], image[result.alpha == 0])
    assert backend.pipeline()[1].family == "sdxl"


def test_cpu_offload_decision(tiny_sd_inpaint_dir):
    from inpaint_anything.inpaint.diffusers_backend import model_bytes, needs_cpu_offload

    size = model_bytes(str(tiny_sd_inpaint_dir))
    assert 0 < size < 50 * 2**20
    gib = 2**30
    sd15_fp32 = int(4.3 * gib)
    assert needs_cpu_offload(4 * gib, sd15_fp32)  # a 4 GB card cannot hold SD 1.5 + working memory
    assert not needs_cpu_offload(12 * gib, sd15_fp32)
    assert needs_cpu_offload(8 * gib, int(13.9 * gib))  # SDXL fp32 files on an 8 GB card


@pytest.mark.both_stacks
def test_an_ordinary_model_is_refused_with_the_reason(tiny_sd_dir, cache, astronaut):
    image = odd_image(astronaut, 64, 64)
    backend = DiffusersBackend(str(tiny_sd_dir), cache, device="cpu", native_override=64)
    with pytest.raises(UnrecognizedCheckpointError) as err:
        run_inpaint(image, mask_for(64, 64), req(), backend)
    assert err.value.status_code == 422
    assert str(err.value) == (
        f"{tiny_sd_dir.name} cannot be used: not an inpainting model: 4 input channels; "
        "use the WebUI checkpoint backend or an inpainting file"
    )


def test_the_backend_names_the_model_never_a_path(tiny_sd_inpaint_dir, cache, astronaut):
    image = odd_image(astronaut, 64, 64)
    backend = DiffusersBackend(str(tiny_sd_inpaint_dir), cache, device="cpu", native_override=64)
    assert backend.name == f"diffusers:{tiny_sd_inpaint_dir.name}"
    text = run_inpaint(image, mask_for(64, 64), req(), backend).infotexts[0]
    assert f'Inpaint backend: "diffusers:{tiny_sd_inpaint_dir.name}"' in text and str(tiny_sd_inpaint_dir) not in text
    labelled = DiffusersBackend(str(tiny_sd_inpaint_dir), cache, label="SD15/my-model", device="cpu")
    assert labelled.name == "diffusers:SD15/my-model"
    assert DiffusersBackend("owner/repo", cache).name == "diffusers:owner/repo"


def test_runs_on_a_shared_pipeline_take_turns(tiny_sd_inpaint_dir, cache, astronaut):
    """Each request gets its own backend object, but the pipeline (and the scheduler a run sets on
    it) is shared: a run waits while another holds the cache's ``in_use``, then gives the same
    pixels as when run alone; two concurrent runs with different samplers give their own results."""
    import threading

    image = odd_image(astronaut)
    mask = mask_for(*image.shape[:2])

    def backend():
        return DiffusersBackend(str(tiny_sd_inpaint_dir), cache, device="cpu", native_override=64)

    alone = {s: run_inpaint(image, mask, req(sampler=s), backend()).images[0] for s in ("Euler a", "DPM++ 2M")}
    done: dict[str, np.ndarray] = {}

    def run(sampler: str) -> None:
        done[sampler] = run_inpaint(image, mask, req(sampler=sampler), backend()).images[0]

    with cache.in_use:  # another run holds the pipelines
        threads = [threading.Thread(target=run, args=(s,)) for s in alone]
        for t in threads:
            t.start()
        threads[0].join(1.0)
        assert not done  # both wait
    for t in threads:
        t.join(120)
    assert set(done) == set(alone)
    for s, out in alone.items():
        assert np.array_equal(done[s], out), s
