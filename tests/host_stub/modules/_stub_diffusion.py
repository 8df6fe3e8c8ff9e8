"""Stand-in only (no host counterpart): the sampling engine behind process_images.

It runs the loaded tiny diffusers components (text encoder, VAE, UNet) with one deterministic
DDIM-style loop that plays the role of the host's k-diffusion samplers and CFGDenoiser:

* img2img runs ``t_enc + 1`` steps of a ``steps`` schedule (``t_enc`` from setup_img2img_steps),
  like the host's default k-diffusion samplers; ``state.sampling_steps = t_enc + 1``;
* before every step: interrupt/skip check (the host raises InterruptedException and returns the
  last denoised latent), then ``on_cfg_denoiser``; classifier-free guidance; ``on_cfg_denoised``;
* a 9-channel (inpainting) UNet gets ``cat([x, mask, masked-image latent])``;
* with a mask, the denoised prediction is blended with the original latent after every step
  (``denoised * nmask + init_latent * mask``, scripts' ``on_mask_blend``), for every UNet;
* ``state.sampling_step`` = index of the finished step (the host's callback_state).
"""

from __future__ import annotations

import torch
from modules import script_callbacks, scripts, shared
from modules.sd_samplers_common import setup_img2img_steps


def _token_ids(tokenizer, encoder, prompts) -> torch.Tensor:
    max_len = min(tokenizer.model_max_length, encoder.config.max_position_embeddings)
    ids = tokenizer(list(prompts), padding="max_length", max_length=max_len, truncation=True, return_tensors="pt").input_ids
    return ids.to(shared.device)


@torch.no_grad()
def get_learned_conditioning(sd_model, prompts):
    """SD1/2: the text encoder's last hidden state. SDXL (two encoders): like the host, a dict with
    "crossattn" (both penultimate hidden states concatenated) and "vector" (the pooled projection)."""
    te1 = sd_model.cond_stage_model
    if sd_model.text_encoder_2 is None:
        return te1(_token_ids(sd_model.tokenizer, te1, prompts))[0]
    te2 = sd_model.text_encoder_2
    h1 = te1(_token_ids(sd_model.tokenizer, te1, prompts), output_hidden_states=True).hidden_states[-2]
    out2 = te2(_token_ids(sd_model.tokenizer_2, te2, prompts), output_hidden_states=True)
    return {"crossattn": torch.cat([h1, out2.hidden_states[-2]], dim=-1), "vector": out2.text_embeds}


def conditioning_key(sd_model) -> str:
    """The ldm wrapper's conditioning key (A1111); Forge engines have no wrapper: the stand-in's own."""
    wrapper = getattr(sd_model, "model", None)
    return getattr(wrapper, "conditioning_key", None) or sd_model.stub_conditioning_key


def _pair(uncond, cond):
    """Batch uncond and cond along dim 0 (dicts key by key), as the CFG denoiser does."""
    if isinstance(cond, dict):
        return {k: _pair(uncond[k], cond[k]) for k in cond}
    return torch.cat([uncond, cond])


@torch.no_grad()
def encode_first_stage(sd_model, image: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images -> scaled latents (the posterior mean, so results are deterministic)."""
    vae = sd_model.first_stage_model
    return vae.encode(image.to(shared.device, vae.dtype)).latent_dist.mode() * sd_model.scale_factor


@torch.no_grad()
def images_tensor_to_samples(image: torch.Tensor, approximation=None, model=None) -> torch.Tensor:
    """[0, 1] images -> latents (the host's sd_samplers_common.images_tensor_to_samples)."""
    return encode_first_stage(model or shared.sd_model, image * 2 - 1)


@torch.no_grad()
def decode_first_stage(sd_model, x: torch.Tensor) -> torch.Tensor:
    vae = sd_model.first_stage_model
    return vae.decode(x.to(vae.dtype) / sd_model.scale_factor).sample


class StubSampler:
    """What sd_samplers.create_sampler returns in the stand-in, for every sampler name."""

    def __init__(self, sd_model):
        self.sd_model = sd_model
        self.config = None
        self.conditioning_key = conditioning_key(sd_model)
        self.last_latent = None
        self.step = 0
        self.total_steps = 0

    def _timesteps(self, steps: int) -> torch.Tensor:
        sched = self.sd_model.make_scheduler()
        sched.set_timesteps(steps)
        return sched.timesteps

    def sample_img2img(self, p, x, noise, conditioning, unconditional_conditioning, steps=None, image_conditioning=None):
        steps, t_enc = setup_img2img_steps(p, steps)
        timesteps = self._timesteps(steps)[max(steps - t_enc - 1, 0) :]
        a0 = self.sd_model.alphas_cumprod[timesteps[0]]
        xi = x * a0.sqrt() + noise * (1 - a0).sqrt()
        self.last_latent = x
        return self._run(p, xi, x, timesteps, conditioning, unconditional_conditioning, image_conditioning)

    def sample(self, p, x, conditioning, unconditional_conditioning, steps=None, image_conditioning=None):
        timesteps = self._timesteps(steps or p.steps)
        a0 = self.sd_model.alphas_cumprod[timesteps[0]]
        self.last_latent = x
        return self._run(p, x * (1 - a0).sqrt(), None, timesteps, conditioning, unconditional_conditioning, image_conditioning)

    @torch.no_grad()
    def _run(self, p, x, init_latent, timesteps, cond, uncond, image_cond):
        state = shared.state
        unet = self.sd_model.diffusers_unet
        ac = self.sd_model.alphas_cumprod
        mask, nmask = getattr(p, "mask", None), getattr(p, "nmask", None)
        hybrid = unet.config.in_channels > 4 and image_cond is not None and image_cond.shape[1] + 4 == unet.config.in_channels
        state.sampling_steps = len(timesteps)
        state.sampling_step = 0
        self.total_steps = len(timesteps)
        for i, t in enumerate(timesteps):
            if state.interrupted or state.skipped:
                return self.last_latent
            self.step = i
            a_t = ac[t]
            a_prev = ac[timesteps[i + 1]] if i + 1 < len(timesteps) else torch.tensor(1.0)
            sigma = ((1 - a_t) / a_t).sqrt()
            params = script_callbacks.CFGDenoiserParams(x, image_cond, sigma, i, len(timesteps), cond, uncond, self)
            script_callbacks.cfg_denoiser_callback(params)
            x_in = params.x
            batch = x_in.shape[0]
            model_in = torch.cat([x_in, x_in])
            if hybrid:
                model_in = torch.cat([model_in, torch.cat([image_cond, image_cond])], dim=1)
            text = _pair(params.text_uncond, params.text_cond)
            extra = {}
            if isinstance(text, dict):
                size = torch.tensor([p.height, p.width, 0, 0, p.height, p.width], dtype=unet.dtype)
                extra["added_cond_kwargs"] = {"text_embeds": text["vector"].to(unet.dtype), "time_ids": size.repeat(2 * batch, 1)}
                text = text["crossattn"]
            eps_u, eps_c = (
                unet(model_in.to(unet.dtype), t, encoder_hidden_states=text.to(unet.dtype), **extra).sample.float().chunk(2)
            )
            denoised_params = script_callbacks.CFGDenoisedParams(torch.cat([eps_u, eps_c]), i, len(timesteps), unet)
            script_callbacks.cfg_denoised_callback(denoised_params)
            eps_u, eps_c = denoised_params.x.chunk(2)
            eps = eps_u + p.cfg_scale * (eps_c - eps_u)
            after = script_callbacks.AfterCFGCallbackParams(eps, i, len(timesteps))
            script_callbacks.cfg_after_cfg_callback(after)
            eps = after.x
            denoised = (x_in - (1 - a_t).sqrt() * eps) / a_t.sqrt()
            if mask is not None and init_latent is not None:
                blended = denoised * nmask + init_latent * mask
                if p.scripts is not None:
                    mba = scripts.MaskBlendArgs(denoised, nmask, init_latent, mask, blended, denoiser=self, sigma=sigma)
                    p.scripts.on_mask_blend(p, mba)
                    blended = mba.blended_latent
                denoised = blended
            eps = (x_in - a_t.sqrt() * denoised) / (1 - a_t).sqrt()
            x = a_prev.sqrt() * denoised + (1 - a_prev).sqrt() * eps
            self.last_latent = denoised
            state.current_latent = denoised
            state.sampling_step = i
            shared.total_tqdm.update()
        return x
