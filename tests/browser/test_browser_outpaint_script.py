"""The img2img script "Outpainting (Inpaint Anything)" as a person meets it in img2img's Scripts dropdown
(the stand-in's img2img: picture, denoising slider, the script runner's UI; gradio 3.41 and 4.40): its
controls and the "ControlNet inpaint" choice, tickable only where the WebUI has a ControlNet."""

from __future__ import annotations

from typing import Any

import pytest
from browser_kit import VIEWPORT, local_only
from tab_app import TIMEOUT, free_port

pytestmark = [pytest.mark.browser, pytest.mark.both_stacks]


def _serve(host: Any) -> tuple[Any, str]:
    import gradio as gr
    from webui_stub import component_callbacks

    host.load_extension()
    runner = host.scripts.scripts_img2img
    runner.initialize_scripts(is_img2img=True)
    runner.prepare_ui()
    host.scripts.scripts_current = runner
    try:
        with component_callbacks(), gr.Blocks(analytics_enabled=False, title="img2img") as demo, gr.Row():
            with gr.Column():
                gr.Image(type="pil", elem_id="img2img_image")
                gr.Slider(0, 1, value=0.75, label="Denoising strength", elem_id="img2img_denoising_strength")
            with gr.Column():
                runner.setup_ui()
    finally:
        host.scripts.scripts_current = None
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return demo, f"http://127.0.0.1:{port}/"


def _choose_script(page: Any, title: str) -> None:
    page.locator("#script_list input").first.click()  # both gradio versions: a text box with a list under it
    page.locator("#script_list ul li, ul[role=listbox] li", has_text=title).first.click()


@pytest.mark.parametrize("controlnet", [False, True], ids=["no-controlnet", "controlnet"])
def test_the_scripts_controls_and_its_controlnet_choice(controlnet, browser, webui_host, monkeypatch, artifacts_dir):
    import os

    from test_webui_controlnet import install_controlnet

    from inpaint_anything.webui.outpaint_script import TITLE

    if controlnet:
        install_controlnet(webui_host, monkeypatch)
    demo, url = _serve(webui_host)
    context = browser.new_context(viewport=VIEWPORT)
    context.route("**/*", local_only)
    page = context.new_page()
    try:
        page.goto(url)
        page.wait_for_selector("#script_list", timeout=TIMEOUT)
        _choose_script(page, TITLE)
        choice = page.locator("[id$='cn_enabled'] input[type=checkbox]").first
        choice.wait_for(state="visible", timeout=TIMEOUT)
        note = page.locator("[id$='cn_status']").first
        if controlnet:
            assert choice.is_enabled() and note.inner_text().strip() == ""
            choice.check()
            page.locator("[id$='_controlnet'] button, [id$='_controlnet'] .label-wrap").first.click()  # open the accordion
            model = page.locator("[id$='cn_model'] input").first
            model.wait_for(state="visible", timeout=TIMEOUT)
            assert model.input_value().startswith("control_v11p_sd15_inpaint")
        else:
            assert not choice.is_enabled()
            assert "install sd-webui-controlnet" in note.inner_text()
        # nothing of the script runs off the page's right edge
        wide = page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1")
        assert not wide
        page.screenshot(
            path=os.path.join(artifacts_dir, f"script_outpaint_{'cn' if controlnet else 'no_cn'}.png"), full_page=True
        )
    finally:
        context.close()
        demo.close()
