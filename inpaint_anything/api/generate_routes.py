"""Generating routes: inpaint, remove, outpaint (incl. zoom-out frames), stateless or on a session,
and ``POST /batch``. Everything is checked before a job starts, so bad input is a 4xx even with
``?async=true``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Query

from inpaint_anything.api.context import ApiContext, check_sam_model_id
from inpaint_anything.api.docs import ASYNC_DOC, ASYNC_RESPONSES
from inpaint_anything.api.payloads import everything_options, result_payload
from inpaint_anything.api.schemas import BatchBody, GenerateBody, InpaintBody, OutpaintBody, RemoveBody, dump
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.inpaint.request import InpaintRequest, infotext

MAX_BATCH_ITEMS = 256
CONTROLNET_BACKENDS = ("controlnet", "webui_controlnet")
SESSION_IMAGE = "This session already has its image; upload a new one with POST /sessions/{id}/image."


def _check_options(options: dict[str, Any]) -> dict[str, Any]:
    native = options.get("native_size")
    if native is not None and not (native == 0 or (64 <= native <= 4096 and native % 8 == 0)):
        raise InvalidInputError("native_size must be 0 (the model's) or a multiple of 8 from 64 to 4096.")
    device = options.get("device")
    if device in ("cuda", "mps"):
        import torch

        ok = (
            torch.cuda.is_available()
            if device == "cuda"
            else bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
        )
        if not ok:
            raise InvalidInputError(f"The device {device!r} is not available here; use 'auto' or 'cpu'.")
    return {k: v for k, v in options.items() if v is not None}


def prepare(ctx: ApiContext, body: GenerateBody) -> tuple[InpaintRequest, Any]:
    """The validated request and the backend of a generate body."""
    request = InpaintRequest.from_dict(dump(body.request, exclude_unset=True))
    options = _check_options(dump(body.options))
    if body.backend in CONTROLNET_BACKENDS:
        options["controlnet"] = dump(body.controlnet, exclude_unset=True)
    backend = ctx.backend(body.backend, body.model, options)
    if body.backend in ("diffusers", "controlnet"):  # the infotext names the model (listed name or Hub id), never a server path
        request = dataclasses.replace(request, model=str(getattr(backend, "model_name", "") or Path(body.model).name))
    return request, backend


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
        parameters=getattr(result, "request", request).to_dict(),
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
        if body.zoom_out is not None:
            if "expansion" in dump(body, exclude_unset=True):
                raise InvalidInputError("Give either 'expansion' (one outpaint) or 'zoom_out' (frames), not both.")
            return _zoom(ws, body, request, backend, asynchronous)
        settings = OutpaintSettings(
            Expansion.from_spec(dump(body.expansion), w, h), body.prefill, body.overlap_px, body.strategy
        ).validated((w, h))
        cw, ch = settings.expansion.canvas_size
        check_size(ch, cw, ctx.max_pixels)
        saving = ctx if body.save else None
        return ctx.run(
            "outpaint",
            lambda job: _payload(ws.outpaint(settings, request, backend, job), request, saving, "outpaint"),
            asynchronous,
        )

    def _zoom(ws: Any, body: OutpaintBody, request: InpaintRequest, backend: Any, asynchronous: bool) -> Any:
        from inpaint_anything.outpaint.engine import MAX_ZOOM_STEPS, ZOOM_SCALE_RANGE, zoom_expansion, zoom_out
        from inpaint_anything.workspace import Result

        z = body.zoom_out
        if not 1 <= z.steps <= MAX_ZOOM_STEPS:
            raise InvalidInputError(f"Zoom-out steps must be from 1 to {MAX_ZOOM_STEPS}.")
        if not ZOOM_SCALE_RANGE[0] <= z.scale <= ZOOM_SCALE_RANGE[1]:
            raise InvalidInputError(f"The zoom per step must be between {ZOOM_SCALE_RANGE[0]} and {ZOOM_SCALE_RANGE[1]}.")
        if z.prompts is not None and len(z.prompts) != z.steps:
            raise InvalidInputError(f"Give one prompt per zoom-out step: {z.steps} steps but {len(z.prompts)} prompts.")
        w, h = ws.size
        zoom_expansion(w, h, z.scale)  # raises when the zoom adds no border at this size
        req = request.resolved()  # a concrete seed, so every frame's infotext can name its own
        source = ws.image if ws.alpha is None else np.dstack([ws.image, ws.alpha])

        def work(job) -> dict[str, Any]:
            frames = zoom_out(
                source,
                z.steps,
                z.scale,
                req,
                backend,
                z.prompts,
                job,
                prefill=body.prefill,
                overlap_px=body.overlap_px,
                strategy=body.strategy,
                max_pixels=ctx.max_pixels,
            )
            seeds = [(req.seed + k) % 2**32 for k in range(len(frames))]
            texts = [
                infotext(
                    dataclasses.replace(req, seed=s, prompt=(z.prompts or [None] * len(frames))[k] or req.prompt),
                    (w, h),
                    {
                        "Inpaint backend": backend.name,
                        "Zoom out step": f"{k + 1}/{len(frames)}",
                        "Zoom per step": z.scale,
                        "Outpaint pre-fill": body.prefill,
                    },
                )
                for k, s in enumerate(seeds)
            ]
            ws.results.extend(Result(f, t, s, "zoom") for f, t, s in zip(frames, texts, seeds, strict=True))
            extra = {"saved": ctx.save_results(frames, texts, "zoom")} if body.save else {}
            return result_payload(frames, texts, seeds, size=[w, h], parameters=req.to_dict(), **extra)

        return ctx.run("zoom out", work, asynchronous)

    post_both(
        "outpaint",
        OutpaintBody,
        outpaint,
        "Extend an image (pixels per side, aspect preset or scale; pre-fill; any backend), or make\nzoom-out frames.",
    )

    # ------------------------------------------------------------------ batch
    @router.post("/batch", responses=ASYNC_RESPONSES)
    def batch(body: BatchBody, asynchronous: bool = Query(False, alias="async", description=ASYNC_DOC)) -> Any:
        """Many images in one job; a bad item is reported in its entry and the rest continues."""
        from inpaint_anything.api.codec import png_b64
        from inpaint_anything.batch import BatchItem, BatchOptions, BatchRunner, EngineOptions, KeepRule, try_item
        from inpaint_anything.batch_spec import ENGINE_FIELDS
        from inpaint_anything.inpaint.cleaner import default_cleaner, removal_request

        if not 1 <= len(body.items) <= MAX_BATCH_ITEMS:
            raise InvalidInputError(f"Send 1 to {MAX_BATCH_ITEMS} items.")
        engine = EngineOptions(**{f.name: getattr(body, f.name) for f in ENGINE_FIELDS}).validated()
        on_ray = engine.engine == "ray"
        if on_ray:
            from inpaint_anything.batch_ray import check_server_can_use_ray

            if engine.ray_address:
                raise InvalidInputError(
                    "The server does not join a Ray cluster named in a request: leave "
                    "'ray_address' out; the server uses the cluster its operator named in "
                    "RAY_ADDRESS."
                )
            if body.op != "remove" and body.backend not in ("diffusers", "cleaner"):
                raise InvalidInputError(
                    "The Ray engine runs the 'diffusers' and 'cleaner' backends; use the local engine for the others."
                )
            check_server_can_use_ray()
        spec = None
        if body.op == "remove":
            given = dump(body.request, exclude_unset=True)
            request = removal_request(**{k: given[k] for k in ("mask_blur", "padding", "seed") if k in given})
            backend = ctx.backend("cleaner", default_cleaner(dump(body, exclude_unset=True).get("method")))
        else:
            request, backend = prepare(ctx, body)
            if on_ray:
                model = ctx.diffusers_model(body.model) if body.backend == "diffusers" else (body.model or "telea")
                spec = (body.backend, model, _check_options(dump(body.options)))
        everything, keep = None, None
        if body.everything is not None:
            _, everything, keep = everything_options(body.everything)
        options = BatchOptions(
            op=body.op,
            request=request,
            method=default_cleaner(dump(body, exclude_unset=True).get("method")),
            segmenter=body.segmenter,
            sam_model=check_sam_model_id(body.sam_model),
            everything=everything,
            keep=keep or (KeepRule() if everything is not None else None),
            mask_grow=body.mask_grow,
            expansion=dump(body.expansion),
            prefill=body.prefill,
            overlap_px=body.overlap_px,
            strategy=body.strategy,
            text=dump(body.text_options) if body.text_options is not None else None,
        ).validated()
        names = [it.name or f"item-{n}" for n, it in enumerate(body.items)]
        items = [
            BatchItem(name, it.image, it.mask, it.points, it.labels, it.box, it.prompt, it.text)
            for name, it in zip(names, body.items, strict=True)
        ]

        class _Runner(BatchRunner):
            def load_image(self, source: Any, what: str = "image") -> np.ndarray:
                return ctx.image(source, what) if isinstance(source, str) else super().load_image(source, what)

        runner = _Runner(ctx.app, options, backend)
        runner.check_text(items)  # a missing text detector: one error before the job starts

        def run_here(job) -> tuple[list[tuple[str, Any]], bool]:
            job.begin(f"batch {body.op}", len(items))
            results, stopped = [], False
            for n, item in enumerate(items):
                status, value = ("interrupted", None) if stopped or job.interrupted else try_item(runner, item, job)
                if status == "done":  # base64 PNG, as the Ray workers send them
                    value = [(png_b64(image, text), text) for image, text in value]
                stopped = stopped or status == "interrupted"
                results.append((status, value))
                if not stopped:
                    job.next_job(f"{n + 1}/{len(items)} {item.name}")
            return results, stopped

        def work(job) -> dict[str, Any]:
            if on_ray:
                from inpaint_anything.batch_ray import run_inline_ray

                results, stopped = run_inline_ray(
                    ctx.app, items, options, engine=engine, backend_spec=spec, max_pixels=ctx.max_pixels, job=job
                )
            else:
                results, stopped = run_here(job)
            out = []
            for item, (status, value) in zip(items, results, strict=True):
                if status == "done":
                    out.append(
                        {"name": item.name, "status": "done", "images": [v[0] for v in value], "infotexts": [v[1] for v in value]}
                    )
                elif status in ("failed", "skipped"):  # skipped: its text found nothing
                    out.append({"name": item.name, "status": status, "reason": value})
                else:
                    out.append({"name": item.name, "status": "skipped", "reason": "interrupted"})
            counts = {s: sum(1 for o in out if o["status"] == s) for s in ("done", "failed", "skipped")}
            return {"items": out, "counts": counts, "interrupted": stopped}

        return ctx.run(f"batch {body.op}", work, asynchronous)


__all__ = ["add_routes", "prepare"]
