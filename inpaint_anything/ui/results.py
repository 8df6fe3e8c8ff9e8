"""The latest result, shown large directly under the editor with a before/after compare.

The compare view is plain JavaScript (``javascript/inpaint_anything_3_compare.js``, ``IA.compare``)
mounted into ``#ia_compare_root``; like the editor it reads two hidden ``gr.Image`` components:
``#ia_result_before`` (the input the result was made from) and ``#ia_result_after`` (the result).
A slider moves the split between them; when the sizes differ (outpainting) the result is shown
alone with both sizes. The Results gallery below keeps the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

COMPARE_HTML = '<div class="ia-cmp-mount"></div>'


@dataclass
class ResultView:
    root: Any  # gr.HTML the compare view mounts into
    before: Any  # hidden gr.Image: the input of the latest result
    after: Any  # hidden gr.Image: the latest result


def build_result_view() -> ResultView:
    import gradio as gr

    from inpaint_anything.ui import compat

    root = gr.HTML(COMPARE_HTML, elem_id="ia_compare_root")
    with compat.column(elem_classes=["ia-hidden"], elem_id="ia_result_bridge"):
        before = compat.image(label="result before", interactive=False, elem_id="ia_result_before", elem_classes=["ia-hidden"])
        after = compat.image(label="result", interactive=False, elem_id="ia_result_after", elem_classes=["ia-hidden"])
    return ResultView(root, before, after)


__all__ = ["COMPARE_HTML", "ResultView", "build_result_view"]
