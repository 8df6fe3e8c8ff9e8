"""Downloadable learned object removers (LaMa, MI-GAN): their files, as catalogue entries.

They use :class:`~inpaint_anything.models.catalogue.ModelEntry` and the same downloader as the SAM
models (resume, size + hash check, offline wording), but are kept out of :data:`CATALOGUE` so they
never appear in a SAM model list.

Sources of the values (each confirmed from public listings, none guessed):

- ``big-lama.pt``, the TorchScript big-lama that IOPaint (``iopaint/model/lama.py``, MD5
  ``e3aa4aaa15225a33ec84f9f4bc47e500``) and the original sd-webui-inpaint-anything download from the
  GitHub release ``Sanster/models`` ``add_big_lama``: 205,669,692 bytes and SHA-256 ``344c77bb…``,
  listed by several independent download manifests that pin this release (with IOPaint's MD5 beside
  the SHA-256 in one of them), and by a manifest that downloads the same bytes from the Hub repository
  ``signature-ai/big-lama``. (A different ``big-lama.pt`` — simple-lama-inpainting's 205,803,670
  bytes — is another export; a user may keep it, it is only not what Download fetches.)
- ``migan_traced.pt``, IOPaint's 512 px MI-GAN (``iopaint/model/mi_gan.py``), release
  ``Sanster/models`` ``migan``: the MD5 ``76eb3b1a71c400ee3290524f7a11b89c`` is pinned by IOPaint and
  repeated by other projects; no public listing of its size or SHA-256 was found (None: the MD5 is
  checked instead, and the SHA-256 computed then is recorded for later checks). No Hub copy whose
  content was confirmed was found, so the GitHub release is its only source.
"""

from __future__ import annotations

from dataclasses import dataclass

from inpaint_anything.errors import ModelNotFoundError
from inpaint_anything.models.catalogue import ModelEntry, Source

_RELEASES = "https://github.com/Sanster/models/releases/download/"


@dataclass(frozen=True)
class RemoverModel:
    """A learned remover: its file and how the engine must feed it."""

    method: str  # the name in the "Remove object" method list
    entry: ModelEntry
    native_size: int  # 0: the crop's own size (scaled down to max_size when larger)
    max_size: int  # longest side handed to the model (the engine scales a larger crop down)
    multiple: int
    input_kind: str  # "image+mask" (LaMa) | "migan" (one 4-channel tensor, fixed square size)


REMOVER_MODELS: tuple[RemoverModel, ...] = (
    RemoverModel(
        "lama",
        ModelEntry(
            id="big_lama",
            family="remover",
            arch="lama",
            filename="big-lama.pt",
            size_bytes=205_669_692,
            sha256="344c77bbcb158f17dd143070d1e789f38a66c04202311ae3a258ef66667a9ea9",
            md5="e3aa4aaa15225a33ec84f9f4bc47e500",
            sources=(Source.https(_RELEASES + "add_big_lama/big-lama.pt"), Source.hf("signature-ai/big-lama", "big-lama.pt")),
            label="LaMa (big-lama)",
            description="Large-mask inpainting (Fourier convolutions): best removal quality (206 MB).",
        ),
        native_size=0,
        max_size=1024,
        multiple=8,
        input_kind="image+mask",
    ),
    RemoverModel(
        "migan",
        ModelEntry(
            id="migan",
            family="remover",
            arch="migan",
            filename="migan_traced.pt",
            size_bytes=None,
            sha256=None,
            md5="76eb3b1a71c400ee3290524f7a11b89c",
            sources=(Source.https(_RELEASES + "migan/migan_traced.pt"),),
            label="MI-GAN",
            description="Mobile inpainting GAN at 512 px: fast on CPU (about 27 MB).",
            license="MIT",
        ),
        native_size=512,
        max_size=512,
        multiple=8,
        input_kind="migan",
    ),
)

REMOVERS = {r.method: r for r in REMOVER_MODELS}
REMOVER_FILES = tuple(r.entry.filename for r in REMOVER_MODELS)


def remover(method: str) -> RemoverModel:
    """The learned remover ``method`` (ModelNotFoundError naming the known ones)."""
    try:
        return REMOVERS[method]
    except KeyError:
        raise ModelNotFoundError(f"Unknown learned remover {method!r}; known: {', '.join(REMOVERS)}.") from None


__all__ = ["REMOVERS", "REMOVER_FILES", "REMOVER_MODELS", "RemoverModel", "remover"]
