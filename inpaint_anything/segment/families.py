"""The Segment Anything model families, as one table: the architecture specs (:mod:`.spec`,
:mod:`.sam2_spec`) and the model catalogue (:mod:`inpaint_anything.models.catalogue`) both read it.

A leaf module: it imports nothing from the package (and nothing heavy), so any layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """One family of Segment Anything models.

    ``id`` is the name the catalogue, the specs and the API use; ``title`` the name people read;
    ``encoder`` the image encoder (``vit``, ``tinyvit`` or ``hiera``); ``hq`` whether the mask decoder
    is HQ-SAM's; ``package`` the Python package whose predictor drives the model.
    """

    id: str
    title: str
    encoder: str
    hq: bool
    package: str


FAMILY_TABLE: dict[str, Family] = {
    f.id: f
    for f in (
        Family("sam", "SAM", "vit", False, "segment_anything"),
        Family("sam_hq", "HQ-SAM", "vit", True, "segment_anything_hq"),
        Family("mobile_sam", "MobileSAM", "tinyvit", False, "segment_anything_hq"),
        Family("sam_hq_tiny", "Light HQ-SAM", "tinyvit", True, "segment_anything_hq"),
        Family("sam2", "SAM 2", "hiera", False, "sam2"),
    )
}
FAMILIES = tuple(FAMILY_TABLE)  # every family id, in the table's order


def family_of(encoder: str, hq: bool) -> str:
    """The id of the family with this image encoder and this kind of mask decoder (HQ or not).

    Raises KeyError when no family has that combination (e.g. a Hiera encoder with an HQ decoder).
    """
    for family in FAMILY_TABLE.values():
        if family.encoder == encoder and family.hq == hq:
            return family.id
    raise KeyError((encoder, hq))


__all__ = ["FAMILIES", "FAMILY_TABLE", "Family", "family_of"]
