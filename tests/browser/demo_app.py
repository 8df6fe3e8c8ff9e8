"""A small gradio app with the mask editor, for browser tests and for trying the editor by hand.

    $VENV/bin/python tests/browser/demo_app.py        # prints the URL, Ctrl+C to stop

The submit handler echoes the parsed event as JSON (``#ia_demo_echo``) and returns a mask preview:
a disk of radius :data:`DISK_RADIUS` around each positive click (negative clicks cut one out), the
box filled, then the strokes painted in order (scribbles count as paint here).
"""

from __future__ import annotations

import json
import socket
import sys
from typing import Any

import numpy as np

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.ui import canvas, compat

DISK_RADIUS = 12
ECHO_ID = "ia_demo_echo"
SEGMENTS_ID = "ia_demo_segments"


def demo_mask(event: canvas.CanvasEvent) -> np.ndarray:
    """The mask the demo shows for an event (bool HxW)."""
    w, h = event.image_size
    yy, xx = np.mgrid[0:h, 0:w]
    mask = np.zeros((h, w), bool)
    for x, y, label in event.points:
        disk = (xx - x) ** 2 + (yy - y) ** 2 <= DISK_RADIUS**2
        mask = mask | disk if label else mask & ~disk
    if event.box is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in event.box)
        mask[y0 : y1 + 1, x0 : x1 + 1] = True
    return canvas.rasterize_strokes(event.strokes, (w, h), base=mask)


def handle_event(text: str, image: Any) -> tuple[str, Any]:
    """Echo the event and return the mask preview for the canvas."""
    try:
        event = canvas.parse_event(text)
    except InvalidInputError as exc:
        return json.dumps({"error": exc.message}), compat.update()
    mask = demo_mask(event)
    ys, xs = np.nonzero(mask)
    echo = {
        "seq": event.seq,
        "kind": event.kind,
        "image_size": list(event.image_size),
        "input_size": None if image is None else [int(image.shape[1]), int(image.shape[0])],
        "points": [list(p) for p in event.points],
        "box": None if event.box is None else list(event.box),
        "strokes": [
            {"mode": s.mode, "radius": s.radius, "n": len(s.points), "first": list(s.points[0]), "last": list(s.points[-1])}
            for s in event.strokes
        ],
        "mask_area": int(mask.sum()),
        "mask_bbox": [int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())] if len(xs) else None,
    }
    return json.dumps(echo), canvas.layer_from_mask(mask)


def segment_map(image: Any) -> Any:
    """A fake colour segment map: the image split into a 4x4 grid of distinct colours."""
    if image is None:
        return None
    h, w = image.shape[:2]
    palette = np.array([[(37 * i) % 256, (91 * i + 60) % 256, (173 * i + 120) % 256] for i in range(16)], np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    return palette[(yy * 4 // h) * 4 + (xx * 4 // w)]


def build_demo() -> Any:
    import gradio as gr

    with compat.standalone_blocks(title="Inpaint Anything canvas demo") as demo:
        compat.inject_assets(demo)
        with gr.Row():
            with gr.Column():
                comps = canvas.build_canvas(height=520)
            with gr.Column():
                echo = gr.Textbox(label="event echo", elem_id=ECHO_ID, lines=8, interactive=False)
                seg_button = gr.Button("Make segment map", elem_id=SEGMENTS_ID)
        comps.on_event(handle_event, inputs=[comps.input_image], outputs=[echo, comps.mask_layer])
        seg_button.click(segment_map, inputs=[comps.input_image], outputs=[comps.segments_layer])
    return demo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(port: int | None = None, block: bool = False) -> tuple[Any, str]:
    """Start the demo on 127.0.0.1; returns ``(demo, url)``. Call ``demo.close()`` when done."""
    demo = build_demo()
    demo.queue()
    port = port or free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=not block, quiet=True)
    return demo, f"http://127.0.0.1:{port}/"


if __name__ == "__main__":
    launch(int(sys.argv[1]) if len(sys.argv) > 1 else None, block=True)
