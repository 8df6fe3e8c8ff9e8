"""Inpaint Anything: segment, refine, inpaint, remove and outpaint.

The core package never imports the WebUI host; only ``inpaint_anything.webui`` does.
Heavy libraries (torch, diffusers, segment_anything) are imported inside the functions
that need them, so importing this package is cheap.
"""

__version__ = "0.1.0"
