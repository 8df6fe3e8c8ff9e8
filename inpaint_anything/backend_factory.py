"""Which inpainting backend a request gets: :meth:`App.backend <inpaint_anything.app.App.backend>` builds
it here from the App's settings, caches and registered factories (``diffusers``, ``controlnet``,
``cleaner``, or one the host adapter registered such as ``webui``). Diffusers-based backends are
wrapped in :class:`GuardedBackend` when the App has a memory guard, so loading and generation make room
in VRAM first (:func:`diffusers_need` estimates how much).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from inpaint_anything.errors import InvalidInputError, UnavailableError

# VRAM estimates handed to the memory guard (bytes): diffusers need their fp16 weights plus ~2.5 GB of
# working memory (as needs_cpu_offload).
DIFFUSERS_WORKING_BYTES = int(2.5 * 2**30)
DIFFUSERS_UNKNOWN_WEIGHTS = 4 * 2**30  # a Hub model not in the cache yet: about an SD1.5/2 fp16 pipeline


def make_backend(app: Any, kind: str, model: str = "", **options: Any) -> Any:
    """An inpainting backend: ``diffusers`` (model = Hub id or local path), ``cleaner``
    (model = telea | ns | patchmatch | lama) or a registered one such as ``webui``."""
    if kind == "diffusers":
        from inpaint_anything.inpaint.diffusers_backend import DiffusersBackend

        if not model:
            raise InvalidInputError("Choose an inpainting model.")
        source, label = app.resolve_inpaint_model(model)
        backend = DiffusersBackend(
            source,
            app.pipelines,
            label=label,
            device=options.get("device", "auto"),
            offline=app.settings.offline,
            config_dir=options.get("config_dir"),
            native_override=int(options.get("native_size", 0) or 0),
        )
        return backend if app._memory_guard is None else GuardedBackend(backend, app)
    if kind == "controlnet":
        backend = controlnet_backend(app, model, options)
        return backend if app._memory_guard is None else GuardedBackend(backend, app)
    if kind == "cleaner":
        from inpaint_anything.inpaint.cleaner import cleaner_backend
        from inpaint_anything.models.removers import REMOVERS

        method = model or "telea"
        if method not in REMOVERS:
            return cleaner_backend(method)
        from inpaint_anything.diffusion.loader import resolve_device

        device = resolve_device(options.get("device") or app.settings.remove_device)
        return cleaner_backend(method, functools.partial(app.remover_path, method, download=True), device)
    factory = app._backends.get(kind)
    if factory is None:
        raise UnavailableError(f"The {kind!r} backend is not available here (available: {', '.join(app.available_backends())}).")
    return factory(model=model, **options)


def controlnet_backend(app: Any, model: str, options: dict[str, Any]) -> Any:
    """``controlnet``: any listed checkpoint (inpainting or not) + an inpaint ControlNet (options["controlnet"])."""
    from inpaint_anything.diffusion.catalog import find_entry
    from inpaint_anything.inpaint import controlnet_backend as cnb
    from inpaint_anything.inpaint.controlnet import ControlNetOptions

    opts = options.get("controlnet") or {}
    opts = opts if isinstance(opts, ControlNetOptions) else ControlNetOptions.from_dict(opts)
    entries = app.inpaint_model_entries()
    if not model:
        raise InvalidInputError("Choose the model to inpaint with (any checkpoint works with ControlNet).")
    entry = find_entry(entries, model)
    if entry is not None and entry.name not in cnb.base_model_names([entry]):
        raise entry.error()
    source, label = ((entry.path or entry.name), entry.name) if entry is not None else (model, "")
    cn_name = opts.model or next(iter(app.controlnet_models()), "")
    folder = cnb.resolve_controlnet(cn_name, app.models_dir, offline=app.settings.offline)
    prefill = None
    if opts.module == "inpaint_only+lama":
        from inpaint_anything.errors import IAError

        try:
            app.remover_path("lama", download=False)
            prefill = cnb.lama_prefill(app.backend("cleaner", "lama"))
        except IAError:
            prefill = None  # the backend refuses the run, saying how to get LaMa
    return cnb.ControlNetDiffusersBackend(
        source,
        app.pipelines,
        label=label,
        device=options.get("device", "auto"),
        offline=app.settings.offline,
        native_override=int(options.get("native_size", 0) or 0),
        options=opts,
        controlnet_dir=folder,
        controlnet_name=cn_name,
        controlnets=app.controlnets,
        prefill=prefill,
    )


def diffusers_need(backend: Any, app: Any) -> int:
    """VRAM a diffusers backend needs for its next run: working memory, plus its fp16 weights unless
    the pipeline already sits on the GPU (0 when it does not run on CUDA)."""
    from inpaint_anything.diffusion.loader import resolve_device
    from inpaint_anything.inpaint.diffusers_backend import model_bytes

    if not app._on_cuda(resolve_device(backend.device)):
        return 0
    source = os.path.expanduser(str(backend.source))
    local = os.path.exists(source)
    marker = str(Path(source).resolve()) if local else "models--" + str(backend.source).replace("/", "--")
    cached_keys = backend.cache.keys()  # PipelineCache: a list of (path, device, dtype)
    if any(app._on_cuda(dev) and (path == marker if local else marker in path) for path, dev, _ in cached_keys):
        return DIFFUSERS_WORKING_BYTES
    return (model_bytes(source) // 2 if local else DIFFUSERS_UNKNOWN_WEIGHTS) + DIFFUSERS_WORKING_BYTES


class GuardedBackend:
    """A diffusers backend whose pipeline loading and generation run inside the App's memory guard."""

    def __init__(self, inner: Any, app: Any) -> None:
        self._inner = inner
        self._app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def native_size(self) -> int:
        inner = self._inner
        if inner.native_override or getattr(inner, "_family", None) is not None:
            return inner.native_size  # known without loading the pipeline
        with self._app.memory_guard(diffusers_need(inner, app=self._app), "loading the inpainting model"):
            return inner.native_size

    def generate(self, image: Any, mask: Any, request: Any, seed: int, job: Any) -> Any:
        check = getattr(self._inner, "check_request", None)
        if check is not None:
            check(request)  # refuse before anything is moved or loaded
        with self._app.memory_guard(diffusers_need(self._inner, self._app), "inpainting with a diffusers model"):
            return self._inner.generate(image, mask, request, seed, job)
