"""Feature probes for the host (A1111 v1.10.x or Forge). All host differences are decided here."""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
from collections.abc import Iterator
from functools import cache


@cache
def is_forge() -> bool:
    """Forge ships the ``modules_forge`` package; A1111 does not."""
    return importlib.util.find_spec("modules_forge") is not None


@cache
def gradio_major() -> int:
    import gradio

    return int(gradio.__version__.split(".")[0])


def has_options_templates() -> bool:
    """v1.7+ exposes shared.options_templates (lets settings exist in API-only mode)."""
    from modules import shared

    return hasattr(shared, "options_templates") and hasattr(shared, "options_section")


def processing_has_scheduler() -> bool:
    """v1.9+ has a separate scheduler field on processing objects."""
    from modules import processing

    fields = getattr(processing.StableDiffusionProcessing, "__dataclass_fields__", {})
    return "scheduler" in fields


# ---------------------------------------------------------------------------------------------- the model
def loaded_sd_model():
    """The host's loaded checkpoint, or None.

    A1111: ``shared.sd_model`` (None until a checkpoint loaded). Forge: ``shared.sd_model`` is a
    placeholder (FakeInitialModel) until the first generation loads the selected checkpoint; an
    object without ``sd_checkpoint_info`` is no checkpoint.
    """
    from modules import sd_models

    model_data = getattr(sd_models, "model_data", None)
    if model_data is not None:
        sd_model = getattr(model_data, "sd_model", None)  # not shared.sd_model: A1111 would load one
    else:
        from modules import shared

        sd_model = getattr(shared, "sd_model", None)
    if sd_model is None or getattr(sd_model, "sd_checkpoint_info", None) is None:
        return None
    return sd_model


def pending_checkpoint():
    """Forge: the CheckpointInfo selected but not loaded yet (it loads on first use); else None."""
    if not is_forge():
        return None
    from modules import sd_models

    params = getattr(getattr(sd_models, "model_data", None), "forge_loading_parameters", None) or {}
    return params.get("checkpoint_info")


def forge_reload_pending() -> bool:
    """Forge: a checkpoint is selected (dropdown or ``sd_model_checkpoint`` through the API) that is not
    the loaded one; Forge loads it at the next generation (``forge_model_reload``). False on A1111."""
    if not is_forge():
        return False
    from modules import sd_models

    model_data = getattr(sd_models, "model_data", None)
    params = getattr(model_data, "forge_loading_parameters", None) or {}
    if params.get("checkpoint_info") is None:
        return False
    return getattr(model_data, "forge_hash", None) != str(params)


def ensure_sd_model():
    """The checkpoint the next generation uses, loading it now if the host would on first use (A1111:
    reading ``shared.sd_model``; Forge: its selected checkpoint, with ``forge_model_reload``, also when
    another one is still loaded); None if none."""
    sd_model = loaded_sd_model()
    if sd_model is not None and not forge_reload_pending():
        return sd_model
    if pending_checkpoint() is not None:
        from modules import sd_models

        sd_models.forge_model_reload()
    elif not is_forge():
        from modules import shared

        getattr(shared, "sd_model", None)
    return loaded_sd_model()


def sd_model_is_inpainting(sd_model) -> bool:
    """True for a 9-channel inpainting checkpoint, detected from the loaded model, not its file name.

    A1111: the UNet's first conv takes 9 channels (SD1/SD2 inpainting), or ``is_sdxl_inpaint``.
    Forge: the engine sets ``is_inpaint``.
    """
    if sd_model is None:
        return False
    if getattr(sd_model, "is_inpaint", False) or getattr(sd_model, "is_sdxl_inpaint", False):
        return True
    try:
        return int(sd_model.model.diffusion_model.input_blocks[0][0].in_channels) == 9
    except (AttributeError, IndexError, TypeError):
        return False


def sd_model_is_sdxl(sd_model) -> bool:
    return bool(getattr(sd_model, "is_sdxl", False))


def sd_model_title(sd_model) -> str:
    info = getattr(sd_model, "sd_checkpoint_info", None) or pending_checkpoint()
    return getattr(info, "title", None) or getattr(info, "name", None) or "WebUI checkpoint"


def is_nans_exception(exc: BaseException) -> bool:
    """True for the host's NaN check failure (``modules.devices.NansException``, A1111 and Forge)."""
    try:
        from modules import devices
    except ImportError:
        return False
    cls = getattr(devices, "NansException", None)
    return isinstance(cls, type) and isinstance(exc, cls)


# ---------------------------------------------------------------------------------------------- override_settings
def _forge_set_config():
    """Forge's ``modules.sysinfo.set_config`` (how its process_images applies overrides), or None."""
    if not is_forge():
        return None
    try:
        from modules import sysinfo
    except ImportError:
        return None
    fn = getattr(sysinfo, "set_config", None)
    try:
        return fn if fn is not None and "save_config" in inspect.signature(fn).parameters else None
    except (TypeError, ValueError):
        return None


def _set_option(key: str, value) -> None:
    """One override, as the host's process_images sets it (a checkpoint is selected/loaded too)."""
    from modules import shared

    if key == "sd_model_checkpoint" and is_forge():
        from modules_forge import main_entry  # Forge before sysinfo.set_config: the dropdown's handler

        main_entry.checkpoint_change(value)
        return
    shared.opts.set(key, value, is_api=True, run_callbacks=False)
    if key == "sd_model_checkpoint":
        from modules import sd_models

        sd_models.reload_model_weights(info=sd_models.checkpoint_aliases.get(value))
    elif key == "sd_vae":
        from modules import sd_vae

        sd_vae.reload_vae_weights()


@contextlib.contextmanager
def override_settings_applied(p) -> Iterator[dict]:
    """Apply ``p.override_settings`` (an API request's, or the img2img "Override settings") for a block
    that runs several generations of its own, as the host's ``process_images`` does around one: an
    unknown checkpoint is dropped, the others are set (a checkpoint is selected and loaded, a VAE
    reloaded), and the stored values come back afterwards when ``p.override_settings_restore_afterwards``.
    Yields the overrides in effect (to be carried by the processing objects built inside)."""
    from modules import sd_models, shared

    overrides = dict(getattr(p, "override_settings", None) or {})
    if sd_models.checkpoint_aliases.get(overrides.get("sd_model_checkpoint")) is None:
        overrides.pop("sd_model_checkpoint", None)
    if not overrides:
        yield {}
        return
    opts = shared.opts
    stored = {k: opts.data[k] for k in overrides if k in opts.data}
    set_config = _forge_set_config()
    try:
        if set_config is not None:
            set_config(overrides, is_api=True, run_callbacks=False, save_config=False)
        else:
            for key, value in overrides.items():
                _set_option(key, value)
        yield overrides
    finally:
        if getattr(p, "override_settings_restore_afterwards", True):
            if set_config is not None:
                set_config(stored, save_config=False)
            else:
                for key, value in stored.items():
                    if key == "sd_model_checkpoint" and is_forge():
                        _set_option(key, value)
                    else:
                        setattr(opts, key, value)  # A1111: the next generation loads the stored checkpoint
                        if key == "sd_vae":
                            from modules import sd_vae

                            sd_vae.reload_vae_weights()


# ---------------------------------------------------------------------------------------------- scripts
def img2img_script_runner():
    """The host's img2img ScriptRunner (None before the scripts are loaded)."""
    from modules import scripts

    return getattr(scripts, "scripts_img2img", None)


def find_alwayson_script(runner, title: str):
    """The always-on script of ``runner`` titled ``title`` (case-insensitive), or None."""
    for script in list(getattr(runner, "alwayson_scripts", None) or []):
        try:
            if str(script.title()).lower() == title.lower():
                return script
        except Exception:  # noqa: BLE001 - a broken extension's title() must not break us
            continue
    return None


def host_error_records() -> list:
    """The errors the WebUI caught and printed, as it records them (``modules.errors.exception_records``:
    in v1.10.1 and Forge the last five, each ``{"exception": text, "traceback": [["file, line N, name",
    code], ...]}``), or [] where the host keeps none."""
    try:
        from modules import errors
    except ImportError:
        return []
    records = getattr(errors, "exception_records", None)
    return records if isinstance(records, list) else []


class CaughtErrors:
    """The errors the WebUI caught from now on, e.g. a script's ``process`` that failed while the host
    carried on (it prints the traceback and runs the job without that script)."""

    def __init__(self) -> None:
        self._before = list(host_error_records())  # the records themselves, so no new one can share an id

    def raised_in(self, filename: str) -> list[str]:
        """The messages of the new errors whose traceback passes through ``filename``."""
        out = []
        for record in host_error_records():
            if not isinstance(record, dict) or any(record is old for old in self._before):
                continue
            trace = record.get("traceback")
            frames = (
                [str(f[0] if isinstance(f, (list, tuple)) and f else f) for f in trace]
                if isinstance(trace, list)
                else [str(trace)]
            )
            if filename and any(filename in frame for frame in frames):
                out.append(str(record.get("exception") or "an error"))
        return out


def default_script_args(runner) -> list:
    """Script arguments as the img2img UI starts with them: 0 (no selectable script) at position 0,
    then every control's initial value at its position (what each always-on script gets when its
    controls are left alone)."""
    inputs = list(getattr(runner, "inputs", None) or [])
    last = max([1, len(inputs), *(int(s.args_to) for s in getattr(runner, "scripts", []) if s.args_to is not None)])
    args: list = [None] * last
    args[0] = 0
    for i, control in enumerate(inputs[1:last], start=1):
        args[i] = getattr(control, "value", None)
    return args


# ---------------------------------------------------------------------------------------------- memory
def forge_memory_management():
    """Forge's ``backend.memory_management`` (its model memory manager), or None (A1111)."""
    if not is_forge():
        return None
    try:
        from backend import memory_management
    except ImportError:
        return None
    return memory_management if hasattr(memory_management, "free_memory") else None


def cuda_free_bytes() -> int | None:
    """Free memory of the host's CUDA device, or None when the host does not run on CUDA."""
    mm = forge_memory_management()
    try:
        if mm is not None:
            device = mm.get_torch_device()
            return int(mm.get_free_memory(device)) if getattr(device, "type", "") == "cuda" else None
        import torch
        from modules import devices

        device = getattr(devices, "device", None)
        if getattr(device, "type", "") != "cuda" or not torch.cuda.is_available():
            return None
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    except (RuntimeError, AttributeError, ImportError):
        return None


def host_manages_vram(sd_model) -> bool:
    """A1111 with --lowvram / --medvram (/ --medvram-sdxl for SDXL): the host already keeps the model's
    parts on the CPU and moves them itself."""
    if getattr(sd_model, "lowvram", False):
        return True
    try:
        from modules import lowvram

        return bool(lowvram.is_needed(sd_model))
    except (ImportError, AttributeError):
        return False


def sd_model_on_gpu(sd_model) -> bool:
    """Whether the model's weights are on a GPU (not the CPU, nor A1111's 'meta' trash device)."""
    device = getattr(sd_model, "device", None)
    return getattr(device, "type", str(device)) not in ("cpu", "meta", "None")


def sd_model_bytes(sd_model) -> int:
    """Bytes of the model's weights (0 when it is not a torch module)."""
    params = getattr(sd_model, "parameters", None)
    if params is None:
        return 0
    return sum(p.numel() * p.element_size() for p in params())


def queue_lock():
    """The host's FIFO queue lock (held while the host generates)."""
    from modules import call_queue

    return call_queue.queue_lock
