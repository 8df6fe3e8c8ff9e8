"""Registering the tab's event handlers (gradio 3.41 and 4.40): one wrapper that turns an exception into
a readable status message and keeps every output, and the inpaint request of the generation controls."""

# No "from __future__ import annotations": gradio inspects real annotations (gr.Progress).
import gradio as gr

from inpaint_anything.ui.messages import error_message


def on(event, fn, inputs: list, outputs: list, status, *, progress: bool = False, **kwargs):
    """Register ``fn(*input values[, progress])`` on ``event``; on error every output is kept and a
    readable message goes to ``status``. Inputs travel as a set (gradio then passes one dict), so
    the wrapper can take gradio's Progress tracker as its second parameter on both versions."""

    def call(data: dict, prog) -> dict:
        try:
            args = [data[c] for c in inputs]
            values = fn(*args, prog) if progress else fn(*args)
        except Exception as exc:  # shown to the user, never a black image or a silent no-op
            return {status: error_message(exc)}
        if not isinstance(values, tuple):
            values = (values,)
        return dict(zip(outputs, values, strict=True))

    if progress:

        def wrapped(data, prog=gr.Progress()):
            return call(data, prog)
    else:

        def wrapped(data):
            return call(data, None)

    outs = list(outputs) + ([status] if status not in outputs else [])
    return event(wrapped, inputs=set(inputs), outputs=outs, **kwargs)


def request_from(names: list[str], values: tuple):
    from inpaint_anything.inpaint.request import InpaintRequest

    return InpaintRequest.from_ui(dict(zip(names, values, strict=True)))
