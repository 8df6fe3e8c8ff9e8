"""Declarative parameter tables: one :class:`Field` per parameter, every face derived from it.

A table (a tuple of fields, e.g. :data:`inpaint_anything.inpaint.request.INPAINT_FIELDS`) says once
what a parameter is: its name, type, default, accepted range or choices, the label a person reads,
the words shown for each choice, the help text, and its key in the WebUI-style infotext. The kit
below turns a table into

- a check of one value (:meth:`Field.check`; :func:`validate` for a whole object), raising
  :class:`~inpaint_anything.errors.InvalidInputError` worded for a person;
- a pydantic body (:func:`inpaint_anything.api.field_models.pydantic_model`, the same code on pydantic 1.10 and 2.x; ranges stay
  with :func:`validate` so that API users get the same words as everybody else);
- gradio controls (:mod:`inpaint_anything.ui.field_controls`; gradio 3.41 and 4.40) and the value a
  control hands back turned into the parameter's type and id (:meth:`Field.from_ui`);
- infotext pairs (:func:`infotext_pairs`) and the parameters read back from them
  (:func:`from_infotext`).

``tests/test_fields_sync.py`` checks that every face agrees with its table. This module imports
neither pydantic nor gradio: their builders live with the faces that use them (``api/``, ``ui/``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from inpaint_anything.errors import InvalidInputError

CONTROLS = ("slider", "number", "dropdown", "radio", "checkbox", "textbox")


@dataclass(frozen=True)
class Field:
    """One parameter.

    ``minimum``/``maximum`` are what the core accepts (``above``: the minimum itself is not);
    ``ui_minimum``/``ui_maximum`` narrow a slider where the accepted range is wider than a person
    needs. ``choices`` are the ids the code and the API use; ``words`` maps some of them to what
    the UI shows (both are accepted back). ``infotext`` is the key in the parameters text
    (``infotext_words`` the values written there), ``infotext_default=False`` leaves the pair out
    while the value is the default. ``control`` is the gradio control (None: no control; default
    from the type: checkbox, radio/dropdown for choices, slider with a range, else number/textbox).
    ``api_literal=False`` leaves the choices out of the API's type (the core refuses an unknown one
    in its own words). ``error`` replaces the generated refusal message, ``noun`` names the parameter there (default:
    the label). ``elem`` is the control's short elem_id part
    (default: the name).
    """

    name: str
    type: type
    default: Any
    label: str
    minimum: float | None = None
    maximum: float | None = None
    above: bool = False
    step: float | None = None
    ui_minimum: float | None = None
    ui_maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    words: Mapping[Any, str] | None = None
    help: str = ""
    infotext: str | None = None
    infotext_words: Mapping[Any, str] | None = None
    infotext_default: bool = True
    control: str | None = "auto"
    lines: int = 1
    error: str | None = None
    noun: str | None = None
    elem: str | None = None
    api_literal: bool = True

    def __post_init__(self) -> None:
        if self.control not in (None, "auto", *CONTROLS):
            raise ValueError(f"{self.name}: unknown control {self.control!r}")

    # ------------------------------------------------------------------ checking
    @property
    def what(self) -> str:
        """The parameter as named in messages (first letter up)."""
        text = self.noun or self.label
        return text[:1].upper() + text[1:]

    def refusal(self) -> str:
        """What is said when a value is refused."""
        if self.error:
            return self.error
        if self.choices is not None:
            return f"{self.what} must be one of: {', '.join(map(str, self.choices))}."
        if self.type is bool:
            return f"{self.what} must be true or false."
        if self.type is str:
            return f"{self.what} must be text."
        kind = "a whole number" if self.type is int else "a number"
        if self.minimum is not None and self.maximum is not None:
            if self.above:
                return f"{self.what} must be above {self.minimum:g} and at most {self.maximum:g}."
            return f"{self.what} must be between {self.minimum:g} and {self.maximum:g}."
        return f"{self.what} must be {kind}."

    def accepts(self, value: Any) -> bool:
        if self.type is bool:
            ok = isinstance(value, bool)
        elif self.type is str:
            ok = isinstance(value, str)
        elif self.type is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif self.type is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else:
            ok = isinstance(value, self.type)
        if not ok:
            return False
        if self.choices is not None and value not in self.choices:
            return False
        if self.minimum is not None and (value <= self.minimum if self.above else value < self.minimum):
            return False
        return self.maximum is None or value <= self.maximum

    def check(self, value: Any) -> Any:
        """``value`` if this parameter accepts it, else InvalidInputError with the parameter named."""
        if not self.accepts(value):
            raise InvalidInputError(self.refusal())
        return value

    # ------------------------------------------------------------------ ids and words
    def shown(self, value: Any) -> Any:
        """The words the UI shows for a choice id (the id itself when it has none)."""
        return (self.words or {}).get(value, value)

    def choice_id(self, value: Any) -> Any:
        """The id of a choice given as its id or as the words the UI shows (any case)."""
        if self.choices is None:
            return value
        text = str(value).strip()
        for choice in self.choices:
            if text == str(choice):
                return choice
        for choice in self.choices:
            if text.lower() in (str(choice).lower(), str(self.shown(choice)).lower()):
                return choice
        listed = ", ".join(f"{c!r} ({self.shown(c)})" if self.shown(c) != c else repr(c) for c in self.choices)
        noun = self.noun or self.label.lower()
        raise InvalidInputError(f"Unknown {noun} {text!r}; use one of {listed}.")

    def from_ui(self, value: Any) -> Any:
        """A control's value as this parameter's type (gradio hands numbers back as floats, choices
        as the words shown). Values that cannot be converted are passed on for :meth:`check`."""
        if value is None:
            return self.default
        if self.choices is not None:
            return self.choice_id(value)
        try:
            if self.type is int and not isinstance(value, bool):
                return int(value)
            if self.type is float and not isinstance(value, bool):
                return float(value)
            if self.type is bool:
                return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes", "on")
            if self.type is str:
                return str(value)
        except (TypeError, ValueError):
            pass
        return value

    # ------------------------------------------------------------------ gradio
    @property
    def kind(self) -> str | None:
        """The gradio control (None: the parameter has none)."""
        if self.control != "auto":
            return self.control
        if self.type is bool:
            return "checkbox"
        if self.choices is not None:
            return "radio" if len(self.choices) <= 4 else "dropdown"
        if self.type in (int, float):
            return "slider" if self.minimum is not None and self.maximum is not None else "number"
        return "textbox"

    @property
    def slider_range(self) -> tuple[float, float]:
        low = self.ui_minimum if self.ui_minimum is not None else self.minimum
        high = self.ui_maximum if self.ui_maximum is not None else self.maximum
        if self.above and self.ui_minimum is None:
            low = (low or 0) + (self.step or 0.01)
        return low, high  # type: ignore[return-value]


def by_name(table: Iterable[Field]) -> dict[str, Field]:
    return {f.name: f for f in table}


def defaults(table: Iterable[Field]) -> dict[str, Any]:
    return {f.name: f.default for f in table}


def validate(table: Iterable[Field], values: Any) -> None:
    """Check every field of ``values`` (an object with the fields as attributes, or a mapping)."""
    get = values.get if isinstance(values, Mapping) else (lambda name, _d=None: getattr(values, name))
    for f in table:
        f.check(get(f.name, f.default))


def from_ui(table: Iterable[Field], values: Mapping[str, Any]) -> dict[str, Any]:
    """Control values by name -> parameter values (types and choice ids); names not in the table pass."""
    fields = by_name(table)
    return {k: fields[k].from_ui(v) if k in fields else v for k, v in values.items()}


# ---------------------------------------------------------------------------------------------- infotext
def quote(value: Any) -> str:
    """An infotext value, quoted as the WebUI does when it holds a separator."""
    text = str(value)
    if "," in text or ":" in text or '"' in text or "\n" in text:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def infotext_pairs(table: Iterable[Field], values: Any, *, omit: Iterable[str] = ()) -> list[tuple[str, Any]]:
    """(key, value) for every field with an infotext key, in table order; ``omit``: names left out."""
    skip = set(omit)
    pairs = []
    for f in table:
        if f.infotext is None or f.name in skip:
            continue
        value = values[f.name] if isinstance(values, Mapping) else getattr(values, f.name)
        if not f.infotext_default and value == f.default:
            continue
        pairs.append((f.infotext, (f.infotext_words or {}).get(value, value)))
    return pairs


def from_infotext(table: Iterable[Field], pairs: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Infotext ``key -> text`` pairs -> (parameter values by name, the pairs no field knows)."""
    keys = {f.infotext: f for f in table if f.infotext}
    values: dict[str, Any] = {}
    leftover: dict[str, str] = {}
    for key, text in pairs.items():
        f = keys.get(key)
        if f is None:
            leftover[key] = text
            continue
        values[f.name] = _read(f, text)
    return values, leftover


def _read(f: Field, text: str) -> Any:
    for value, written in (f.infotext_words or {}).items():
        if text.strip().lower() == str(written).lower():
            return value
    if f.choices is not None:
        try:
            return f.choice_id(text)
        except InvalidInputError:
            return text  # refused, with its name, when the parameters are checked
    if f.type is int:
        return int(float(text))
    if f.type is float:
        return float(text)
    if f.type is bool:
        return text.strip().lower() == "true"
    return text


def dataclass_defaults(cls: type) -> dict[str, Any]:
    """name -> default of a dataclass's fields (default_factory ones called)."""
    out = {}
    for fld in dataclasses.fields(cls):
        if fld.default is not dataclasses.MISSING:
            out[fld.name] = fld.default
        elif fld.default_factory is not dataclasses.MISSING:
            out[fld.name] = fld.default_factory()
    return out


__all__ = [
    "CONTROLS",
    "Field",
    "by_name",
    "dataclass_defaults",
    "defaults",
    "from_infotext",
    "from_ui",
    "infotext_pairs",
    "quote",
    "validate",
]
