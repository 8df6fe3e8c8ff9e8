"""``python -m inpaint_anything download [ID ...]``: SAM models from the catalogue, the learned
removers (``lama``, ``migan``) and the text detectors of "Select by text" (``owlvit-base``,
``clipseg``, ...), each checked against its hash, into the models folder; without an id: the list."""

from __future__ import annotations

import sys
from typing import Any

from inpaint_anything import config


def download_kind(model_id: str) -> str:
    """What ``download`` fetches for ``model_id``: "sam" (the SAM catalogue), "remover" (lama, migan:
    the learned removers, also by their file ids) or "text" (a text detector); "" when unknown."""
    from inpaint_anything.models.catalogue import CATALOGUE
    from inpaint_anything.models.removers import REMOVER_MODELS
    from inpaint_anything.models.text_models import DETECTORS

    if any(e.id == model_id for e in CATALOGUE):
        return "sam"
    if any(model_id in (r.method, r.entry.id) for r in REMOVER_MODELS):
        return "remover"
    return "text" if model_id in DETECTORS else ""


def _download_list() -> None:
    from inpaint_anything.models.catalogue import CATALOGUE
    from inpaint_anything.models.removers import REMOVER_MODELS
    from inpaint_anything.models.text_models import DETECTORS, unavailable_reason

    print("SAM models (python -m inpaint_anything download ID ...):")
    for entry in CATALOGUE:
        print(f"  {entry.id:22s} {entry.title}: {entry.description}")
    print("Learned removers (the 'Remove object' methods):")
    for r in REMOVER_MODELS:
        print(f"  {r.method:22s} {r.entry.title}: {r.entry.description}")
    print("Text detectors ('Select by text'):")
    for det in DETECTORS.values():
        reason = unavailable_reason(det)
        print(f"  {det.id:22s} {det.label}: {det.repo} (about {det.size_mb} MB)" + (f" [not here: {reason}]" if reason else ""))


def download(settings: config.Settings, models: list[str], *, quiet: bool = False) -> int:
    """Download SAM files, learned removers (lama, migan) or text detectors into the models folder
    (checked against their hashes), with a progress bar."""
    from inpaint_anything.app import App
    from inpaint_anything.errors import IAError

    if not models:
        _download_list()
        return 0
    unknown = [m for m in models if not download_kind(m)]
    if unknown:
        print(
            f"error: Unknown model {', '.join(map(repr, unknown))}; run 'python -m inpaint_anything download' to "
            "list the SAM models, learned removers (lama, migan) and text detectors.",
            file=sys.stderr,
        )
        return 2
    app = App(settings)
    status = 0
    for model_id in models:
        bar = None
        if not quiet:
            from tqdm import tqdm

            bar = tqdm(unit="B", unit_scale=True, unit_divisor=1024, desc=model_id, file=sys.stderr)

        def progress(done: int, total: int | None, bar: Any = bar) -> None:
            if bar is not None:
                bar.total = total or None
                bar.n = done
                bar.refresh()

        kind = download_kind(model_id)
        try:
            if kind == "sam":
                path = app.sam_model_path(model_id, download=True, progress=progress)
            elif kind == "remover":
                from inpaint_anything.models.removers import REMOVER_MODELS

                method = next(r.method for r in REMOVER_MODELS if model_id in (r.method, r.entry.id))
                path = app.remover_path(method, download=True, progress=progress)
            else:
                path = app.download_text_detector(model_id, progress=progress)
        except IAError as exc:
            print(f"error: {model_id}: {exc}", file=sys.stderr)
            status = 2
            continue
        finally:
            if bar is not None:
                bar.close()
        print(f"{model_id}: {path}")
    return status


__all__ = ["download", "download_kind"]
