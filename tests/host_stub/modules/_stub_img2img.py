"""Stand-in only: StableDiffusionProcessingImg2Img.init/sample, following the host's v1.10.1 steps.

Mask: binary (RGBA alpha if not opaque, rounded at 128 with mask_round) -> optional invert ->
separable Gaussian blur (sigma = mask_blur_x/y, kernel 2*int(2.5*sigma+0.5)+1) -> Only masked:
bbox + padding expanded to the width/height aspect, cropped and resized (mode 2) to width x height;
Whole picture: resized with resize_mode and the overlay mask doubled. Fill 0 pre-fills masked
pixels, 2 puts seeded noise and 3 zeros into the masked latent; 1 keeps the original.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from modules import _stub_diffusion, devices, images, masking, scripts, sd_samplers, shared
from modules.shared import opts
from PIL import Image, ImageOps


def _blur(image_mask: Image.Image, sigma: int, horizontal: bool) -> Image.Image:
    kernel_size = 2 * int(2.5 * sigma + 0.5) + 1
    ksize = (kernel_size, 1) if horizontal else (1, kernel_size)
    return Image.fromarray(cv2.GaussianBlur(np.array(image_mask), ksize, sigma))


def _prepare_mask(p):
    """Returns (image_mask in processing space or None, crop_region or None)."""
    from modules import processing

    image_mask = processing.create_binary_mask(p.image_mask, round=p.mask_round)
    if p.inpainting_mask_invert:
        image_mask = ImageOps.invert(image_mask)
        p.extra_generation_params["Mask mode"] = "Inpaint not masked"
    if p.mask_blur_x > 0:
        image_mask = _blur(image_mask, p.mask_blur_x, True)
    if p.mask_blur_y > 0:
        image_mask = _blur(image_mask, p.mask_blur_y, False)
    if p.mask_blur_x > 0 or p.mask_blur_y > 0:
        p.extra_generation_params["Mask blur"] = p.mask_blur
    crop_region = None
    if p.inpaint_full_res:
        p.mask_for_overlay = image_mask
        mask = image_mask.convert("L")
        crop_region = masking.get_crop_region_v2(mask, p.inpaint_full_res_padding)
        if crop_region:
            crop_region = masking.expand_crop_region(crop_region, p.width, p.height, mask.width, mask.height)
            x1, y1, x2, y2 = crop_region
            image_mask = images.resize_image(2, mask.crop(crop_region), p.width, p.height)
            p.paste_to = (x1, y1, x2 - x1, y2 - y1)
            p.extra_generation_params["Inpaint area"] = "Only masked"
            p.extra_generation_params["Masked area padding"] = p.inpaint_full_res_padding
        else:
            crop_region = None
            image_mask = None
            p.mask_for_overlay = None
            p.inpaint_full_res = False
            p.comment('Unable to perform "Inpaint Only mask" because mask is blank, switch to img2img mode.')
    else:
        image_mask = images.resize_image(p.resize_mode, image_mask, p.width, p.height)
        np_mask = np.clip(np.array(image_mask).astype(np.float32) * 2, 0, 255).astype(np.uint8)
        p.mask_for_overlay = Image.fromarray(np_mask)
    p.overlay_images = []
    return image_mask, crop_region


def img2img_init(p, all_seeds):
    from modules import processing

    p.extra_generation_params["Denoising strength"] = p.denoising_strength
    p.image_cfg_scale = p.image_cfg_scale if shared.sd_model.cond_stage_key == "edit" else None
    p.sampler = sd_samplers.create_sampler(p.sampler_name, p.sd_model)
    image_mask, crop_region = _prepare_mask(p) if p.image_mask is not None else (None, None)
    latent_mask = p.latent_mask if p.latent_mask is not None else image_mask

    imgs = []
    for img in p.init_images:
        if opts.save_init_img:
            import hashlib

            p.init_img_hash = hashlib.md5(img.tobytes()).hexdigest()
            images.save_image(
                img,
                path=opts.outdir_init_images,
                basename=None,
                forced_filename=p.init_img_hash,
                save_to_dirs=False,
                existing_info=img.info,
            )
        image = images.flatten(img, opts.img2img_background_color)
        if crop_region is None and p.resize_mode != 3:
            image = images.resize_image(p.resize_mode, image, p.width, p.height)
        if image_mask is not None:
            if p.mask_for_overlay.size != (image.width, image.height):
                p.mask_for_overlay = images.resize_image(p.resize_mode, p.mask_for_overlay, image.width, image.height)
            image_masked = Image.new("RGBa", (image.width, image.height))
            image_masked.paste(image.convert("RGBA").convert("RGBa"), mask=ImageOps.invert(p.mask_for_overlay.convert("L")))
            p.overlay_images.append(image_masked.convert("RGBA"))
        if crop_region is not None:
            image = images.resize_image(2, image.crop(crop_region), p.width, p.height)
        if image_mask is not None and p.inpainting_fill != 1:
            image = masking.fill(image, latent_mask)
            if p.inpainting_fill == 0:
                p.extra_generation_params["Masked content"] = "fill"
        imgs.append(np.moveaxis(np.array(image).astype(np.float32) / 255.0, 2, 0))

    if len(imgs) == 1:
        batch_images = np.expand_dims(imgs[0], axis=0).repeat(p.batch_size, axis=0)
        if p.overlay_images is not None:
            p.overlay_images = p.overlay_images * p.batch_size
    elif len(imgs) <= p.batch_size:
        p.batch_size = len(imgs)
        batch_images = np.array(imgs)
    else:
        raise RuntimeError(f"bad number of images passed: {len(imgs)}; expecting {p.batch_size} or less")

    image = torch.from_numpy(batch_images).to(shared.device, dtype=devices.dtype_vae)
    p.init_latent = _stub_diffusion.images_tensor_to_samples(image, model=p.sd_model)
    if p.resize_mode == 3:
        p.init_latent = torch.nn.functional.interpolate(p.init_latent, size=(p.height // 8, p.width // 8), mode="bilinear")

    if image_mask is not None:
        latmask = latent_mask.convert("RGB").resize((p.init_latent.shape[3], p.init_latent.shape[2]))
        latmask = np.moveaxis(np.array(latmask, dtype=np.float32), 2, 0)[0] / 255
        if p.mask_round:
            latmask = np.around(latmask)
        latmask = np.tile(latmask[None], (p.init_latent.shape[1], 1, 1))
        p.mask = torch.asarray(1.0 - latmask).to(shared.device).type(devices.dtype)
        p.nmask = torch.asarray(latmask).to(shared.device).type(devices.dtype)
        if p.inpainting_fill == 2:
            noise = processing.create_random_tensors(p.init_latent.shape[1:], all_seeds[0 : p.init_latent.shape[0]])
            p.init_latent = p.init_latent * p.mask + noise * p.nmask
            p.extra_generation_params["Masked content"] = "latent noise"
        elif p.inpainting_fill == 3:
            p.init_latent = p.init_latent * p.mask
            p.extra_generation_params["Masked content"] = "latent nothing"

    p.image_conditioning = img2img_image_conditioning(p, image * 2 - 1, p.init_latent, image_mask, p.mask_round)


def img2img_image_conditioning(p, source_image, latent_image, image_mask=None, round_image_mask=True):
    if p.sampler.conditioning_key in {"hybrid", "concat"} or p.sd_model.is_sdxl_inpaint:
        return inpainting_image_conditioning(p, source_image, latent_image, image_mask, round_image_mask)
    return latent_image.new_zeros(latent_image.shape[0], 5, 1, 1)


def inpainting_image_conditioning(p, source_image, latent_image, image_mask=None, round_image_mask=True):
    """cat([mask, VAE latent of the masked image]) for a 9-channel UNet."""
    p.is_using_inpainting_conditioning = True
    if image_mask is None:
        conditioning_mask = source_image.new_ones(1, 1, *source_image.shape[-2:])
    elif torch.is_tensor(image_mask):
        conditioning_mask = image_mask
    else:
        conditioning_mask = torch.from_numpy((np.array(image_mask.convert("L")).astype(np.float32) / 255.0)[None, None])
        if round_image_mask:
            conditioning_mask = torch.round(conditioning_mask)
    conditioning_mask = conditioning_mask.to(device=source_image.device, dtype=source_image.dtype)
    weight = getattr(p, "inpainting_mask_weight", opts.inpainting_mask_weight)
    conditioning_image = torch.lerp(source_image, source_image * (1.0 - conditioning_mask), weight)
    conditioning_image = _stub_diffusion.encode_first_stage(p.sd_model, conditioning_image)
    conditioning_mask = torch.nn.functional.interpolate(conditioning_mask, size=latent_image.shape[-2:])
    conditioning_mask = conditioning_mask.expand(conditioning_image.shape[0], -1, -1, -1)
    return torch.cat([conditioning_mask, conditioning_image], dim=1).to(shared.device)


def img2img_sample(p, conditioning, unconditional_conditioning):
    x = p.rng.next()
    if p.initial_noise_multiplier != 1.0:
        p.extra_generation_params["Noise multiplier"] = p.initial_noise_multiplier
        x *= p.initial_noise_multiplier
    if p.scripts is not None:
        p.scripts.process_before_every_sampling(p=p, x=p.init_latent, noise=x, c=conditioning, uc=unconditional_conditioning)
    samples = p.sampler.sample_img2img(
        p, p.init_latent, x, conditioning, unconditional_conditioning, image_conditioning=p.image_conditioning
    )
    if p.mask is not None:
        blended = samples * p.nmask + p.init_latent * p.mask
        if p.scripts is not None:
            mba = scripts.MaskBlendArgs(samples, p.nmask, p.init_latent, p.mask, blended)
            p.scripts.on_mask_blend(p, mba)
            blended = mba.blended_latent
        samples = blended
    return samples
