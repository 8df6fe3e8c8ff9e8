"""The worked examples of docs/ARCHITECTURE.md, made for real: a copy of the package with ONE file
changed (a new inpaint parameter in ``inpaint/request.py``, a new mask operation in ``selection.py``,
a new outpaint pre-fill in ``prefill.py``), then a fresh process checks that every face the
page names picks the change up: the check, the API body, the tab's controls and what its buttons send,
the batch CLI, the infotext. The code added is read from the page, so the page stays true."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ARCHITECTURE.md"

pytestmark = pytest.mark.both_stacks


def doc_code(heading: str) -> str:
    """The first ```python block under the ``### heading`` of docs/ARCHITECTURE.md."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"### {heading}")
    match = re.compile(r"```python\n(.*?)```", re.S).search(text, start)
    assert match is not None, heading
    return match.group(1)


def new_entries(heading: str, kind: str) -> str:
    """The ``kind(...)`` entries of the table shown under ``heading`` (``...`` stands for the entries
    that are there), as lines to put at the end of the real table."""
    code = doc_code(heading)
    calls = [
        ast.get_source_segment(code, node)
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == kind
    ]
    assert calls, heading
    return "".join(textwrap.indent(call, "    ") + ",\n" for call in calls)


def changed_copy(tmp_path: Path, rel: str, edit) -> Path:
    """A copy of the package where only ``rel`` differs, by ``edit(text) -> text``."""
    dest = tmp_path / "pkg"
    shutil.copytree(ROOT / "inpaint_anything", dest / "inpaint_anything", ignore=shutil.ignore_patterns("__pycache__"))
    target = dest / "inpaint_anything" / rel
    before = target.read_text(encoding="utf-8")
    after = edit(before)
    assert after != before
    target.write_text(after, encoding="utf-8")
    changed = [
        str(p.relative_to(dest / "inpaint_anything"))
        for p in (dest / "inpaint_anything").rglob("*.py")
        if p.read_bytes() != (ROOT / "inpaint_anything" / p.relative_to(dest / "inpaint_anything")).read_bytes()
    ]
    assert changed == [rel]
    return dest


def run_checks(pkg: Path, tmp_path: Path, script: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(pkg), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    prelude = textwrap.dedent(f"""
        import argparse
        import inpaint_anything
        assert inpaint_anything.__file__.startswith({str(pkg)!r}), inpaint_anything.__file__
        from inpaint_anything.app import App
        from inpaint_anything.config import Settings

        def tab_blocks():
            from inpaint_anything.ui.tab import build_tab
            app = App(Settings(models_dir={str(tmp_path / "models")!r}, output_dir={str(tmp_path / "out")!r}, offline=True))
            tab = build_tab(app)
            return tab, {{b.elem_id: b for b in tab.blocks.values() if getattr(b, "elem_id", None)}}

        def dependencies(tab):
            for dep in tab.config["dependencies"]:
                targets = [t[0] if isinstance(t, (list, tuple)) else t for t in dep["targets"]]
                yield targets, dep["inputs"]
    """)
    proc = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script) + "\nprint('all faces agree')"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and "all faces agree" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-6000:]


def test_a_new_inpaint_parameter_is_one_entry_in_its_table(tmp_path):
    entry = new_entries("Worked example: a new inpaint parameter", "Field")

    def edit(text: str) -> str:
        end = text.index(")\nINPAINT = fields.by_name(INPAINT_FIELDS)")
        return text[:end] + entry + text[end:]

    pkg = changed_copy(tmp_path, "inpaint/request.py", edit)
    run_checks(
        pkg,
        tmp_path,
        """
        from inpaint_anything.errors import InvalidInputError
        from inpaint_anything.inpaint.request import InpaintRequest, infotext, parse_infotext

        # the dataclass and its check
        assert InpaintRequest().clip_skip == 1 and InpaintRequest(clip_skip=2).validated().clip_skip == 2
        try:
            InpaintRequest(clip_skip=13).validated()
            raise SystemExit("clip_skip=13 was accepted")
        except InvalidInputError as exc:
            assert str(exc) == "Clip skip must be between 1 and 12.", exc
        # the infotext: written when not the default, read back; old texts read as the default
        text = infotext(InpaintRequest(prompt="a", clip_skip=2), (64, 48))
        assert "Clip skip: 2" in text and parse_infotext(text)[0].clip_skip == 2
        plain = infotext(InpaintRequest(prompt="a"), (64, 48))
        assert "Clip skip" not in plain and parse_infotext(plain)[0].clip_skip == 1
        # the API body
        from inpaint_anything.api.field_models import model_fields
        from inpaint_anything.api.schemas import InpaintBody, RequestParams, dump

        default, _, description = model_fields(RequestParams)["clip_skip"]
        assert default == 1 and description == "Skip the last N CLIP layers."
        body = InpaintBody(backend="cleaner", request={"clip_skip": 3})
        assert InpaintRequest.from_dict(dump(body.request, exclude_unset=True)).clip_skip == 3
        # the batch CLI
        from inpaint_anything.cli_batch import _add_batch_parser, _request

        args = _add_batch_parser(argparse.ArgumentParser().add_subparsers()).parse_args(
            ["--output", "x", "--op", "inpaint", "--clip-skip", "4"]
        )
        assert _request(args).clip_skip == 4
        # the tab: a slider 1..12 that the Inpaint buttons send
        tab, by_id = tab_blocks()
        slider = by_id["ia_clip_skip"]
        assert slider.label == "Clip skip" and (slider.minimum, slider.maximum, slider.value) == (1, 12, 1)
        steps = by_id["ia_steps"]._id
        senders = [t for t, inputs in dependencies(tab) if slider._id in inputs and steps in inputs]
        assert len(senders) >= 2, senders  # the model's Inpaint button and the removal/WebUI ones
        from inpaint_anything.ui.events import request_from

        assert request_from(["clip_skip", "steps"], (5.0, 20.0)).clip_skip == 5  # gradio sends floats
        """,
    )


def test_a_new_mask_operation_is_one_entry_in_its_table(tmp_path):
    entry = textwrap.indent(new_entries("Worked example: a new mask operation", "MaskOp"), "    ")

    def edit(text: str) -> str:
        anchor = '        MaskOp("all", "Select all", lambda m, px: np.ones_like(m), in_tab=False),\n'
        assert anchor in text
        return text.replace(anchor, anchor + entry)

    pkg = changed_copy(tmp_path, "selection.py", edit)
    run_checks(
        pkg,
        tmp_path,
        """
        import numpy as np
        from inpaint_anything.selection import apply_op, check_op, describe_chain

        square = np.pad(np.ones((10, 10), bool), 5)
        assert apply_op(square, "outline", 2).sum() == 100 - 36 and check_op("outline", 2) == 2
        assert describe_chain([("outline", 4)]) == "outline 4"
        # the API: the op's enum and the px description
        import typing
        from inpaint_anything.api.field_models import model_fields
        from inpaint_anything.api.schemas import MaskOpBody

        ops = typing.get_args(model_fields(MaskOpBody)["op"][1])
        assert "outline" in ops, ops
        assert "outline (px: width in pixels)" in model_fields(MaskOpBody)["px"][2]
        MaskOpBody(op="outline", px=3)
        # the tab: a refinement button with the amount slider, wired
        tab, by_id = tab_blocks()
        button = by_id["ia_refine_outline"]
        assert button.value == "Outline"
        assert any(button._id in targets for targets, _ in dependencies(tab))
        """,
    )


def test_a_new_outpaint_prefill_is_one_function_and_its_entry(tmp_path):
    function = doc_code("Worked example: a new outpaint pre-fill")

    def edit(text: str) -> str:
        anchor = '    "solid": solid,\n'
        assert anchor in text and "\n_METHODS: dict" in text
        text = text.replace(anchor, anchor + '    "grey": grey,\n')
        return text.replace("\n_METHODS: dict", "\n" + function + "\n\n_METHODS: dict", 1)

    pkg = changed_copy(tmp_path, "prefill.py", edit)
    run_checks(
        pkg,
        tmp_path,
        """
        import typing
        import numpy as np
        from inpaint_anything.outpaint.engine import OutpaintSettings, outpaint
        from inpaint_anything.outpaint.geometry import by_pixels
        from inpaint_anything.inpaint.request import InpaintRequest

        # the engine: the new area is grey before the backend repaints it
        class Keep:  # a backend that returns its input: the pre-fill shows
            name, samples, multiple = "keep", False, 8
            def generate(self, image, mask, request, seed, job):
                return image

        img = np.full((32, 40, 3), 7, np.uint8)
        settings = OutpaintSettings(by_pixels(40, 32, right=16), "grey", overlap_px=0).validated((40, 32))
        out = outpaint(img, settings, InpaintRequest(inpaint_area="whole"), Keep()).images[0]
        assert out.shape == (32, 56, 3) and (out[:, 44:] == 128).all() and (out[:, :40] == 7).all()
        # the API's enum (outpaint and batch bodies)
        from inpaint_anything.api.field_models import model_fields
        from inpaint_anything.api.schemas import BatchBody, OutpaintBody

        for body in (OutpaintBody, BatchBody):
            assert "grey" in typing.get_args(model_fields(body)["prefill"][1]), body
        # batch: its check, and the CLI flag
        from inpaint_anything.batch import BatchOptions
        from inpaint_anything.cli_batch import _add_batch_parser

        BatchOptions(op="outpaint", request=InpaintRequest(), prefill="grey", expansion={"right": 8}).validated()
        args = _add_batch_parser(argparse.ArgumentParser().add_subparsers()).parse_args(["--output", "x", "--prefill", "grey"])
        assert args.prefill == "grey"
        # the tab's Pre-fill dropdown (the img2img script's is the same builder)
        tab, by_id = tab_blocks()
        choices = [c[0] if isinstance(c, (list, tuple)) else c for c in by_id["ia_out_prefill"].choices]
        assert choices[-1] == "grey", choices
        """,
    )
