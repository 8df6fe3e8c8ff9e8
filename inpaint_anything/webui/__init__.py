"""Host adapter: the only package that imports the WebUI (``modules.*``).

Everything here is imported from ``scripts/*.py`` at WebUI start, so module import must stay cheap:
no downloads, no model loads, no folder scans, no torch/diffusers imports at module level.
"""
