"""``POST /batch``: many images in one job, on the local engine or the Ray cluster the server's operator
named. The body becomes :class:`~inpaint_anything.batch.BatchOptions` and items here; running them is
:func:`inpaint_anything.batch.run_items` (or :func:`inpaint_anything.batch_ray.run_inline_ray`).
Everything is checked before the job starts, so bad input is a 4xx even with ``?async=true``."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Query

from inpaint_anything.api.context import ApiContext, check_sam_model_id
from inpaint_anything.api.docs import ASYNC_DOC, ASYNC_RESPONSES
from inpaint_anything.api.payloads import check_options, everything_options, prepare
from inpaint_anything.api.schemas import BatchBody, dump
from inpaint_anything.batch import BatchItem, BatchOptions, BatchRunner, EngineOptions, KeepRule
from inpaint_anything.batch_spec import ENGINE_FIELDS
from inpaint_anything.errors import InvalidInputError

MAX_BATCH_ITEMS = 256


def batch_plan(ctx: ApiContext, body: BatchBody) -> tuple[BatchOptions, Any, tuple[str, str, dict] | None]:
    """The checked options, the backend, and (Ray engine) what each worker builds its backend from."""
    from inpaint_anything.inpaint.cleaner import default_cleaner, removal_request

    method = default_cleaner(dump(body, exclude_unset=True).get("method"))
    spec = None
    if body.op == "remove":
        given = dump(body.request, exclude_unset=True)
        request = removal_request(**{k: given[k] for k in ("mask_blur", "padding", "seed") if k in given})
        backend = ctx.backend("cleaner", method)
    else:
        request, backend = prepare(ctx, body)
        if body.engine == "ray":
            model = ctx.diffusers_model(body.model) if body.backend == "diffusers" else (body.model or "telea")
            spec = (body.backend, model, check_options(dump(body.options)))
    everything, keep = None, None
    if body.everything is not None:
        _, everything, keep = everything_options(body.everything)
    options = BatchOptions(
        op=body.op,
        request=request,
        method=method,
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
    return options, backend, spec


def batch_answer(items: list[BatchItem], results: list[tuple[str, Any]], stopped: bool) -> dict[str, Any]:
    """The JSON answer: one entry per item in order (done: base64 PNGs and infotexts; failed or skipped:
    the reason; not reached after an interrupt: skipped, "interrupted"), the counts, and the interrupt."""
    out = []
    for item, (status, value) in zip(items, results, strict=True):
        if status == "done":
            out.append({"name": item.name, "status": "done", "images": [v[0] for v in value], "infotexts": [v[1] for v in value]})
        elif status in ("failed", "skipped"):  # skipped: its text found nothing
            out.append({"name": item.name, "status": status, "reason": value})
        else:
            out.append({"name": item.name, "status": "skipped", "reason": "interrupted"})
    counts = {s: sum(1 for o in out if o["status"] == s) for s in ("done", "failed", "skipped")}
    return {"items": out, "counts": counts, "interrupted": stopped}


def add_routes(router: APIRouter, ctx: ApiContext) -> None:
    @router.post("/batch", responses=ASYNC_RESPONSES)
    def batch(body: BatchBody, asynchronous: bool = Query(False, alias="async", description=ASYNC_DOC)) -> Any:
        """Many images in one job; a bad item is reported in its entry and the rest continues."""
        from inpaint_anything.batch import run_items
        from inpaint_anything.codec import png_b64

        if not 1 <= len(body.items) <= MAX_BATCH_ITEMS:
            raise InvalidInputError(f"Send 1 to {MAX_BATCH_ITEMS} items.")
        engine = EngineOptions(**{f.name: getattr(body, f.name) for f in ENGINE_FIELDS}).validated()
        if engine.engine == "ray":
            from inpaint_anything.batch_ray import check_server_request

            check_server_request(engine, body.op, body.backend)
        options, backend, spec = batch_plan(ctx, body)
        items = [
            BatchItem(it.name or f"item-{n}", it.image, it.mask, it.points, it.labels, it.box, it.prompt, it.text)
            for n, it in enumerate(body.items)
        ]

        class _Runner(BatchRunner):  # items carry base64 images, decoded under the API's limits
            def load_image(self, source: Any, what: str = "image") -> np.ndarray:
                return ctx.image(source, what) if isinstance(source, str) else super().load_image(source, what)

        runner = _Runner(ctx.app, options, backend)
        runner.check_text(items)  # a missing text detector: one error before the job starts

        def work(job) -> dict[str, Any]:
            if engine.engine == "ray":
                from inpaint_anything.batch_ray import run_inline_ray

                results, stopped = run_inline_ray(
                    ctx.app, items, options, engine=engine, backend_spec=spec, max_pixels=ctx.max_pixels, job=job
                )
            else:  # base64 PNGs, as the Ray workers send them
                results, stopped = run_items(runner, items, job, encode=png_b64)
            return batch_answer(items, results, stopped)

        return ctx.run(f"batch {body.op}", work, asynchronous)


__all__ = ["MAX_BATCH_ITEMS", "add_routes", "batch_answer", "batch_plan"]
