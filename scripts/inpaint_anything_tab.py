"""WebUI entry point for the Inpaint Anything tab, settings and API (thin: registration only)."""

from inpaint_anything.webui import extension

extension.register()
