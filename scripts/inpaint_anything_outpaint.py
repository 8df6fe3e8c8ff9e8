"""WebUI entry point for the img2img script "Outpainting (Inpaint Anything)" (thin: the class lives in the adapter)."""

from inpaint_anything.webui.outpaint_script import InpaintAnythingOutpaint  # noqa: F401 - registered by the host
