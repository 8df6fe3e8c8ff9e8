"""The one inpaint request type shared by the UI, the REST API, batch mode and PNG infotext."""

from __future__ import annotations

import dataclasses
import random
import re
from typing import Any

from inpaint_anything import fields
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.fields import Field

MASKED_CONTENT = ("fill", "original", "latent noise", "latent nothing")
INPAINT_AREAS = ("whole", "only masked")
MAX_SEED = 2**32 - 1


def _soft(name: str, key: str, default: float, low: float, high: float) -> Field:
    """A Soft Inpainting parameter: the key the WebUI's script writes, its default and slider range."""
    text = key.replace("Soft inpainting ", "")
    return Field(
        name,
        float,
        default,
        text[0].upper() + text[1:],
        low,
        high,
        noun=key,
        infotext=key,
        step=0.01 if high <= 1 else 0.05 if high <= 8 else 0.5,
        help=f"Soft inpainting: {text}, {low:g}..{high:g}.",
    )


# The inpaint parameters: one line each decides the request's field (type, default), its check, the
# API's RequestParams field, the tab's control and the infotext pair (in this order, the WebUI's).
# Adding a parameter = adding a line here (see docs/ARCHITECTURE.md, "Parameter tables").
INPAINT_FIELDS: tuple[Field, ...] = (
    Field("prompt", str, "", "Prompt", lines=2),
    Field("negative_prompt", str, "", "Negative prompt"),
    Field("steps", int, 20, "Sampling steps", 1, 150, step=1, noun="Steps", infotext="Steps"),
    Field("sampler", str, "Euler a", "Sampler", infotext="Sampler", control="dropdown"),
    Field("scheduler", str, "Automatic", "Schedule type", infotext="Schedule type", infotext_default=False, control="dropdown"),
    Field("cfg_scale", float, 7.5, "CFG scale", 0.0, 30.0, step=0.5, infotext="CFG scale", elem="cfg"),
    Field(
        "seed",
        int,
        -1,
        "Seed (-1 = random)",
        -1,
        MAX_SEED,
        help="-1 = random",
        infotext="Seed",
        control="number",
        error=f"Seed must be -1 (random) or 0..{MAX_SEED}.",
    ),
    Field("model", str, "", "Model", infotext="Model", infotext_default=False, control=None),
    Field(
        "denoising_strength",
        float,
        1.0,
        "Denoising strength",
        0.0,
        1.0,
        above=True,
        step=0.01,
        infotext="Denoising strength",
        elem="denoise",
    ),
    Field(
        "mask_blur",
        int,
        4,
        "Mask blur / feather (px)",
        0,
        64,
        step=1,
        infotext="Mask blur",
        error="Mask blur must be 0..64 pixels.",
    ),
    Field("masked_content", str, "original", "Masked content", choices=MASKED_CONTENT, infotext="Masked content"),
    Field(
        "inpaint_area",
        str,
        "only masked",
        "Inpaint area",
        choices=INPAINT_AREAS,
        infotext="Inpaint area",
        infotext_words={"only masked": "Only masked", "whole": "Whole picture"},
    ),
    Field(
        "padding",
        int,
        32,
        "Only masked padding (px)",
        0,
        512,
        step=4,
        ui_maximum=256,
        infotext="Only masked padding, pixels",
        error="Only-masked padding must be 0..512 pixels.",
    ),
    Field(
        "color_match",
        bool,
        False,
        "Match colours at the seam",
        noun="Colour match",
        infotext="Color match",
        infotext_default=False,
    ),
    Field(
        "soft_inpainting",
        bool,
        False,
        "Soft inpainting",
        help="The WebUI's Soft Inpainting (backend 'webui' only).",
        infotext="Soft inpainting enabled",
        elem="soft_enabled",
    ),
    _soft("soft_schedule_bias", "Soft inpainting schedule bias", 1.0, 0.0, 8.0),
    _soft("soft_preservation_strength", "Soft inpainting preservation strength", 0.5, 0.0, 8.0),
    _soft("soft_transition_contrast", "Soft inpainting transition contrast boost", 4.0, 1.0, 32.0),
    _soft("soft_mask_influence", "Soft inpainting mask influence", 0.0, 0.0, 1.0),
    _soft("soft_difference_threshold", "Soft inpainting difference threshold", 0.5, 0.0, 8.0),
    _soft("soft_difference_contrast", "Soft inpainting difference contrast", 2.0, 0.0, 8.0),
    Field("batch_count", int, 1, "Batch count", 1, 16, step=1, error="Batch count must be 1..16."),
)
INPAINT = fields.by_name(INPAINT_FIELDS)
# the Soft Inpainting script's parameters (host order, after its "enabled" checkbox): our field, the
# infotext key the script writes, its default and its slider range
SOFT_INPAINTING_ENABLED = ("soft_inpainting", INPAINT["soft_inpainting"].infotext)
SOFT_INPAINTING_PARAMS: tuple[tuple[str, str, float, float, float], ...] = tuple(
    (f.name, f.infotext, f.default, f.minimum, f.maximum)
    for f in INPAINT_FIELDS
    if f.name.startswith("soft_") and f.type is float
)  # type: ignore[misc]
_SOFT_FIELDS = {SOFT_INPAINTING_ENABLED[0], *(name for name, *_ in SOFT_INPAINTING_PARAMS)}


class _InpaintRequestMethods:
    def validated(self) -> InpaintRequest:
        """Return self after checking every field; raises InvalidInputError with the field named."""
        fields.validate(INPAINT_FIELDS, self)
        return self  # type: ignore[return-value]

    def soft_inpainting_args(self) -> list[Any]:
        """The Soft Inpainting script's arguments: enabled, then its six parameters (host order)."""
        return [bool(self.soft_inpainting), *(float(getattr(self, name)) for name, *_ in SOFT_INPAINTING_PARAMS)]  # type: ignore[attr-defined]

    def resolved(self, rng: random.Random | None = None) -> InpaintRequest:
        """A validated copy whose seed is concrete (a random one replaces -1)."""
        self.validated()
        if self.seed != -1:  # type: ignore[attr-defined]
            return dataclasses.replace(self)  # type: ignore[type-var]
        return dataclasses.replace(self, seed=(rng or random.SystemRandom()).randint(0, MAX_SEED))  # type: ignore[type-var]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InpaintRequest:
        """Build from a plain dict (API/JSON); unknown keys are an error, not silently ignored."""
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(f"Unknown inpaint parameter(s): {', '.join(unknown)}.")
        return cls(**data).validated()  # type: ignore[call-arg]

    @classmethod
    def from_ui(cls, values: dict[str, Any]) -> InpaintRequest:
        """From control values by field name (gradio's floats and shown words made the fields' types/ids)."""
        return cls(**fields.from_ui(INPAINT_FIELDS, values)).validated()  # type: ignore[call-arg]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


InpaintRequest = dataclasses.make_dataclass(
    "InpaintRequest",
    [
        *((f.name, f.type, dataclasses.field(default=f.default)) for f in INPAINT_FIELDS),
        ("extra", dict[str, Any], dataclasses.field(default_factory=dict)),
    ],
    bases=(_InpaintRequestMethods,),
    namespace={
        "__module__": __name__,
        "__doc__": """Everything that decides an inpaint result, apart from the image and the mask.

    Its fields are :data:`INPAINT_FIELDS` (plus ``extra``, free pairs for the infotext).
    ``seed`` -1 means random; :meth:`resolved` returns a copy with the seed actually used.
    ``masked_content`` follows the WebUI: fill / original / latent noise / latent nothing.
    ``inpaint_area`` "only masked" crops around the mask (plus ``padding`` pixels of context) and
    generates that crop at the model's native resolution.
    ``soft_inpainting`` and the ``soft_*`` parameters drive the WebUI's Soft Inpainting script (WebUI
    checkpoint backend only): schedule bias, preservation strength, transition contrast boost, and
    the pixel composite's mask influence, difference threshold and difference contrast.
    """,
    },
)


# Infotext: the WebUI's "parameters" text, so PNG Info and "Send to img2img" understand our PNGs.
_quote = fields.quote


_SAMPLING_FIELDS = ("steps", "sampler", "scheduler", "cfg_scale", "denoising_strength", "masked_content")
# what a weight-free fill (a cleaner, a pre-fill) does not use: sampling, the seed (unless the fill is
# seeded, e.g. PatchMatch) and the only-masked crop (a removal always works on its own crop)
_FILL_UNUSED = (*_SAMPLING_FIELDS, "seed", "inpaint_area", "padding")


def infotext(
    request: InpaintRequest,
    size: tuple[int, int],
    extra: dict[str, Any] | None = None,
    *,
    sampling: bool = True,
    seeded: bool | None = None,
) -> str:
    """The WebUI-style parameters text for a result of ``size`` (width, height).

    The pairs are :data:`INPAINT_FIELDS`' infotext keys, in the table's order, with ``Size`` after the
    seed. ``sampling=False`` (weight-free fills) writes only what influenced the result: no sampler,
    steps, CFG, denoising, masked content, inpaint area or padding, and no seed unless ``seeded``. The
    text never starts with an empty line: without a prompt it is the parameters line alone (which the
    WebUI's PNG Info and our parser read as parameters, it has at least three of them)."""
    omit = set() if sampling else set(_FILL_UNUSED) - ({"seed"} if seeded else set())
    if not (sampling and request.soft_inpainting):
        omit |= _SOFT_FIELDS
    cut = [f.name for f in INPAINT_FIELDS].index("seed") + 1  # the WebUI writes Size after Seed
    pairs = [
        *fields.infotext_pairs(INPAINT_FIELDS[:cut], request, omit=omit),
        ("Size", f"{size[0]}x{size[1]}"),
        *fields.infotext_pairs(INPAINT_FIELDS[cut:], request, omit=omit),
        *(extra or {}).items(),
    ]
    lines = [request.prompt] if request.prompt else []
    if request.negative_prompt:
        lines.append(f"Negative prompt: {request.negative_prompt}")
    return "\n".join([*lines, ", ".join(f"{key}: {fields.quote(value)}" for key, value in pairs)])


_PAIR = re.compile(r'\s*([\w ,\-+./()]+?):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')


def parse_infotext(text: str) -> tuple[InpaintRequest, dict[str, str]]:
    """Parse our (or the WebUI's) parameters text back into a request plus the unknown pairs."""
    lines = text.strip().split("\n")
    params_line = lines[-1] if len(lines) > 1 or ":" in lines[-1] else ""
    body = lines[:-1] if params_line else lines
    prompt_lines, negative = [], ""
    for i, line in enumerate(body):
        if line.startswith("Negative prompt:"):
            negative = "\n".join([line[len("Negative prompt:") :].strip(), *body[i + 1 :]])
            break
        prompt_lines.append(line)
    values: dict[str, str] = {}
    for key, raw in _PAIR.findall(params_line):
        value = raw.strip()
        if value.startswith('"') and value.endswith('"'):
            value = value[1:-1].replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        values[key.strip()] = value
    kwargs, leftover = fields.from_infotext(INPAINT_FIELDS, values)
    kwargs.update(prompt="\n".join(prompt_lines), negative_prompt=negative)
    return InpaintRequest(**kwargs), leftover
