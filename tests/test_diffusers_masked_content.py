"""'latent noise' / 'latent nothing' through the pipeline's public arguments, on tiny random-weight
pipelines: the cached pipeline is never modified, a shared pipeline gives what a fresh one gives, the
pixels outside the mask are the input's, and the pipeline uses exactly the latents and conditioning
we pass (the 9-channel UNet's input, the 4-channel UNet's per-step blend)."""

from __future__ import annotations

import numpy as np
import pytest

from inpaint_anything.diffusion.cache import PipelineCache, load_inpaint_pipeline
from inpaint_anything.errors import JobInterrupted
from inpaint_anything.inpaint.diffusers_backend import DiffusersBackend, masked_content_latents
from inpaint_anything.inpaint.engine import run_inpaint
from inpaint_anything.inpaint.request import InpaintRequest
from inpaint_anything.jobs import JobControl

LATENT = ("latent noise", "latent nothing")


@pytest.fixture(scope="module")
def cache():
    return PipelineCache(max_items=3)


def square(astronaut, size=64):
    return np.ascontiguousarray(astronaut[100 : 100 + size, 200 : 200 + size])


def hole(size=64):
    m = np.zeros((size, size), bool)
    m[14:45, 21:43] = True  # edges off the 8-pixel grid
    return m


def req(**kw):
    base = dict(prompt="a photo", steps=4, seed=11, mask_blur=2, padding=8, inpaint_area="whole", denoising_strength=0.6)
    base.update(kw)
    return InpaintRequest(**base)


def _run(folder, cache, image, mask, **kw):
    backend = DiffusersBackend(str(folder), cache, device="cpu", native_override=64)
    return run_inpaint(image, mask, req(**kw), backend)


def _state(pipe):
    """What a call must leave alone, by identity: every attribute except the pipeline's own per-call
    numbers, the scheduler (the request's sampler picks it) and the config (rebuilt, equal, when the
    scheduler is set)."""
    return {
        k: v
        for k, v in vars(pipe).items()
        if k not in ("scheduler", "_internal_dict") and not isinstance(v, (bool, int, float, str, type(None)))
    }


@pytest.mark.parametrize("content", LATENT)
def test_the_cached_pipeline_is_not_modified_even_when_the_call_fails(content, tiny_sd_inpaint_dir, cache, astronaut):
    image, mask = square(astronaut), hole()
    _run(tiny_sd_inpaint_dir, cache, image, mask, masked_content="fill")  # the pipeline's own per-call attributes exist
    pipe, _ = DiffusersBackend(str(tiny_sd_inpaint_dir), cache, device="cpu").pipeline()
    keys, state, config = set(vars(pipe)), _state(pipe), dict(pipe.config)
    vae_dtype = pipe.vae.dtype

    def same():
        now = _state(pipe)
        assert set(vars(pipe)) == keys and now.keys() == state.keys()
        assert [k for k, v in state.items() if now[k] is not v] == []
        assert {"prepare_latents", "_encode_vae_image", "__call__"}.isdisjoint(vars(pipe))
        assert dict(pipe.config) == config and pipe.vae.dtype == vae_dtype

    _run(tiny_sd_inpaint_dir, cache, image, mask, masked_content=content)
    same()

    def stop(job):
        if job.step_no:
            job.interrupt()

    backend = DiffusersBackend(str(tiny_sd_inpaint_dir), cache, device="cpu", native_override=64)
    with pytest.raises(JobInterrupted):
        run_inpaint(image, mask, req(masked_content=content), backend, JobControl(stop))
    same()


def test_one_cached_pipeline_gives_what_fresh_pipelines_give(tiny_sd_inpaint_dir, cache, astronaut):
    image, mask = square(astronaut), hole()
    order = ("latent noise", "fill", "latent nothing", "original", "latent noise", "latent nothing")
    shared = [_run(tiny_sd_inpaint_dir, cache, image, mask, masked_content=c).images[0] for c in order]
    fresh = {
        c: _run(tiny_sd_inpaint_dir, PipelineCache(max_items=1), image, mask, masked_content=c).images[0]
        for c in dict.fromkeys(order)
    }
    for content, out in zip(order, shared, strict=True):
        assert np.array_equal(out, fresh[content]), content


@pytest.mark.both_stacks
@pytest.mark.parametrize("family", ["sd", "sdxl"])
def test_latent_modes_change_the_hole_only_and_are_deterministic(
    family, tiny_sd_inpaint_dir, tiny_sdxl_inpaint_dir, cache, astronaut
):
    folder = tiny_sd_inpaint_dir if family == "sd" else tiny_sdxl_inpaint_dir
    image, mask = square(astronaut), hole()
    fill = _run(folder, cache, image, mask, masked_content="fill").images[0]
    outs = {}
    for content in LATENT:
        first = _run(folder, cache, image, mask, masked_content=content)
        again = _run(folder, cache, image, mask, masked_content=content).images[0]
        out = first.images[0]
        assert np.array_equal(out, again), content  # same seed, same pixels
        assert np.array_equal(out[first.alpha == 0], image[first.alpha == 0]), content  # pasted back outside
        assert not np.array_equal(out[mask], fill[mask]), content
        outs[content] = out
    assert not np.array_equal(outs["latent noise"][mask], outs["latent nothing"][mask])
    other_seed = _run(folder, cache, image, mask, masked_content="latent noise", seed=12).images[0]
    assert not np.array_equal(other_seed[mask], outs["latent noise"][mask])


def _cells(mask, shape):
    import torch

    small = torch.nn.functional.interpolate(torch.from_numpy(mask.astype(np.float32))[None, None], size=shape)
    return small[0, 0] >= 0.5


def _call(pipe, image, mask, content, seed=5, **kw):
    import torch
    from PIL import Image

    generator = torch.Generator("cpu").manual_seed(seed)
    with torch.inference_mode():
        args = masked_content_latents(pipe, image, mask, content, seed, generator)
        out = pipe(
            prompt="a photo",
            mask_image=Image.fromarray(mask.astype(np.uint8) * 255),
            height=64,
            width=64,
            num_inference_steps=3,
            generator=generator,
            output_type="latent",
            **args,
            **kw,
        ).images
    return args, out


def _original_latents(pipe, image, seed=5):
    """The image's latents drawn as masked_content_latents draws them (first from the seeded generator)."""
    import torch

    generator = torch.Generator("cpu").manual_seed(seed)
    with torch.inference_mode():
        return masked_content_latents(pipe, image, np.zeros(image.shape[:2], bool), "latent nothing", seed, generator)


def test_nine_channel_unet_gets_our_latents_the_pipelines_mask_and_the_original_masked_image(tiny_sd_inpaint_dir, astronaut):
    import torch

    pipe, _ = load_inpaint_pipeline(tiny_sd_inpaint_dir, require_inpaint=True)
    image, mask = square(astronaut), hole()
    seen = []
    handle = pipe.unet.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    try:
        args, _ = _call(pipe, image, mask, "latent noise", strength=0.6)
    finally:
        handle.remove()
    unet_in = seen[0]  # classifier-free guidance: two copies
    cells = _cells(mask, (8, 8))
    assert torch.equal(unet_in[:, 4], cells.float().expand(2, 8, 8))  # our latent mask is the pipeline's
    assert torch.equal(unet_in[:, 5:], args["masked_image_latents"].expand(2, -1, -1, -1))
    # ... and those latents are the ORIGINAL image with the hole zeroed, drawn second from the generator
    generator = torch.Generator("cpu").manual_seed(5)
    pixels = torch.from_numpy(image.astype(np.float32) / 255.0).permute(2, 0, 1)[None] * 2.0 - 1.0
    with torch.inference_mode():
        pipe.vae.encode(pixels).latent_dist.sample(generator=generator)
        masked = pipe.vae.encode(pixels * torch.from_numpy(~mask)).latent_dist.sample(generator=generator)
    assert torch.equal(args["masked_image_latents"], masked * pipe.vae.config.scaling_factor)
    original = _original_latents(pipe, image)["image"]
    assert torch.equal(args["image"][..., ~cells], original[..., ~cells])
    assert not torch.equal(args["image"][..., cells], original[..., cells])


@pytest.mark.parametrize("content", LATENT)
def test_four_channel_unet_blend_keeps_the_original_latents_outside_the_mask(content, tiny_sd_dir, astronaut):
    import torch

    pipe, _ = load_inpaint_pipeline(tiny_sd_dir)  # an ordinary model: the pipeline blends at each step
    assert pipe.unet.config.in_channels == 4
    image, mask = square(astronaut), hole()
    args, out = _call(pipe, image, mask, content, strength=0.8)
    cells = _cells(mask, (8, 8))
    original = _original_latents(pipe, image)["image"]
    assert torch.equal(out[..., ~cells], original[..., ~cells])  # the last blend puts the original back
    assert torch.equal(args["image"][..., ~cells], original[..., ~cells])
    inside = out[..., cells]
    assert not torch.equal(inside, args["image"][..., cells])  # denoised there, not copied from our latents
    if content == "latent nothing":
        assert bool((inside != 0).all())


def test_latent_mode_arguments_are_refused_for_other_modes(tiny_sd_inpaint_dir, astronaut):
    pipe, _ = load_inpaint_pipeline(tiny_sd_inpaint_dir)
    with pytest.raises(ValueError):
        masked_content_latents(pipe, square(astronaut), hole(), "fill", 1, None)


def test_an_fp16_sdxl_vae_encodes_in_float32_and_is_put_back(tiny_sdxl_inpaint_dir, astronaut):
    import torch

    pipe, _ = load_inpaint_pipeline(tiny_sdxl_inpaint_dir)
    pipe.to(torch.float16)
    assert pipe.vae.config.force_upcast
    seen = []
    handle = pipe.vae.encoder.register_forward_pre_hook(lambda module, args: seen.append(args[0].dtype))
    try:
        for upcast, dtype in ((True, torch.float32), (False, torch.float16)):
            seen.clear()
            with torch.inference_mode():
                args = masked_content_latents(
                    pipe, square(astronaut), hole(), "latent noise", 3, torch.Generator("cpu").manual_seed(3), upcast_vae=upcast
                )
            assert seen == [dtype, dtype]
            assert pipe.vae.dtype == torch.float16
            assert args["image"].dtype == args["masked_image_latents"].dtype == torch.float16
            assert bool(torch.isfinite(args["image"]).all())
    finally:
        handle.remove()
