"""CLIP tokenizer files built offline from the BPE table that open_clip ships.

Stable Diffusion's tokenizers (SD1 and SDXL's first encoder: OpenAI CLIP; SD2 and SDXL's second
encoder: OpenCLIP) all use the same byte-level BPE with 49408 ids. ``open_clip`` bundles that table as
``bpe_simple_vocab_16e6.txt.gz``; from it we write ``vocab.json``, ``merges.txt``,
``tokenizer_config.json`` and ``special_tokens_map.json``, which ``CLIPTokenizer.from_pretrained(dir)``
reads in transformers 4.x and 5.x. Nothing is downloaded.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from inpaint_anything.errors import UnavailableError

BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
VOCAB_SIZE = 49408
NUM_MERGES = 49152 - 256 - 2  # the slice of the BPE table CLIP uses
MODEL_MAX_LENGTH = 77
TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")
_FORMAT_VERSION = "1"

# variant -> padding token. "clip": OpenAI CLIP as in SD1.x / SDXL ``tokenizer``;
# "openclip": OpenCLIP as in SD2.x / SDXL ``tokenizer_2`` (pads with "!", id 0).
PAD_TOKENS = {"clip": EOS_TOKEN, "openclip": "!"}


def default_cache_dir() -> Path:
    """The user cache for derived files: ``$XDG_CACHE_HOME/inpaint-anything`` (``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "inpaint-anything"


def open_clip_bpe_path() -> Path:
    """Path of ``bpe_simple_vocab_16e6.txt.gz`` inside the installed open_clip (without importing it)."""
    spec = importlib.util.find_spec("open_clip")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "bpe_simple_vocab_16e6.txt.gz"
        if candidate.is_file():
            return candidate
    raise UnavailableError(
        "The CLIP tokenizer table (open_clip/bpe_simple_vocab_16e6.txt.gz) was not found. "
        "Install the 'open-clip-torch' package (the WebUI installs it) and restart."
    )


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte-to-symbol table: printable bytes map to themselves, the rest to code points >= 256."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table: dict[int, str] = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table  # insertion order (printable bytes first) is the vocabulary order


def read_bpe_merges(bpe_path: str | os.PathLike[str] | None = None) -> list[tuple[str, str]]:
    """The first :data:`NUM_MERGES` merges of the open_clip BPE table (its header line skipped)."""
    path = Path(bpe_path) if bpe_path is not None else open_clip_bpe_path()
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : NUM_MERGES + 1]]
    if len(merges) != NUM_MERGES or any(len(m) != 2 for m in merges):
        raise UnavailableError(f"The CLIP BPE table at {path} is damaged; reinstall 'open-clip-torch'.")
    return merges  # type: ignore[return-value]


def build_vocab(merges: list[tuple[str, str]]) -> dict[str, int]:
    """Token -> id in CLIP's order: byte symbols, their ``</w>`` forms, merges, then BOS and EOS."""
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [BOS_TOKEN, EOS_TOKEN]
    vocab = {token: index for index, token in enumerate(tokens)}
    if len(vocab) != VOCAB_SIZE:
        raise UnavailableError(f"Derived CLIP vocabulary has {len(vocab)} entries instead of {VOCAB_SIZE}.")
    return vocab


def _tokenizer_config(pad_token: str) -> dict[str, object]:
    return {
        "add_prefix_space": False,
        "bos_token": BOS_TOKEN,
        "clean_up_tokenization_spaces": True,
        "do_lower_case": True,
        "eos_token": EOS_TOKEN,
        "errors": "replace",
        "model_max_length": MODEL_MAX_LENGTH,
        "pad_token": pad_token,
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": EOS_TOKEN,
    }


def write_clip_tokenizer(
    out_dir: str | os.PathLike[str], *, variant: str = "clip", bpe_path: str | os.PathLike[str] | None = None
) -> Path:
    """Write the four tokenizer files into ``out_dir`` (created; existing files are overwritten)."""
    if variant not in PAD_TOKENS:
        raise ValueError(f"unknown tokenizer variant {variant!r}; expected one of {sorted(PAD_TOKENS)}")
    pad_token = PAD_TOKENS[variant]
    merges = read_bpe_merges(bpe_path)
    vocab = build_vocab(merges)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    special = {"bos_token": BOS_TOKEN, "eos_token": EOS_TOKEN, "pad_token": pad_token, "unk_token": EOS_TOKEN}
    files = {
        "vocab.json": json.dumps(vocab, ensure_ascii=False),
        "merges.txt": "#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n",
        "tokenizer_config.json": json.dumps(_tokenizer_config(pad_token), indent=2),
        "special_tokens_map.json": json.dumps(special, indent=2),
    }
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    return out


def is_complete(directory: str | os.PathLike[str]) -> bool:
    """True when ``directory`` holds all four tokenizer files."""
    return all((Path(directory) / name).is_file() for name in TOKENIZER_FILES)


def ensure_clip_tokenizer(
    cache_dir: str | os.PathLike[str] | None = None, *, variant: str = "clip", bpe_path: str | os.PathLike[str] | None = None
) -> Path:
    """Return a directory with the tokenizer files, creating it once (atomically) under ``cache_dir``.

    The directory name includes a digest of the BPE table, so a different open_clip version gets its own
    directory. Concurrent callers are safe: each writes a private temporary directory and renames it.
    """
    if variant not in PAD_TOKENS:
        raise ValueError(f"unknown tokenizer variant {variant!r}; expected one of {sorted(PAD_TOKENS)}")
    source = Path(bpe_path) if bpe_path is not None else open_clip_bpe_path()
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "tokenizers"
    final = root / f"{variant}-{digest}-v{_FORMAT_VERSION}"
    if is_complete(final):
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    try:
        write_clip_tokenizer(tmp, variant=variant, bpe_path=source)
        if final.exists() and not is_complete(final):
            shutil.rmtree(final, ignore_errors=True)  # a leftover from an interrupted older layout
        try:
            os.replace(tmp, final)
        except OSError:
            if not is_complete(final):  # somebody else won the race only if theirs is complete
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def copy_tokenizer(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Copy the four tokenizer files from ``src`` into ``dst`` (created)."""
    out = Path(dst)
    out.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copyfile(Path(src) / name, out / name)
    return out
