"""The img2img script "Outpainting (Inpaint Anything)" in the WebUI stand-in, end to end."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


def script_class(webui_host):
    data = webui_host.load_extension()
    classes = [d.script_class for d in data if d.script_class.__name__ == "InpaintAnythingOutpaint"]
    assert len(classes) == 1
    return classes[0]


def test_script_registers_for_img2img_only(webui_host):
    script = script_class(webui_host)()
    assert script.title() == "Outpainting (Inpaint Anything)"
    assert script.show(True) is True and script.show(False) is False


@pytest.mark.parametrize("strategy", ["all", "per_side"])
def test_script_outpaints_with_the_loaded_checkpoint(strategy, webui_host, tiny_sd_inpaint_dir):
    from fixtures.images import photo

    webui_host.load_model(tiny_sd_inpaint_dir)
    script = script_class(webui_host)()
    src = Image.fromarray(np.ascontiguousarray(photo("rocket")[::8, ::8][:53, :75]))
    p = webui_host.img2img(init_images=[src], prompt="sky", steps=2, seed=7, denoising_strength=0.9, width=64, height=64,
                           sampler_name="Euler a", n_iter=2 if strategy == "all" else 1)
    # mode, left, right, up, down, preset, scale, bx, by, prefill, overlap, strategy, blur
    processed = script.run(p, "pixels", 16, 24, 8, 0, "16:9", 1.5, 0.5, 0.5, "blur", 8, strategy, 2)
    n = 2 if strategy == "all" else 1
    assert len(processed.images) == n and processed.all_seeds == [7, 8][:n]
    for img in processed.images:
        assert img.size == (75 + 40, 53 + 8)
        arr = np.asarray(img)
        inner = arr[8 + 8: 8 + 53 - 8, 16 + 8: 16 + 75 - 8]  # the original, minus the overlap band
        assert np.array_equal(inner, np.asarray(src)[8:-8, 8:-8])
        assert arr[:8].std() > 0  # the new area is generated, not flat
    assert 'Outpaint: "left 16, right 24, up 8, down 0"' in processed.info
    assert "Outpainting (Inpaint Anything)" in processed.infotexts[-1]


def test_script_bad_parameters_are_clear(webui_host, tiny_sd_inpaint_dir):
    from inpaint_anything.errors import InvalidInputError

    webui_host.load_model(tiny_sd_inpaint_dir)
    script = script_class(webui_host)()
    src = Image.new("RGB", (64, 48), (10, 20, 30))
    p = webui_host.img2img(init_images=[src], steps=2, seed=1)
    with pytest.raises(InvalidInputError, match="every side adds 0"):
        script.run(p, "pixels", 0, 0, 0, 0)
    with pytest.raises(InvalidInputError, match="at most 2048"):
        script.run(p, "pixels", 4096, 0, 0, 0)
