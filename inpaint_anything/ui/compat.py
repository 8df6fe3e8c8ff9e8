"""gradio 3.41 (A1111) / 4.40 (Forge) differences, decided in one place.

- event JS: ``_js=`` (3) vs ``js=`` (4); ``trigger_mode`` exists only in 4;
- ``gr.Image``: ``source="upload"`` + ``tool`` (3) vs ``sources=[...]`` + ``format`` (4; its default
  "webp" is lossy, we always ask for "png");
- layout blocks take ``elem_classes`` in both, but only as ``**kwargs`` in 3;
- Gallery input values: list of dicts / [dict, caption] (3) vs list of (path | array, caption) (4);
- assets in the standalone app: the WebUI loads ``javascript/*.js`` and ``style.css`` itself; outside
  it :func:`standalone_blocks` passes our CSS to ``gr.Blocks(css=...)`` (both versions) and
  :func:`inject_assets` runs our JS through a ``load`` event with a JS-only handler (``_js``/``js``),
  which both versions support without touching gradio internals (no template patching, no ``head=``).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

EXTENSION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JS_DIR = os.path.join(EXTENSION_ROOT, "javascript")
CSS_PATH = os.path.join(EXTENSION_ROOT, "style.css")


@cache
def gradio_major() -> int:
    """Major version of the installed gradio (3 or 4)."""
    import gradio

    return int(gradio.__version__.split(".")[0])


def is_gradio4() -> bool:
    return gradio_major() >= 4


def js_kwargs(js: str | None) -> dict[str, Any]:
    """Keyword for a JS function on an event listener: ``{"_js": js}`` or ``{"js": js}``."""
    if not js:
        return {}
    return {"js": js} if is_gradio4() else {"_js": js}


def event_kwargs(*, js: str | None = None, trigger_mode: str | None = None) -> dict[str, Any]:
    """Listener keywords that only some versions accept (``trigger_mode`` is gradio 4 only)."""
    out = js_kwargs(js)
    if trigger_mode and is_gradio4():
        out["trigger_mode"] = trigger_mode
    return out


def update(**kwargs: Any) -> Any:
    """``gr.update(...)`` (a dict in both versions)."""
    import gradio as gr

    return gr.update(**kwargs)


def image(
    *,
    label: str | None = None,
    sources: Sequence[str] = ("upload",),
    type: str = "numpy",
    interactive: bool | None = None,
    image_mode: str = "RGB",
    elem_id: str | None = None,
    elem_classes: Sequence[str] | None = None,
    height: int | None = None,
    show_label: bool = True,
    visible: bool = True,
) -> Any:
    """A ``gr.Image`` with the same behaviour on both versions (lossless PNG on the wire, no sketch tool)."""
    import gradio as gr

    kwargs: dict[str, Any] = {
        "label": label,
        "type": type,
        "image_mode": image_mode,
        "interactive": interactive,
        "elem_id": elem_id,
        "elem_classes": list(elem_classes or []),
        "show_label": show_label,
        "visible": visible,
    }
    if height is not None:
        kwargs["height"] = height
    if is_gradio4():
        kwargs["sources"] = list(sources)
        kwargs["format"] = "png"
    else:
        # gradio 3 has a single source; "clipboard" paste works on "upload" anyway.
        kwargs["source"] = "webcam" if list(sources) == ["webcam"] else "upload"
    return gr.Image(**kwargs)


def choices(pairs: Sequence[tuple[str, str]]) -> list[Any]:
    """Dropdown/Radio choices from ``(label, value)`` pairs: kept as pairs in gradio 4; gradio 3
    would show ``str(pair)``, so it gets the labels (map them back with a label -> value dict)."""
    return [tuple(p) for p in pairs] if is_gradio4() else [label for label, _ in pairs]


def choice_value(value: Any, pairs: Sequence[tuple[str, str]]) -> Any:
    """The initial value matching :func:`choices`: the value in gradio 4, its label in gradio 3."""
    if is_gradio4():
        return value
    return next((label for label, v in pairs if v == value), value)


def gallery(
    *, label: str | None = None, elem_id: str | None = None, columns: int = 4, height: int | None = None, **extra: Any
) -> Any:
    """A ``gr.Gallery`` showing PNG thumbnails (``columns``/``height`` exist in both versions; other
    options that the installed version does not know are left out)."""
    import gradio as gr

    kwargs: dict[str, Any] = {"label": label, "elem_id": elem_id, "columns": columns, "height": height, "preview": False, **extra}
    if is_gradio4():
        kwargs.setdefault("format", "png")
        kwargs.setdefault("interactive", False)
    accepted = _parameters(gr.Gallery)
    return gr.Gallery(**{k: v for k, v in kwargs.items() if k in accepted})


@cache
def _parameters(cls: type) -> frozenset[str]:
    """Keyword names ``cls.__init__`` declares (options one gradio version lacks are dropped)."""
    import inspect

    return frozenset(inspect.signature(cls.__init__).parameters)


def gallery_value(images: Sequence[Any], captions: Sequence[str] | None = None) -> list[Any]:
    """A Gallery output value: ``[(image, caption), ...]``, accepted by both versions."""
    caps = list(captions) if captions is not None else [""] * len(images)
    return [(img, cap) for img, cap in zip(images, caps, strict=True)]


def _load_path(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def gallery_images(value: Any) -> list[np.ndarray]:
    """Gallery *input* value (any version's shape) -> list of uint8 RGB arrays."""
    out: list[np.ndarray] = []
    for item in value or []:
        if isinstance(item, (tuple, list)) and item:
            item = item[0]
        if isinstance(item, dict):  # gradio 3 {"name": path, ...} / gradio 4 FileData {"path": ...}
            inner = item.get("image", item)
            item = inner.get("path") or inner.get("name") if isinstance(inner, dict) else inner
        if hasattr(item, "path") and not isinstance(item, (str, np.ndarray)):
            item = item.path
        if isinstance(item, str):
            out.append(_load_path(item))
        elif item is not None:
            arr = np.asarray(item)
            if arr.ndim == 2:
                arr = np.repeat(arr[..., None], 3, axis=2)
            out.append(np.ascontiguousarray(arr[..., :3].astype(np.uint8)))
    return out


def select_index(evt: Any) -> int | None:
    """Index from a ``gr.SelectData`` (an int in both; tuples for dataframes)."""
    index = getattr(evt, "index", None)
    if isinstance(index, (tuple, list)):
        index = index[0] if index else None
    return int(index) if index is not None else None


def column(*, elem_id: str | None = None, elem_classes: Sequence[str] | None = None, **kwargs: Any) -> Any:
    """``gr.Column`` with ``elem_classes`` (a ``**kwargs`` pass-through in gradio 3)."""
    import gradio as gr

    return gr.Column(elem_id=elem_id, elem_classes=list(elem_classes or []), **kwargs)


def read_asset(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def js_paths() -> list[str]:
    """Our ``javascript/*.js`` in the order the WebUI loads them: sorted by file name."""
    return sorted(glob.glob(os.path.join(JS_DIR, "*.js")))


def asset_js() -> str:
    """All our JS files, in :func:`js_paths` order, as one function expression for a JS-only listener.

    Each file is an IIFE sharing state only through ``window.InpaintAnything``, so running them one
    after the other in one function is the same as the WebUI's one ``<script>`` per file.
    """
    return "() => {\n" + "\n".join(read_asset(path) for path in js_paths()) + "\n}"


SYSTEM_FONTS = ("ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif")
SYSTEM_MONO_FONTS = ("ui-monospace", "SFMono-Regular", "Consolas", "monospace")


def offline_theme() -> Any:
    """gradio's default theme with system fonts: the default one loads Google Fonts, and nothing
    of the standalone page may come from another host."""
    import gradio as gr

    return gr.themes.Default(font=list(SYSTEM_FONTS), font_mono=list(SYSTEM_MONO_FONTS))


def standalone_blocks(title: str = "Inpaint Anything", css: str = "", **kwargs: Any) -> Any:
    """``gr.Blocks`` for use outside the WebUI, with our CSS, analytics off and a theme that loads
    nothing from other hosts; call :func:`inject_assets` inside it."""
    import gradio as gr

    kwargs.setdefault("theme", offline_theme())
    kwargs.setdefault("analytics_enabled", False)
    return gr.Blocks(title=title, css=read_asset(CSS_PATH) + "\n" + css, **kwargs)


def inject_assets(blocks: Any) -> None:
    """Run our JS on page load (standalone app only; the WebUI loads ``javascript/`` itself).

    Must be called inside ``with blocks:``. Running the files twice is harmless (each one checks
    ``window.InpaintAnything`` for its part).
    """
    blocks.load(None, None, None, **js_kwargs(asset_js()))


__all__ = [
    "asset_js",
    "choice_value",
    "choices",
    "column",
    "event_kwargs",
    "gallery",
    "gallery_images",
    "gallery_value",
    "gradio_major",
    "image",
    "inject_assets",
    "is_gradio4",
    "js_kwargs",
    "js_paths",
    "offline_theme",
    "select_index",
    "standalone_blocks",
    "update",
]
