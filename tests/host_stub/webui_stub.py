"""Test helpers for the stand-in WebUI (no host counterpart; the mimicked API is ``modules``/``launch``).

They mimic the host lifecycle steps an extension goes through:

* ``run_install_py(ext_root)`` - step 1: ``install.py`` in a subprocess, PYTHONPATH = the stub folder;
  ``launch.run_pip``/``run`` are recorded (returned as ``InstallResult.calls``), never executed;
* ``reparse_cmd_opts(argv, extension_roots)`` - step 2: a fresh parser, every ``preload(parser)``,
  then the arguments; ``shared.cmd_opts`` is updated in place (same object);
* ``load_extension_scripts(ext_root)`` - step 4: ``scripts.load_scripts()`` with ``ext_root`` as an
  active extension (clears all callbacks, imports every active extension's scripts/*.py);
* ``callbacks_for(kind)`` / ``fire(kind, ...)`` - inspect and call registered callbacks; unlike the
  host's firing functions, ``fire`` lets exceptions propagate;
* ``build_ui(generate)`` - step 5: the page (``ui.create_ui``, much reduced): txt2img, img2img and
  Extras with v1.10.1's element ids, the result galleries and their send-to button rows, the
  on_ui_tabs tabs, all rendered into one Blocks under ``#tabs``; on_after_component fires for every
  component and layout block created meanwhile, as the host's gradio patch makes it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

STUB_DIR = os.path.dirname(os.path.abspath(__file__))


@dataclass
class InstallResult:
    returncode: int
    stdout: str
    stderr: str
    calls: list[dict] = field(default_factory=list)

    @property
    def pip_calls(self) -> list[str]:
        """The ``command`` argument of every launch.run_pip call, in order."""
        return [c["args"] for c in self.calls if c["kind"] == "pip"]


def reparse_cmd_opts(argv: list[str] | tuple = (), extension_roots: list[str] | tuple = ()):
    """Rebuild the parser, run the preloads (user extensions, builtins, ``extension_roots``), parse ``argv``."""
    from modules import cmd_args, script_loading, shared, shared_cmd_options

    parser = cmd_args.build_parser()
    shared_cmd_options.preload_all(parser)
    for root in extension_roots:
        script_loading.preload_extension(os.fspath(root), parser)
    ns = parser.parse_args(list(argv))
    shared_cmd_options.finish(ns)
    vars(shared.cmd_opts).clear()
    vars(shared.cmd_opts).update(vars(ns))
    cmd_args.parser = shared_cmd_options.parser = shared.parser = parser
    return shared.cmd_opts


def run_preload(ext_root, parser=None):
    """Call the extension's ``preload(parser)`` on ``parser`` (default: a fresh host parser)."""
    from modules import cmd_args, script_loading

    parser = parser if parser is not None else cmd_args.build_parser()
    script_loading.preload_extension(os.fspath(ext_root), parser)
    return parser


def load_extension_scripts(ext_root, *, strict: bool = True) -> list:
    """Make ``ext_root`` an active extension and load scripts like the host; returns its ScriptClassData.

    With ``strict`` an error reported while importing raises RuntimeError with the traceback
    (the host only prints it).
    """
    from modules import errors, extensions, scripts

    root = os.path.abspath(os.fspath(ext_root))
    if root not in extensions.stub_extra_roots:
        extensions.stub_extra_roots.append(root)
    extensions.list_extensions()
    before = len(errors.exception_records)
    scripts.load_scripts()
    new_errors = errors.exception_records[before:]
    if strict and new_errors:
        raise RuntimeError("loading scripts failed:\n" + "\n".join(e["message"] + "\n" + e["text"] for e in new_errors))
    return [d for d in scripts.scripts_data if os.path.abspath(d.basedir) == root]


def run_install_py(ext_root, *, argv: list[str] | tuple = (), pip_fail: str | None = None, timeout: float = 300) -> InstallResult:
    """Run ``<ext_root>/install.py`` as the host does (subprocess, PYTHONPATH=webui root, cwd=webui root).

    ``pip_fail``: make ``launch.run_pip`` raise for commands containing this substring.
    """
    from modules import paths_internal

    fd, log = tempfile.mkstemp(prefix="webui-stub-calls-", suffix=".jsonl")
    os.close(fd)
    env = os.environ.copy()
    env["PYTHONPATH"] = STUB_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["WEBUI_STUB_ROOT"] = paths_internal.script_path
    env["WEBUI_STUB_ARGV"] = " ".join(argv)
    env["WEBUI_STUB_CALL_LOG"] = log
    env.pop("WEBUI_STUB_PIP_FAIL", None)
    if pip_fail:
        env["WEBUI_STUB_PIP_FAIL"] = pip_fail
    try:
        proc = subprocess.run(
            [sys.executable, os.path.join(os.fspath(ext_root), "install.py")],
            cwd=paths_internal.script_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        with open(log, encoding="utf8") as fh:
            calls = [json.loads(line) for line in fh if line.strip()]
    finally:
        os.unlink(log)
    return InstallResult(proc.returncode, proc.stdout, proc.stderr, calls)


def callbacks_for(kind: str) -> list:
    """Registered ScriptCallback entries of a category, e.g. ``"ui_tabs"``, ``"app_started"``, ``"on_reload"``."""
    from modules import script_callbacks

    return list(script_callbacks.callback_map["callbacks_" + kind])


def fire(kind: str, *args, **kwargs) -> list:
    """Call every callback of ``kind`` with the given arguments; returns their results (errors propagate)."""
    return [c.callback(*args, **kwargs) for c in callbacks_for(kind)]


def reported_errors() -> list[dict]:
    """What the host would have printed as errors (callbacks, script loading, call wrappers)."""
    from modules import errors

    return list(errors.exception_records)


def launch_calls() -> list[dict]:
    """launch.run/run_pip/git_clone calls made in this process."""
    from modules import launch_utils

    return list(launch_utils.calls)


def purge(extra_prefixes: tuple[str, ...] = ()) -> None:
    """Forget every stub module (``modules*``, ``launch``, ``webui_stub``) and ``extra_prefixes`` modules."""
    prefixes = ("modules", "launch", "webui_stub", *extra_prefixes)
    for name in list(sys.modules):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            del sys.modules[name]


# ---------------------------------------------------------------- step 5: the page (ui.create_ui)
# Host-side JS the extensions can rely on (the host's javascript/ui.js and script.js), written anew:
# gradioApp(), switch_to_img2img_tab(n) / switch_to_extras() (click tab buttons by position, as the
# host does), selected_gallery_index() (index of the selected thumbnail of the visible gallery).
HOST_JS = """() => {
    if (window.webuiStubJs) return;
    window.webuiStubJs = true;
    window.gradioApp = function () {
        const app = document.querySelector('gradio-app');
        return (app && app.shadowRoot) || document;
    };
    const navButtons = (id) => {
        const tabs = gradioApp().getElementById(id);
        const nav = tabs && Array.from(tabs.children).find((c) => c.classList.contains('tab-nav'));
        return nav ? Array.from(nav.querySelectorAll('button')) : [];
    };
    const press = (button) => { if (button) button.click(); };
    window.switch_to_img2img_tab = function (no) { press(navButtons('tabs')[1]); press(navButtons('mode_img2img')[no]); };
    window.switch_to_extras = function () { press(navButtons('tabs')[2]); return Array.from(arguments); };
    window.selected_gallery_index = function () {
        const shown = Array.from(gradioApp().querySelectorAll('div[id$=_gallery] .thumbnail-item')).filter((b) => b.offsetParent !== null);
        return shown.findIndex((b) => b.classList.contains('selected'));
    };
}"""
RESULT_TOOL_BUTTONS = ("open_folder", "save", "save_zip", "send_to_img2img", "send_to_inpaint", "send_to_extras")
# img2img's mode tabs (label, elem_id); "Inpaint upload" is switch_to_img2img_tab(4)
IMG2IMG_MODES = (
    ("img2img", "img2img_img2img_tab"),
    ("Sketch", "img2img_img2img_sketch_tab"),
    ("Inpaint", "img2img_inpaint_tab"),
    ("Inpaint sketch", "img2img_inpaint_sketch_tab"),
    ("Inpaint upload", "img2img_inpaint_upload_tab"),
    ("Batch", "img2img_batch_tab"),
)


@dataclass
class StandInUI:
    demo: Any  # the page's gr.Blocks
    components: dict[str, Any]  # elem_id -> the host component the stand-in created
    tabs: list[tuple[str, str]]  # (label, id) of every top-level tab, in order


def _gradio_major() -> int:
    import gradio

    return int(gradio.__version__.split(".")[0])


def _js_kw(js: str) -> dict:
    return {"js": js} if _gradio_major() >= 4 else {"_js": js}


@contextmanager
def component_callbacks():
    """While open, every gradio component and layout block fires on_after_component(component,
    **its constructor keywords) after construction, then ``scripts.scripts_current.after_component``
    (the scripts' elem_id hooks) when a runner is current, like the host's patch of gradio (v1.10.1
    gradio_extensons.py: IOComponent / BlockContext ``__init__``; Forge: Component). ``tooltip`` is
    taken out of the keywords as the host does."""
    import gradio as gr
    from modules import script_callbacks

    classes = [gr.components.Component if _gradio_major() >= 4 else gr.components.IOComponent, gr.blocks.BlockContext]
    originals = [(cls, cls.__dict__["__init__"]) for cls in classes]

    def wrap(original):
        def init(self, *args, **kwargs):
            kwargs.pop("tooltip", None)
            result = original(self, *args, **kwargs)
            script_callbacks.after_component_callback(self, **kwargs)
            from modules import scripts

            if scripts.scripts_current is not None:  # the scripts' on_after_component(elem_id=...) hooks
                scripts.scripts_current.after_component(self, **kwargs)
            return result

        return init

    for cls, original in originals:
        cls.__init__ = wrap(original)
    try:
        yield
    finally:
        for cls, original in originals:
            cls.__init__ = original


def _output_panel(tabname: str, made: dict) -> Any:
    """create_output_panel(tabname): the gallery and its row of tool buttons (v1.10.1 ids)."""
    import gradio as gr
    from modules.ui_components import ToolButton

    symbols = dict(
        zip(
            RESULT_TOOL_BUTTONS,
            ("\U0001f4c2", "\U0001f4be", "\U0001f5c3\ufe0f", "\U0001f5bc\ufe0f", "\U0001f3a8\ufe0f", "\U0001f4d0"),
            strict=True,
        )
    )
    with gr.Column(elem_id=f"{tabname}_results"), gr.Column(variant="panel", elem_id=f"{tabname}_results_panel"):
        with gr.Group(elem_id=f"{tabname}_gallery_container"):
            # gradio 4 would send WebP; Forge's ui_tempdir override saves gallery pictures as PNG
            extra = {"format": "png"} if _gradio_major() >= 4 else {}
            made[f"{tabname}_gallery"] = gr.Gallery(
                label="Output", show_label=False, elem_id=f"{tabname}_gallery", columns=4, preview=True, **extra
            )
        with gr.Row(elem_id=f"image_buttons_{tabname}", elem_classes="image-buttons"):
            for name in RESULT_TOOL_BUTTONS:
                if tabname == "extras" and name in ("save", "save_zip"):
                    continue
                elem_id = (
                    f"save_{tabname}" if name == "save" else f"save_zip_{tabname}" if name == "save_zip" else f"{tabname}_{name}"
                )
                made[elem_id] = ToolButton(symbols[name], elem_id=elem_id)
            if tabname == "txt2img":
                made["txt2img_upscale"] = ToolButton("\u2728", elem_id="txt2img_upscale")
        made[f"html_info_{tabname}"] = gr.HTML(elem_id=f"html_info_{tabname}")
    return made[f"{tabname}_gallery"]


def _generation_tab(tabname: str, generate: Callable, made: dict) -> Any:
    """txt2img or img2img: prompt, Generate, (img2img: the mode tabs with Inpaint upload), results."""
    import gradio as gr

    with gr.Blocks(analytics_enabled=False) as interface:
        with gr.Row():
            with gr.Column():
                made[f"{tabname}_prompt"] = prompt = gr.Textbox(label="Prompt", elem_id=f"{tabname}_prompt")
                made[f"{tabname}_generate"] = button = gr.Button("Generate", variant="primary", elem_id=f"{tabname}_generate")
                if tabname == "img2img":
                    with gr.Tabs(elem_id="mode_img2img"):
                        for label, tab_id in IMG2IMG_MODES:
                            with gr.TabItem(label, elem_id=tab_id):
                                if label == "img2img":
                                    made["img2img_image"] = gr.Image(
                                        label="Image for img2img", type="pil", image_mode="RGBA", elem_id="img2img_image"
                                    )
                                elif label == "Inpaint upload":
                                    made["img_inpaint_base"] = gr.Image(
                                        label="Image for img2img", type="pil", image_mode="RGBA", elem_id="img_inpaint_base"
                                    )
                                    made["img_inpaint_mask"] = gr.Image(
                                        label="Mask", type="pil", image_mode="RGBA", elem_id="img_inpaint_mask"
                                    )
            with gr.Column():
                gallery = _output_panel(tabname, made)
        button.click(lambda text: generate(tabname, text), inputs=[prompt], outputs=[gallery])
    return interface


def _extras_tab(made: dict) -> Any:
    """ui_postprocessing.create_ui: Single Image (extras_image) / Batch Process, and its results."""
    import gradio as gr

    with gr.Blocks(analytics_enabled=False) as interface, gr.Row():
        with gr.Column(), gr.Tabs(elem_id="mode_extras"):
            with gr.TabItem("Single Image", id="single_image", elem_id="extras_single_tab"):
                made["extras_image"] = gr.Image(
                    label="Source", interactive=True, type="pil", elem_id="extras_image", image_mode="RGBA"
                )
            with gr.TabItem("Batch Process", id="batch_process", elem_id="extras_batch_process_tab"):
                made["extras_image_batch"] = gr.Files(label="Batch Process", interactive=True, elem_id="extras_image_batch")
        with gr.Column():
            _output_panel("extras", made)
    return interface


def default_generate(tabname: str, prompt: str) -> list:
    """The stand-in's "generation": one 256x192 gradient picture per click."""
    import numpy as np

    yy, xx = np.mgrid[0:192, 0:256]
    return [np.stack([xx, yy, (xx + yy) // 2], axis=2).astype(np.uint8)]


def build_ui(generate: Callable[[str, str], list] | None = None, *, css: str = "", title: str = "Stable Diffusion") -> StandInUI:
    """The host page: txt2img, img2img and Extras (v1.10.1 element ids, ``tab_<id>`` tab items under
    ``#tabs``), then every on_ui_tabs tab, rendered like ui.create_ui does. ``generate(tabname,
    prompt)`` fills that tab's result gallery when its Generate button is pressed. The active
    extensions' ``javascript/*.js`` run on page load after :data:`HOST_JS`; their ``style.css`` and
    ``css`` style the page."""
    import gradio as gr
    from modules import extensions, script_callbacks

    made: dict[str, Any] = {}
    generate = generate or default_generate
    with component_callbacks():
        interfaces = [
            (_generation_tab("txt2img", generate, made), "txt2img", "txt2img"),
            (_generation_tab("img2img", generate, made), "img2img", "img2img"),
            (_extras_tab(made), "Extras", "extras"),
        ]
        interfaces += script_callbacks.ui_tabs_callback()
    scripts_js, styles = [], [css]
    for ext in extensions.active():
        for item in ext.list_files("javascript", ".js"):
            with open(item.path, encoding="utf-8") as fh:
                scripts_js.append(fh.read())
        style = os.path.join(ext.path, "style.css")
        if os.path.isfile(style):
            with open(style, encoding="utf-8") as fh:
                styles.append(fh.read())
    with gr.Blocks(analytics_enabled=False, title=title, css="\n".join(styles)) as demo:
        with gr.Tabs(elem_id="tabs"):
            for interface, label, ifid in interfaces:
                with gr.TabItem(label, id=ifid, elem_id=f"tab_{ifid}"):
                    interface.render()
        demo.load(None, None, None, **_js_kw(HOST_JS))
        for code in scripts_js:
            demo.load(None, None, None, **_js_kw("() => {\n" + code + "\n}"))
    from modules import shared

    shared.demo = demo
    return StandInUI(demo, made, [(label, ifid) for _, label, ifid in interfaces])
