"""Soft inpainting: request fields, API schema, the diffusers refusal, and the WebUI checkpoint backend
driving the host's built-in "Soft Inpainting" script (the stand-ins' version of it)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from inpaint_anything.errors import InvalidInputError, UnavailableError
from inpaint_anything.inpaint.request import SOFT_INPAINTING_PARAMS, InpaintRequest, infotext, parse_infotext

V1_10_1_KEYS = [
    "Soft inpainting enabled",
    "Soft inpainting schedule bias",
    "Soft inpainting preservation strength",
    "Soft inpainting transition contrast boost",
    "Soft inpainting mask influence",
    "Soft inpainting difference threshold",
    "Soft inpainting difference contrast",
]


# ---------------------------------------------------------------------------------------------- request
def test_soft_fields_default_off_with_the_hosts_defaults():
    req = InpaintRequest()
    assert req.soft_inpainting is False
    assert req.soft_inpainting_args() == [False, 1.0, 0.5, 4.0, 0.0, 0.5, 2.0]  # v1.10.1's SoftInpaintingSettings default
    assert "Soft inpainting" not in infotext(req.resolved(), (64, 64))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("soft_schedule_bias", 8.5),
        ("soft_preservation_strength", -0.1),
        ("soft_transition_contrast", 0.5),
        ("soft_mask_influence", 1.5),
        ("soft_difference_threshold", 9),
        ("soft_difference_contrast", -1),
        ("soft_mask_influence", True),
    ],
)
def test_soft_ranges_are_checked_with_the_setting_named(field, value):
    label = {name: label for name, label, *_ in SOFT_INPAINTING_PARAMS}[field]
    with pytest.raises(InvalidInputError, match=label[len("Soft inpainting ") :]):
        InpaintRequest(**{field: value}).validated()
    with pytest.raises(InvalidInputError, match="true or false"):
        InpaintRequest(soft_inpainting="yes").validated()


def test_soft_infotext_uses_the_hosts_keys_and_round_trips():
    req = InpaintRequest(
        prompt="a vase",
        seed=7,
        soft_inpainting=True,
        soft_schedule_bias=2.5,
        soft_preservation_strength=1.25,
        soft_transition_contrast=8,
        soft_mask_influence=0.3,
        soft_difference_threshold=1.5,
        soft_difference_contrast=4.0,
    )
    text = infotext(req, (64, 64))
    pairs = [p.split(": ")[0] for p in text.split("\n")[-1].split(", ")]
    assert [k for k in pairs if k.startswith("Soft")] == V1_10_1_KEYS
    assert "Soft inpainting enabled: True" in text and "Soft inpainting transition contrast boost: 8" in text
    back, leftover = parse_infotext(text)
    assert back.soft_inpainting_args() == req.soft_inpainting_args() and not any(k.startswith("Soft") for k in leftover)
    # a WebUI img2img infotext with soft inpainting reads into our fields too
    host, _ = parse_infotext("x\nSteps: 20, Seed: 1, Soft inpainting enabled: True, Soft inpainting preservation strength: 0.75")
    assert host.soft_inpainting is True and host.soft_preservation_strength == 0.75 and host.soft_schedule_bias == 1.0


def test_cleaner_infotext_leaves_soft_keys_out():
    req = InpaintRequest(seed=1, soft_inpainting=True)
    assert "Soft inpainting" not in infotext(req, (8, 8), sampling=False)


@pytest.mark.both_stacks
def test_api_schema_has_the_soft_fields():
    from inpaint_anything.api.schemas import RequestParams, dump, parse

    body = parse(RequestParams, {"soft_inpainting": True, "soft_preservation_strength": 2, "soft_mask_influence": 0.5})
    req = InpaintRequest.from_dict(dump(body, exclude_unset=True))
    assert req.soft_inpainting is True and req.soft_preservation_strength == 2 and req.soft_mask_influence == 0.5
    defaults = InpaintRequest.from_dict(dump(RequestParams()))
    assert defaults.soft_inpainting_args() == InpaintRequest().soft_inpainting_args()
    with pytest.raises(InvalidInputError, match="difference contrast"):
        InpaintRequest.from_dict(dump(parse(RequestParams, {"soft_difference_contrast": 20.0}), exclude_unset=True))


# ---------------------------------------------------------------------------------------------- diffusers
def test_diffusers_backend_refuses_soft_inpainting_before_loading_anything(tiny_sd_inpaint_dir):
    from inpaint_anything.inpaint.diffusers_backend import DiffusersBackend
    from inpaint_anything.inpaint.engine import run_inpaint

    class NoCache:
        def __getattr__(self, name):
            raise AssertionError("the pipeline must not be loaded")

    backend = DiffusersBackend(str(tiny_sd_inpaint_dir), NoCache(), device="cpu", native_override=64)
    image = np.zeros((64, 64, 3), np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[8:40, 8:40] = True
    with pytest.raises(InvalidInputError, match="WebUI checkpoint"):
        run_inpaint(image, mask, InpaintRequest(steps=2, soft_inpainting=True), backend)


# ---------------------------------------------------------------------------------------------- the host
def _image_and_mask():
    from fixtures.images import photo

    image = np.ascontiguousarray(photo("astronaut")[120:184, 160:224])
    mask = np.zeros(image.shape[:2], bool)
    mask[14:50, 18:46] = True
    return image, mask


def _run(host_request: InpaintRequest):
    from inpaint_anything.inpaint.engine import run_inpaint
    from inpaint_anything.webui.backend import WebuiCheckpointBackend

    image, mask = _image_and_mask()
    return run_inpaint(image, mask, host_request, WebuiCheckpointBackend(native_override=64))


def _req(**kw) -> InpaintRequest:
    return InpaintRequest(prompt="a helmet", steps=3, seed=11, mask_blur=8, padding=8, inpaint_area="whole", **kw)


def _soft_script(runner):
    (script,) = [s for s in runner.alwayson_scripts if s.title() == "Soft Inpainting"]
    return script


def _write_probe_extension(root):
    """An always-on script with a control (default 0.25) and a UI-only setup that would clobber the seed."""
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "probe.py").write_text(
        textwrap.dedent("""
        from modules import scripts

        SEEN = []

        class Probe(scripts.Script):
            def title(self):
                return "Probe"

            def show(self, is_img2img):
                return scripts.AlwaysVisible

            def ui(self, is_img2img):
                import gradio as gr
                return [gr.Slider(minimum=0, maximum=1, value=0.25, label="probe")]

            def process(self, p, value):
                SEEN.append(("process", value, p.seed))

        class SeedClobber(scripts.ScriptBuiltinUI):
            def title(self):
                return "Seed clobber"

            def ui(self, is_img2img):
                import gradio as gr
                return [gr.Number(value=0, label="seed")]

            def setup(self, p, seed):
                p.seed = seed
    """)
    )


@pytest.mark.both_stacks
def test_soft_inpainting_runs_the_hosts_script_with_our_values(any_webui_host, tiny_sd_inpaint_dir, tmp_path):
    from inpaint_anything.webui import compat

    host = any_webui_host
    assert compat.is_forge() is host.is_forge
    _write_probe_extension(tmp_path / "probe-ext")
    host.stub.load_extension_scripts(tmp_path / "probe-ext")
    runner = host.setup_img2img_scripts()
    host.load_model(tiny_sd_inpaint_dir)
    image, mask = _image_and_mask()

    plain = _run(_req())
    soft = _run(_req(soft_inpainting=True, soft_preservation_strength=0.5, soft_schedule_bias=1.5))
    strong = _run(_req(soft_inpainting=True, soft_preservation_strength=4.0, soft_schedule_bias=1.5))

    script = _soft_script(runner)
    processes = [args for hook, args in script.stub_calls if hook == "process"]
    assert processes == [(True, 1.5, 0.5, 4.0, 0.0, 0.5, 2.0), (True, 1.5, 4.0, 4.0, 0.0, 0.5, 2.0)]
    assert any(hook == "on_mask_blend" for hook, _ in script.stub_calls)
    assert sum(hook == "post_sample" for hook, _ in script.stub_calls) == 2
    # the other always-on script ran at its UI default; the UI-only setup did not touch our seed
    probe = next(d.module for d in host.scripts.scripts_data if d.script_class.__name__ == "Probe")
    assert probe.SEEN == [("process", 0.25, 11), ("process", 0.25, 11)]
    # soft inpainting changes the composite, more preservation keeps more of the original
    inside = mask & (plain.alpha > 0)
    diff = {
        k: np.abs(r.images[0].astype(int) - image)[inside].mean()
        for k, r in (("plain", plain), ("soft", soft), ("strong", strong))
    }
    assert not np.array_equal(plain.images[0], soft.images[0]) and not np.array_equal(soft.images[0], strong.images[0])
    assert diff["strong"] < diff["soft"]
    outside = plain.alpha == 0
    for r in (plain, soft, strong):
        assert np.array_equal(r.images[0][outside], image[outside])
    assert "Soft inpainting preservation strength: 4.0" in strong.infotexts[0]
    assert "Soft inpainting" not in plain.infotexts[0]


def test_soft_inpainting_without_the_script_says_so(webui_host, tiny_sd_inpaint_dir):
    from inpaint_anything.webui.backend import soft_inpainting_status

    webui_host.shared.opts.disabled_extensions = ["soft-inpainting"]  # the user disabled the built-in
    webui_host.load_extension()
    webui_host.setup_img2img_scripts()
    webui_host.load_model(tiny_sd_inpaint_dir)
    assert "disabled or missing" in soft_inpainting_status()
    with pytest.raises(UnavailableError, match="soft-inpainting' extension is disabled or missing.*Turn soft inpainting off"):
        _run(_req(soft_inpainting=True))
    assert _run(_req()).images[0].shape == (64, 64, 3)  # without it, inpainting works as before


def test_soft_inpainting_before_the_scripts_are_set_up_says_so(webui_host, tiny_sd_inpaint_dir):
    from inpaint_anything.webui.backend import soft_inpainting_status

    webui_host.load_extension()  # scripts loaded, but no UI/API has built the img2img runner yet
    webui_host.load_model(tiny_sd_inpaint_dir)
    assert "disabled or missing" in soft_inpainting_status()
    webui_host.scripts.scripts_img2img.initialize_scripts(is_img2img=True)  # instantiated, no controls yet
    assert "not set up" in soft_inpainting_status()
    with pytest.raises(UnavailableError, match="not set up"):
        _run(_req(soft_inpainting=True))


def test_a_failing_soft_inpainting_script_is_an_error_not_a_silent_no_op(webui_host, tiny_sd_inpaint_dir, monkeypatch):
    webui_host.load_extension()
    runner = webui_host.setup_img2img_scripts()
    webui_host.load_model(tiny_sd_inpaint_dir)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(_soft_script(runner), "process", broken)
    with pytest.raises(UnavailableError, match="did not run"):
        _run(_req(soft_inpainting=True))
    assert any("boom" in e["text"] for e in webui_host.reported_errors)  # the host reported it, as it does
