"""Generating routes: inpaint, remove, outpaint (incl. zoom-out frames), stateless or on a session
(``POST /batch`` is :mod:`.batch_routes`). Everything is checked before a job starts, so bad input is
a 4xx even with ``?async=true``; the work itself is the workspace's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query

from inpaint_anything.api.context import ApiContext
from inpaint_anything.api.docs import ASYNC_DOC, ASYNC_RESPONSES
from inpaint_anything.api.payloads import prepare, result_payload
from inpaint_anything.api.schemas import InpaintBody, OutpaintBody, RemoveBody, dump
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.inpaint.request import InpaintRequest

SESSION_IMAGE = "This session already has its image; upload a new one with POST /sessions/{id}/image."


def _payload(result: Any, request: InpaintRequest, ctx: ApiContext | None = None, kind: str = "") -> dict[str, Any]:
    """The JSON answer of a generation; with ``ctx`` (the request asked for ``save``) the results are
    written first and ``saved`` lists their paths relative to the output folder."""
    img = result.images[0]
    extra = {"saved": ctx.save_results(result.images, result.infotexts, kind)} if ctx is not None else {}
    return result_payload(
        result.images,
        result.infotexts,
        result.seeds,
        size=[img.shape[1], img.shape[0]],
        parameters=(getattr(result, "request", None) or request).to_dict(),
        **extra,
    )


def add_routes(router: APIRouter, ctx: ApiContext) -> None:
    def post_both(
        op: str, body_type: type, run: Callable[[str | None, Any, bool], Any], doc: str, session_doc: str | None = None
    ) -> None:
        """Route ``POST /{op}`` (the images come in the body) and ``POST /sessions/{session_id}/{op}``
        to ``run(session_id or None, body, asynchronous)``. The routes are named ``{op}_stateless``
        and ``{op}_session`` (their OpenAPI operation ids and summaries follow from the names) and
        described by ``doc`` and ``session_doc``; both take a JSON ``body_type`` and ``?async=``."""

        def stateless(body, asynchronous: bool = Query(False, alias="async", description=ASYNC_DOC)) -> Any:
            return run(None, body, asynchronous)

        def session(session_id: str, body, asynchronous: bool = Query(False, alias="async", description=ASYNC_DOC)) -> Any:
            return run(session_id, body, asynchronous)

        for endpoint, path, name, text in (
            (stateless, f"/{op}", f"{op}_stateless", doc),
            (session, f"/sessions/{{session_id}}/{op}", f"{op}_session", session_doc),
        ):
            endpoint.__annotations__["body"] = body_type  # FastAPI reads the body model from the annotation
            endpoint.__doc__ = text
            router.add_api_route(path, endpoint, methods=["POST"], name=name, responses=ASYNC_RESPONSES)

    def start(session_id: str | None, image: str | None, mask: str | None, need_mask: bool):
        """The workspace to work on: the session's (mask optionally replaced) or a scratch one."""
        if session_id is None:
            if image is None or (need_mask and mask is None):
                what = "'image' and 'mask'" if need_mask else "'image'"
                raise InvalidInputError(f"Send {what} (base64), or work on a session (POST /sessions/{{id}}/...).")
            ws = ctx.scratch()
            ws.set_image(ctx.image(image))
        else:
            ws = ctx.workspace(session_id)
            if image is not None:
                raise InvalidInputError(SESSION_IMAGE)
        if mask is not None:
            ws.set_mask(ctx.mask(mask, ws.require_image().shape[:2]))
        if need_mask:
            ws.require_mask()
        return ws

    # ------------------------------------------------------------------ inpaint
    def inpaint(session_id: str | None, body: InpaintBody, asynchronous: bool) -> Any:
        request, backend = prepare(ctx, body)
        ws = start(session_id, body.image, body.mask, True)
        saving = ctx if body.save else None
        return ctx.run(
            "inpaint", lambda job: _payload(ws.inpaint(request, backend, job), request, saving, "inpaint"), asynchronous
        )

    post_both(
        "inpaint",
        InpaintBody,
        inpaint,
        "Inpaint the mask of an image with a backend (diffusers model, cleaner, or the WebUI's).",
        "Inpaint the session's mask (``mask`` in the body replaces it first).",
    )

    # ------------------------------------------------------------------ remove
    def remove(session_id: str | None, body: RemoveBody, asynchronous: bool) -> Any:
        from inpaint_anything.inpaint.cleaner import default_cleaner, removal_request

        request = removal_request(mask_blur=body.mask_blur, padding=body.padding).validated()
        backend = ctx.backend("cleaner", default_cleaner(dump(body, exclude_unset=True).get("method")))
        ws = start(session_id, body.image, body.mask, True)
        saving = ctx if body.save else None
        return ctx.run(
            "remove object",
            lambda job: _payload(ws.inpaint(request, backend, job, kind="remove"), request, saving, "remove"),
            asynchronous,
        )

    post_both("remove", RemoveBody, remove, "Remove the masked object without a prompt (Telea, NS, PatchMatch or LaMa).")

    # ------------------------------------------------------------------ outpaint
    def outpaint(session_id: str | None, body: OutpaintBody, asynchronous: bool) -> Any:
        from inpaint_anything.imaging import check_size
        from inpaint_anything.outpaint.engine import OutpaintSettings
        from inpaint_anything.outpaint.geometry import Expansion

        request, backend = prepare(ctx, body)
        ws = start(session_id, body.image, None, False)
        w, h = ws.size
        saving = ctx if body.save else None
        if body.zoom_out is not None:
            return _zoom(ws, body, request, backend, saving, asynchronous)
        settings = OutpaintSettings(
            Expansion.from_spec(dump(body.expansion), w, h), body.prefill, body.overlap_px, body.strategy
        ).validated((w, h))
        cw, ch = settings.expansion.canvas_size
        check_size(ch, cw, ctx.max_pixels)
        return ctx.run(
            "outpaint",
            lambda job: _payload(ws.outpaint(settings, request, backend, job), request, saving, "outpaint"),
            asynchronous,
        )

    def _zoom(ws: Any, body: OutpaintBody, request: InpaintRequest, backend: Any, saving: Any, asynchronous: bool) -> Any:
        from inpaint_anything.outpaint.engine import plan_zoom

        if "expansion" in dump(body, exclude_unset=True):
            raise InvalidInputError("Give either 'expansion' (one outpaint) or 'zoom_out' (frames), not both.")
        z = body.zoom_out
        settings = {"prefill": body.prefill, "overlap_px": body.overlap_px, "strategy": body.strategy}
        plan_zoom(*ws.size, z.steps, z.scale, z.prompts, **settings)  # refused before the job starts
        return ctx.run(
            "zoom out",
            lambda job: _payload(
                ws.zoom_out(z.steps, z.scale, request, backend, job, prompts=z.prompts, max_pixels=ctx.max_pixels, **settings),
                request,
                saving,
                "zoom",
            ),
            asynchronous,
        )

    post_both(
        "outpaint",
        OutpaintBody,
        outpaint,
        "Extend an image (pixels per side, aspect preset or scale; pre-fill; any backend), or make\nzoom-out frames.",
    )


__all__ = ["add_routes"]
