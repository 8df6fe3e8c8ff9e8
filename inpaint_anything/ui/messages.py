"""The tab's status messages: escaped HTML with the class that colours them (style.css)."""

from __future__ import annotations

import html

from inpaint_anything.errors import IAError


def message(text: str, error: bool = False) -> str:
    cls = "ia-error" if error else "ia-hint"
    return f'<div class="{cls}">{html.escape(text)}</div>'


def warning(text: str) -> str:
    """A visible warning (not an error, not grey success text): something to do next."""
    return f'<div class="ia-warning">{html.escape(text)}</div>'


def error_message(exc: Exception) -> str:
    if isinstance(exc, IAError):
        return message(str(exc), error=True)
    import logging

    logging.getLogger(__name__).exception("Inpaint Anything: unexpected error")
    return message(f"Unexpected error ({type(exc).__name__}: {exc}). See the console for details.", error=True)
