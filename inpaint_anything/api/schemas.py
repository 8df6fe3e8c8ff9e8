"""Request bodies of the REST API (pydantic models that work on pydantic 1.10 and 2.x).

Only portable features are used: ``BaseModel``, ``Field``, strict scalar types and ``Literal``. The
one version difference (forbidding unknown fields) sits in :class:`ApiModel`; :func:`dump` and
:func:`parse` hide ``dict()``/``model_dump()`` and ``parse_obj()``/``model_validate()``. Ranges are
checked by the core (e.g. :meth:`InpaintRequest.validated`), which words its messages for users.

The parameter bodies (``RequestParams``, ``ExpansionBody``, the outpaint settings, ``RemoveBody``'s
options, ``EverythingOptions``, the batch engine fields) are made from the parameter tables (:func:`inpaint_anything.api.field_models.pydantic_model`),
so their names, types, choices, defaults and descriptions are the table's.
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic
from pydantic import BaseModel, Field, StrictBool, StrictInt, StrictStr

from inpaint_anything.api.field_models import pydantic_model
from inpaint_anything.batch_spec import ENGINE_FIELDS
from inpaint_anything.config import SAM_DEVICES
from inpaint_anything.inpaint.cleaner import CLEANERS, REMOVE, REMOVE_FIELDS
from inpaint_anything.inpaint.controlnet import CONTROLNET_FIELDS
from inpaint_anything.inpaint.request import INPAINT_FIELDS
from inpaint_anything.outpaint.params import EXPANSION_FIELDS, SETTINGS_FIELDS, ZOOM_FIELDS
from inpaint_anything.prefill import PREFILLS
from inpaint_anything.segment.everything_fields import EVERYTHING_FIELDS
from inpaint_anything.segment.text_fields import TEXT_FIELDS
from inpaint_anything.selection import MASK_OPS, STROKE_MODES, ops_help

PYDANTIC_V2 = int(pydantic.VERSION.split(".")[0]) >= 2

if PYDANTIC_V2:

    class ApiModel(BaseModel):
        """Base of every body: unknown fields are an error (a typo never passes silently)."""

        model_config = pydantic.ConfigDict(extra="forbid")

else:

    class ApiModel(BaseModel):  # type: ignore[no-redef]
        """Base of every body: unknown fields are an error (a typo never passes silently)."""

        class Config:
            extra = "forbid"


def dump(model: BaseModel, *, exclude_unset: bool = False) -> dict[str, Any]:
    """The model as a plain dict on either pydantic major."""
    if PYDANTIC_V2:
        return model.model_dump(exclude_unset=exclude_unset)
    return model.dict(exclude_unset=exclude_unset)


def parse(cls: type[BaseModel], data: Any) -> Any:
    """Validate ``data`` into ``cls`` on either pydantic major (raises pydantic.ValidationError)."""
    if PYDANTIC_V2:
        return cls.model_validate(data)
    return cls.parse_obj(data)


def example(value: Any) -> dict[str, Any]:
    """``Field(..., **example(v))``: a value shown in /docs and /openapi.json that the API accepts
    (OpenAPI 3.0 ``example`` on pydantic 1, 3.1 ``examples`` on pydantic 2)."""
    return {"examples": [value]} if PYDANTIC_V2 else {"example": value}


# An 8x8 RGB PNG, and an 8x8 mask with its middle 4x4 selected: small enough for /docs, valid for every route.
EXAMPLE_IMAGE = "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAGUlEQVR42mNkYGhQYGDARCwMCgxYweCUAABobwJednxjlwAAAABJRU5ErkJggg=="
EXAMPLE_MASK = "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAAAAADhZOFXAAAAG0lEQVR42mNgQAeMDAz/GRgYGBmYYCKYDEwAADRSAQiRgurpAAAAAElFTkSuQmCC"
IMAGE_EX = example(EXAMPLE_IMAGE)
MASK_EX = example(EXAMPLE_MASK)
POINTS_EX = example([[4, 4]])
BOX_EX = example([1, 1, 6, 6])

ImageB64 = StrictStr  # base64 PNG/JPEG/WebP, or a data URL
IMAGE_DOC = "Image as base64 (PNG, JPEG or WebP) or a data URL."
MASK_DOC = "Mask image as base64 or a data URL: white (or opaque where it has transparency) = selected."

SAVE_DOC = (
    "Also write the results as PNG files (infotext in their 'parameters' chunk) to the output folder; the "
    "response then lists them in 'saved', relative to that folder. Default: not saved."
)
MaskMode = Literal["replace", "add", "subtract"]
MaskOp = Literal[tuple(MASK_OPS)]  # type: ignore[valid-type]
Cleaner = Literal[CLEANERS]  # type: ignore[valid-type]
Prefill = Literal[PREFILLS]  # type: ignore[valid-type]
Device = Literal[SAM_DEVICES]  # type: ignore[valid-type]


# ---------------------------------------------------------------------------------------------- images
class ErrorBody(ApiModel):
    """Every error answer of the API."""

    detail: StrictStr = Field(..., description="What went wrong and what to do, for a person.")
    code: StrictStr = Field(..., description="A stable id of the kind of error, e.g. invalid_input, session_expired.")
    errors: list[dict[str, Any]] | None = Field(None, description="Validation errors only: pydantic's entries (loc, msg, type).")


class ImageBody(ApiModel):
    image: ImageB64 = Field(..., description=IMAGE_DOC, **IMAGE_EX)


class MaskBody(ApiModel):
    mask: ImageB64 = Field(..., description=MASK_DOC, **MASK_EX)


# ---------------------------------------------------------------------------------------------- segmenting
class PointsPrompt(ApiModel):
    points: list[list[float]] = Field(..., description="[[x, y], ...] in pixels, or [[x, y, label], ...].", **POINTS_EX)
    labels: list[StrictInt] | None = Field(None, description="1 = object, 0 = background (default: all 1).")
    model: StrictStr | None = Field(None, description="SAM model id from GET /models/sam (default: the setting).")
    multimask: StrictBool = Field(True, description="Several candidates for a single point.")


class PointsSegmentBody(PointsPrompt):
    image: ImageB64 = Field(..., description=IMAGE_DOC, **IMAGE_EX)


class BoxPrompt(ApiModel):
    box: list[float] = Field(..., description="[x0, y0, x1, y1] in pixels.", **BOX_EX)
    points: list[list[float]] | None = None
    labels: list[StrictInt] | None = None
    model: StrictStr | None = None


class BoxSegmentBody(BoxPrompt):
    image: ImageB64 = Field(..., description=IMAGE_DOC, **IMAGE_EX)


class KeepRuleBody(ApiModel):
    """Which segments of 'segment everything' become the mask."""

    largest: StrictInt | None = Field(None, description="Keep the N largest segments (after the area limits).")
    min_area: StrictInt = Field(0, description="Drop segments smaller than this (pixels).")
    max_area: StrictInt | None = Field(None, description="Drop segments larger than this (pixels).")
    min_score: float = Field(0.0, description="Drop segments whose predicted IoU is lower.")
    indices: list[StrictInt] | None = Field(None, description="Keep exactly these segment indices.")


class EverythingOptions(pydantic_model("EverythingFields", EVERYTHING_FIELDS, ApiModel)):  # type: ignore[misc]
    model: StrictStr | None = None
    keep: KeepRuleBody | None = Field(None, description="Make the kept segments the mask.")


class EverythingSegmentBody(EverythingOptions):
    image: ImageB64 = Field(..., description=IMAGE_DOC, **IMAGE_EX)


class SessionEverythingBody(EverythingOptions):
    include_masks: StrictBool = False


class GrabCutPrompt(ApiModel):
    box: list[float] | None = Field(None, description="[x0, y0, x1, y1] around the object.", **BOX_EX)
    points: list[list[float]] | None = None
    labels: list[StrictInt] | None = None
    mode: MaskMode = "replace"


class GrabCutSegmentBody(ApiModel):
    image: ImageB64 = Field(..., description=IMAGE_DOC, **IMAGE_EX)
    box: list[float] | None = Field(None, description="[x0, y0, x1, y1] around the object.", **BOX_EX)
    points: list[list[float]] | None = None
    labels: list[StrictInt] | None = None
    iterations: StrictInt = Field(5, description="1..20")


class ClickBody(ApiModel):
    x: float = Field(..., description="Pixels from the left.", **example(4))
    y: float = Field(..., description="Pixels from the top.", **example(4))
    positive: StrictBool = True
    model: StrictStr | None = None
    multimask: StrictBool = True
    reset: StrictBool = Field(False, description="Forget the previous points first.")


class HoverBody(ApiModel):
    x: float = Field(..., description="Pointer position in image pixels, from the left.", **example(4))
    y: float = Field(..., description="Pointer position in image pixels, from the top.", **example(4))


class PrepareBody(ApiModel):
    model: StrictStr | None = Field(None, description="SAM model id (default: the session's last one, else the setting).")


class ScribbleBody(ApiModel):
    scribble: ImageB64 = Field(..., description="Scribble image (image or segment-map size), white = drawn.", **MASK_EX)
    mode: MaskMode = "add"
    ignore_unsegmented: StrictBool = True


class MaskOpBody(ApiModel):
    op: MaskOp = Field(..., **example("grow"))
    px: StrictInt = Field(0, description=f"The amount in pixels, for the operations that take one: {ops_help()}.", **example(1))


class Stroke(ApiModel):
    mode: Literal["add", "erase"] = "add"
    radius: float = 8.0
    points: list[list[float]] = Field(..., description="[[x, y], ...]", **example([[2, 2], [5, 5]]))


class BrushBody(ApiModel):
    strokes: list[Stroke] = Field(..., **example([{"mode": "add", "radius": 1.5, "points": [[2, 2], [5, 5]]}]))


class SelectionStroke(ApiModel):
    mode: Literal[STROKE_MODES] = Field(  # type: ignore[valid-type]
        "add", description="scribble: select the segments it touches (needs 'everything' first); add / erase: paint."
    )
    radius: float = 8.0
    points: list[list[float]] = Field(..., description="[[x, y], ...]", **example([[2, 2], [5, 5]]))


class SelectionBody(ApiModel):
    """The whole selection, as the tab's editor sends it with every change."""

    points: list[list[float]] = Field(
        [], description="[[x, y, label], ...]; label 1 = include, 0 = exclude.", **example([[4, 4, 1]])
    )
    box: list[float] | None = Field(None, description="[x0, y0, x1, y1] in image pixels.")
    strokes: list[SelectionStroke] = Field(
        [],
        description="Scribbles and brush strokes, in drawing order.",
        **example([{"mode": "add", "radius": 1.5, "points": [[2, 2], [5, 5]]}]),
    )
    candidate: StrictInt = Field(0, description="Which of SAM's candidates a single click keeps (0 = best).")
    method: Literal["sam", "grabcut"] = Field("sam", description="What turns points and box into a mask.")
    model: StrictStr | None = None
    ignore_unsegmented: StrictBool = True


# ---------------------------------------------------------------------------------------------- generating
class RequestParams(
    pydantic_model(
        "RequestParamsFields",
        INPAINT_FIELDS,
        ApiModel,  # type: ignore[misc]
        only=[f.name for f in INPAINT_FIELDS if f.name != "model"],
    )
):
    """The fields of InpaintRequest (see its docstring); unset ones take its defaults."""


class BackendOptions(ApiModel):
    native_size: StrictInt | None = Field(None, description="Force the processing resolution (0 = the model's).")
    device: Device | None = None


class ControlNetBody(pydantic_model("ControlNetFields", CONTROLNET_FIELDS, ApiModel)):  # type: ignore[misc]
    """ControlNet inpaint options (backends controlnet and webui_controlnet); unset ones take their defaults."""


class GenerateBody(ApiModel):
    backend: StrictStr = Field(
        "diffusers",
        description="diffusers | controlnet | cleaner | a registered backend "
        "(GET /backends; in the WebUI also webui and webui_controlnet).",
        **example("cleaner"),
    )
    model: StrictStr = Field(
        "", description="Model from GET /models/inpaint (cleaner: telea, ns, patchmatch, lama).", **example("telea")
    )
    options: BackendOptions = Field(default_factory=BackendOptions)
    request: RequestParams = Field(default_factory=RequestParams)
    controlnet: ControlNetBody = Field(
        default_factory=ControlNetBody, description="Used by the controlnet and webui_controlnet backends."
    )


class InpaintBody(GenerateBody):
    image: ImageB64 | None = Field(None, description=IMAGE_DOC + " Required unless on a session.", **IMAGE_EX)
    mask: ImageB64 | None = Field(None, description=MASK_DOC + " Required unless on a session.", **MASK_EX)
    save: StrictBool = Field(False, description=SAVE_DOC)


class RemoveBody(
    pydantic_model(
        "RemoveFields",
        REMOVE_FIELDS,
        ApiModel,  # type: ignore[misc]
        only=("method", "mask_blur", "padding"),
    )
):
    image: ImageB64 | None = Field(None, description=IMAGE_DOC + " Required unless on a session.", **IMAGE_EX)
    mask: ImageB64 | None = Field(None, description=MASK_DOC + " Required unless on a session.", **MASK_EX)
    save: StrictBool = Field(False, description=SAVE_DOC)


class ExpansionBody(pydantic_model("ExpansionFields", EXPANSION_FIELDS, ApiModel)):  # type: ignore[misc]
    """How much to add: ``pixels`` per side, an ``aspect`` preset, or a ``scale`` factor."""


# pre-fill, overlap_px and strategy of outpaint and batch bodies
OutpaintSettingsFields = pydantic_model("OutpaintSettingsFields", SETTINGS_FIELDS, ApiModel)


class ZoomOutBody(pydantic_model("ZoomOutFields", ZOOM_FIELDS, ApiModel)):  # type: ignore[misc]
    prompts: list[StrictStr | None] | None = Field(None, description="One prompt per step (null keeps the main one).")


class OutpaintBody(GenerateBody, OutpaintSettingsFields):  # type: ignore[misc,valid-type]
    image: ImageB64 | None = Field(None, description=IMAGE_DOC + " Required unless on a session.", **IMAGE_EX)
    expansion: ExpansionBody = Field(default_factory=ExpansionBody, **example({"mode": "pixels", "right": 8}))
    zoom_out: ZoomOutBody | None = Field(
        None, description="Make zoom-out frames (the image's size) instead of one larger outpaint; 'expansion' is then not used."
    )
    save: StrictBool = Field(False, description=SAVE_DOC)


# ---------------------------------------------------------------------------------------------- batch
class BatchItemBody(ApiModel):
    name: StrictStr | None = Field(None, description="Used in the report (default: item-<n>).")
    image: ImageB64 = Field(..., description=IMAGE_DOC, **IMAGE_EX)
    mask: ImageB64 | None = Field(None, description=MASK_DOC, **MASK_EX)
    points: list[list[float]] | None = None
    labels: list[StrictInt] | None = None
    box: list[float] | None = None
    prompt: StrictStr | None = Field(None, description="Overrides request.prompt for this item.")
    text: StrictStr | None = Field(
        None,
        description="Select by text: the mask is what the text detector finds "
        "(without mask, points or box). Nothing found: the item is "
        "skipped with the reason.",
    )


class BatchTextOptions(pydantic_model("BatchTextFields", TEXT_FIELDS, ApiModel)):  # type: ignore[misc]
    """ "Select by text" for the batch's items: the detector, threshold and mode; ``text`` (optional)
    is used by every item without its own text, mask, points or box."""


# engine, ray_address, workers, gpus_per_worker, max_retries of the batch body (the CLI's flags too)
BatchEngineFields = pydantic_model("BatchEngineFields", ENGINE_FIELDS, ApiModel)


class BatchBody(GenerateBody, OutpaintSettingsFields, BatchEngineFields):  # type: ignore[misc,valid-type]
    op: Literal["inpaint", "remove", "outpaint"] = "inpaint"
    items: list[BatchItemBody] = Field(..., **example([{"name": "example", "image": EXAMPLE_IMAGE, "mask": EXAMPLE_MASK}]))
    method: Cleaner = Field(
        REMOVE["method"].default, description="remove: " + REMOVE["method"].help[0].lower() + REMOVE["method"].help[1:]
    )
    segmenter: Literal["sam", "grabcut"] = Field("sam", description="For items with points/box instead of a mask.")
    sam_model: StrictStr | None = None
    everything: EverythingOptions | None = Field(
        None, description="Items without mask or prompts: segment everything and keep segments by the rule."
    )
    mask_grow: StrictInt = 0
    text_options: BatchTextOptions | None = Field(
        None,
        description="Select by text for items with a 'text' "
        "(detector, threshold, mode; default: the "
        "table's), and a text for the others.",
    )
    expansion: ExpansionBody = Field(default_factory=ExpansionBody)


__all__ = [
    "PYDANTIC_V2",
    "ApiModel",
    "BackendOptions",
    "BatchBody",
    "BatchItemBody",
    "BatchTextOptions",
    "BoxPrompt",
    "BoxSegmentBody",
    "BrushBody",
    "ClickBody",
    "EverythingOptions",
    "EverythingSegmentBody",
    "ExpansionBody",
    "GenerateBody",
    "GrabCutPrompt",
    "GrabCutSegmentBody",
    "ImageBody",
    "InpaintBody",
    "KeepRuleBody",
    "MaskBody",
    "MaskOpBody",
    "OutpaintBody",
    "PointsPrompt",
    "PointsSegmentBody",
    "RemoveBody",
    "RequestParams",
    "ScribbleBody",
    "SessionEverythingBody",
    "SelectionBody",
    "SelectionStroke",
    "Stroke",
    "ZoomOutBody",
    "dump",
    "example",
    "parse",
]
