""" "Select by text" routes: ``POST /sessions/{id}/text`` (the mask of the session), the stateless
``POST /segment/text`` (image + text -> mask, boxes, scores), ``DELETE /sessions/{id}/text`` and the
detector list / download. The bodies are made from :data:`~inpaint_anything.segment.text_fields.TEXT_FIELDS`."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field, StrictStr

from inpaint_anything.api.context import ApiContext, check_sam_model_id
from inpaint_anything.api.docs import ASYNC_DOC, ASYNC_RESPONSES
from inpaint_anything.api.field_models import pydantic_model
from inpaint_anything.api.payloads import mask_payload
from inpaint_anything.api.schemas import IMAGE_DOC, IMAGE_EX, ApiModel, ImageB64
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.segment.text_fields import TEXT_FIELDS, check_text_query


class TextBody(pydantic_model("TextFields", TEXT_FIELDS, ApiModel, examples={"text": "dog"})):  # type: ignore[misc]
    """What to select by text, and how boxes become masks."""

    method: Literal["sam", "grabcut"] = Field(
        "sam", description="What turns each detected box into a mask (SAM falls back to GrabCut when no SAM model is usable)."
    )
    model: StrictStr | None = Field(None, description="SAM model id from GET /models/sam (default: the setting).")


class TextSegmentBody(TextBody):
    image: ImageB64 = Field(..., description=IMAGE_DOC, **IMAGE_EX)


def _query(body: TextBody):
    from inpaint_anything.api.schemas import dump
    from inpaint_anything.models.text_models import get_detector, unavailable_reason

    query = check_text_query({f.name: dump(body)[f.name] for f in TEXT_FIELDS})
    reason = unavailable_reason(get_detector(query.detector))
    if reason:
        from inpaint_anything.models.text_models import available_detectors

        raise InvalidInputError(f"{reason} Available here: {', '.join(available_detectors()) or 'none'}.")
    return query


def add_routes(router: APIRouter, ctx: ApiContext) -> None:
    app = ctx.app

    def select(ws, query, body: TextBody, model, job) -> dict[str, Any]:
        from inpaint_anything.selection import describe_chain
        from inpaint_anything.text_selection import select_by_text

        got = select_by_text(ws, query, use_sam=body.method == "sam", model_id=model, job=job)
        return {**got.payload(), "refinements": describe_chain(ws.refinements), **mask_payload(got.mask)}

    @router.post("/sessions/{session_id}/text", responses=ASYNC_RESPONSES)
    def session_text(
        session_id: str, body: TextBody, asynchronous: bool = Query(False, alias="async", description=ASYNC_DOC)
    ) -> Any:
        """Select by text: the detector finds the phrases, each box becomes a SAM mask (GrabCut without
        SAM; CLIPSeg paints its mask directly); their union becomes the selection (one undo step,
        refinements re-applied) and stays part of later selections until ``DELETE .../text``.
        Returns the mask, each detection's box (image pixels), score and phrase, and the query."""
        ws = ctx.workspace(session_id)
        query, model = _query(body), check_sam_model_id(body.model)
        ws.require_image()
        return ctx.run("select by text", lambda job: select(ws, query, body, model, job), asynchronous)

    @router.delete("/sessions/{session_id}/text")
    def clear_text(session_id: str) -> dict[str, Any]:
        """Forget the text selection (later selections no longer include it; the mask stays)."""
        ctx.workspace(session_id).clear_text()
        return {"cleared": True}

    @router.post("/segment/text", responses=ASYNC_RESPONSES)
    def segment_text(body: TextSegmentBody, asynchronous: bool = Query(False, alias="async", description=ASYNC_DOC)) -> Any:
        """Image + text -> the mask of what the text names, with the boxes, scores and phrases found."""
        query, model = _query(body), check_sam_model_id(body.model)
        image = ctx.image(body.image)

        def work(job) -> dict[str, Any]:
            ws = ctx.scratch()
            ws.set_image(image)
            return select(ws, query, body, model, job)

        return ctx.run("select by text", work, asynchronous)

    @router.get("/models/text")
    def text_models() -> dict[str, Any]:
        """The text detectors: which this installation's transformers runs, and which are downloaded."""
        from inpaint_anything.models.text_models import DETECTORS, is_downloaded, unavailable_reason

        out = [
            {
                "id": d.id,
                "label": d.label,
                "repo": d.repo,
                "revision": d.revision,
                "kind": d.kind,
                "size_mb": d.size_mb,
                "available": unavailable_reason(d) is None,
                "reason": unavailable_reason(d) or "",
                "downloaded": is_downloaded(app.models_dir, d.id),
            }
            for d in DETECTORS.values()
        ]
        return {"detectors": out, "offline": bool(app.settings.offline)}

    @router.post("/models/text/{detector_id}/download", responses=ASYNC_RESPONSES)
    def download_text(detector_id: str, asynchronous: bool = Query(True, alias="async", description=ASYNC_DOC)) -> Any:
        """Download a text detector's files into the models folder (a task; ``async=false`` waits)."""
        from inpaint_anything.models.text_models import get_detector

        get_detector(detector_id)  # 404 for unknown ids
        return ctx.run(
            "download",
            lambda job: {"path": app.relative(app.download_text_detector(detector_id, cancel=lambda: job.interrupted))},
            asynchronous,
        )


__all__ = ["TextBody", "TextSegmentBody", "add_routes"]
