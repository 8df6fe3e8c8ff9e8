"""Event handlers of the Inpaint Anything tab (gradio-free logic over App / Workspace).

Every handler works on the caller's own workspace (one per browser session, see
:class:`SessionKey`), turns user errors into a readable message, and never returns a black image.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np

from inpaint_anything.errors import IAError, InvalidInputError
from inpaint_anything.jobs import JobControl
from inpaint_anything.ui.hooks import HostHooks
from inpaint_anything.ui.messages import error_message, message, warning  # noqa: F401  (part of this module's face)
from inpaint_anything.ui.model_choices import ModelChoices


class SessionKey:
    """The value of the tab's gr.State: gradio deep-copies a State's initial value for every
    browser session, and a copy gets a fresh id, so each tab has its own workspace."""

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex

    def __deepcopy__(self, memo: dict) -> SessionKey:
        return SessionKey()


EMPTY_SELECTION = (
    "Nothing was selected. Try Brush + to paint over the object, or a larger box around it "
    "(GrabCut needs some background inside the box)."
)


class Controller(ModelChoices):
    """The tab's behaviour; the layout module wires these methods to components. What the model
    dropdowns list and say (SAM, inpainting models, ControlNet) is :class:`ModelChoices`'."""

    def __init__(self, app, hooks: HostHooks | None = None):
        super().__init__(app, hooks or HostHooks())
        self._jobs: dict[str, JobControl] = {}
        self._tmp: str | None = None  # folder for exported files, one subfolder per session

    # ------------------------------------------------------------------ helpers
    def ws(self, key: SessionKey, *, revive: bool = False):
        """This browser tab's workspace; SessionExpiredError ("upload the image again") when it was
        dropped to free memory, unless ``revive`` (a new picture starts it over)."""
        return self.app.workspace(key.id if isinstance(key, SessionKey) else str(key), revive=revive)

    @contextlib.contextmanager
    def job(self, key: SessionKey, name: str, progress: Any = None) -> Iterator[JobControl]:
        """A JobControl for one run: the host's queue + progress when hosted, gradio's progress bar."""
        ctx = self.hooks.job_context(name) if self.hooks.job_context else contextlib.nullcontext(JobControl())
        with ctx as job:
            if progress is not None:
                previous = job._on_progress

                def report(j: JobControl) -> None:
                    if previous:
                        previous(j)
                    with contextlib.suppress(Exception):
                        progress(j.fraction, desc=j.text or name)

                job._on_progress = report
            with self._lock:
                self._jobs[key.id] = job
            try:
                yield job
            finally:
                with self._lock:
                    self._jobs.pop(key.id, None)

    def interrupt(self, key: SessionKey) -> Any:
        """Interrupt this session's job. Its own handler then reports "Interrupted."; writing to the
        status here as well could land after that message (this handler is not queued) and leave
        "Interrupting..." on screen for good, so the status is left alone."""
        from inpaint_anything.ui import compat

        with self._lock:
            job = self._jobs.get(key.id)
        if job is None:
            return message("Nothing is running.")
        job.interrupt()
        return compat.update()

    # ------------------------------------------------------------------ ControlNet inpaint
    # ------------------------------------------------------------------ image and canvas
    def set_image(self, key: SessionKey, image: Any, sam_model: str | None = None, selector: str | None = None) -> str:
        """A new picture. With Segment Anything chosen and its file present, SAM starts encoding it in
        the background at once, so the first click waits only for what is left."""
        ws = self.ws(key, revive=True)
        if image is None:  # cleared: later actions must not run on a picture the page no longer shows
            ws.clear_image()
            return message("Upload an image to start.")
        try:
            w, h = ws.set_image(image)
        except IAError as exc:
            return error_message(exc)
        ws.ui.pop("last_event", None)  # the candidate gallery is cleared with the new image
        ws.ui.pop("candidate", None)
        preparing = ""
        model_id = self.sam_id(sam_model)
        if model_id and selector and selector.startswith("Segment Anything"):
            with contextlib.suppress(IAError):  # a missing model is reported when it is used
                if self.app.sam_model_path(model_id).is_file():
                    ws.prepare(model_id)
                    preparing = " SAM is preparing the picture in the background."
        return message(f"Image {w}x{h}.{preparing} Click, draw a box, or run 'Segment everything' and scribble.")

    def prepare(self, key: SessionKey, sam_model: str | None, selector: str | None) -> None:
        """Another SAM model or "Select with" choice: prepare the shown picture for it in the
        background (nothing when no picture, no SAM chosen or its file is missing)."""
        model_id = self.sam_id(sam_model)
        if not (model_id and selector and selector.startswith("Segment Anything")):
            return
        with contextlib.suppress(IAError):  # an expired session or a missing file: said when used
            ws = self.ws(key)
            if ws.image is not None and self.app.sam_model_path(model_id).is_file():
                ws.prepare(model_id)

    def probe(self, probe: Any, key: SessionKey, sam_model: str | None, selector: str | None) -> dict[str, Any]:
        """The editor's probe (see :mod:`inpaint_anything.ui.canvas`): how the SAM preparation of the
        shown picture goes and, for a pointer position, the hover outline. Never encodes, never
        waits, never changes the session."""
        from inpaint_anything.errors import SessionExpiredError
        from inpaint_anything.segment.hover import outline

        none = {"embedding": "none", "progress": 0.0, "model": "", "hover": None, "hover_off": "", "busy": False}
        model_id = self.sam_id(sam_model)
        if not (model_id and selector and selector.startswith("Segment Anything")):
            return {**none, "hover_off": "hover preview needs Segment Anything"}
        try:
            ws = self.ws(key)
        except SessionExpiredError:
            return none
        img = ws.image
        if img is None or (img.shape[1], img.shape[0]) != tuple(probe.image_size):
            return none
        state = ws.embedding_state()
        label = self._label_of(state["model"])
        out = {
            **none,
            "embedding": state["embedding"],
            "progress": round(float(state["progress"]), 3),
            "model": label,
            "error": state["error"] or "",
        }
        if state["embedding"] != "ready" or state["model"] != model_id:
            if state["model"] != model_id and state["embedding"] == "ready":
                out["embedding"] = "none"  # ready for another model: the next click encodes again
            return out
        off = self.app.hover_timer.decide(self.app.settings.hover_preview, model_id)
        out["hover_off"] = off
        if probe.point is not None and not off:
            found = ws.hover(*probe.point)
            if found is not None:
                out["hover"] = {"polygons": outline(found), "score": round(found.score, 3)}
            else:
                out["busy"] = True  # a click or another request holds SAM: the editor keeps its outline and asks again
        return out

    def canvas_event(self, text: str, key: SessionKey, sam_model: str, selector: str, ignore_unsegmented: bool):
        """One canvas snapshot -> (mask layer, candidate gallery, status)."""
        from inpaint_anything.selection import describe_chain
        from inpaint_anything.ui.canvas import layer_from_mask
        from inpaint_anything.ui.wire import parse_event

        ev = parse_event(text)
        sam_model = self.sam_id(sam_model)
        ws = self.ws(key)
        img = ws.require_image()
        if tuple(ev.image_size) != (img.shape[1], img.shape[0]):
            raise InvalidInputError("The canvas shows a different image than the one loaded; upload it again.")
        use_sam = selector != "GrabCut (no model)"
        if use_sam and (ev.points or ev.box is not None):
            from inpaint_anything.ui.defaults import sam_missing

            why = sam_missing(self.app, sam_model, self.offline())
            if why:
                raise InvalidInputError(why)
        if ev.kind == "clear" and text != ws.ui.get("last_event"):
            # the editor's Clear also drops what "Select by text" found (the text mask is one more
            # layer of the selection); a replayed event (a picked candidate) is not a new Clear
            ws.clear_text()
        if ev.text_kept is not None:  # the editor's switches on the "Select by text" boxes
            ws.keep_text_boxes(ev.text_kept, ev.text_id)
        got = ws.select(
            ev.selection(ws.ui.get("candidate", 0)), use_sam=use_sam, model_id=sam_model, ignore_unsegmented=ignore_unsegmented
        )
        ws.ui["last_event"] = text
        gallery = None
        if got.candidates is not None and len(got.candidates) > 1:
            from inpaint_anything.ui.candidates import thumbnails

            gallery = thumbnails(img, got.candidates.masks, got.candidates.scores, got.index)
        mask, note = got.mask, (" " + got.note if got.note else "")
        text_out = f"Mask: {int(mask.sum()):,} pixels selected." + (
            f" Refinements: {describe_chain(ws.refinements)}." if ws.refinements else ""
        )
        if ev.selection().prompted and not mask.any() and not ev.strokes_of("add"):
            return layer_from_mask(mask), gallery, warning(EMPTY_SELECTION + note)
        return layer_from_mask(mask), gallery, message(text_out + note, error=bool(note))

    def pick_candidate(self, key: SessionKey, index: int | None, sam_model: str, selector: str, ignore: bool):
        ws = self.ws(key)
        ws.ui["candidate"] = int(index or 0)
        text = ws.ui.get("last_event")
        if not text:
            raise InvalidInputError("Click on the image first.")
        return self.canvas_event(text, key, sam_model, selector, ignore)

    def refine(self, key: SessionKey, op: str, px: int):
        from inpaint_anything.selection import describe_chain
        from inpaint_anything.ui.canvas import layer_from_mask

        ws = self.ws(key)
        mask = ws.clear_refinements() if op == "reset" else ws.add_refinement(op, int(px))
        chain = describe_chain(ws.refinements) or "none"
        return layer_from_mask(mask), message(f"Refinements: {chain}. Mask: {int(mask.sum()):,} pixels.")

    def segment_everything(self, key: SessionKey, sam_model: str, points_per_side: int, progress: Any = None):
        ws = self.ws(key)
        ws.require_image()
        sam_model = self.sam_id(sam_model)
        with self.job(key, "segment everything", progress) as job:
            segmap = ws.segment_everything(sam_model, job, points_per_side=int(points_per_side))
        if len(segmap) == 0:  # an all-background map would only darken the picture
            return None, message(
                "No segments found. Try more points per side or another SAM model; clicks, boxes and the brush still work.",
                error=True,
            )
        colour = segmap.color_map()
        h, w = ws.image.shape[:2]
        if colour.shape[:2] != (h, w):
            import cv2

            colour = cv2.resize(colour, (w, h), interpolation=cv2.INTER_NEAREST)
        return colour, message(f"{len(segmap)} segments. Pick the Scribble tool and draw over the parts to select.")

    # ------------------------------------------------------------------ generation
    def _finish(self, key: SessionKey, result, kind: str) -> tuple[list, str, str]:
        saved = []
        for img, text in zip(result.images, result.infotexts, strict=True):
            try:
                saved.append(self._save(img, text, kind))
            except OSError as exc:
                saved.append(f"not saved ({exc})")
        ws = self.ws(key)
        gallery = [(r.image, f"seed {r.seed}") for r in reversed(ws.results[-12:])]
        info = result.infotexts[0] if result.infotexts else ""
        from inpaint_anything.outputs import done_text

        return gallery, info, message(done_text(len(result.images), saved))

    def compare(self, key: SessionKey) -> tuple[Any, Any]:
        """(input, latest result) for the before/after view under the editor (unchanged when none)."""
        from inpaint_anything.ui import compat

        ws = self.ws(key)
        if not ws.results or ws.image is None:
            return compat.update(), compat.update()
        return ws.image, ws.results[-1].image

    def _save(self, image: np.ndarray, infotext: str, kind: str) -> str:
        if self.hooks.save is not None:
            return self.hooks.save(image, infotext, kind)
        from inpaint_anything.outputs import save_png

        folder = self.app.settings.output_dir or os.path.join(os.getcwd(), "outputs", "inpaint-anything")
        return str(save_png(image, folder, infotext, suffix=kind))

    def inpaint(self, key: SessionKey, kind: str, model: str, request, progress: Any = None, controlnet: Any = None):
        """Inpaint with backend ``kind``; ``controlnet`` (ControlNetOptions, the "ControlNet inpaint" choice)
        turns the backend it stands in for (:meth:`controlnet_switch`) into its ControlNet one."""
        ws = self.ws(key)
        ws.require_image()  # "upload an image" before "the mask is empty"
        ws.require_mask()
        options: dict[str, Any] = {}
        if controlnet is not None and kind == self.controlnet_switch()[1]:
            why = self.controlnet_unavailable()
            if why:
                from inpaint_anything.errors import UnavailableError

                raise UnavailableError(why)
            kind, options = self.controlnet_switch()[0], {"controlnet": controlnet}
        backend = self._diffusers(model) if kind == "diffusers" else self.app.backend(kind, model, **options)
        with self._readable_downloads(kind, model), self.job(key, "inpaint", progress) as job:
            result = ws.inpaint(request, backend, job)
        return self._finish(key, result, "inpaint")

    def remove(self, key: SessionKey, method: str, grow_px: int, progress: Any = None):
        """Fill the mask (grown by ``grow_px`` for this run only) with a cleaner (a learned remover
        downloads its file first when it is missing, with progress)."""
        ws = self.ws(key)
        ws.require_image()
        ws.require_mask()
        # grown for this run only, not a refinement: pressing Remove again must not grow the selection again
        with self.job(key, "remove object", progress) as job:
            result = ws.remove(method, job, grow_px=int(grow_px or 0))
        return self._finish(key, result, "remove")

    def outpaint(self, key: SessionKey, settings, request, kind: str, model: str, progress: Any = None):
        ws = self.ws(key)
        ws.require_image()
        backend = self._diffusers(model) if kind == "diffusers" else self.app.backend(kind, model)
        with self._readable_downloads(kind, model), self.job(key, "outpaint", progress) as job:
            result = ws.outpaint(settings, request, backend, job)
        return self._finish(key, result, "outpaint")

    def use_result(self, key: SessionKey, index: int | None):
        ws = self.ws(key)
        ws.use_result(-1 - int(index or 0))  # the gallery shows the newest first
        return ws.image

    def receive_image(self, key: SessionKey, payload: str | None, source: str) -> tuple[np.ndarray, str]:
        """The picture a host "Send to Inpaint Anything" button sent (a data: URL read in the browser,
        see :mod:`inpaint_anything.ui.crosstab`) becomes this session's image -> (picture for the
        input image, status). The workspace is set here as well: when the same picture is sent
        again the input's change event does not fire, and the mask must still start over."""
        from inpaint_anything.ui.crosstab import image_from_data_url

        image = image_from_data_url(payload, self.app.settings.max_image_pixels, f"the {source} gallery")
        ws = self.ws(key)
        w, h = ws.set_image(image)
        ws.ui.pop("last_event", None)
        ws.ui.pop("candidate", None)
        return image, message(f"Image {w}x{h} from {source}. Click, draw a box, or run 'Segment everything' and scribble.")

    # ------------------------------------------------------------------ export
    def _session_png(self, key: SessionKey, name: str, arr: np.ndarray) -> str:
        """Write ``arr`` as ``<temp>/<session>/<name>`` (overwritten on the next export, so files
        do not pile up; gradio copies outputs into its own cache) and return the path."""
        from PIL import Image

        with self._lock:
            if self._tmp is None:
                self._tmp = tempfile.mkdtemp(prefix="inpaint-anything-")
        folder = os.path.join(self._tmp, key.id)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name)
        Image.fromarray(arr).save(path)
        return path

    def export(self, key: SessionKey, what: str) -> str:
        ws = self.ws(key)
        ws.require_image()
        if what == "mask":
            return self._session_png(key, "mask.png", ws.mask_png())
        return self._session_png(key, "image-with-mask-alpha.png", ws.alpha_png())

    def send_result_to_extras(self, key: SessionKey, index: int | None) -> str:
        """The selected result (gallery index, newest first) as a PNG file for the Extras tab."""
        ws = self.ws(key)
        if not ws.results:
            raise InvalidInputError("There is no result yet to send; run Inpaint, Remove or Outpaint first.")
        i = int(index or 0)
        if not 0 <= i < len(ws.results):
            raise InvalidInputError("Select a result in the Results gallery first.")
        return self._session_png(key, "extras-image.png", ws.results[-1 - i].image)

    def send_to_img2img(self, key: SessionKey) -> tuple[str, str]:
        """(image, mask) for img2img's Inpaint upload: the current input and its mask, as PNG files
        (a path is sent as it is by both gradio versions; gradio 4 would re-encode a PIL image in
        the host component's format, lossy WebP by default)."""
        ws = self.ws(key)
        ws.require_image()
        mask = ws.require_mask()
        return (
            self._session_png(key, "img2img-image.png", ws.source()),
            self._session_png(key, "img2img-mask.png", mask.astype(np.uint8) * 255),
        )
