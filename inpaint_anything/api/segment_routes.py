"""Segmenting routes: stateless ``/segment/*`` (image + prompts in one request) and the session tools
(click, box, everything, scribble, GrabCut, brush, mask operations, undo/redo)."""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np
from fastapi import APIRouter, Query

from inpaint_anything.api.context import ApiContext, check_sam_model_id
from inpaint_anything.api.docs import ASYNC_DOC, ASYNC_RESPONSES
from inpaint_anything.api.payloads import candidates_payload, everything_options, mask_payload, prompt_points, segments_payload
from inpaint_anything.api.schemas import (
    BoxPrompt,
    BoxSegmentBody,
    BrushBody,
    ClickBody,
    EverythingSegmentBody,
    GrabCutPrompt,
    GrabCutSegmentBody,
    HoverBody,
    MaskOpBody,
    PointsSegmentBody,
    PrepareBody,
    ScribbleBody,
    SelectionBody,
    SessionEverythingBody,
    dump,
)
from inpaint_anything.errors import InvalidInputError


def _box(box: list[float] | None) -> tuple[float, ...] | None:
    if box is None:
        return None
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise InvalidInputError("A box must be four numbers: x0, y0, x1, y1 (pixels).")
    return tuple(box)


def add_routes(router: APIRouter, ctx: ApiContext) -> None:
    _stateless(router, ctx)
    _session(router, ctx)


def _stateless(router: APIRouter, ctx: ApiContext) -> None:
    def predict(image_b64: str, points: list, box: Any, model: str | None, multimask: bool, asynchronous: bool) -> Any:
        image = ctx.image(image_b64)

        def work(job) -> dict[str, Any]:
            ws = ctx.scratch()
            ws.set_image(image)
            session = ws.segment_session(model, job)
            xy = [p[:2] for p in points] or None
            labels = [p[2] for p in points] or None
            return candidates_payload(session.predict(points=xy, labels=labels, box=box, multimask=multimask))

        return ctx.run("segment", work, asynchronous)

    @router.post("/segment/points", responses=ASYNC_RESPONSES)
    def segment_points(body: PointsSegmentBody, asynchronous: bool = Query(False, alias="async", description=ASYNC_DOC)) -> Any:
        """SAM masks for clicked points on an image (candidates best first, with scores)."""
        points = prompt_points(body.points, body.labels)
        if not points:
            raise InvalidInputError("Give at least one point.")
        return predict(
            body.image, points, None, check_sam_model_id(body.model), body.multimask and len(points) == 1, asynchronous
        )

    @router.post("/segment/box", responses=ASYNC_RESPONSES)
    def segment_box(body: BoxSegmentBody, asynchronous: bool = Query(False, alias="async", description=ASYNC_DOC)) -> Any:
        """The SAM mask for a box (plus optional points) on an image."""
        points = prompt_points(body.points, body.labels)
        return predict(body.image, points, _box(body.box), check_sam_model_id(body.model), False, asynchronous)

    @router.post("/segment/everything", responses=ASYNC_RESPONSES)
    def segment_everything(
        body: EverythingSegmentBody, asynchronous: bool = Query(False, alias="async", description=ASYNC_DOC)
    ) -> Any:
        """Every segment of an image: the colour segment map, per-segment masks and scores; with
        ``keep`` also the union of the kept segments as ``mask``."""
        model, opts, keep = everything_options(body)
        image = ctx.image(body.image)

        def work(job) -> dict[str, Any]:
            ws = ctx.scratch()
            ws.set_image(image)
            segmap = ws.segment_everything(model, job, **opts)
            out = segments_payload(segmap, include_masks=body.include_masks, max_masks=body.max_masks)
            if keep is not None:
                out["kept"] = keep.select(segmap)
                out.update(mask_payload(keep.mask(segmap)))
            return out

        return ctx.run("segment everything", work, asynchronous)

    @router.post("/segment/grabcut")
    def segment_grabcut(body: GrabCutSegmentBody) -> dict[str, Any]:
        """A weight-free selection (OpenCV GrabCut) from a box and/or points; no SAM model needed."""
        from inpaint_anything.segment.grabcut import grabcut_mask

        if not 1 <= body.iterations <= 20:
            raise InvalidInputError("GrabCut iterations must be from 1 to 20.")
        points = prompt_points(body.points, body.labels)
        image = ctx.image(body.image)
        mask = grabcut_mask(
            image[..., :3],
            box=_box(body.box),
            points=[p[:2] for p in points] or None,
            labels=[p[2] for p in points] or None,
            iterations=body.iterations,
        )
        return mask_payload(mask)


def _session(router: APIRouter, ctx: ApiContext) -> None:
    @router.post("/sessions/{session_id}/hover")
    def hover(session_id: str, body: HoverBody) -> dict[str, Any]:
        """The mask SAM would pick for a click at (x, y), at low resolution (at most 256x256, covering
        the whole image; ``scale`` = original pixels per cell) as a base64 PNG. Never encodes and
        never waits: ``ready: false`` while the embedding is not ready (see ``/prepare``) or the
        session is busy. Changes nothing in the session. ``outline``: the mask's borders as polygons
        ``[x0, y0, x1, y1, ...]`` in image pixels (outer borders and holes; draw with the even-odd rule)."""
        from inpaint_anything.codec import png_bytes
        from inpaint_anything.segment.hover import outline

        ws = ctx.workspace(session_id)
        found = ws.hover(body.x, body.y)
        if found is None:
            return {"ready": False, **{k: ws.embedding_state()[k] for k in ("embedding",)}}
        h, w = found.mask.shape
        return {
            "ready": True,
            "width": w,
            "height": h,
            "scale": list(found.scale),
            "score": found.score,
            "mask": base64.b64encode(png_bytes(found.mask.astype(np.uint8) * 255)).decode(),
            "outline": outline(found),
        }

    @router.post("/sessions/{session_id}/prepare", status_code=202)
    def prepare(session_id: str, body: PrepareBody) -> dict[str, Any]:
        """Start computing the SAM embedding of the session's image in the background (202 at once).
        A click that comes later waits only for what is left; ``GET /sessions/{id}`` says
        ``embedding``: none, pending, ready or failed, with ``embedding_progress``."""
        ws = ctx.workspace(session_id)
        ws.prepare(check_sam_model_id(body.model))
        return ws.embedding_state()

    @router.post("/sessions/{session_id}/click", responses=ASYNC_RESPONSES)
    def click(session_id: str, body: ClickBody, asynchronous: bool = Query(False, alias="async", description=ASYNC_DOC)) -> Any:
        """Add a point; the best candidate becomes the mask (``reset`` starts a new object)."""
        ws = ctx.workspace(session_id)
        model = check_sam_model_id(body.model)
        ws.require_image()

        def work(job) -> dict[str, Any]:
            result = ws.click(body.x, body.y, body.positive, model_id=model, multimask=body.multimask, reset=body.reset, job=job)
            return {**candidates_payload(result), **mask_payload(ws.mask)}

        return ctx.run("segment", work, asynchronous)

    @router.post("/sessions/{session_id}/box", responses=ASYNC_RESPONSES)
    def box(session_id: str, body: BoxPrompt, asynchronous: bool = Query(False, alias="async", description=ASYNC_DOC)) -> Any:
        """Segment the object in a box (with the session's points); the result becomes the mask."""
        ws = ctx.workspace(session_id)
        model = check_sam_model_id(body.model)
        extra = prompt_points(body.points, body.labels)
        the_box = _box(body.box)
        ws.require_image()

        def work(job) -> dict[str, Any]:
            if extra:
                result = ws.prompt(extra, the_box, model_id=model, job=job)
                ws.set_mask(result.masks[0])
            else:
                result = ws.set_box(the_box, model_id=model, job=job)
            return {**candidates_payload(result), **mask_payload(ws.mask)}

        return ctx.run("segment", work, asynchronous)

    @router.post("/sessions/{session_id}/everything", responses=ASYNC_RESPONSES)
    def everything(
        session_id: str, body: SessionEverythingBody, asynchronous: bool = Query(False, alias="async", description=ASYNC_DOC)
    ) -> Any:
        """Segment everything on the session's image (then scribble to select segments)."""
        ws = ctx.workspace(session_id)
        model, opts, keep = everything_options(body)
        ws.require_image()

        def work(job) -> dict[str, Any]:
            segmap = ws.segment_everything(model, job, **opts)
            out = segments_payload(segmap, include_masks=body.include_masks, max_masks=body.max_masks)
            if keep is not None:
                out["kept"] = keep.select(segmap)
                out.update(mask_payload(ws.set_mask(keep.mask(segmap))))
            return out

        return ctx.run("segment everything", work, asynchronous)

    @router.post("/sessions/{session_id}/scribble")
    def scribble(session_id: str, body: ScribbleBody) -> dict[str, Any]:
        """Select every segment the scribble touches (needs 'everything' first)."""
        ws = ctx.workspace(session_id)
        ws.require_image()
        drawn = ctx.mask(body.scribble, None, "scribble")
        return mask_payload(ws.scribble(drawn, mode=body.mode, ignore_unsegmented=body.ignore_unsegmented))

    @router.post("/sessions/{session_id}/grabcut")
    def grabcut(session_id: str, body: GrabCutPrompt) -> dict[str, Any]:
        """Weight-free selection (no SAM model needed) combined with the mask by ``mode``."""
        ws = ctx.workspace(session_id)
        points = prompt_points(body.points, body.labels)
        mask = ws.grabcut(
            box=_box(body.box), points=[p[:2] for p in points] or None, labels=[p[2] for p in points] or None, mode=body.mode
        )
        return mask_payload(mask)

    @router.post("/sessions/{session_id}/brush")
    def brush(session_id: str, body: BrushBody) -> dict[str, Any]:
        """Paint (add) or erase round brush strokes on the mask (one undo step)."""
        return mask_payload(ctx.workspace(session_id).brush([dump(s) for s in body.strokes]))

    @router.put("/sessions/{session_id}/selection", responses=ASYNC_RESPONSES)
    def selection(
        session_id: str, body: SelectionBody, asynchronous: bool = Query(False, alias="async", description=ASYNC_DOC)
    ) -> Any:
        """Set the whole selection, as the tab's editor does: points and box (SAM's candidate
        ``candidate``, or GrabCut), plus the segments the scribbles touch, then brush strokes added
        and erased in order; the session's refinements are re-applied and the result becomes the
        mask (one undo step). Send the whole selection again after each change; a follow-up point
        refines SAM's previous prediction. ``note`` says when scribbles were ignored."""
        from inpaint_anything.selection import check_selection, describe_chain

        ws = ctx.workspace(session_id)
        img = ws.require_image()
        model = check_sam_model_id(body.model)
        chosen = check_selection(
            body.points, body.box, [dump(s) for s in body.strokes], body.candidate, image_size=(img.shape[1], img.shape[0])
        )

        def work(job) -> dict[str, Any]:
            got = ws.select(
                chosen, use_sam=body.method == "sam", model_id=model, ignore_unsegmented=body.ignore_unsegmented, job=job
            )
            out = candidates_payload(got.candidates) if got.candidates is not None else {"masks": [], "scores": []}
            return {
                **out,
                "candidate": got.index,
                "note": got.note,
                "refinements": describe_chain(ws.refinements),
                **mask_payload(got.mask),
            }

        return ctx.run("segment", work, asynchronous)

    @router.post("/sessions/{session_id}/mask/op")
    def mask_op(session_id: str, body: MaskOpBody) -> dict[str, Any]:
        """Change the mask once: grow / shrink by px, fill_holes (up to px area, 0 = any),
        remove_specks (below px), invert, clear, all (one undo step)."""
        ws = ctx.workspace(session_id)
        return mask_payload(ws.mask_op(body.op, body.px))

    @router.post("/sessions/{session_id}/undo")
    def undo(session_id: str) -> dict[str, Any]:
        return mask_payload(ctx.workspace(session_id).undo())

    @router.post("/sessions/{session_id}/redo")
    def redo(session_id: str) -> dict[str, Any]:
        return mask_payload(ctx.workspace(session_id).redo())

    @router.post("/sessions/{session_id}/clear-prompts")
    def clear_prompts(session_id: str) -> dict[str, Any]:
        """Forget the clicked points and box (the mask stays)."""
        ctx.workspace(session_id).clear_prompts()
        return {"cleared": True}


__all__ = ["add_routes"]
