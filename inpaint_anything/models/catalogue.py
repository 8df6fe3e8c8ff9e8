"""The catalogue of downloadable single-file models (Segment Anything family).

Every size and SHA-256 below was confirmed from at least two independent public manifests (download
scripts, model registries, Dockerfiles that run ``sha256sum -c``). Where no source could be found
the value is ``None`` and marked in a comment: the downloader then checks the SHA-256 the Hub
reports for the file (its LFS ETag) and records the hash it computed. No value here is guessed.

:func:`available_entries` tells which entries this installation can run (SAM 2.1 needs the ``sam2``
package, torch >= 2.5.1 and torchvision >= 0.20.1); it reads package metadata and imports ``sam2``
(hydra and omegaconf only), never torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from inpaint_anything.errors import ModelNotFoundError
from inpaint_anything.segment.families import FAMILIES  # SAM families; "remover": see models/removers.py
from inpaint_anything.segment.sam2_requirements import (
    SAM2_MIN_TORCH,
    SAM2_MIN_TORCHVISION,
    sam2_requirements_problem,
    sam2_unavailable_reason,
)

HF_DEFAULT_ENDPOINT = "https://huggingface.co"


@dataclass(frozen=True)
class Source:
    """Where a file can be downloaded: a Hub file (``kind="hf"``) or a plain HTTPS URL (``kind="url"``)."""

    kind: str  # "hf" | "url"
    repo_id: str = ""
    filename: str = ""
    revision: str = "main"
    url: str = ""

    @staticmethod
    def hf(repo_id: str, filename: str, revision: str = "main") -> Source:
        return Source("hf", repo_id=repo_id, filename=filename, revision=revision)

    @staticmethod
    def https(url: str) -> Source:
        return Source("url", url=url)

    def display_url(self, endpoint: str | None = None) -> str:
        """The address a person can open in a browser to download the file."""
        if self.kind == "url":
            return self.url
        base = (endpoint or HF_DEFAULT_ENDPOINT).rstrip("/")
        return f"{base}/{self.repo_id}/resolve/{self.revision}/{self.filename}"

    def describe(self) -> str:
        return f"Hugging Face Hub {self.repo_id}/{self.filename}" if self.kind == "hf" else self.url


@dataclass(frozen=True)
class ModelEntry:
    """One downloadable model file."""

    id: str
    family: str  # one of FAMILIES (inpaint_anything.segment.families)
    arch: str  # vit_b / vit_l / vit_h / vit_tiny / hiera_t / hiera_s / hiera_b+ / hiera_l
    filename: str
    size_bytes: int | None
    sha256: str | None
    sources: tuple[Source, ...]
    description: str
    label: str = ""
    requires: str | None = None  # what must be installed besides the base stack
    license: str = "Apache-2.0"
    cpu_encode_s: float | None = None  # measured seconds to encode one image on a CPU (see CPU_ENCODE_S)
    md5: str | None = None  # a publicly pinned MD5, checked only where no SHA-256 is known

    @property
    def title(self) -> str:
        return self.label or self.id

    def download_urls(self, endpoint: str | None = None) -> list[str]:
        return [s.display_url(endpoint) for s in self.sources]


@dataclass(frozen=True)
class EntryStatus:
    """Whether this installation can use an entry, and why not."""

    entry: ModelEntry
    available: bool
    reason: str = ""


_META_SAM = "https://dl.fbaipublicfiles.com/segment_anything/"
_META_SAM2 = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"
_MOBILE_SAM_GITHUB = "https://github.com/ChaoningZhang/MobileSAM/raw/master/weights/"
_SAM2_REQUIRES = "the sam2 package, torch>=2.5.1 and torchvision>=0.20.1"


def _sources(family: str, filename: str, hub_repo: str) -> tuple[Source, ...]:
    """Where the authors publish a file of ``family``, first choice first; every place serves the same
    bytes (same SHA-256). ``hub_repo`` names the Hub repository of a SAM 2.1 size (one per size)."""
    if family == "sam":  # Meta's server; ybelkada/segment-anything is a Hub mirror of the same files
        return (Source.https(_META_SAM + filename), Source.hf("ybelkada/segment-anything", f"checkpoints/{filename}"))
    if family == "mobile_sam":
        return Source.hf("dhkim2810/MobileSAM", filename), Source.https(_MOBILE_SAM_GITHUB + filename)
    if family == "sam2":
        return Source.hf(hub_repo, filename), Source.https(_META_SAM2 + filename)
    return (Source.hf("lkeab/hq-sam", filename),)  # sam_hq, sam_hq_tiny


def _entry(
    model_id: str,
    family: str,
    arch: str,
    filename: str,
    size: int | None,
    sha: str | None,
    label: str,
    description: str,
    hub_repo: str = "",
) -> ModelEntry:
    """The catalogue entry of one published file; its download sources and what it requires besides
    the base stack follow from its family."""
    return ModelEntry(
        model_id,
        family,
        arch,
        filename,
        size,
        sha,
        _sources(family, filename, hub_repo),
        description,
        label,
        requires=_SAM2_REQUIRES if family == "sam2" else None,
    )


CATALOGUE: tuple[ModelEntry, ...] = (
    _entry(
        "sam_vit_b",
        "sam",
        "vit_b",
        "sam_vit_b_01ec64.pth",
        375_042_383,
        "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
        "SAM ViT-B",
        "Segment Anything, smallest original model (375 MB).",
    ),
    _entry(
        "sam_vit_l",
        "sam",
        "vit_l",
        "sam_vit_l_0b3195.pth",
        1_249_524_607,
        "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
        "SAM ViT-L",
        "Segment Anything, large (1.25 GB).",
    ),
    _entry(
        "sam_vit_h",
        "sam",
        "vit_h",
        "sam_vit_h_4b8939.pth",
        2_564_550_879,
        "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
        "SAM ViT-H",
        "Segment Anything, huge: best masks, slowest (2.56 GB).",
    ),
    # sam_hq_vit_b / sam_hq_vit_l: no public manifest lists their size or SHA-256 (unconfirmed);
    # the Hub's LFS SHA-256 is checked instead and the computed hash is recorded.
    _entry(
        "sam_hq_vit_b",
        "sam_hq",
        "vit_b",
        "sam_hq_vit_b.pth",
        None,
        None,
        "HQ-SAM ViT-B",
        "High-quality SAM, base (about 379 MB).",
    ),
    _entry(
        "sam_hq_vit_l",
        "sam_hq",
        "vit_l",
        "sam_hq_vit_l.pth",
        None,
        None,
        "HQ-SAM ViT-L",
        "High-quality SAM, large (about 1.25 GB).",
    ),
    _entry(
        "sam_hq_vit_h",
        "sam_hq",
        "vit_h",
        "sam_hq_vit_h.pth",
        2_570_940_653,
        "a7ac14a085326d9fa6199c8c698c4f0e7280afdbb974d2c4660ec60877b45e35",
        "HQ-SAM ViT-H",
        "High-quality SAM, huge (2.57 GB).",
    ),
    # sam_hq_vit_tiny: SHA-256 confirmed, size unconfirmed (None; the Hub reports it).
    _entry(
        "sam_hq_vit_tiny",
        "sam_hq_tiny",
        "vit_tiny",
        "sam_hq_vit_tiny.pth",
        None,
        "0f32c075ccdd870ae54db2f7630e7a0878ede5a2b06d05d6fe02c65a82fb7196",
        "Light HQ-SAM (ViT-tiny)",
        "High-quality SAM with a TinyViT encoder: fast on CPU (about 43 MB).",
    ),
    _entry(
        "mobile_sam",
        "mobile_sam",
        "vit_tiny",
        "mobile_sam.pt",
        40_728_226,
        "6dbb90523a35330fedd7f1d3dfc66f995213d81b29a5ca8108dbcdd4e37d6c2f",
        "MobileSAM",
        "TinyViT encoder with the original SAM decoder: fastest on CPU (41 MB).",
    ),
    _entry(
        "sam2_1_hiera_tiny",
        "sam2",
        "hiera_t",
        "sam2.1_hiera_tiny.pt",
        156_008_466,
        "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69",
        "SAM 2.1 Hiera-T",
        "Segment Anything 2.1, tiny (156 MB).",
        "facebook/sam2.1-hiera-tiny",
    ),
    _entry(
        "sam2_1_hiera_small",
        "sam2",
        "hiera_s",
        "sam2.1_hiera_small.pt",
        184_416_285,
        "6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38",
        "SAM 2.1 Hiera-S",
        "Segment Anything 2.1, small (184 MB).",
        "facebook/sam2.1-hiera-small",
    ),
    _entry(
        "sam2_1_hiera_base_plus",
        "sam2",
        "hiera_b+",
        "sam2.1_hiera_base_plus.pt",
        323_606_802,
        "a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5",
        "SAM 2.1 Hiera-B+",
        "Segment Anything 2.1, base+ (324 MB).",
        "facebook/sam2.1-hiera-base-plus",
    ),
    _entry(
        "sam2_1_hiera_large",
        "sam2",
        "hiera_l",
        "sam2.1_hiera_large.pt",
        898_083_611,
        "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318",
        "SAM 2.1 Hiera-L",
        "Segment Anything 2.1, large (898 MB).",
        "facebook/sam2.1-hiera-large",
    ),
)

# Seconds to encode one image (1024 px long side) on a CPU, measured with real-size random-weight
# models on the 2-core development machine (reference 2048² fp32 matmul ≈ 0.1 s; docs/benchmarks.md
# and shared/reference/cpu-baselines-and-versions.md): ViT-B 16–23 s, ViT-L ≈ 40 s, ViT-H 66–71 s,
# TinyViT 1.1–2.6 s. HQ-SAM uses the same image encoders. SAM 2.1 was not measured on a CPU (None).
# A faster CPU divides them all alike; they are for ordering and warnings, never for timeouts.
CPU_ENCODE_S = {
    "sam_vit_b": 20.0,
    "sam_vit_l": 40.0,
    "sam_vit_h": 70.0,
    "sam_hq_vit_b": 20.0,
    "sam_hq_vit_l": 40.0,
    "sam_hq_vit_h": 70.0,
    "sam_hq_vit_tiny": 2.0,
    "mobile_sam": 1.5,
}
SLOW_ON_CPU_S = 30.0  # from here on, the dropdown says "slow on CPU" when no GPU is used
LIGHT_MODELS = ("mobile_sam", "sam_hq_vit_tiny")  # listed first when SAM runs on the CPU

CATALOGUE = tuple(dataclasses.replace(e, cpu_encode_s=CPU_ENCODE_S.get(e.id)) for e in CATALOGUE)


def cpu_encode_seconds(family: str, arch: str) -> float | None:
    """The measured CPU encode time of a model of this family and architecture (a user's own file
    too), or None when not measured."""
    if family in ("mobile_sam", "sam_hq_tiny"):
        return CPU_ENCODE_S["mobile_sam" if family == "mobile_sam" else "sam_hq_vit_tiny"]
    return CPU_ENCODE_S.get(f"{family}_{arch}")


_BY_ID = {e.id: e for e in CATALOGUE}


def get_entry(model_id: str) -> ModelEntry:
    """The catalogue entry ``model_id``, or ModelNotFoundError listing the known ids."""
    try:
        return _BY_ID[model_id]
    except KeyError:
        raise ModelNotFoundError(f"Unknown model '{model_id}'. Known models: {', '.join(_BY_ID)}.") from None


def find_by_filename(filename: str) -> ModelEntry | None:
    """The entry whose file is called ``filename`` (case-insensitive), if any."""
    lowered = filename.lower()
    return next((e for e in CATALOGUE if e.filename.lower() == lowered), None)


def available_entries() -> list[EntryStatus]:
    """Every catalogue entry with whether it can be used in this installation."""
    sam2_reason: str | None = None
    checked = False
    out = []
    for entry in CATALOGUE:
        if entry.family == "sam2":
            if not checked:
                sam2_reason, checked = sam2_unavailable_reason(), True
            out.append(EntryStatus(entry, sam2_reason is None, sam2_reason or ""))
        else:
            out.append(EntryStatus(entry, True))
    return out


__all__ = [
    "CATALOGUE",
    "FAMILIES",
    "EntryStatus",
    "ModelEntry",
    "Source",
    "SAM2_MIN_TORCH",
    "SAM2_MIN_TORCHVISION",
    "available_entries",
    "find_by_filename",
    "get_entry",
    "sam2_requirements_problem",
    "sam2_unavailable_reason",
]
