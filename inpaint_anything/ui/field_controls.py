"""Gradio controls made from the parameter tables (:mod:`inpaint_anything.fields`), for gradio 3.41
and 4.40 alike: the tab and the img2img script build theirs here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from inpaint_anything.fields import Field, by_name


def control(f: Field, *, elem_id: str | None = None, label: str | None = None, **overrides: Any) -> Any:
    """The gradio control of ``f`` (gradio 3.41 and 4.40): choices show their words, the value is the
    default's words. ``overrides`` (e.g. ``choices`` of a host's samplers, ``visible``, ``scale``)
    go to the control as they are."""
    import gradio as gr

    kind = f.kind
    kw: dict[str, Any] = {"label": label or f.label, "elem_id": elem_id}
    if kind == "slider":
        low, high = f.slider_range
        kw.update(minimum=low, maximum=high, step=f.step or (1 if f.type is int else 0.01), value=f.default)
    elif kind == "number":
        kw.update(value=f.default, precision=0 if f.type is int else None)
    elif kind in ("dropdown", "radio"):
        kw.update(choices=[f.shown(c) for c in f.choices or ()], value=f.shown(f.default))
    elif kind == "checkbox":
        kw.update(value=bool(f.default))
    elif kind == "textbox":
        kw.update(value=f.default, lines=f.lines)
    else:
        raise ValueError(f"{f.name} has no control")
    kw.update(overrides)
    cls = {
        "slider": gr.Slider,
        "number": gr.Number,
        "dropdown": gr.Dropdown,
        "radio": gr.Radio,
        "checkbox": gr.Checkbox,
        "textbox": gr.Textbox,
    }[kind]
    return cls(**kw)


def build_controls(
    table: Iterable[Field],
    layout: Sequence[Sequence[str]],
    elem_id: Callable[[Field], str],
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The controls of ``table`` in rows (``layout``: rows of field names; a one-name row is not
    wrapped in a gr.Row). Fields with a control that the layout does not name get a row each at
    the end, so a new parameter shows up without touching the layout."""
    import gradio as gr

    fields = by_name(table)
    named = {n for row in layout for n in row}
    rows = [list(r) for r in layout] + [[f.name] for f in fields.values() if f.kind and f.name not in named]
    out: dict[str, Any] = {}
    for row in rows:
        ctx = gr.Row() if len(row) > 1 else _nothing()
        with ctx:
            for n in row:
                f = fields[n]
                out[n] = control(f, elem_id=elem_id(f), **(overrides or {}).get(n, {}))
    return out


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None
