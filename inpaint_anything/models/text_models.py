"""The text detectors: a catalogue of Hub repositories at pinned revisions, which of them this
installation's transformers can run, their download (the project's verified downloader, one file at
a time, into ``<models folder>/text-detectors/<id>/``) and a cache of loaded ones.

Every detector is loaded with ``from_pretrained(<its folder>, local_files_only=True)``: nothing is
fetched at load time, so a detector that is present works offline. A missing one raises
:class:`~inpaint_anything.errors.ModelNotFoundError` (or OfflineError) saying how to get it.

Revisions: the commit hashes below were read from the Hub's public file listings (the commit that
added ``model.safetensors``); ``grounding-dino-base`` could not be confirmed and follows ``main``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inpaint_anything.errors import ModelNotFoundError, UnavailableError
from inpaint_anything.segment.text_fields import DETECTOR_IDS, DETECTOR_WORDS

FOLDER = "text-detectors"
_CLIP_TOKENIZER = ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")
_BERT_TOKENIZER = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


@dataclass(frozen=True)
class TextDetector:
    """One detector: ``kind`` "boxes" (boxes, then SAM) or "mask" (CLIPSeg: a mask directly);
    ``module``: the transformers subpackage that must exist; ``needs``: the version that added it."""

    id: str
    repo: str
    revision: str
    files: tuple[str, ...]
    module: str
    model_class: str
    processor_class: str
    kind: str
    needs: str
    size_mb: int

    @property
    def label(self) -> str:
        return DETECTOR_WORDS.get(self.id, self.id)

    def url(self) -> str:
        return f"https://huggingface.co/{self.repo}/tree/{self.revision}"


DETECTORS: dict[str, TextDetector] = {
    d.id: d
    for d in (
        TextDetector(
            "grounding-dino-tiny",
            "IDEA-Research/grounding-dino-tiny",
            "a2bb814dd30d776dcf7e30523b00659f4f141c71",
            ("config.json", "preprocessor_config.json", "model.safetensors", *_BERT_TOKENIZER),
            "grounding_dino",
            "GroundingDinoForObjectDetection",
            "GroundingDinoProcessor",
            "boxes",
            "4.40",
            689,
        ),
        TextDetector(
            "grounding-dino-base",
            "IDEA-Research/grounding-dino-base",
            "main",
            ("config.json", "preprocessor_config.json", "model.safetensors", *_BERT_TOKENIZER),
            "grounding_dino",
            "GroundingDinoForObjectDetection",
            "GroundingDinoProcessor",
            "boxes",
            "4.40",
            933,
        ),
        TextDetector(
            "owlv2-base",
            "google/owlv2-base-patch16-ensemble",
            "7c77fc1316a353da3109f81d80ae118dd58fd55b",
            ("config.json", "preprocessor_config.json", "model.safetensors", *_CLIP_TOKENIZER),
            "owlv2",
            "Owlv2ForObjectDetection",
            "Owlv2Processor",
            "boxes",
            "4.35",
            620,
        ),
        TextDetector(
            "owlvit-base",
            "google/owlvit-base-patch32",
            "cbc355fb364588351c5d51c7f74465e8e7ec6f72",
            ("config.json", "preprocessor_config.json", "model.safetensors", *_CLIP_TOKENIZER),
            "owlvit",
            "OwlViTForObjectDetection",
            "OwlViTProcessor",
            "boxes",
            "4.21",
            613,
        ),
        # 325a839…: the commit that added model.safetensors (the repo's refs/pr/5)
        TextDetector(
            "clipseg",
            "CIDAS/clipseg-rd64-refined",
            "325a839908143a34b409ae6f2910fa015ea390e6",
            ("config.json", "preprocessor_config.json", "model.safetensors", *_CLIP_TOKENIZER),
            "clipseg",
            "CLIPSegForImageSegmentation",
            "CLIPSegProcessor",
            "mask",
            "4.22",
            603,
        ),
    )
}
assert tuple(DETECTORS) == DETECTOR_IDS


def get_detector(detector_id: str) -> TextDetector:
    try:
        return DETECTORS[detector_id]
    except KeyError:
        raise ModelNotFoundError(f"Unknown text detector {detector_id!r}; use one of {', '.join(DETECTORS)}.") from None


def unavailable_reason(detector: TextDetector) -> str | None:
    """Why this installation cannot run ``detector`` (None when it can): its transformers subpackage
    must exist. Looks at the installed files; imports neither transformers nor torch."""
    try:
        spec = importlib.util.find_spec("transformers")
    except (ImportError, ValueError) as exc:
        return f"transformers could not be inspected ({exc})."
    if spec is None or not spec.submodule_search_locations:
        return "transformers is not installed."
    if any((Path(p) / "models" / detector.module / "__init__.py").is_file() for p in spec.submodule_search_locations):
        return None
    try:
        version = importlib.metadata.version("transformers")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"{detector.label} needs transformers {detector.needs} or newer; this installation has transformers {version}."


def available_detectors() -> list[str]:
    """The ids of the detectors this installation's transformers can run, best first."""
    return [d for d, det in DETECTORS.items() if unavailable_reason(det) is None]


def detector_folder(models_dir: str | Path, detector_id: str) -> Path:
    return Path(models_dir) / FOLDER / get_detector(detector_id).id


def is_downloaded(models_dir: str | Path, detector_id: str) -> bool:
    folder = detector_folder(models_dir, detector_id)
    return all((folder / name).is_file() for name in get_detector(detector_id).files)


def how_to_get(models_dir: str | Path, detector_id: str) -> str:
    det = get_detector(detector_id)
    folder = detector_folder(models_dir, detector_id)
    return (
        f"{det.label} is not downloaded. Press 'Download detector' next to Select (about {det.size_mb} MB), "
        f"run 'python -m inpaint_anything download {det.id}', or put the files {', '.join(det.files)} "
        f"from {det.url()} into {folder}."
    )


def _file_entry(det: TextDetector, name: str):
    from inpaint_anything.models.catalogue import ModelEntry, Source

    return ModelEntry(
        id=f"{det.id}/{name}",
        family="text",
        arch=det.module,
        filename=name,
        size_bytes=None,
        sha256=None,
        sources=(Source.hf(det.repo, name, det.revision),),
        label=f"{det.label}: {name}",
        description=f"{det.label} ({det.repo})",
    )


def download_detector(
    models_dir: str | Path,
    detector_id: str,
    *,
    offline: bool = False,
    progress: Callable[[int, int | None], Any] | None = None,
    cancel: Any = None,
) -> Path:
    """Fetch the detector's files (each checked against the Hub's SHA-256, resumable) into its folder;
    files already there and intact are kept. Offline: OfflineError saying where to get them."""
    from inpaint_anything.models.download import ensure_model

    det = get_detector(detector_id)
    folder = detector_folder(models_dir, detector_id)
    folder.mkdir(parents=True, exist_ok=True)
    for name in det.files:
        ensure_model(_file_entry(det, name), folder, offline=offline, progress=progress, cancel=cancel)
    return folder


@dataclass
class LoadedDetector:
    """A detector's model and processor, on ``device``."""

    spec: TextDetector
    model: Any
    processor: Any
    device: str


def load_detector(folder: str | Path, detector_id: str, device: str = "cpu") -> LoadedDetector:
    """The detector in ``folder`` loaded offline (``local_files_only``), in eval mode on ``device``."""
    import transformers

    det = get_detector(detector_id)
    reason = unavailable_reason(det)
    if reason:
        raise UnavailableError(reason)
    model = getattr(transformers, det.model_class).from_pretrained(str(folder), local_files_only=True)
    processor = getattr(transformers, det.processor_class).from_pretrained(str(folder), local_files_only=True)
    return LoadedDetector(det, model.eval().to(device), processor, device)


class DetectorCache:
    """Loaded detectors by id, at most ``capacity`` (least recently used dropped first)."""

    def __init__(
        self, capacity: int = 1, device: str = "cpu", loader: Callable[[Path, str, str], LoadedDetector] = load_detector
    ):
        self.capacity = max(1, int(capacity))
        self.device = device
        self._loader = loader
        self._items: OrderedDict[tuple[str, str], LoadedDetector] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, models_dir: str | Path, detector_id: str) -> LoadedDetector:
        det = get_detector(detector_id)
        reason = unavailable_reason(det)
        if reason:
            raise UnavailableError(f"{reason} Choose another text detector.")
        folder = detector_folder(models_dir, detector_id)
        if not is_downloaded(models_dir, detector_id):
            raise ModelNotFoundError(how_to_get(models_dir, detector_id))
        key = (str(folder), det.id)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            while len(self._items) >= self.capacity:
                self._items.popitem(last=False)
            loaded = self._loader(folder, det.id, self.device)
            self._items[key] = loaded
            return loaded

    def unload(self) -> int:
        with self._lock:
            n = len(self._items)
            self._items.clear()
            return n


__all__ = [
    "DETECTORS",
    "FOLDER",
    "DetectorCache",
    "LoadedDetector",
    "TextDetector",
    "available_detectors",
    "detector_folder",
    "download_detector",
    "get_detector",
    "how_to_get",
    "is_downloaded",
    "load_detector",
    "unavailable_reason",
]
