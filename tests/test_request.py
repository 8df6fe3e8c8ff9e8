"""The inpaint request type: validation, seeds, and the WebUI-compatible infotext round trip."""

from __future__ import annotations

import random

import pytest

from inpaint_anything.errors import InvalidInputError
from inpaint_anything.inpaint.request import InpaintRequest, infotext, parse_infotext


def test_defaults_are_valid_and_seed_is_resolved():
    req = InpaintRequest().resolved(random.Random(3))
    assert 0 <= req.seed <= 2**32 - 1
    assert InpaintRequest(seed=42).resolved().seed == 42


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("steps", 0, "Steps"),
        ("steps", 151, "Steps"),
        ("seed", -2, "Seed"),
        ("denoising_strength", 0.0, "Denoising"),
        ("masked_content", "blur", "Masked content"),
        ("inpaint_area", "crop", "Inpaint area"),
        ("mask_blur", 65, "Mask blur"),
        ("padding", -1, "padding"),
        ("batch_count", 0, "Batch count"),
        ("cfg_scale", 31, "CFG"),
    ],
)
def test_bad_fields_are_refused_with_the_field_named(field, value, message):
    with pytest.raises(InvalidInputError, match=message):
        InpaintRequest(**{field: value}).validated()


def test_from_dict_rejects_unknown_keys():
    assert InpaintRequest.from_dict({"prompt": "a cat", "steps": 5}).steps == 5
    with pytest.raises(InvalidInputError, match="stepz"):
        InpaintRequest.from_dict({"stepz": 5})


def test_infotext_round_trip():
    req = InpaintRequest(
        prompt="a red car, photo",
        negative_prompt="blurry\nlow quality",
        seed=1234,
        steps=12,
        cfg_scale=6.5,
        sampler="DPM++ 2M",
        scheduler="Karras",
        denoising_strength=0.8,
        masked_content="latent noise",
        mask_blur=6,
        inpaint_area="whole",
        padding=40,
        color_match=True,
        model="sd15-inpaint: v1",
    )
    text = infotext(req, (640, 480), {"Inpaint Anything": "0.1.0"})
    lines = text.split("\n")
    assert lines[0] == "a red car, photo"
    assert lines[1] == "Negative prompt: blurry"
    assert "Size: 640x480" in lines[-1]
    assert "Sampler: DPM++ 2M" in lines[-1]
    assert "Schedule type: Karras" in lines[-1]
    assert 'Model: "sd15-inpaint: v1"' in lines[-1]
    back, extra = parse_infotext(text)
    assert back == req
    assert extra == {"Size": "640x480", "Inpaint Anything": "0.1.0"}


def test_parse_webui_infotext():
    text = (
        "a photo of a cat\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 5, Size: 512x512, "
        "Model hash: abc, Denoising strength: 0.75, Mask blur: 4, Inpaint area: Only masked, Only masked padding, pixels: 32"
    )
    req, extra = parse_infotext(text)
    assert (req.prompt, req.steps, req.sampler, req.cfg_scale, req.seed) == ("a photo of a cat", 20, "Euler a", 7.0, 5)
    assert (req.inpaint_area, req.padding, req.denoising_strength) == ("only masked", 32, 0.75)
    assert extra["Model hash"] == "abc"
