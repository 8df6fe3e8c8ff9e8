"""The README's table of SAM model files, generated from the catalogue.

``python -m inpaint_anything.models.readme_table`` prints it; ``tests/test_readme.py`` checks that the
README holds exactly this text between the ``<!-- sam-table:start -->`` and ``<!-- sam-table:end -->``
markers, so the README cannot drift from :data:`~inpaint_anything.models.catalogue.CATALOGUE`.
"""

from __future__ import annotations

import sys

from inpaint_anything.models.catalogue import CATALOGUE, ModelEntry

START = "<!-- sam-table:start -->"
END = "<!-- sam-table:end -->"


def _size(entry: ModelEntry) -> str:
    if entry.size_bytes is None:
        return "not published (the Hub reports it)"
    size = entry.size_bytes
    shown = f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"
    return f"{shown} ({size:,} bytes)"


def _sha(entry: ModelEntry) -> str:
    if entry.sha256 is None:
        return "not published: checked against the Hub's SHA-256 on download"
    return f"`{entry.sha256}`"


def _sources(entry: ModelEntry) -> str:
    return "<br>".join(f"<{url}>" for url in entry.download_urls())


def sam_files_table() -> str:
    """Markdown: one row per catalogue file (id, file name, size, SHA-256, where to download it)."""
    rows = ["| id | file name (put it in the models folder) | size | SHA-256 | download from |", "|---|---|---|---|---|"]
    for e in CATALOGUE:
        needs = f" (needs {e.requires})" if e.requires else ""
        rows.append(f"| `{e.id}` | `{e.filename}`{needs} | {_size(e)} | {_sha(e)} | {_sources(e)} |")
    return "\n".join(rows)


def readme_block() -> str:
    """The table with its markers, as it stands in README.md."""
    return f"{START}\n{sam_files_table()}\n{END}"


if __name__ == "__main__":
    sys.stdout.write(readme_block() + "\n")
