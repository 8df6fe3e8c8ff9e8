"""Every face of a parameter table agrees with the table (issue #19): the request dataclass, the
core's checks, the API bodies, the gradio controls that the tab and the img2img script build, the
infotext keys and the batch CLI options. Each check compares a face with a table given to it, so
a deliberately changed copy of a table must be caught (the last tests)."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from inpaint_anything import fields
from inpaint_anything.api.field_models import model_fields
from inpaint_anything.errors import InvalidInputError
from inpaint_anything.fields import Field
from inpaint_anything.inpaint.cleaner import REMOVE_FIELDS
from inpaint_anything.inpaint.request import INPAINT_FIELDS, InpaintRequest, infotext, parse_infotext
from inpaint_anything.outpaint.params import EXPANSION_FIELDS, OUTPAINT_FIELDS, SETTINGS_FIELDS, ui_start


# ---------------------------------------------------------------------------------------------- face checks
def dataclass_problems(table, cls, *, only=None) -> list[str]:
    have = {f.name: f for f in dataclasses.fields(cls)}
    found = fields.dataclass_defaults(cls)
    out = []
    for f in table:
        if only is not None and f.name not in only:
            continue
        if f.name not in have:
            out.append(f"{cls.__name__} lacks {f.name}")
        elif found[f.name] != f.default:
            out.append(f"{cls.__name__}.{f.name} default {found[f.name]!r} != {f.default!r}")
        elif have[f.name].type not in (f.type, f.type.__name__):
            out.append(f"{cls.__name__}.{f.name} type {have[f.name].type!r} != {f.type!r}")
    return out


def check_problems(table) -> list[str]:
    """The core's check accepts the default and each end of the range, refuses what is outside."""
    out = []
    for f in table:
        if not f.accepts(f.default):
            out.append(f"{f.name}: default {f.default!r} refused")
        bad = []
        if f.choices is not None:
            bad.append("no such choice")
        if f.type in (int, float):
            step = f.step or 1
            if f.minimum is not None:
                bad.append(f.minimum if f.above else f.type(f.minimum - step))
            if f.maximum is not None:
                bad.append(f.type(f.maximum + step))
        for value in bad:
            if f.accepts(value):
                out.append(f"{f.name}: {value!r} accepted")
    return out


def _literal_args(annotation) -> tuple | None:
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is typing.Literal:
            return typing.get_args(arg)
    return None


def model_problems(table, model, *, only=None) -> list[str]:
    have = model_fields(model)
    out = []
    for f in table:
        if only is not None and f.name not in only:
            continue
        if f.name not in have:
            out.append(f"{model.__name__} lacks {f.name}")
            continue
        default, annotation, description = have[f.name]
        expected = f.default
        if default != expected:
            out.append(f"{model.__name__}.{f.name} default {default!r} != {expected!r}")
        if f.choices is not None and f.api_literal and tuple(_literal_args(annotation) or ()) != tuple(f.choices):
            out.append(f"{model.__name__}.{f.name} choices {_literal_args(annotation)} != {f.choices}")
        if (description or "") != f.help:
            out.append(f"{model.__name__}.{f.name} description {description!r} != {f.help!r}")
    return out


def _choice_values(component) -> list:
    return [c[0] if isinstance(c, (list, tuple)) else c for c in component.choices]


def control_problems(table, controls: dict, *, start=lambda f: f.default, own_choices=()) -> list[str]:
    """Controls by field name agree with the table: label, start value, range and step, choices."""
    out = []
    for f in table:
        comp = controls.get(f.name)
        if f.kind is None or comp is None:
            if f.kind is not None:
                out.append(f"no control for {f.name}")
            continue
        where = f"{f.name} ({type(comp).__name__})"
        if comp.label != f.label:
            out.append(f"{where}: label {comp.label!r} != {f.label!r}")
        if comp.value != f.shown(start(f)):
            out.append(f"{where}: value {comp.value!r} != {f.shown(start(f))!r}")
        if f.kind == "slider":
            low, high = f.slider_range
            if (comp.minimum, comp.maximum) != (low, high) or comp.step != (f.step or (1 if f.type is int else 0.01)):
                out.append(f"{where}: range {(comp.minimum, comp.maximum, comp.step)} != {(low, high, f.step)}")
        if (
            f.kind in ("radio", "dropdown")
            and f.name not in own_choices
            and _choice_values(comp) != [f.shown(c) for c in f.choices or ()]
        ):
            out.append(f"{where}: choices {_choice_values(comp)} != {f.choices}")
        if f.from_ui(comp.value) != start(f):
            out.append(f"{where}: its value reads back as {f.from_ui(comp.value)!r}, not {start(f)!r}")
    return out


def infotext_problems(table, request) -> list[str]:
    text = infotext(request, (64, 48))
    back, _extra = parse_infotext(text)
    out = [f"infotext lacks {f.infotext!r}" for f in table if f.infotext and f"{f.infotext}: " not in text]
    out += [
        f"{f.name} reads back as {getattr(back, f.name)!r}"
        for f in table
        if f.infotext and getattr(back, f.name) != getattr(request, f.name)
    ]
    return out


def _changed(f: Field):
    """A valid value other than the default."""
    if f.choices is not None:
        return next(c for c in f.choices if c != f.default)
    if f.type is bool:
        return not f.default
    if f.type is str:
        return f.default + "x, y: z"
    if f.maximum is not None and f.default == f.maximum:
        return f.type(f.default - (f.step or 1))
    return f.type(f.default + (f.step or 1))


def _all_changed(table, cls=InpaintRequest):
    return cls(**{f.name: _changed(f) for f in table})


# ---------------------------------------------------------------------------------------------- inpaint
def test_inpaint_request_check_and_infotext_follow_the_table():
    assert dataclass_problems(INPAINT_FIELDS, InpaintRequest) == []
    assert [f.name for f in dataclasses.fields(InpaintRequest)] == [*(f.name for f in INPAINT_FIELDS), "extra"]
    assert check_problems(INPAINT_FIELDS) == []
    assert infotext_problems(INPAINT_FIELDS, _all_changed(INPAINT_FIELDS)) == []
    InpaintRequest().validated()
    for f in INPAINT_FIELDS:  # each field's refusal names it
        if f.choices is not None or f.maximum is not None:
            bad = "no such choice" if f.choices is not None else f.type(f.maximum + (f.step or 1))
            with pytest.raises(Exception, match=f.what.split()[0]):
                InpaintRequest(**{f.name: bad}).validated()


@pytest.mark.both_stacks
def test_api_bodies_follow_the_tables():
    from inpaint_anything.api.schemas import BatchBody, ExpansionBody, OutpaintBody, RemoveBody, RequestParams
    from inpaint_anything.inpaint.cleaner import REMOVE

    assert model_problems(INPAINT_FIELDS, RequestParams, only=[f.name for f in INPAINT_FIELDS if f.name != "model"]) == []
    assert "model" not in model_fields(RequestParams)  # GenerateBody.model says which model
    assert model_problems(EXPANSION_FIELDS, ExpansionBody) == []
    assert model_problems(SETTINGS_FIELDS, OutpaintBody) == []
    assert model_problems(SETTINGS_FIELDS, BatchBody) == []
    assert model_problems(REMOVE_FIELDS, RemoveBody, only=("method", "mask_blur", "padding")) == []
    assert model_fields(BatchBody)["method"][0] == REMOVE["method"].default


@pytest.mark.both_stacks
def test_the_tabs_inpaint_and_remove_controls_follow_the_tables(tmp_path):
    import gradio as gr

    from inpaint_anything.inpaint.cleaner import REMOVE, default_cleaner
    from inpaint_anything.ui.handlers import HostHooks
    from inpaint_anything.ui.tab import GENERATION_LAYOUT, _generation_controls, _soft_inpainting_controls

    with gr.Blocks():
        gen = _generation_controls(HostHooks())
        soft = _soft_inpainting_controls(HostHooks(soft_inpainting=lambda: None))
    controls = {**gen, **soft}
    assert control_problems(INPAINT_FIELDS, controls, own_choices=("sampler", "scheduler")) == []
    assert {f.name for f in INPAINT_FIELDS if f.kind} == set(controls)
    assert {n for row in GENERATION_LAYOUT for n in row} <= set(gen)  # a field it does not name gets its own row
    assert all(c.elem_id == f"ia_{f.elem or f.name}" for f in INPAINT_FIELDS if (c := controls.get(f.name)))
    # the whole tab: the remove controls start with the table's default method (or its documented fallback)
    tab_controls = _built_tab_controls(tmp_path)
    assert tab_controls["ia_cleaner"].value == default_cleaner()
    assert control_problems([REMOVE["grow_px"]], {"grow_px": tab_controls["ia_cleaner_grow"]}) == []
    assert tab_controls["ia_cleaner"].label == REMOVE["method"].label


def _built_tab_controls(tmp_path) -> dict:
    from inpaint_anything.app import App
    from inpaint_anything.config import Settings
    from inpaint_anything.ui.tab import build_tab

    root = tmp_path / "tab"
    (root / "models").mkdir(parents=True)
    app = App(Settings(models_dir=str(root / "models"), output_dir=str(root / "out"), sam_device="cpu", offline=True))
    tab = build_tab(app)
    return {b.elem_id: b for b in tab.blocks.values() if getattr(b, "elem_id", None)}


def test_the_batch_cli_takes_the_inpaint_and_outpaint_fields():
    import argparse

    from inpaint_anything.cli_batch import _add_batch_parser, cli_inpaint_fields
    from inpaint_anything.outpaint.params import OUTPAINT

    parser = _add_batch_parser(argparse.ArgumentParser().add_subparsers())
    args = parser.parse_args(["--output", "x"])
    for f in cli_inpaint_fields():
        assert getattr(args, f.name) is None  # unset: InpaintRequest's default
    changed = {f.name: _changed(f) for f in cli_inpaint_fields()}
    argv = ["--output", "x"]
    for name, value in changed.items():
        flag = "--" + name.replace("_", "-")
        argv += [flag] if isinstance(value, bool) else [flag, str(value)]
    args = parser.parse_args(argv)
    assert {n: getattr(args, n) for n in changed} == changed
    assert (args.prefill, args.overlap, args.strategy) == tuple(
        OUTPAINT[n].default for n in ("prefill", "overlap_px", "strategy")
    )
    assert (args.balance_x, args.balance_y, args.expand_right) == (
        OUTPAINT["balance_x"].default,
        OUTPAINT["balance_y"].default,
        OUTPAINT["right"].default,
    )


@pytest.mark.both_stacks
def test_the_batch_engine_fields_follow_the_table():
    """One table (ENGINE_FIELDS): EngineOptions, the CLI flags and POST /batch's fields."""
    import argparse

    from inpaint_anything.api.schemas import BatchBody
    from inpaint_anything.batch_spec import ENGINE_FIELDS, EngineOptions
    from inpaint_anything.cli_batch import _add_batch_parser, _engine

    assert dataclass_problems(ENGINE_FIELDS, EngineOptions) == []
    assert [f.name for f in dataclasses.fields(EngineOptions)] == [f.name for f in ENGINE_FIELDS]
    assert check_problems(ENGINE_FIELDS) == []
    assert model_problems(ENGINE_FIELDS, BatchBody) == []
    parser = _add_batch_parser(argparse.ArgumentParser().add_subparsers())
    assert _engine(parser.parse_args(["--output", "x"])) == EngineOptions()
    changed = {f.name: _changed(f) for f in ENGINE_FIELDS}
    argv = ["--output", "x"]
    for name, value in changed.items():
        argv += ["--" + name.replace("_", "-"), str(value)]
    assert _engine(parser.parse_args(argv)) == EngineOptions(**changed)
    flags = {a.dest: a for a in parser._actions}
    assert all(flags[f.name].help == f.help for f in ENGINE_FIELDS)
    with pytest.raises(Exception, match="Retries"):
        EngineOptions(max_retries=-1).validated()


# ---------------------------------------------------------------------------------------------- outpaint
def test_outpaint_settings_and_batch_defaults_follow_the_table():
    from inpaint_anything.batch_spec import BatchOptions
    from inpaint_anything.outpaint.engine import OutpaintSettings

    assert dataclass_problems(SETTINGS_FIELDS, OutpaintSettings) == []
    assert dataclass_problems(SETTINGS_FIELDS, BatchOptions) == []
    assert check_problems(OUTPAINT_FIELDS) == []


@pytest.mark.both_stacks
def test_zoom_out_follows_its_table():
    """The API's ``zoom_out`` body and the engine's check (:func:`plan_zoom`) come from ZOOM_FIELDS."""
    from inpaint_anything.api.schemas import ZoomOutBody
    from inpaint_anything.outpaint.engine import plan_zoom
    from inpaint_anything.outpaint.params import ZOOM_FIELDS

    assert model_problems(ZOOM_FIELDS, ZoomOutBody) == []
    assert check_problems(ZOOM_FIELDS) == []
    defaults = {f.name: f.default for f in ZOOM_FIELDS}
    plan_zoom(640, 480, **defaults)  # the defaults are a zoom that works
    for f in ZOOM_FIELDS:
        too_big = f.type(f.maximum + (f.step or 1))
        with pytest.raises(InvalidInputError) as err:
            plan_zoom(640, 480, **{**defaults, f.name: too_big})
        assert str(err.value) == f.refusal()


def test_expansion_from_spec_takes_ids_words_and_the_tables_defaults():
    from inpaint_anything.outpaint.geometry import Expansion, by_aspect, by_scale

    assert Expansion.from_spec({"right": 64}, 100, 80).sides() == {"left": 0, "right": 64, "up": 0, "down": 0}
    assert Expansion.from_spec({"mode": "aspect ratio"}, 100, 100) == by_aspect(100, 100, "16:9")
    assert Expansion.from_spec({"mode": "scale", "scale": 2.0, "balance_x": 0}, 96, 64) == by_scale(96, 64, 2.0, 0.0)
    assert Expansion.from_spec({"mode": "pixels", "left": 16.0, "up": "8"}, 10, 10).sides()["up"] == 8


@pytest.mark.both_stacks
def test_the_tab_and_the_script_build_the_same_outpaint_controls(tmp_path, any_webui_host):
    from test_outpaint_script import _script_ui

    from inpaint_anything.inpaint.controlnet import CONTROLNET_FIELDS
    from inpaint_anything.inpaint.request import INPAINT
    from inpaint_anything.webui.outpaint_script import ARG_NAMES, DEFAULTS, SCRIPT_FIELDS

    tab = _built_tab_controls(tmp_path)
    by_tab = {f.name: tab[f"ia_out_{f.elem or f.name}"] for f in OUTPAINT_FIELDS}
    assert control_problems(OUTPAINT_FIELDS, by_tab, start=ui_start) == []
    _demo, script, _ = _script_ui(any_webui_host)
    by_script = dict(zip(ARG_NAMES, script._controls, strict=True))
    # the ControlNet model dropdown lists the host's models (none here: it starts empty)
    assert (
        control_problems(
            SCRIPT_FIELDS, by_script, start=lambda f: "" if f.name == "model" else ui_start(f), own_choices=("model",)
        )
        == []
    )
    n = len(OUTPAINT_FIELDS)
    assert tuple(f.name for f in SCRIPT_FIELDS) == ARG_NAMES and DEFAULTS[n] == INPAINT["mask_blur"].default
    assert SCRIPT_FIELDS[:n] == OUTPAINT_FIELDS  # then the mask blur: the inpaint field under the script's own label
    assert SCRIPT_FIELDS[n] == dataclasses.replace(INPAINT["mask_blur"], label=SCRIPT_FIELDS[n].label)
    assert SCRIPT_FIELDS[n + 2 :] == CONTROLNET_FIELDS  # after the ControlNet switch: the ControlNet table
    for name, comp in by_tab.items():  # the same control, only the elem_id differs
        other = by_script[name]
        assert (type(comp), comp.label, comp.value, getattr(comp, "choices", None)) == (
            type(other),
            other.label,
            other.value,
            getattr(other, "choices", None),
        ), name


# ---------------------------------------------------------------------------------------------- segment everything
@pytest.mark.both_stacks
def test_segment_everything_options_follow_the_table(tmp_path):
    import argparse
    import inspect

    from inpaint_anything.api.schemas import EverythingOptions
    from inpaint_anything.cli_batch import _add_batch_parser
    from inpaint_anything.segment.everything import segment_everything
    from inpaint_anything.segment.everything_fields import ENGINE_OPTIONS, EVERYTHING, EVERYTHING_FIELDS

    assert model_problems(EVERYTHING_FIELDS, EverythingOptions) == []
    assert check_problems(EVERYTHING_FIELDS) == []
    engine = {n: p.default for n, p in inspect.signature(segment_everything).parameters.items() if n in ENGINE_OPTIONS}
    assert engine == {n: EVERYTHING[n].default for n in ENGINE_OPTIONS}
    pps = EVERYTHING["points_per_side"]
    assert control_problems([pps], {"points_per_side": _built_tab_controls(tmp_path)["ia_pps"]}) == []
    parser = _add_batch_parser(argparse.ArgumentParser().add_subparsers())
    assert parser.parse_args(["--output", "x"]).points_per_side == pps.default


# ---------------------------------------------------------------------------------------------- the checks can fail
@pytest.mark.parametrize("change", [{"default": 25}, {"maximum": 200}, {"label": "Steps"}, {"help": "how many"}])
def test_a_changed_inpaint_table_is_caught(change):
    """The faces were built from the real table: a copy with one field changed disagrees."""
    from inpaint_anything.api.schemas import RequestParams

    table = tuple(dataclasses.replace(f, **change) if f.name == "steps" else f for f in INPAINT_FIELDS)
    only = [f.name for f in INPAINT_FIELDS if f.name != "model"]
    problems = dataclass_problems(table, InpaintRequest) + model_problems(table, RequestParams, only=only)
    if "maximum" in change or "label" in change:
        import gradio as gr

        from inpaint_anything.ui.handlers import HostHooks
        from inpaint_anything.ui.tab import _generation_controls

        with gr.Blocks():
            problems += control_problems(table, _generation_controls(HostHooks()), own_choices=("sampler", "scheduler"))
    assert problems, change


def test_changed_outpaint_and_remove_tables_are_caught():
    from inpaint_anything.api.schemas import ExpansionBody, RemoveBody
    from inpaint_anything.outpaint.engine import OutpaintSettings

    prefill = tuple(dataclasses.replace(f, default="edge") if f.name == "prefill" else f for f in SETTINGS_FIELDS)
    assert dataclass_problems(prefill, OutpaintSettings)
    modes = tuple(dataclasses.replace(f, choices=("pixels", "aspect")) if f.name == "mode" else f for f in EXPANSION_FIELDS)
    assert model_problems(modes, ExpansionBody)
    method = tuple(dataclasses.replace(f, default="telea") if f.name == "method" else f for f in REMOVE_FIELDS)
    assert model_problems(method, RemoveBody, only=("method",))
    from inpaint_anything.api.schemas import EverythingOptions
    from inpaint_anything.segment.everything_fields import EVERYTHING_FIELDS

    grid = tuple(dataclasses.replace(f, default=32) if f.name == "points_per_side" else f for f in EVERYTHING_FIELDS)
    assert model_problems(grid, EverythingOptions)
    assert check_problems([dataclasses.replace(REMOVE_FIELDS[1], maximum=None)]) == []  # no range: nothing to refuse
    renamed = [dataclasses.replace(f, infotext="Blur radius") if f.name == "mask_blur" else f for f in INPAINT_FIELDS]
    assert infotext_problems(renamed, _all_changed(INPAINT_FIELDS))


# ---------------------------------------------------------------------------------------------- old infotext
# written by the code before the tables (commit 5423904), kept verbatim
OLD_INFOTEXTS = {
    "full": (
        "a red car, photo\nNegative prompt: blurry\nlow quality\nSteps: 12, Sampler: DPM++ 2M, Schedule type: Karras, "
        'CFG scale: 6.5, Seed: 1234, Size: 640x480, Model: "sd15-inpaint: v1", Denoising strength: 0.8, Mask blur: 6, '
        "Masked content: latent noise, Inpaint area: Whole picture, Only masked padding, pixels: 40, Color match: True, "
        "Soft inpainting enabled: True, Soft inpainting schedule bias: 2.5, Soft inpainting preservation strength: 0.5, "
        "Soft inpainting transition contrast boost: 4.0, Soft inpainting mask influence: 0.0, Soft inpainting "
        "difference threshold: 0.5, Soft inpainting difference contrast: 2.0, Inpaint Anything: 0.1.0"
    ),
    "fill": 'Size: 64x48, Mask blur: 4, Inpaint backend: "cleaner:telea"',
    "seeded_fill": 'Seed: 7, Size: 64x48, Mask blur: 4, Inpaint backend: "cleaner:patchmatch"',
    "defaults": (
        "x\nSteps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 7, Size: 64x48, Denoising strength: 1.0, Mask blur: 4, "
        "Masked content: original, Inpaint area: Only masked, Only masked padding, pixels: 32"
    ),
}
OLD_REQUESTS = {
    "full": (
        InpaintRequest(
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
            soft_inpainting=True,
            soft_schedule_bias=2.5,
        ),
        (640, 480),
        {"Inpaint Anything": "0.1.0"},
        {},
    ),
    "fill": (InpaintRequest(seed=7), (64, 48), {"Inpaint backend": "cleaner:telea"}, {"sampling": False}),
    "seeded_fill": (
        InpaintRequest(seed=7),
        (64, 48),
        {"Inpaint backend": "cleaner:patchmatch"},
        {"sampling": False, "seeded": True},
    ),
    "defaults": (InpaintRequest(seed=7, prompt="x"), (64, 48), {}, {}),
}


@pytest.mark.parametrize("case", sorted(OLD_INFOTEXTS))
def test_infotext_is_written_as_before_and_old_infotext_still_parses(case):
    request, size, extra, kwargs = OLD_REQUESTS[case]
    assert infotext(request, size, extra, **kwargs) == OLD_INFOTEXTS[case]
    back, leftover = parse_infotext(OLD_INFOTEXTS[case])
    assert leftover == {"Size": f"{size[0]}x{size[1]}", **extra}
    if case in ("full", "defaults"):
        assert back == request
    else:  # a fill writes only what it used
        assert (back.mask_blur, back.seed) == (request.mask_blur, request.seed if case == "seeded_fill" else -1)


def test_select_by_text_follows_the_table(tmp_path):
    from inpaint_anything.api.text_routes import TextBody
    from inpaint_anything.models.text_models import available_detectors
    from inpaint_anything.segment.text_fields import TEXT, TEXT_FIELDS, check_text_query

    assert model_problems(TEXT_FIELDS, TextBody) == []
    assert check_problems(TEXT_FIELDS) == []
    controls = _built_tab_controls(tmp_path)
    row = {f.name: controls[f"ia_{f.elem}"] for f in TEXT_FIELDS}
    first = available_detectors()[0]  # nothing downloaded: the tab starts with the first one this stack runs
    assert (
        control_problems(
            TEXT_FIELDS, row, start=lambda f: first if f.name == "detector" else f.default, own_choices=("detector",)
        )
        == []
    )
    assert _choice_values(row["detector"]) == [TEXT["detector"].shown(d) for d in available_detectors()]
    # the tab's values read back through the table give the query the API would build
    from_tab = check_text_query(fields.from_ui(TEXT_FIELDS, {**{f.name: row[f.name].value for f in TEXT_FIELDS}, "text": "dog"}))
    assert from_tab.as_dict() == {**fields.defaults(TEXT_FIELDS), "text": "dog", "detector": first}
    assert [k for k, _ in from_tab.infotext_pairs()] == [f.infotext for f in TEXT_FIELDS]


@pytest.mark.both_stacks
def test_controlnet_options_follow_their_table():
    from inpaint_anything.api.schemas import ControlNetBody
    from inpaint_anything.inpaint.controlnet import CONTROLNET_FIELDS, ControlNetOptions, infotext_units, options_from_infotext

    assert dataclass_problems(CONTROLNET_FIELDS, ControlNetOptions) == []
    assert check_problems(CONTROLNET_FIELDS) == []
    assert model_problems(CONTROLNET_FIELDS, ControlNetBody) == []
    values = {f.name: _changed(f) for f in CONTROLNET_FIELDS}
    changed = ControlNetOptions(**{**values, "model": "my_inpaint [abc123]", "guidance_start": 0.0}).validated()
    units = infotext_units(changed)
    for f in CONTROLNET_FIELDS:  # every field with a unit key is written in the main unit
        if f.infotext:
            assert f"{f.infotext}: " in units["ControlNet 0"], f.name
    assert options_from_infotext(units) == changed  # and every field (reference ones too) reads back


@pytest.mark.both_stacks
def test_the_tabs_controlnet_controls_follow_the_table(tmp_path):
    from inpaint_anything.inpaint.controlnet import CONTROLNET, CONTROLNET_FIELDS, ControlNetOptions
    from inpaint_anything.ui.controlnet_controls import CONTROLNET_LAYOUT, field_controls, options

    tab = _built_tab_controls(tmp_path)
    controls = {f.name: tab[f"ia_{f.elem or f.name}"] for f in CONTROLNET_FIELDS if f"ia_{f.elem or f.name}" in tab}
    first = tab["ia_cn_model"].value  # the model dropdown starts with the first usable ControlNet
    assert first == "lllyasviel/control_v11p_sd15_inpaint"  # nothing local here: the Hub one
    start = lambda f: first if f.name == "model" else f.default  # noqa: E731
    assert control_problems(CONTROLNET_FIELDS, controls, start=start, own_choices=("model",)) == []
    assert {f.name for f in CONTROLNET_FIELDS if f.kind} == set(controls)
    assert {n for row in CONTROLNET_LAYOUT for n in row} == set(CONTROLNET)
    # the controls' start values read back as the table's options (the model as listed)
    names = list(controls)
    got = options(True, names, tuple(c.value for c in controls.values()))
    assert got == ControlNetOptions(model=first) and options(False, names, ()) is None
    assert set(field_controls({"enabled": 1, "note": 2, **controls})) == set(controls)


def test_a_changed_controlnet_table_is_caught(tmp_path):
    import gradio as gr

    from inpaint_anything.inpaint.controlnet import CONTROLNET_FIELDS
    from inpaint_anything.ui.controlnet_controls import build_controlnet_controls, field_controls
    from inpaint_anything.ui.handlers import Controller

    class App:
        models_dir = tmp_path
        settings = None

        def controlnet_models(self):
            return ["cn-inpaint"]

    ctl = Controller(App())
    ctl.controlnet_unavailable = lambda: None
    with gr.Blocks():
        controls = field_controls(build_controlnet_controls(ctl))
    changed = [dataclasses.replace(f, label="Other") if f.name == "weight" else f for f in CONTROLNET_FIELDS]
    start = lambda f: "cn-inpaint" if f.name == "model" else f.default  # noqa: E731
    assert control_problems(CONTROLNET_FIELDS, controls, start=start, own_choices=("model",)) == []
    assert any("weight" in p and "label" in p for p in control_problems(changed, controls, start=start, own_choices=("model",)))
