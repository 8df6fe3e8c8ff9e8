"""Stand-in only: process_images_inner, the host's main generation loop (v1.10.1 order of hooks)."""

from __future__ import annotations

import os

import numpy as np
import torch
from modules import _stub_diffusion, devices, images, paths, rng, scripts, sd_models, sd_vae, shared
from modules.shared import cmd_opts, opts, state
from PIL import Image


def _decode(p, samples):
    if getattr(samples, "already_decoded", False):
        decoded = samples
    else:
        devices.test_for_nans(samples, "unet")  # as v1.10.1: the latents, then every decoded sample
        decoded = []
        for i in range(samples.shape[0]):
            sample = _stub_diffusion.decode_first_stage(p.sd_model, samples[i : i + 1])[0].cpu()
            devices.test_for_nans(sample, "vae")
            decoded.append(sample)
    return torch.clamp((torch.stack(list(decoded)).float() + 1.0) / 2.0, min=0.0, max=1.0)


def _finish_image(p, i, x_sample, infotext, save_samples, output_images, infotexts):
    from modules import processing

    p.batch_index = i
    image = Image.fromarray((255.0 * np.moveaxis(x_sample.cpu().numpy(), 0, 2)).astype(np.uint8))
    if p.scripts is not None:
        pp = scripts.PostprocessImageArgs(image)
        p.scripts.postprocess_image(p, pp)
        image = pp.image
    mask_for_overlay = getattr(p, "mask_for_overlay", None)
    overlay_image = None
    if opts.overlay_inpaint and getattr(p, "overlay_images", None) is not None and i < len(p.overlay_images):
        overlay_image = p.overlay_images[i]
    if p.scripts is not None:
        ppmo = scripts.PostProcessMaskOverlayArgs(i, mask_for_overlay, overlay_image)
        p.scripts.postprocess_maskoverlay(p, ppmo)
        mask_for_overlay, overlay_image = ppmo.mask_for_overlay, ppmo.overlay_image
    image, original_denoised_image = processing.apply_overlay(image, p.paste_to, overlay_image)
    if p.scripts is not None:
        pp = scripts.PostprocessImageArgs(image)
        p.scripts.postprocess_image_after_composite(p, pp)
        image = pp.image
    if save_samples:
        images.save_image(image, p.outpath_samples, "", p.seeds[i], p.prompts[i], opts.samples_format, info=infotext(i), p=p)
    text = infotext(i)
    infotexts.append(text)
    if opts.enable_pnginfo:
        image.info["parameters"] = text
    output_images.append(image)
    if mask_for_overlay is not None:
        if opts.return_mask or opts.save_mask:
            image_mask = mask_for_overlay.convert("RGB")
            if save_samples and opts.save_mask:
                images.save_image(
                    image_mask,
                    p.outpath_samples,
                    "",
                    p.seeds[i],
                    p.prompts[i],
                    opts.samples_format,
                    info=infotext(i),
                    p=p,
                    suffix="-mask",
                )
            if opts.return_mask:
                output_images.append(image_mask)
        if opts.return_mask_composite or opts.save_mask_composite:
            composite = Image.composite(
                original_denoised_image.convert("RGBA").convert("RGBa"),
                Image.new("RGBa", image.size),
                images.resize_image(2, mask_for_overlay, image.width, image.height).convert("L"),
            ).convert("RGBA")
            if save_samples and opts.save_mask_composite:
                images.save_image(
                    composite,
                    p.outpath_samples,
                    "",
                    p.seeds[i],
                    p.prompts[i],
                    opts.samples_format,
                    info=infotext(i),
                    p=p,
                    suffix="-mask-composite",
                )
            if opts.return_mask_composite:
                output_images.append(composite)


def process_images_inner(p):
    from modules import processing

    if isinstance(p.prompt, list):
        assert len(p.prompt) > 0
    else:
        assert p.prompt is not None
    seed = processing.get_fixed_seed(p.seed)
    subseed = processing.get_fixed_seed(p.subseed)
    if p.restore_faces is None:
        p.restore_faces = opts.face_restoration
    if p.tiling is None:
        p.tiling = opts.tiling
    p.sd_model_name = shared.sd_model.sd_checkpoint_info.name_for_extra
    p.sd_model_hash = shared.sd_model.sd_model_hash
    p.sd_vae_name = sd_vae.get_loaded_vae_name()
    p.sd_vae_hash = sd_vae.get_loaded_vae_hash()
    p.fill_fields_from_opts()
    p.setup_prompts()
    p.all_seeds = (
        seed if isinstance(seed, list) else [int(seed) + (x if p.subseed_strength == 0 else 0) for x in range(len(p.all_prompts))]
    )
    p.all_subseeds = subseed if isinstance(subseed, list) else [int(subseed) + x for x in range(len(p.all_prompts))]
    if p.scripts is not None:
        p.scripts.process(p)

    infotexts: list[str] = []
    output_images: list = []

    def infotext(index=0, use_main_prompt=False):
        return processing.create_infotext(
            p,
            p.prompts,
            p.seeds,
            p.subseeds,
            use_main_prompt=use_main_prompt,
            index=index,
            all_negative_prompts=p.negative_prompts,
        )

    with torch.no_grad():
        p.init(p.all_prompts, p.all_seeds, p.all_subseeds)
        if state.job_count == -1:
            state.job_count = p.n_iter
        for n in range(p.n_iter):
            p.iteration = n
            if state.skipped:
                state.skipped = False
            if state.interrupted or state.stopping_generation:
                break
            sd_models.reload_model_weights()
            sl = slice(n * p.batch_size, (n + 1) * p.batch_size)
            p.prompts, p.negative_prompts = p.all_prompts[sl], p.all_negative_prompts[sl]
            p.seeds, p.subseeds = p.all_seeds[sl], p.all_subseeds[sl]
            latent_channels = getattr(shared.sd_model, "latent_channels", processing.opt_C)
            p.rng = rng.ImageRNG(
                (latent_channels, p.height // processing.opt_f, p.width // processing.opt_f),
                p.seeds,
                subseeds=p.subseeds,
                subseed_strength=p.subseed_strength,
            )
            if p.scripts is not None:
                p.scripts.before_process_batch(p, batch_number=n, prompts=p.prompts, seeds=p.seeds, subseeds=p.subseeds)
            if len(p.prompts) == 0:
                break
            p.parse_extra_network_prompts()
            if p.scripts is not None:
                p.scripts.process_batch(p, batch_number=n, prompts=p.prompts, seeds=p.seeds, subseeds=p.subseeds)
            p.setup_conds()
            if n == 0 and not cmd_opts.no_prompt_history:
                with open(os.path.join(paths.data_path, "params.txt"), "w", encoding="utf8") as file:
                    file.write(processing.Processed(p, []).infotext(p, 0))
            if p.n_iter > 1:
                shared.state.job = f"Batch {n + 1} out of {p.n_iter}"
            samples = p.sample(
                conditioning=p.c,
                unconditional_conditioning=p.uc,
                seeds=p.seeds,
                subseeds=p.subseeds,
                subseed_strength=p.subseed_strength,
                prompts=p.prompts,
            )
            if p.scripts is not None:
                ps = scripts.PostSampleArgs(samples)
                p.scripts.post_sample(p, ps)
                samples = ps.samples
            x_samples = _decode(p, samples)
            state.nextjob()
            if p.scripts is not None:
                p.scripts.postprocess_batch(p, x_samples, batch_number=n)
                p.prompts, p.negative_prompts = p.all_prompts[sl], p.all_negative_prompts[sl]
                batch_params = scripts.PostprocessBatchListArgs(list(x_samples))
                p.scripts.postprocess_batch_list(p, batch_params, batch_number=n)
                x_samples = batch_params.images
            save_samples = p.save_samples()
            for i, x_sample in enumerate(x_samples):
                _finish_image(p, i, x_sample, infotext, save_samples, output_images, infotexts)

        if not infotexts:
            infotexts.append(processing.Processed(p, []).infotext(p, 0))
        p.color_corrections = None
        index_of_first_image = 0
        unwanted_grid = len(output_images) < 2 and opts.grid_only_if_multiple
        if (opts.return_grid or opts.grid_save) and not p.do_not_save_grid and not unwanted_grid:
            grid = images.image_grid(output_images, p.batch_size)
            if opts.return_grid:
                text = infotext(use_main_prompt=True)
                infotexts.insert(0, text)
                if opts.enable_pnginfo:
                    grid.info["parameters"] = text
                output_images.insert(0, grid)
                index_of_first_image = 1
            if opts.grid_save:
                images.save_image(
                    grid,
                    p.outpath_grids,
                    "grid",
                    p.all_seeds[0],
                    p.all_prompts[0],
                    opts.grid_format,
                    info=infotext(use_main_prompt=True),
                    short_filename=not opts.grid_extended_filename,
                    p=p,
                    grid=True,
                )

    res = processing.Processed(
        p,
        images_list=output_images,
        seed=p.all_seeds[0],
        info=infotexts[0],
        subseed=p.all_subseeds[0],
        index_of_first_image=index_of_first_image,
        infotexts=infotexts,
    )
    if p.scripts is not None:
        p.scripts.postprocess(p, res)
    return res
