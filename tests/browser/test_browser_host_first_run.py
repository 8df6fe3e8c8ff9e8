"""A first run inside the WebUI stand-in's page (gradio 3.41 and 4.40): the models folder holds one
SAM file and the "default SAM model" setting is left at its default (``sam_vit_b``, not downloaded).
The tab must pick the file that is there, select with Segment Anything, and a click gives a mask;
Outpaint defaults to the WebUI's checkpoint.
"""

from __future__ import annotations

from typing import Any

import pytest
from browser_kit import VIEWPORT, local_only
from tab_app import TIMEOUT, TabPage

pytestmark = [pytest.mark.browser, pytest.mark.both_stacks]


@pytest.fixture(scope="module")
def host(browser: Any, tmp_path_factory: pytest.TempPathFactory, tiny_sam_files: dict) -> Any:
    import host_app

    server = host_app.start(tmp_path_factory.mktemp("host_first_run"), tiny_sam_files["sam"], choose_sam=False)
    yield server
    server.stop()


def _checked(page: TabPage, elem_id: str) -> str:
    return page.page.evaluate(
        """(id) => { const i = document.querySelector('#' + id + ' input[type=radio]:checked');
        const l = i && i.closest('label'); return l ? l.innerText.trim() : ''; }""",
        elem_id,
    )


def test_the_sam_file_present_is_the_default_and_a_click_gives_a_mask(browser, host, artifacts_dir, marker_image):
    assert host.app.settings.default_sam_model == "sam_vit_b"  # the setting names a model that is not there
    context = browser.new_context(viewport=VIEWPORT)
    context.route("**/*", local_only)
    try:
        p = context.new_page()
        p.goto(host.url)
        p.wait_for_selector("#ia_canvas_root .ia-cv canvas", state="attached", timeout=TIMEOUT)
        page = TabPage(p, artifacts_dir, "host_first_run", host.app)
        p.locator("#tabs > .tab-nav button", has_text="Inpaint Anything").first.click()
        p.wait_for_function(
            "() => { const e = document.getElementById('ia_canvas_root'); return !!e && e.offsetParent !== null; }",
            timeout=TIMEOUT,
        )
        assert p.locator("#ia_run_remove").count() == 1
        shown = p.locator("#ia_sam_model input").first.input_value()
        assert "tiny_sam.pth" in shown, shown
        assert _checked(page, "ia_selector") == "Segment Anything"
        assert not p.locator("#ia_sam_hint .ia-warning").count()  # nothing to explain: a model is here
        page.upload(marker_image)
        page.wait_status("Image 512x512")
        version = page.info()["maskVersion"]
        p.mouse.click(*page.to_client(300, 250))  # the default tool: Click +
        info = page.mask_after(version)
        ws = host.workspace()
        assert info["maskArea"] > 0 and info["maskArea"] == int(ws.mask.sum())
        assert ws.sam_model == "file:tiny_sam.pth"
        page.open_tab("Outpaint")
        label = _checked(page, "ia_out_backend")
        assert "WebUI" in label or "checkpoint" in label, label  # the WebUI's loaded checkpoint
        page.full_shot("page")
    finally:
        context.close()
