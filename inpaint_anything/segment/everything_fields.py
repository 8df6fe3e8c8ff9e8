"""The options of "segment everything" as a parameter table (see :mod:`inpaint_anything.fields`).

:data:`EVERYTHING_FIELDS` decides the API's ``EverythingOptions`` body (defaults, descriptions) and
its check (``api.payloads.everything_options``), the tab's "Points per side" slider and the batch
CLI's ``--points-per-side`` default. The keyword defaults of
:func:`inpaint_anything.segment.everything.segment_everything` are compared with it by
``tests/test_fields_sync.py``.
"""

from __future__ import annotations

from inpaint_anything import fields
from inpaint_anything.fields import Field


def _fraction(name: str, default: float, what: str, help: str = "") -> Field:
    return Field(
        name,
        float,
        default,
        what,
        0.0,
        1.0,
        step=0.01,
        noun=name,
        help=help,
        control=None,
        error=f"{name} must be a number from 0 to 1.",
    )


EVERYTHING_FIELDS: tuple[Field, ...] = (
    Field(
        "points_per_side",
        int,
        16,
        "Points per side",
        1,
        64,
        step=4,
        ui_minimum=4,
        elem="pps",
        help="Grid size, 1..64 (16 -> 256 clicks).",
        error="Points per side must be from 1 to 64.",
    ),
    _fraction("pred_iou_thresh", 0.86, "Predicted IoU threshold"),
    _fraction("stability_thresh", 0.90, "Stability threshold"),
    _fraction("min_area_frac", 0.0005, "Smallest segment (fraction of the image)"),
    _fraction("box_nms_thresh", 0.7, "Box NMS threshold"),
    Field(
        "max_side",
        int,
        1024,
        "Segment map size (px)",
        16,
        4096,
        control=None,
        help="Long side of the returned colour map, 16..4096.",
        error="The segment map size (max_side) must be from 16 to 4096 pixels.",
    ),
    Field("include_masks", bool, True, "Return the masks", help="Return each segment's full-size mask.", control=None),
    Field(
        "max_masks",
        int,
        256,
        "At most this many masks",
        0,
        4096,
        control=None,
        help="At most this many segment masks are returned.",
        error="max_masks must be from 0 to 4096.",
    ),
)
EVERYTHING = fields.by_name(EVERYTHING_FIELDS)
# what segment_everything() itself takes (the rest shapes the API's answer)
ENGINE_OPTIONS = ("points_per_side", "pred_iou_thresh", "stability_thresh", "min_area_frac", "box_nms_thresh", "max_side")

__all__ = ["ENGINE_OPTIONS", "EVERYTHING", "EVERYTHING_FIELDS"]
