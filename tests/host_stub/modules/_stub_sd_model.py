"""Stand-in only: the loaded model object behind ``shared.sd_model``.

A1111 (``StubSdModel``): a torch module exposing what extensions probe on the host's LatentDiffusion
(``model.diffusion_model.input_blocks[0][0].in_channels``, ``is_sdxl``, ``is_sdxl_inpaint``,
``sd_checkpoint_info``, ``model.conditioning_key``, ``lowvram``...), built from tiny diffusers components.

Forge (``StubForgeModel``): shaped like Forge's ForgeDiffusionEngine where extensions look: ``is_inpaint``
(from the UNet's input channels), ``is_sdxl``/``is_sd1``, ``forge_objects`` (unet/clip/vae
ModelPatchers for the memory manager), ``sd_checkpoint_info``, ``filename``; no ldm ``model`` wrapper
and no ``lowvram``. It keeps the stand-in's sampling attributes (diffusers modules, ``is_sdxl_inpaint``
= False) so the same generation code runs it.
"""

from __future__ import annotations

import contextlib

import torch
from modules import devices


class _UNetView(torch.nn.Module):
    """Looks like the host's ldm UNetModel where extensions probe it."""

    def __init__(self, unet):
        super().__init__()
        self.input_blocks = torch.nn.ModuleList([torch.nn.Sequential(unet.conv_in)])
        self.in_channels = unet.config.in_channels
        self.out_channels = unet.config.out_channels
        self.model_channels = unet.config.block_out_channels[0]


class _DiffusionWrapper(torch.nn.Module):
    def __init__(self, unet, conditioning_key):
        super().__init__()
        self.diffusion_model = _UNetView(unet)
        self.conditioning_key = conditioning_key


class _Conditioner(torch.nn.Module):
    """SDXL models have a ``conditioner`` with ``embedders`` on the host (an SDXL probe)."""

    def __init__(self, embedders):
        super().__init__()
        self.embedders = torch.nn.ModuleList(embedders)


class StubSdModel(torch.nn.Module):
    """The loaded model (``shared.sd_model``) built from diffusers components."""

    def __init__(
        self,
        unet,
        vae,
        text_encoder,
        tokenizer,
        scheduler_config,
        checkpoint_info,
        *,
        is_sdxl=False,
        text_encoder_2=None,
        tokenizer_2=None,
    ):
        super().__init__()
        in_channels = unet.config.in_channels
        self.diffusers_unet = unet
        self.first_stage_model = vae
        self.cond_stage_model = text_encoder
        self.tokenizer = tokenizer
        self.text_encoder_2 = text_encoder_2
        self.tokenizer_2 = tokenizer_2
        if is_sdxl:
            self.conditioner = _Conditioner([m for m in (text_encoder, text_encoder_2) if m is not None])
        self.scheduler_config = dict(scheduler_config)
        self.is_sdxl = is_sdxl
        self.is_sd1 = not is_sdxl
        self.is_sd2 = self.is_ssd = self.is_sd3 = False
        self.is_sdxl_inpaint = is_sdxl and in_channels == 9
        conditioning_key = "crossattn" if is_sdxl else ("hybrid" if in_channels in (8, 9) else "crossattn")
        self.stub_conditioning_key = "hybrid" if in_channels in (8, 9) else "crossattn"  # what the sampler feeds
        self.model = _DiffusionWrapper(unet, conditioning_key)
        self.cond_stage_key = "txt"
        self.parameterization = "eps"
        self.latent_channels = 4
        self.scale_factor = float(getattr(vae.config, "scaling_factor", 0.18215))
        self.register_buffer("alphas_cumprod", self.make_scheduler().alphas_cumprod.clone().float(), persistent=False)
        self.sd_checkpoint_info = checkpoint_info
        self.sd_model_checkpoint = checkpoint_info.filename
        self.sd_model_hash = checkpoint_info.calculate_shorthash()
        self.lowvram = False
        self.stub_placement = "device"  # stand-in only: "device" or "cpu" (send_model_to_cpu / _to_device)
        self.used_config = None
        self.base_vae = None
        self.loaded_vae_file = None

    def make_scheduler(self):
        from diffusers import DDIMScheduler

        return DDIMScheduler.from_config(self.scheduler_config)

    @property
    def device(self):
        """The parameters' device; with ``devices.stub_gpu`` set, that GPU while placed on the device."""
        if devices.stub_gpu is not None and self.stub_placement == "device":
            return devices.stub_gpu
        return next(self.parameters()).device

    @property
    def dtype(self):
        return next(self.diffusers_unet.parameters()).dtype

    def ema_scope(self, context=None):
        return contextlib.nullcontext()

    def get_learned_conditioning(self, prompts):
        from modules import _stub_diffusion

        return _stub_diffusion.get_learned_conditioning(self, prompts)

    def encode_first_stage(self, x):
        from modules import _stub_diffusion

        return _stub_diffusion.encode_first_stage(self, x) / self.scale_factor

    def get_first_stage_encoding(self, encoder_posterior):
        return encoder_posterior * self.scale_factor

    def decode_first_stage(self, z):
        from modules import _stub_diffusion

        return _stub_diffusion.decode_first_stage(self, z)


class StubForgeObjects:
    """Forge's ForgeObjects: the patchers the memory manager loads and unloads."""

    def __init__(self, unet, clip, vae, clipvision=None):
        self.unet, self.clip, self.vae, self.clipvision = unet, clip, vae, clipvision

    def shallow_copy(self):
        return StubForgeObjects(self.unet, self.clip, self.vae, self.clipvision)


class StubForgeModel(StubSdModel):
    """The Forge flavour's loaded model (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from backend import memory_management
        from backend.patcher.base import ModelPatcher

        in_channels = self.diffusers_unet.config.in_channels
        self.is_inpaint = in_channels in (8, 9)
        self.is_sdxl_inpaint = False  # not a Forge attribute; the shared sampling code reads it
        del self.model  # Forge engines have no ldm wrapper
        del self.lowvram  # nor A1111's lowvram flag
        device = memory_management.get_torch_device()
        text = [m for m in (self.cond_stage_model, self.text_encoder_2) if m is not None]
        clip = torch.nn.ModuleList(text)
        self.forge_objects = StubForgeObjects(
            ModelPatcher(self.diffusers_unet, device, devices.cpu),
            ModelPatcher(clip, device, devices.cpu),
            ModelPatcher(self.first_stage_model, device, devices.cpu),
        )
        self.forge_objects_original = self.forge_objects.shallow_copy()
        self.forge_objects_after_applying_lora = self.forge_objects.shallow_copy()
        self.filename = self.sd_checkpoint_info.filename
        self.extra_generation_params = {}
        self.comments = []
