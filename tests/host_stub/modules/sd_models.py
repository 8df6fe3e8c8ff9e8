"""``modules.sd_models`` (v1.10.1 subset) and the stand-in's model object.

``shared.sd_model`` is a ``StubSdModel``: a torch module exposing what extensions probe on the
host's LatentDiffusion (``model.diffusion_model.input_blocks[0][0].in_channels``, ``is_sdxl``,
``is_sdxl_inpaint``, ``sd_checkpoint_info``, ``model.conditioning_key``...), built from tiny
diffusers components. ``load_model_from_diffusers`` is the stand-in's way to "load a checkpoint".
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import threading

import torch
from modules import devices, paths, script_callbacks, shared

model_dir = "Stable-diffusion"
model_path = os.path.abspath(os.path.join(paths.models_path, model_dir))

checkpoints_list: dict = {}
checkpoint_aliases: dict = {}
checkpoint_alisases = checkpoint_aliases
checkpoints_loaded = collections.OrderedDict()


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    files = [path] if os.path.isfile(path) else sorted(
        os.path.join(r, f) for r, _, fs in os.walk(path) for f in fs if f.endswith((".safetensors", ".bin", ".json")))
    for f in files:
        with open(f, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()


def model_hash(filename):
    """The host's old 8-hex hash (64 KiB at 1 MiB offset); whole content for folders/small files."""
    try:
        if os.path.isfile(filename) and os.path.getsize(filename) > 0x110000:
            with open(filename, "rb") as file:
                file.seek(0x100000)
                return hashlib.sha256(file.read(0x10000)).hexdigest()[0:8]
        return _file_sha256(filename)[0:8]
    except FileNotFoundError:
        return "NOFILE"


class CheckpointInfo:
    """A checkpoint file, or (stand-in) a diffusers folder, with the host's naming fields."""

    def __init__(self, filename):
        self.filename = filename
        abspath = os.path.abspath(filename)
        self.is_safetensors = os.path.splitext(filename)[1].lower() == ".safetensors"
        name = abspath.replace(model_path, "") if abspath.startswith(model_path) else os.path.basename(filename)
        name = name.lstrip("\\/")
        self.metadata = {}
        self.name = name
        self.name_for_extra = os.path.splitext(os.path.basename(filename))[0]
        self.model_name = os.path.splitext(name.replace("/", "_").replace("\\", "_"))[0]
        self.hash = model_hash(filename)
        self.sha256 = _file_sha256(filename) if os.path.exists(filename) else None
        self.shorthash = self.sha256[0:10] if self.sha256 else None
        self.title = name if self.shorthash is None else f"{name} [{self.shorthash}]"
        self.short_title = self.name_for_extra if self.shorthash is None else f"{self.name_for_extra} [{self.shorthash}]"
        self.ids = [self.hash, self.model_name, self.title, name, self.name_for_extra, f"{name} [{self.hash}]"]
        if self.shorthash:
            self.ids += [self.shorthash, self.sha256, f"{self.name} [{self.shorthash}]", f"{self.name_for_extra} [{self.shorthash}]"]

    def register(self):
        checkpoints_list[self.title] = self
        for id_ in self.ids:
            checkpoint_aliases[id_] = self

    def calculate_shorthash(self):
        return self.shorthash


def checkpoint_tiles(use_short=False):
    return [x.short_title if use_short else x.title for x in checkpoints_list.values()]


def list_models():
    """Register *.ckpt/*.safetensors and (stand-in) diffusers folders under models/Stable-diffusion."""
    checkpoints_list.clear()
    checkpoint_aliases.clear()
    if not os.path.isdir(model_path):
        return
    for name in sorted(os.listdir(model_path)):
        path = os.path.join(model_path, name)
        if name.endswith((".ckpt", ".safetensors")) or os.path.isfile(os.path.join(path, "model_index.json")):
            CheckpointInfo(path).register()


def get_closet_checkpoint_match(search_string):
    if not search_string:
        return None
    info = checkpoint_aliases.get(search_string)
    if info is not None:
        return info
    found = sorted([i for i in checkpoints_list.values() if search_string in i.title], key=lambda x: len(x.title))
    return found[0] if found else None


def select_checkpoint():
    info = checkpoint_aliases.get(shared.opts.sd_model_checkpoint)
    if info is not None:
        return info
    if not checkpoints_list:
        raise FileNotFoundError("No checkpoints found. When searching for checkpoints, looked at: " + model_path)
    return next(iter(checkpoints_list.values()))


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

    def __init__(self, unet, vae, text_encoder, tokenizer, scheduler_config, checkpoint_info, *, is_sdxl=False,
                 text_encoder_2=None, tokenizer_2=None):
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
        self.used_config = None
        self.base_vae = None
        self.loaded_vae_file = None

    def make_scheduler(self):
        from diffusers import DDIMScheduler

        return DDIMScheduler.from_config(self.scheduler_config)

    @property
    def device(self):
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


class SdModelData:
    def __init__(self):
        self.sd_model = None
        self.loaded_sd_models = []
        self.was_loaded_at_least_once = False
        self.lock = threading.Lock()

    def get_sd_model(self):
        return self.sd_model

    def set_sd_model(self, v, already_loaded=False):
        self.sd_model = v
        if v in self.loaded_sd_models:
            self.loaded_sd_models.remove(v)
        if v is not None:
            self.loaded_sd_models.insert(0, v)
            self.was_loaded_at_least_once = True


model_data = SdModelData()


def load_diffusers_components(folder) -> dict:
    """The pipeline parts of a diffusers folder (SD1/2 or SDXL), loaded offline."""
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    folder = os.fspath(folder)
    parts = {
        "unet": UNet2DConditionModel.from_pretrained(folder, subfolder="unet"),
        "vae": AutoencoderKL.from_pretrained(folder, subfolder="vae"),
        "text_encoder": CLIPTextModel.from_pretrained(folder, subfolder="text_encoder"),
        "tokenizer": CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer"),
        "scheduler_config": dict(DDIMScheduler.load_config(folder, subfolder="scheduler")),
        "filename": folder,
    }
    if os.path.isdir(os.path.join(folder, "text_encoder_2")):
        parts["text_encoder_2"] = CLIPTextModelWithProjection.from_pretrained(folder, subfolder="text_encoder_2")
        parts["tokenizer_2"] = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer_2")
    return parts


def _components(source) -> dict:
    if isinstance(source, dict):
        return source
    if isinstance(source, (str, os.PathLike)):
        return load_diffusers_components(source)
    filename = getattr(source, "name_or_path", None) or getattr(getattr(source, "config", None), "_name_or_path", None) or ""
    return {"unet": source.unet, "vae": source.vae, "text_encoder": source.text_encoder, "tokenizer": source.tokenizer,
            "scheduler_config": dict(source.scheduler.config), "filename": filename,
            "text_encoder_2": getattr(source, "text_encoder_2", None), "tokenizer_2": getattr(source, "tokenizer_2", None)}


def load_model_from_diffusers(pipeline_or_folder, *, is_sdxl=None):
    """Stand-in only: wrap a (tiny) diffusers pipeline, folder or load_diffusers_components() dict as the
    loaded checkpoint.

    Registers its CheckpointInfo, sets ``opts.sd_model_checkpoint`` and ``shared.sd_model``, then
    fires ``on_model_loaded`` like the host. ``is_sdxl`` defaults to "has a second text encoder";
    forcing it on an SD1 model only changes the flags extensions probe.
    """
    parts = _components(pipeline_or_folder)
    te2 = parts.get("text_encoder_2")
    for module in (parts["unet"], parts["vae"], parts["text_encoder"], te2):
        if module is not None:
            module.to(devices.device).eval().requires_grad_(False)
    info = CheckpointInfo(parts["filename"] or "in-memory-pipeline")
    info.register()
    sd_model = StubSdModel(parts["unet"], parts["vae"], parts["text_encoder"], parts["tokenizer"], parts["scheduler_config"], info,
                           is_sdxl=te2 is not None if is_sdxl is None else is_sdxl, text_encoder_2=te2,
                           tokenizer_2=parts.get("tokenizer_2"))
    shared.opts.data["sd_model_checkpoint"] = info.title
    model_data.set_sd_model(sd_model)
    script_callbacks.model_loaded_callback(sd_model)
    return sd_model


def reload_model_weights(sd_model=None, info=None, forced_reload=False):
    """Load ``info`` (default: the ``sd_model_checkpoint`` setting) unless it is already loaded.

    As on the host, with nothing loaded and no checkpoint registered this raises FileNotFoundError.
    """
    sd_model = sd_model or model_data.sd_model
    info = info or select_checkpoint()
    if sd_model is not None and not forced_reload and (sd_model.sd_checkpoint_info is info or sd_model.sd_model_checkpoint == info.filename):
        return sd_model
    return load_model_from_diffusers(info.filename)


def unload_model_weights(sd_model=None, info=None):
    """The host moves the model to the CPU; the stand-in already runs there."""
    return sd_model


def apply_token_merging(sd_model, token_merging_ratio):
    pass


def apply_alpha_schedule_override(sd_model, p=None):
    pass
