"""The gradio user interface (the only package besides ``webui`` that imports gradio).

- ``compat``: gradio 3.41 / 4.40 differences (listener keywords, Image/Gallery arguments, assets);
- ``canvas``: the mask editor's event schema, stroke rasterisation and its gradio components.

gradio itself is imported inside functions, so importing this package stays cheap.
"""

from __future__ import annotations
