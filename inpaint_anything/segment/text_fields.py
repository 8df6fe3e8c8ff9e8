"""The parameters of "Select by text" as a parameter table (see :mod:`inpaint_anything.fields`).

:data:`TEXT_FIELDS` decides the API's text bodies (``POST /sessions/{id}/text``, ``POST /segment/text``:
types, defaults, descriptions), the tab's "Select by text" row (text box, detector dropdown,
threshold slider, all/best radio), the check of the values (:func:`check_text_query`) and the
infotext pairs a text selection records. ``tests/test_fields_sync.py`` compares every face with it.

The detector's choices are every detector the project knows (:data:`DETECTOR_IDS`); which of them
this installation's transformers can run is decided at run time
(:func:`inpaint_anything.models.text_models.available_detectors`): the tab lists only those, and the
API refuses the others with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from inpaint_anything import fields
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.fields import Field

# every detector the project knows, best first (the catalogue is text_models.DETECTORS)
DETECTOR_IDS = ("grounding-dino-tiny", "grounding-dino-base", "owlv2-base", "owlvit-base", "clipseg")
DETECTOR_WORDS = {
    "grounding-dino-tiny": "Grounding DINO tiny",
    "grounding-dino-base": "Grounding DINO base",
    "owlv2-base": "OWLv2 base",
    "owlvit-base": "OWL-ViT base",
    "clipseg": "CLIPSeg (stuff: sky, grass)",
}
MODES = ("all", "best")
MAX_TEXT = 300
MAX_PHRASES = 16

TEXT_FIELDS: tuple[Field, ...] = (
    Field(
        "text",
        str,
        "",
        "Select by text",
        infotext="Text selection",
        control="textbox",
        elem="text_query",
        help="What to select, e.g. 'dog' or 'dog, ball' (up to 16 phrases separated by commas or periods).",
    ),
    Field(
        "detector",
        str,
        "owlvit-base",
        "Detector",
        choices=DETECTOR_IDS,
        words=DETECTOR_WORDS,
        infotext="Text detector",
        control="dropdown",
        elem="text_detector",
        noun="text detector",
        help="The text-prompted detector. Grounding DINO and OWLv2 need transformers 4.40 / 4.35 or newer; "
        "CLIPSeg paints stuff without clear outlines (sky, grass) directly.",
    ),
    Field(
        "threshold",
        float,
        0.3,
        "Score threshold",
        0.0,
        1.0,
        step=0.01,
        infotext="Text threshold",
        elem="text_threshold",
        noun="the score threshold",
        help="Detections scoring below this are ignored (0..1). CLIPSeg: the per-pixel probability kept.",
    ),
    Field(
        "mode",
        str,
        "all",
        "Matches",
        choices=MODES,
        words={"all": "All matches", "best": "Best match"},
        infotext="Text matches",
        control="radio",
        elem="text_mode",
        help="'all': every detection above the threshold; 'best': only the highest-scoring one.",
    ),
)
TEXT = fields.by_name(TEXT_FIELDS)


@dataclass(frozen=True)
class TextQuery:
    """A checked text selection request: ``phrases`` are the text split into what is looked for."""

    text: str
    detector: str
    threshold: float
    mode: str

    @property
    def phrases(self) -> tuple[str, ...]:
        return split_phrases(self.text)

    def infotext_pairs(self) -> list[tuple[str, Any]]:
        return fields.infotext_pairs(TEXT_FIELDS, self)

    def infotext(self) -> str:
        """``", Text selection: dog, Text detector: owlvit-base, ..."``: appended to a result's
        parameters line."""
        return "".join(f", {key}: {fields.quote(value)}" for key, value in self.infotext_pairs())

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "detector": self.detector, "threshold": self.threshold, "mode": self.mode}


def split_phrases(text: str) -> tuple[str, ...]:
    """``"a dog, the ball."`` -> ``("a dog", "the ball")``: commas, periods, semicolons and new lines
    separate phrases; blanks are dropped and repeated phrases kept once."""
    out: list[str] = []
    for piece in re.split(r"[,.;\n]+", text):
        phrase = " ".join(piece.split()).lower()
        if phrase and phrase not in out:
            out.append(phrase)
    return tuple(out)


def check_text_query(values: Any) -> TextQuery:
    """A :class:`TextQuery` from a mapping of the table's values (missing ones: the defaults; the
    detector as its id or the words the tab shows). Raises InvalidInputError saying what to change."""
    get = values.get if isinstance(values, dict) else (lambda n, d=None: getattr(values, n, d))
    raw = {f.name: get(f.name, f.default) for f in TEXT_FIELDS}
    raw["detector"] = TEXT["detector"].choice_id(raw["detector"])
    raw["mode"] = TEXT["mode"].choice_id(raw["mode"])
    fields.validate(TEXT_FIELDS, raw)
    text = " ".join(raw["text"].split())
    if not split_phrases(text):
        raise InvalidInputError("Type what to select (for example 'dog' or 'sky'), then press Select.")
    if len(text) > MAX_TEXT:
        raise InvalidInputError(f"The text is {len(text)} characters long; keep it under {MAX_TEXT}.")
    if len(split_phrases(text)) > MAX_PHRASES:
        raise InvalidInputError(f"At most {MAX_PHRASES} phrases at a time; select the rest in a second pass.")
    return TextQuery(text, raw["detector"], float(raw["threshold"]), raw["mode"])


__all__ = ["DETECTOR_IDS", "MODES", "TEXT", "TEXT_FIELDS", "TextQuery", "check_text_query", "split_phrases"]
