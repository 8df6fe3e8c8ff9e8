"""The gradio user interface (the only package besides ``webui`` that imports gradio).

- ``compat``: gradio 3.41 / 4.40 differences (listener keywords, Image/Gallery arguments, assets);
- ``canvas``: the mask editor's event schema, stroke rasterisation and its gradio components;
- ``tab`` / ``handlers``: the tab's layout and its behaviour (``Controller``, ``HostHooks``);
- ``candidates``: thumbnails of SAM's candidate masks shown over the canvas;
- ``crosstab``: pictures sent between the WebUI's tabs and ours (browser-read data URLs, JS snippets);
- ``labels``: SAM dropdown labels (size, downloaded / verified state).

gradio itself is imported inside functions, so importing this package stays cheap.
"""

from __future__ import annotations
