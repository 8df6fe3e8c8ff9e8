"""What the tab selects and says on a first run, from what is installed here (gradio-free).

Decided when the page is built and again when the user presses 🔄 (or after a download):

- a usable SAM file in the models folder -> it is the SAM model and "Segment Anything" is selected
  (the configured default only when its own file is there); none -> "GrabCut (no model)" and one
  line saying how to get a SAM model (Download, or a file dropped into the folder);
- an inpainting model present (a local diffusers folder / single file, or a Hub model in the
  Hugging Face cache) -> it is the Inpaint tab's model; Outpaint generates with the WebUI's
  checkpoint when hosted, else with that model, else "Pre-fill only";
- offline (the setting, ``HF_HUB_OFFLINE``, or a download that failed in this process) -> messages
  say so instead of "press Download".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SEGMENT_ANYTHING = "Segment Anything"
GRABCUT = "GrabCut (no model)"
SELECTORS = [SEGMENT_ANYTHING, GRABCUT]
README_SAM_SECTION = "the README's “SAM model files” table"
REFRESH = "\u21bb"  # ↻ (the WebUI uses the 🔄 emoji, which many Linux machines cannot draw)


def env_offline() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def is_offline(app: Any, contact_failed: bool = False) -> bool:
    """Offline mode on, offline environment variables, or a download that failed to reach its host."""
    return bool(getattr(app.settings, "offline", False) or env_offline() or contact_failed)


# ---------------------------------------------------------------------------------------------- SAM
def usable_sams(app: Any) -> list[Any]:
    return [m for m in app.sam_models() if m.available]


def ready_sams(app: Any) -> list[Any]:
    """SAM models whose file is in the models folder and usable here."""
    return [m for m in usable_sams(app) if m.downloaded]


def sam_on_cpu(app: Any) -> bool:
    """Whether SAM runs on the CPU here (no CUDA/MPS device, or the "SAM on CPU" setting)."""
    try:
        return app.sam_cache.device == "cpu"
    except Exception:  # an impossible device setting: the click's own error says so
        return False


def dropdown_sams(app: Any) -> list[Any]:
    """The usable SAM models in dropdown order: on a CPU, MobileSAM and Light HQ-SAM first (a
    second or two per image instead of 20–70 s); otherwise the catalogue's order."""
    from inpaint_anything.models.catalogue import LIGHT_MODELS

    infos = usable_sams(app)
    if not sam_on_cpu(app):
        return infos
    return sorted(infos, key=lambda m: LIGHT_MODELS.index(m.id) if m.id in LIGHT_MODELS else len(LIGHT_MODELS))


def default_sam(app: Any) -> str | None:
    """The configured default when its file is there, else the first file that is (in dropdown
    order), else the configured default; on a CPU with no file here and the default left as
    shipped, the first light model (MobileSAM), which is the one worth downloading there."""
    from inpaint_anything.config import Settings

    infos = dropdown_sams(app)
    ready = [m.id for m in infos if m.downloaded]
    wanted = app.settings.default_sam_model
    if wanted in ready:
        return wanted
    if ready:
        return ready[0]
    ids = [m.id for m in infos]
    if ids and wanted == Settings().default_sam_model and sam_on_cpu(app):
        return ids[0]
    return wanted if wanted in ids else (ids[0] if ids else None)


def default_selector(app: Any) -> str:
    return SEGMENT_ANYTHING if ready_sams(app) else GRABCUT


def _entry_facts(model_id: str | None) -> tuple[str, str]:
    """(title, "375.04 MB") of a catalogue entry, for messages; blanks when unknown."""
    from inpaint_anything.models.catalogue import get_entry
    from inpaint_anything.models.transfer import human

    try:
        entry = get_entry(model_id or "")
    except Exception:
        return "", ""
    return entry.title, human(entry.size_bytes) if entry.size_bytes else ""


def sam_hint(app: Any, offline: bool) -> str:
    """One line under the SAM dropdown: empty when a SAM file is there, else how to get one."""
    if ready_sams(app):
        return ""
    folder = Path(app.models_dir)
    if offline:
        return (
            f"No SAM model here (offline): copy a SAM file into {folder} and press {REFRESH} "
            f"(see {README_SAM_SECTION}). “{GRABCUT}” works without one."
        )
    title, size = _entry_facts(default_sam(app))
    what = f"{title} ({size})" if title and size else "the selected model"
    return (
        f"No SAM model yet: press Download ({what}), or put a SAM file into {folder} and press {REFRESH} "
        f"(see {README_SAM_SECTION}). “{GRABCUT}” works without one."
    )


def sam_missing(app: Any, model_id: str | None, offline: bool) -> str | None:
    """Why a click/box with ``model_id`` cannot run, and what to do instead; None when it can."""
    info = next((m for m in app.sam_models() if m.id == model_id), None)
    if info is None:
        return f"Choose a SAM model first, or switch “Select with” to “{GRABCUT}”."
    if not info.available:
        return f"{info.title} is not usable here ({info.reason or 'missing packages'}). Pick another SAM model or “{GRABCUT}”."
    if info.downloaded:
        return None
    folder = Path(app.models_dir)
    name = info.title
    if offline:
        return (
            f"{name} is not in {folder}, and this machine is offline. Switch “Select with” to “{GRABCUT}”, "
            f"or copy the file there (see {README_SAM_SECTION}) and press {REFRESH}."
        )
    return (
        f"{name} is not downloaded. Press Download, or switch “Select with” to “{GRABCUT}” "
        f"(needs no model), or put the file into {folder} and press {REFRESH}."
    )


# -------------------------------------------------------------------------------------- inpainting
def hub_model_cached(repo_id: str) -> bool:
    """Whether the Hugging Face cache holds ``repo_id``'s model_index.json (read locally, no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "model_index.json")
    except Exception:
        return False
    return isinstance(found, str) and os.path.isfile(found)


def inpaint_model_ready(model: str | None, app: Any = None) -> bool:
    """A usable local model of the list (``app``'s entries: ``<models>/diffusers``, the checkpoints
    folder), a local folder / file typed as a path, or a Hub id in the local cache."""
    if not model:
        return False
    if app is not None:
        entry = next((e for e in app.inpaint_model_entries() if e.name == model), None)
        if entry is not None:
            return entry.usable if entry.source != "hub" else hub_model_cached(model)
    path = Path(model)
    if path.is_dir() or path.is_file():
        return True
    return "/" in model and not model.startswith(("/", ".")) and hub_model_cached(model)


def inpaint_choices(app: Any) -> list[str]:
    """The models for the Inpaint tab, those present here first (the first one is the default)."""
    models = list(app.inpaint_models())
    ready = [m for m in models if inpaint_model_ready(m, app)]
    return ready + [m for m in models if m not in ready]


def inpaint_hint(app: Any, offline: bool, hosted: bool) -> str:
    """One line over the Inpaint tab's model: empty when a model is present, else what to expect."""
    if any(inpaint_model_ready(m, app) for m in app.inpaint_models()):
        return ""
    folder = Path(app.models_dir) / "diffusers"
    alternatives = "the WebUI checkpoint button below, " if hosted else ""
    if offline:
        return (
            f"No inpainting model here, and offline: put a diffusers folder or .safetensors inpainting model into {folder} "
            f"and press {REFRESH}. Without one, use {alternatives}“Remove object” or Outpaint's “Pre-fill only”."
        )
    return (
        f"No inpainting model here yet: the first Inpaint downloads the chosen Hugging Face model (about 2-7 GB), "
        f"or put one into {folder} and press {REFRESH}. Without one, use {alternatives}“Remove object” or Outpaint's “Pre-fill only”."
    )


def inpaint_unavailable(model: str | None, folder: Path, offline: bool, app: Any = None) -> str | None:
    """Why the diffusers backend cannot run ``model`` here and what to pick instead; None when it may."""
    if inpaint_model_ready(model, app):
        return None
    if not model:
        return "Choose an inpainting model (a Hugging Face id or a local folder)."
    if offline:
        return (
            f"The inpainting model {model} is not on this machine, and this machine is offline. Put a diffusers folder "
            f"or .safetensors file into {folder} and press {REFRESH}, or use “Remove object” / Outpaint's “Pre-fill only”."
        )
    return None


def download_failed(model: str, exc: Exception) -> str:
    """A failed Hub download, said without the raw Hugging Face message."""
    return (
        f"Could not download {model} from Hugging Face (no connection?). Use “Remove object” or Outpaint's "
        f"“Pre-fill only”, which need no model, or put the model into the models folder's diffusers/ folder and press {REFRESH}."
    )


def default_outpaint_backend(backends: list[tuple[str, str]], hosted_kinds: list[str], app: Any) -> str:
    """The label of Outpaint's "Generate with" default: the WebUI checkpoint when hosted, a present
    inpainting model, else pre-fill only."""
    kinds = {k: label for label, k in backends}
    for kind in hosted_kinds:
        if kind in kinds:
            return kinds[kind]
    if any(inpaint_model_ready(m, app) for m in app.inpaint_models()):
        return kinds["diffusers"]
    return kinds["cleaner"]


__all__ = [
    "GRABCUT",
    "README_SAM_SECTION",
    "REFRESH",
    "SEGMENT_ANYTHING",
    "SELECTORS",
    "default_outpaint_backend",
    "default_sam",
    "default_selector",
    "download_failed",
    "env_offline",
    "hub_model_cached",
    "inpaint_choices",
    "inpaint_hint",
    "inpaint_model_ready",
    "inpaint_unavailable",
    "is_offline",
    "ready_sams",
    "sam_hint",
    "sam_missing",
    "usable_sams",
]


def remover_note(app: Any, method: str | None, offline: bool) -> str:
    """One line under the removal methods: for a learned remover, whether its file is here and what
    pressing Remove does when it is not (downloads it, with progress; offline: where to put it)."""
    from inpaint_anything.models.removers import REMOVERS
    from inpaint_anything.models.transfer import human

    spec = REMOVERS.get(method or "")
    if spec is None:
        return ""
    entry = spec.entry
    path = Path(app.models_dir) / entry.filename
    if path.is_file():
        return f"{entry.title}: ready ({entry.filename}, {human(path.stat().st_size)})."
    size = f", {human(entry.size_bytes)}" if entry.size_bytes else ""
    if offline:
        return (
            f"{entry.title} is not downloaded, and offline mode is on: put {entry.filename}{size} into "
            f"{app.models_dir} (from {entry.download_urls()[0]}) and press Remove."
        )
    return f"{entry.title} is not downloaded yet: Remove downloads {entry.filename}{size} first (progress shown), once."


# -------------------------------------------------------------------------------------- ControlNet inpaint
def controlnet_unavailable(app: Any, offline: bool) -> str | None:
    """Why the standalone ControlNet inpaint (backend ``controlnet``) cannot run here, or None: it needs an
    inpaint ControlNet (a folder or single file in ``<models>/controlnet``, or the Hub model, cached or
    downloadable)."""
    from inpaint_anything.inpaint.controlnet import CONTROLNET_FOLDER, HUB_CONTROLNETS
    from inpaint_anything.inpaint.controlnet_backend import local_controlnets

    if local_controlnets(app.models_dir) or not offline:
        return None
    if any(_hub_file_cached(repo, "config.json", rev) for repo, rev in HUB_CONTROLNETS.items()):
        return None
    folder = Path(app.models_dir) / CONTROLNET_FOLDER
    return (
        f"ControlNet inpaint needs an inpaint ControlNet, and this machine is offline: put "
        f"control_v11p_sd15_inpaint.pth (or .safetensors, or its diffusers folder; a name with “inpaint”) into "
        f"{folder} and press {REFRESH}, or turn offline mode off to download {next(iter(HUB_CONTROLNETS))}."
    )


def _hub_file_cached(repo_id: str, name: str, revision: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, name, revision=revision)
    except Exception:
        return False
    return isinstance(found, str) and os.path.isfile(found)
