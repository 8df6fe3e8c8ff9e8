"""ControlNet inpainting: the one option table, the control image, the units and their infotext.

Inpainting with ControlNet lets any (non-inpainting) checkpoint inpaint well: the inpaint ControlNet
(``control_v11p_sd15_inpaint``; for SDXL a union/"promax" model) sees the picture with the hole
marked and steers the sampler to fill it in keeping with its surroundings. Two backends use what is
declared here:

- the standalone/diffusers backend ``controlnet`` (:mod:`inpaint_anything.inpaint.controlnet_backend`);
- the WebUI backend ``webui_controlnet`` (:mod:`inpaint_anything.webui.controlnet`), which hands the
  units to the host's ControlNet (sd-webui-controlnet on A1111, the built-in one on Forge).

:data:`CONTROLNET_FIELDS` is the table: the :class:`ControlNetOptions` dataclass, the API's
``controlnet`` body, the tab's "ControlNet inpaint" controls and the infotext all follow it. The
infotext is written the way the ControlNet extension writes its units (``ControlNet 0: "Module:
inpaint_only, Model: ..., Weight: 1.0, ..."``), so PNG Info -> Send to img2img restores them there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from inpaint_anything import fields
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.fields import Field

PREPROCESSORS = ("inpaint_only", "inpaint_only+lama", "inpaint_global_harmonious")
CONTROL_MODES = ("Balanced", "My prompt is more important", "ControlNet is more important")
RESIZE_MODES = ("Just Resize", "Crop and Resize", "Resize and Fill")
REFERENCE_MODULE = "reference_only"
# the inpaint ControlNet on the Hub (diffusers format), pinned: the newest commit of the repository that
# could be confirmed here (seen on huggingface.co); `HUB_CONTROLNETS` maps repo id -> revision
HUB_CONTROLNETS: dict[str, str] = {"lllyasviel/control_v11p_sd15_inpaint": "25af21268affbba0c6af4de2f4db19e061f0927f"}
CONTROLNET_FOLDER = "controlnet"  # <models>/controlnet: diffusers folders or single .safetensors files
# the unit's fields as the ControlNet extension writes them (ControlNetUnit.infotext_fields(), display text)
UNIT_KEYS = (
    "Module",
    "Model",
    "Weight",
    "Resize Mode",
    "Processor Res",
    "Threshold A",
    "Threshold B",
    "Guidance Start",
    "Guidance End",
    "Pixel Perfect",
    "Control Mode",
)
PROCESSOR_RES = 512
UNAVAILABLE_HINT = "install sd-webui-controlnet (Extensions tab) and put control_v11p_sd15_inpaint in models/ControlNet"


# The ControlNet inpaint options. `infotext` is the key inside the main unit's text ("ControlNet 0");
# the reference unit ("ControlNet 1") is written from the reference_* fields by `infotext_units`.
CONTROLNET_FIELDS: tuple[Field, ...] = (
    Field(
        "module",
        str,
        "inpaint_only",
        "Preprocessor",
        choices=PREPROCESSORS,
        infotext="Module",
        elem="cn_module",
        help="inpaint_only: keep everything outside the mask; +lama: pre-fill the hole with LaMa first; "
        "global_harmonious: the ControlNet extension's whole-picture variant (WebUI only).",
    ),
    Field(
        "model",
        str,
        "",
        "ControlNet model",
        infotext="Model",
        control="dropdown",
        elem="cn_model",
        help="An inpaint ControlNet: a name from GET /models/inpaint ('controlnet'; empty: the first one found).",
    ),
    Field("weight", float, 1.0, "Control weight", 0.0, 2.0, step=0.05, infotext="Weight", elem="cn_weight"),
    Field(
        "resize_mode", str, "Crop and Resize", "Resize mode", choices=RESIZE_MODES, infotext="Resize Mode", elem="cn_resize_mode"
    ),
    Field(
        "guidance_start",
        float,
        0.0,
        "Starting control step",
        0.0,
        1.0,
        step=0.01,
        infotext="Guidance Start",
        elem="cn_guidance_start",
    ),
    Field(
        "guidance_end", float, 1.0, "Ending control step", 0.0, 1.0, step=0.01, infotext="Guidance End", elem="cn_guidance_end"
    ),
    Field(
        "control_mode", str, "Balanced", "Control mode", choices=CONTROL_MODES, infotext="Control Mode", elem="cn_control_mode"
    ),
    Field(
        "reference",
        bool,
        False,
        "Reference unit (reference_only, fed with the original picture)",
        noun="Reference unit",
        elem="cn_reference",
        help="A second unit, reference_only, with the original picture: the fill follows its style (WebUI only).",
    ),
    Field("reference_weight", float, 1.0, "Reference weight", 0.0, 2.0, step=0.05, elem="cn_reference_weight"),
    Field(
        "style_fidelity",
        float,
        0.5,
        "Style fidelity (reference, Balanced mode)",
        0.0,
        1.0,
        step=0.01,
        noun="Style fidelity",
        elem="cn_style_fidelity",
    ),
)
CONTROLNET = fields.by_name(CONTROLNET_FIELDS)


class _Methods:
    def validated(self) -> ControlNetOptions:
        fields.validate(CONTROLNET_FIELDS, self)
        if self.guidance_start > self.guidance_end:  # type: ignore[attr-defined]
            raise InvalidInputError("The starting control step must not be after the ending control step.")
        return self  # type: ignore[return-value]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ControlNetOptions:
        data = dict(data or {})
        unknown = sorted(set(data) - set(CONTROLNET))
        if unknown:
            raise InvalidInputError(f"Unknown ControlNet option(s): {', '.join(unknown)}.")
        return cls(**data).validated()  # type: ignore[call-arg]

    @classmethod
    def from_ui(cls, values: Mapping[str, Any]) -> ControlNetOptions:
        return cls(**fields.from_ui(CONTROLNET_FIELDS, dict(values))).validated()  # type: ignore[call-arg]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


ControlNetOptions = dataclasses.make_dataclass(
    "ControlNetOptions",
    [(f.name, f.type, dataclasses.field(default=f.default)) for f in CONTROLNET_FIELDS],
    bases=(_Methods,),
    frozen=True,
    namespace={"__module__": __name__, "__doc__": "The options of a ControlNet inpaint run (:data:`CONTROLNET_FIELDS`)."},
)


def control_image(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The inpaint ControlNet's condition: ``image`` (h x w x 3 uint8) as float32 in [0, 1] with the
    masked pixels set to -1, h x w x 3.

    This is the condition control_v11p_sd15_inpaint was trained with; we follow the usage example of
    diffusers' ``StableDiffusionControlNetInpaintPipeline`` (``make_inpaint_condition`` in
    ``pipelines/controlnet/pipeline_controlnet_inpaint.py``, diffusers 0.31: pixels / 255, masked ones
    -1.0, handed to the pipeline as a tensor so its control image processor does not normalise it)."""
    hole = np.asarray(mask).astype(bool)
    if hole.shape != image.shape[:2]:
        raise InvalidInputError("The mask must have the image's size.")
    out = np.asarray(image)[..., :3].astype(np.float32) / 255.0
    out[hole] = -1.0
    return out


def _number(value: float) -> str:
    return repr(float(value))


def units(options: ControlNetOptions, model: str | None = None) -> list[dict[str, Any]]:
    """The ControlNet units of a run as plain dicts of ControlNetUnit fields (sd-webui-controlnet and Forge
    name them alike): the inpaint unit, then the reference_only unit when asked. ``model`` replaces the
    options' model name (the name the host resolved). Images are added by the backend."""
    base = dict(
        enabled=True,
        module=options.module,
        model=model if model is not None else options.model,
        weight=float(options.weight),
        resize_mode=options.resize_mode,
        processor_res=PROCESSOR_RES,
        threshold_a=-1.0,
        threshold_b=-1.0,
        guidance_start=float(options.guidance_start),
        guidance_end=float(options.guidance_end),
        pixel_perfect=False,
        control_mode=options.control_mode,
    )
    out = [base]
    if options.reference:
        out.append(
            {
                **base,
                "module": REFERENCE_MODULE,
                "model": "None",
                "weight": float(options.reference_weight),
                "threshold_a": float(options.style_fidelity),
                "threshold_b": -1.0,
            }
        )
    return out


def _unit_text(unit: Mapping[str, Any]) -> str:
    values = {
        "Module": unit["module"],
        "Model": unit["model"] or "None",
        "Weight": _number(unit["weight"]),
        "Resize Mode": unit["resize_mode"],
        "Processor Res": unit["processor_res"],
        "Threshold A": _number(unit["threshold_a"]),
        "Threshold B": _number(unit["threshold_b"]),
        "Guidance Start": _number(unit["guidance_start"]),
        "Guidance End": _number(unit["guidance_end"]),
        "Pixel Perfect": unit["pixel_perfect"],
        "Control Mode": unit["control_mode"],
    }
    for key, value in values.items():
        if "," in str(value) or ":" in str(value):
            raise InvalidInputError(
                f"The ControlNet {key.lower()} {value!r} cannot be written to the infotext "
                "(it holds ',' or ':'); rename the model file."
            )
    return ", ".join(f"{key}: {values[key]}" for key in UNIT_KEYS)


def infotext_units(options: ControlNetOptions, model: str | None = None) -> dict[str, str]:
    """``{"ControlNet 0": "Module: ..., Model: ..., ...", ...}``: the units as the extension writes them."""
    return {f"ControlNet {i}": _unit_text(u) for i, u in enumerate(units(options, model))}


def parse_unit(text: str) -> dict[str, str]:
    """One unit's text back to ``{display key: value}``."""
    out = {}
    for item in text.split(","):
        key, sep, value = item.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def options_from_infotext(pairs: Mapping[str, str]) -> ControlNetOptions | None:
    """The options written by :func:`infotext_units` (the leftover pairs of ``parse_infotext``), or None
    when the text has no inpaint unit."""
    main = ref = None
    for key in sorted(k for k in pairs if k.startswith("ControlNet ")):
        unit = parse_unit(pairs[key])
        if unit.get("Module") in PREPROCESSORS and main is None:
            main = unit
        elif unit.get("Module") == REFERENCE_MODULE and ref is None:
            ref = unit
    if main is None:
        return None
    keys = {f.infotext: f for f in CONTROLNET_FIELDS if f.infotext}
    values, _ = fields.from_infotext(CONTROLNET_FIELDS, {k: v for k, v in main.items() if k in keys})
    if values.get("model") == "None":
        values["model"] = ""
    if ref is not None:
        values.update(
            reference=True, reference_weight=float(ref.get("Weight", 1.0)), style_fidelity=float(ref.get("Threshold A", 0.5))
        )
    return ControlNetOptions(**values).validated()


def can_inpaint(name: str, *, sdxl: bool = False) -> bool:
    """Whether a ControlNet model (file or folder name) can inpaint: "inpaint" in its name, and for
    SDXL also the union models ("union", "promax"), which have an inpaint control type."""
    low = name.lower()
    return "inpaint" in low or (sdxl and ("union" in low or "promax" in low))


__all__ = [
    "CONTROLNET",
    "CONTROLNET_FIELDS",
    "CONTROL_MODES",
    "ControlNetOptions",
    "HUB_CONTROLNETS",
    "PREPROCESSORS",
    "RESIZE_MODES",
    "can_inpaint",
    "control_image",
    "infotext_units",
    "options_from_infotext",
    "units",
]
