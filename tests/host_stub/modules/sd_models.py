"""``modules.sd_models`` (v1.10.1 subset; Forge flavour: Forge's version of the same names).

``shared.sd_model`` is a ``StubSdModel`` (A1111) or ``StubForgeModel`` (Forge), see
modules/_stub_sd_model.py. ``load_model_from_diffusers`` is the stand-in's way to "load a checkpoint".

A1111: ``send_model_to_cpu``/``send_model_to_device`` move the model (``lowvram`` models through
modules/lowvram.py) and set its ``stub_placement``. Forge: those do nothing (its memory manager,
backend/memory_management.py, moves models); ``model_data`` starts with a ``FakeInitialModel``;
``forge_model_reload`` loads the checkpoint in ``model_data.forge_loading_parameters``.
Both record every move call in :data:`stub_moves` (stand-in only) as ``(kind, model)``.
"""

from __future__ import annotations

import collections
import hashlib
import os
import threading

from modules import _stub_flavour, devices, lowvram, paths, script_callbacks, shared
from modules._stub_sd_model import StubForgeModel, StubSdModel  # noqa: F401 - the model classes live there

model_dir = "Stable-diffusion"
model_path = os.path.abspath(os.path.join(paths.models_path, model_dir))

checkpoints_list: dict = {}
checkpoint_aliases: dict = {}
checkpoint_alisases = checkpoint_aliases
checkpoints_loaded = collections.OrderedDict()


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    files = (
        [path]
        if os.path.isfile(path)
        else sorted(os.path.join(r, f) for r, _, fs in os.walk(path) for f in fs if f.endswith((".safetensors", ".bin", ".json")))
    )
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
            self.ids += [
                self.shorthash,
                self.sha256,
                f"{self.name} [{self.shorthash}]",
                f"{self.name_for_extra} [{self.shorthash}]",
            ]

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


class FakeInitialModel:
    """Forge: what ``shared.sd_model`` is before the first checkpoint load."""

    def __init__(self):
        self.cond_stage_model = None
        self.chunk_length = 75

    def get_prompt_lengths_on_ui(self, prompt):
        count = len([t for t in prompt.replace(".", ",").replace(" ", ",").split(",") if t])
        return count, max(1, -(-count // self.chunk_length)) * self.chunk_length


class _A1111SdModelData:
    def __init__(self):
        self.sd_model = None
        self.loaded_sd_models = []
        self.was_loaded_at_least_once = False
        self.lock = threading.Lock()
        self.stub_load_attempts = 0  # stand-in only: how often reading shared.sd_model tried to load one

    def get_sd_model(self):
        """As v1.10.1: reading ``shared.sd_model`` before any checkpoint was loaded loads the selected
        one (and reports the error, leaving None, when there is none)."""
        if self.was_loaded_at_least_once or self.sd_model is not None:
            return self.sd_model
        with self.lock:
            self.stub_load_attempts += 1
            try:
                info = select_checkpoint()
                load_model_from_diffusers(info.filename, checkpoint_info=info)
            except Exception as exc:  # noqa: BLE001 - the host prints and carries on
                print(f"Failed to load checkpoint, restoring previous: {exc}")
                self.sd_model = None
        return self.sd_model

    def set_sd_model(self, v, already_loaded=False):
        self.sd_model = v
        if v in self.loaded_sd_models:
            self.loaded_sd_models.remove(v)
        if v is not None:
            self.loaded_sd_models.insert(0, v)
            self.was_loaded_at_least_once = True


class _ForgeSdModelData:
    def __init__(self):
        self.sd_model = FakeInitialModel()
        self.forge_loading_parameters = {}
        self.forge_hash = ""

    def get_sd_model(self):
        return self.sd_model

    def set_sd_model(self, v):
        self.sd_model = v


SdModelData = _ForgeSdModelData if _stub_flavour.FORGE else _A1111SdModelData
model_data = SdModelData()
stub_moves: list = []


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
    return {
        "unet": source.unet,
        "vae": source.vae,
        "text_encoder": source.text_encoder,
        "tokenizer": source.tokenizer,
        "scheduler_config": dict(source.scheduler.config),
        "filename": filename,
        "text_encoder_2": getattr(source, "text_encoder_2", None),
        "tokenizer_2": getattr(source, "tokenizer_2", None),
    }


def load_model_from_diffusers(pipeline_or_folder, *, is_sdxl=None, checkpoint_info=None):
    """Stand-in only: wrap a (tiny) diffusers pipeline, folder or load_diffusers_components() dict as the
    loaded checkpoint.

    Registers its CheckpointInfo, sets ``opts.sd_model_checkpoint`` and ``shared.sd_model``, then
    fires ``on_model_loaded`` like the host. ``is_sdxl`` defaults to "has a second text encoder";
    forcing it on an SD1 model only changes the flags extensions probe. ``checkpoint_info``: the
    registered CheckpointInfo to use (Forge's reload passes the selected one).
    """
    parts = _components(pipeline_or_folder)
    te2 = parts.get("text_encoder_2")
    for module in (parts["unet"], parts["vae"], parts["text_encoder"], te2):
        if module is not None:
            module.to(devices.device).eval().requires_grad_(False)
    info = checkpoint_info or CheckpointInfo(parts["filename"] or "in-memory-pipeline")
    info.register()
    cls = StubForgeModel if _stub_flavour.FORGE else StubSdModel
    sd_model = cls(
        parts["unet"],
        parts["vae"],
        parts["text_encoder"],
        parts["tokenizer"],
        parts["scheduler_config"],
        info,
        is_sdxl=te2 is not None if is_sdxl is None else is_sdxl,
        text_encoder_2=te2,
        tokenizer_2=parts.get("tokenizer_2"),
    )
    shared.opts.data["sd_model_checkpoint"] = info.title
    if _stub_flavour.FORGE:
        model_data.forge_loading_parameters = {"checkpoint_info": info, "additional_modules": [], "unet_storage_dtype": None}
        model_data.forge_hash = str(model_data.forge_loading_parameters)
        model_data.set_sd_model(sd_model)
        sd_model.sd_model_hash = info.calculate_shorthash()
    else:
        lowvram.apply(sd_model)
        model_data.set_sd_model(sd_model)
    script_callbacks.model_loaded_callback(sd_model)
    return sd_model


def stub_select_checkpoint(folder):
    """Stand-in only (Forge): pick a checkpoint without loading it, as Forge's dropdown does (the
    first generation, or ``forge_model_reload``, loads it)."""
    info = CheckpointInfo(os.fspath(folder))
    info.register()
    shared.opts.data["sd_model_checkpoint"] = info.title
    model_data.forge_loading_parameters = {"checkpoint_info": info, "additional_modules": [], "unet_storage_dtype": None}
    return info


def forge_model_reload():
    """Forge: load the checkpoint in ``model_data.forge_loading_parameters`` unless it is the loaded one;
    returns ``(sd_model, just_reloaded)``."""
    from backend import memory_management

    current_hash = str(model_data.forge_loading_parameters)
    if model_data.forge_hash == current_hash:
        return model_data.sd_model, False
    if model_data.sd_model:
        model_data.sd_model = None
        memory_management.unload_all_models()
        memory_management.soft_empty_cache()
    checkpoint_info = model_data.forge_loading_parameters.get("checkpoint_info")
    if checkpoint_info is None:
        raise ValueError("You do not have any model! Please download at least one model in [models/Stable-diffusion].")
    sd_model = load_model_from_diffusers(checkpoint_info.filename, checkpoint_info=checkpoint_info)
    return sd_model, True


def send_model_to_cpu(m):
    stub_moves.append(("cpu", m))
    if _stub_flavour.FORGE:
        return
    if m is not None:
        if m.lowvram:
            lowvram.send_everything_to_cpu()
        else:
            m.to(devices.cpu)
            m.stub_placement = "cpu"
    devices.torch_gc()


def model_target_device(m):
    if not _stub_flavour.FORGE and lowvram.is_needed(m):
        return devices.cpu
    return devices.device


def send_model_to_device(m):
    stub_moves.append(("device", m))
    if _stub_flavour.FORGE:
        return
    lowvram.apply(m)
    if not m.lowvram:
        m.to(shared.device)
        m.stub_placement = "device"


def send_model_to_trash(m):
    """The host moves the weights to the meta device; the stand-in (whose modules are shared between
    tests) only marks the model."""
    stub_moves.append(("trash", m))
    if not _stub_flavour.FORGE:
        m.stub_placement = "trash"
        devices.torch_gc()


def reload_model_weights(sd_model=None, info=None, forced_reload=False):
    """Load ``info`` (default: the ``sd_model_checkpoint`` setting) unless it is already loaded.

    As on the host, with nothing loaded and no checkpoint registered this raises FileNotFoundError.
    Forge: does nothing (processing calls ``forge_model_reload``).
    """
    if _stub_flavour.FORGE:
        return None
    sd_model = sd_model or model_data.sd_model
    info = info or select_checkpoint()
    if (
        sd_model is not None
        and not forced_reload
        and (sd_model.sd_checkpoint_info is info or sd_model.sd_model_checkpoint == info.filename)
    ):
        return sd_model
    return load_model_from_diffusers(info.filename)


def unload_model_weights(sd_model=None, info=None):
    """A1111: the model goes to the CPU. Forge: every model is unloaded by the memory manager."""
    if _stub_flavour.FORGE:
        from backend import memory_management

        memory_management.unload_all_models()
        return None
    send_model_to_cpu(sd_model or shared.sd_model)
    return sd_model


def apply_token_merging(sd_model, token_merging_ratio):
    pass


def apply_alpha_schedule_override(sd_model, p=None):
    pass
