"""Screenshots of the standalone app for the README: ``docs/screenshots/<step>-<W>x<H>-<theme>.png``.

    $VENV/bin/python tests/browser/make_screenshots.py [OUT_DIR]

Starts ``python -m inpaint_anything`` with an empty models folder (:mod:`standalone_app`), and for
1400x1000 and 1000x800, light and dark: the first screen, the mask after a box (GrabCut, the
default without a model), and the result of "Remove object". Each file is what the browser window
shows (not the whole page), stored as a 256-colour PNG to keep it small.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1]))  # the repository (inpaint_anything)

SIZES = [(1400, 1000), (1000, 800)]
THEMES = ["light", "dark"]
BOX = (150, 100, 420, 480)


def _save(png: bytes, path: Path) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        im.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def _photo(folder: Path) -> str:
    import skimage.data
    from PIL import Image

    path = folder / "astronaut.png"
    Image.fromarray(skimage.data.astronaut()).save(path)
    return str(path)


def main(argv: list[str]) -> int:
    import standalone_app
    from browser_kit import BROWSER_ARGS, chromium_path, tools_dir
    from tab_app import TIMEOUT, TabPage

    out = Path(argv[0]) if argv else HERE.parents[1] / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    if tools_dir() not in sys.path:
        sys.path.append(tools_dir())
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="ia-screens-"))
    photo = _photo(root)
    server = standalone_app.start(root / "app")
    written = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=BROWSER_ARGS)
            for w, h in SIZES:
                for theme in THEMES:
                    context = browser.new_context(viewport={"width": w, "height": h})
                    context.route(
                        "**/*",
                        lambda r: (
                            r.continue_() if r.request.url.startswith(("http://127.0.0.1", "data:", "blob:")) else r.abort()
                        ),
                    )
                    page = context.new_page()
                    page.goto(server.url + ("?__theme=dark" if theme == "dark" else ""))
                    page.wait_for_selector("#ia_canvas_root .ia-cv canvas", timeout=TIMEOUT)
                    page.wait_for_timeout(1500)
                    tab = TabPage(page, str(root), "shot", None)

                    def shot(step: str, _w=w, _h=h, _theme=theme, _page=page) -> None:
                        path = out / f"{step}-{_w}x{_h}-{_theme}.png"
                        _page.wait_for_timeout(400)
                        _save(_page.screenshot(), path)
                        written.append(path)

                    shot("first-screen")
                    tab.upload(photo)
                    tab.wait_status("Image 512x512")
                    tab.set_tool("box")
                    version = tab.info()["maskVersion"]
                    tab.drag([tab.to_client(BOX[0], BOX[1]), tab.to_client(BOX[2], BOX[3])])
                    tab.mask_after(version)
                    page.evaluate("() => window.scrollTo(0, 0)")
                    shot("mask")
                    tab.open_tab("Remove object")
                    tab.click("ia_run_remove")
                    tab.wait_status("Done: 1 image")
                    page.wait_for_function(
                        "() => { const c = window.InpaintAnything.compare.info(); return !!c && c.shown >= 1; }", timeout=TIMEOUT
                    )
                    page.wait_for_timeout(1500)  # the smooth scroll to the result
                    page.evaluate("""() => { const r = document.querySelector('#ia_compare_root .ia-cmp-range');
                        r.value = '50'; r.dispatchEvent(new Event('input', {bubbles: true})); }""")  # half input, half result
                    shot("result")
                    context.close()
            browser.close()
    finally:
        server.stop()
    for path in written:
        print(f"{path}  {os.path.getsize(path) // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
