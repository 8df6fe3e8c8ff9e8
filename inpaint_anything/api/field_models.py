"""Pydantic bodies made from the parameter tables (:mod:`inpaint_anything.fields`), for pydantic 1
and 2 alike: the API's side of the one-table rule."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from inpaint_anything.fields import Field, by_name


def annotation(f: Field) -> Any:
    """The pydantic type of a field: Literal for choices, strict scalars (floats take ints)."""
    from pydantic import StrictBool, StrictInt, StrictStr

    if f.choices is not None and f.api_literal:
        return Literal[tuple(f.choices)]  # type: ignore[valid-type]
    return {str: StrictStr, int: StrictInt, bool: StrictBool, float: float}.get(f.type, f.type)


def pydantic_model(
    name: str, table: Iterable[Field], base: type, *, only: Sequence[str] | None = None, examples: dict[str, Any] | None = None
) -> Any:
    """A pydantic model (``base`` subclass) with one field per table field (``only``: these names, in
    this order): its type (:func:`annotation`), default and help text as description; ``examples``:
    values shown in /docs for fields whose default is no useful example (e.g. an empty text).

    Ranges are not put in the schema: the core checks them (:func:`validate`) and words the message."""
    from pydantic import Field as PField
    from pydantic import create_model

    fields = by_name(table)
    names = list(only) if only is not None else list(fields)
    spec: dict[str, Any] = {}
    for n in names:
        f = fields[n]
        kwargs: dict[str, Any] = {"description": f.help} if f.help else {}
        if examples and n in examples:  # OpenAPI 3.0 ``example`` on pydantic 1, 3.1 ``examples`` on pydantic 2
            import pydantic

            v2 = pydantic.VERSION.startswith("2")
            kwargs.update({"examples": [examples[n]]} if v2 else {"example": examples[n]})
        spec[n] = (annotation(f), PField(f.default, **kwargs))
    return create_model(name, __base__=base, **spec)


def model_fields(model: type) -> dict[str, Any]:
    """name -> (default, annotation, description) of a pydantic model on either major."""
    if hasattr(model, "model_fields"):
        return {n: (i.default, i.annotation, i.description) for n, i in model.model_fields.items()}
    return {n: (i.default, i.outer_type_, i.field_info.description) for n, i in model.__fields__.items()}  # pydantic 1
