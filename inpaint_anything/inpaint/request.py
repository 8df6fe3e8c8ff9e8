"""The one inpaint request type shared by the UI, the REST API, batch mode and PNG infotext."""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass, field
from typing import Any

from inpaint_anything.errors import InvalidInputError

MASKED_CONTENT = ("fill", "original", "latent noise", "latent nothing")
INPAINT_AREAS = ("whole", "only masked")
MAX_SEED = 2**32 - 1

# Soft inpainting (the WebUI's built-in "Soft Inpainting" script, v1.10.1): our field, the infotext
# key the script writes, its default and its slider range, in the order of the script's arguments
# (after its "enabled" checkbox).
SOFT_INPAINTING_ENABLED = ("soft_inpainting", "Soft inpainting enabled")
SOFT_INPAINTING_PARAMS: tuple[tuple[str, str, float, float, float], ...] = (
    ("soft_schedule_bias", "Soft inpainting schedule bias", 1.0, 0.0, 8.0),
    ("soft_preservation_strength", "Soft inpainting preservation strength", 0.5, 0.0, 8.0),
    ("soft_transition_contrast", "Soft inpainting transition contrast boost", 4.0, 1.0, 32.0),
    ("soft_mask_influence", "Soft inpainting mask influence", 0.0, 0.0, 1.0),
    ("soft_difference_threshold", "Soft inpainting difference threshold", 0.5, 0.0, 8.0),
    ("soft_difference_contrast", "Soft inpainting difference contrast", 2.0, 0.0, 8.0),
)


@dataclass
class InpaintRequest:
    """Everything that decides an inpaint result, apart from the image and the mask.

    ``seed`` -1 means random; :meth:`resolved` returns a copy with the seed actually used.
    ``masked_content`` follows the WebUI: fill / original / latent noise / latent nothing.
    ``inpaint_area`` "only masked" crops around the mask (plus ``padding`` pixels of context) and
    generates that crop at the model's native resolution.
    ``soft_inpainting`` and the ``soft_*`` parameters drive the WebUI's Soft Inpainting script (WebUI
    checkpoint backend only): schedule bias, preservation strength, transition contrast boost, and
    the pixel composite's mask influence, difference threshold and difference contrast.
    """

    prompt: str = ""
    negative_prompt: str = ""
    seed: int = -1
    steps: int = 20
    cfg_scale: float = 7.5
    sampler: str = "Euler a"
    scheduler: str = "Automatic"
    denoising_strength: float = 1.0
    masked_content: str = "original"
    mask_blur: int = 4
    inpaint_area: str = "only masked"
    padding: int = 32
    color_match: bool = False
    batch_count: int = 1
    model: str = ""
    soft_inpainting: bool = False
    soft_schedule_bias: float = 1.0
    soft_preservation_strength: float = 0.5
    soft_transition_contrast: float = 4.0
    soft_mask_influence: float = 0.0
    soft_difference_threshold: float = 0.5
    soft_difference_contrast: float = 2.0
    extra: dict[str, Any] = field(default_factory=dict)

    def validated(self) -> InpaintRequest:
        """Return self after checking every field; raises InvalidInputError with the field name."""
        def need(cond: bool, message: str) -> None:
            if not cond:
                raise InvalidInputError(message)

        need(isinstance(self.prompt, str) and isinstance(self.negative_prompt, str), "Prompts must be text.")
        need(isinstance(self.seed, int) and -1 <= self.seed <= MAX_SEED, f"Seed must be -1 (random) or 0..{MAX_SEED}.")
        need(isinstance(self.steps, int) and 1 <= self.steps <= 150, "Steps must be between 1 and 150.")
        need(0.0 <= float(self.cfg_scale) <= 30.0, "CFG scale must be between 0 and 30.")
        need(0.0 < float(self.denoising_strength) <= 1.0, "Denoising strength must be above 0 and at most 1.")
        need(self.masked_content in MASKED_CONTENT, f"Masked content must be one of: {', '.join(MASKED_CONTENT)}.")
        need(self.inpaint_area in INPAINT_AREAS, f"Inpaint area must be one of: {', '.join(INPAINT_AREAS)}.")
        need(isinstance(self.mask_blur, int) and 0 <= self.mask_blur <= 64, "Mask blur must be 0..64 pixels.")
        need(isinstance(self.padding, int) and 0 <= self.padding <= 512, "Only-masked padding must be 0..512 pixels.")
        need(isinstance(self.batch_count, int) and 1 <= self.batch_count <= 16, "Batch count must be 1..16.")
        need(isinstance(self.soft_inpainting, bool), "Soft inpainting must be true or false.")
        for name, label, _default, low, high in SOFT_INPAINTING_PARAMS:
            value = getattr(self, name)
            need(isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high,
                 f"{label[0].upper() + label[1:]} must be between {low:g} and {high:g}.")
        return self

    def soft_inpainting_args(self) -> list[Any]:
        """The Soft Inpainting script's arguments: enabled, then its six parameters (host order)."""
        return [bool(self.soft_inpainting), *(float(getattr(self, name)) for name, *_ in SOFT_INPAINTING_PARAMS)]

    def resolved(self, rng: random.Random | None = None) -> InpaintRequest:
        """A validated copy whose seed is concrete (a random one replaces -1)."""
        self.validated()
        if self.seed != -1:
            return dataclasses.replace(self)
        return dataclasses.replace(self, seed=(rng or random.SystemRandom()).randint(0, MAX_SEED))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InpaintRequest:
        """Build from a plain dict (API/JSON); unknown keys are an error, not silently ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(f"Unknown inpaint parameter(s): {', '.join(unknown)}.")
        return cls(**data).validated()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Infotext: the WebUI's "parameters" text, so PNG Info and "Send to img2img" understand our PNGs.
_INFOTEXT_FIELDS = (
    ("Steps", "steps"),
    ("Sampler", "sampler"),
    ("Schedule type", "scheduler"),
    ("CFG scale", "cfg_scale"),
    ("Seed", "seed"),
    ("Size", None),
    ("Model", "model"),
    ("Denoising strength", "denoising_strength"),
    ("Mask blur", "mask_blur"),
    ("Masked content", "masked_content"),
    ("Inpaint area", "inpaint_area"),
    ("Only masked padding, pixels", "padding"),
    ("Color match", "color_match"),
    (SOFT_INPAINTING_ENABLED[1], SOFT_INPAINTING_ENABLED[0]),
    *((label, name) for name, label, *_ in SOFT_INPAINTING_PARAMS),
)
_SOFT_FIELDS = {SOFT_INPAINTING_ENABLED[0], *(name for name, *_ in SOFT_INPAINTING_PARAMS)}


def _quote(value: str) -> str:
    text = str(value)
    if "," in text or ":" in text or '"' in text or "\n" in text:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


_SAMPLING_FIELDS = ("steps", "sampler", "scheduler", "cfg_scale", "denoising_strength", "masked_content")
# what a weight-free fill (a cleaner, a pre-fill) does not use: sampling, the seed (unless the fill is
# seeded, e.g. PatchMatch) and the only-masked crop (a removal always works on its own crop)
_FILL_UNUSED = (*_SAMPLING_FIELDS, "seed", "inpaint_area", "padding")


def infotext(request: InpaintRequest, size: tuple[int, int], extra: dict[str, Any] | None = None, *,
             sampling: bool = True, seeded: bool | None = None) -> str:
    """The WebUI-style parameters text for a result of ``size`` (width, height).

    ``sampling=False`` (weight-free fills) writes only what influenced the result: no sampler, steps,
    CFG, denoising, masked content, inpaint area or padding, and no seed unless ``seeded``. The text
    never starts with an empty line: without a prompt it is the parameters line alone (which the
    WebUI's PNG Info and our parser read as parameters, it has at least three of them)."""
    omit = set() if sampling else set(_FILL_UNUSED) - ({"seed"} if seeded else set())
    parts = []
    for label, attr in _INFOTEXT_FIELDS:
        if attr in omit or attr in _SOFT_FIELDS and not (sampling and request.soft_inpainting):
            continue
        if attr is None:
            value: Any = f"{size[0]}x{size[1]}"
        else:
            value = getattr(request, attr)
            if attr == "inpaint_area":
                value = "Only masked" if value == "only masked" else "Whole picture"
            elif attr == "scheduler" and value == "Automatic" or attr == "model" and not value or attr == "color_match" and not value:
                continue
        parts.append(f"{label}: {_quote(value)}")
    for key, value in (extra or {}).items():
        parts.append(f"{key}: {_quote(value)}")
    lines = [request.prompt] if request.prompt else []
    if request.negative_prompt:
        lines.append(f"Negative prompt: {request.negative_prompt}")
    return "\n".join([*lines, ", ".join(parts)])


_PAIR = re.compile(r'\s*([\w ,\-+./()]+?):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')


def parse_infotext(text: str) -> tuple[InpaintRequest, dict[str, str]]:
    """Parse our (or the WebUI's) parameters text back into a request plus the unknown pairs."""
    lines = text.strip().split("\n")
    params_line = lines[-1] if len(lines) > 1 or ":" in lines[-1] else ""
    body = lines[:-1] if params_line else lines
    prompt_lines, negative = [], ""
    for i, line in enumerate(body):
        if line.startswith("Negative prompt:"):
            negative = "\n".join([line[len("Negative prompt:"):].strip(), *body[i + 1:]])
            break
        prompt_lines.append(line)
    values: dict[str, str] = {}
    for key, raw in _PAIR.findall(params_line):
        value = raw.strip()
        if value.startswith('"') and value.endswith('"'):
            value = value[1:-1].replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        values[key.strip()] = value
    kwargs: dict[str, Any] = {"prompt": "\n".join(prompt_lines), "negative_prompt": negative}
    casts = {f.name: f.type for f in dataclasses.fields(InpaintRequest)}
    leftover = {}
    for key, value in values.items():
        attr = dict(_INFOTEXT_FIELDS).get(key)
        if attr is None:
            leftover[key] = value
            continue
        if attr == "inpaint_area":
            kwargs[attr] = "only masked" if value.lower() == "only masked" else "whole"
        elif casts[attr] in ("int", int):
            kwargs[attr] = int(float(value))
        elif casts[attr] in ("float", float):
            kwargs[attr] = float(value)
        elif casts[attr] in ("bool", bool):
            kwargs[attr] = value.lower() == "true"
        else:
            kwargs[attr] = value
    return InpaintRequest(**kwargs), leftover
