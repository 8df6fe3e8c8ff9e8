"""LaMa as an optional cleaner: a TorchScript file with big-lama's interface, loaded from the models folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inpaint_anything.app import App
from inpaint_anything.config import Settings
from inpaint_anything.errors import UnavailableError, UnrecognizedCheckpointError


class MeanFill(torch.nn.Module):
    """big-lama's interface (image [1,3,H,W] in 0..1, mask [1,1,H,W]) -> image; fills the hole with
    the mean colour of the known pixels."""

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        known = 1.0 - mask
        mean = (image * known).sum(dim=(2, 3), keepdim=True) / known.sum(dim=(2, 3), keepdim=True).clamp(min=1.0)
        return image * known + mean * mask


def test_lama_file_is_offered_and_used(tmp_path, synthetic):
    torch.jit.script(MeanFill()).save(str(tmp_path / "big-lama.pt"))
    app = App(Settings(models_dir=str(tmp_path), offline=True))
    ws = app.workspace("s")
    case = next(c for c in synthetic if c.name == "disk")
    ws.set_image(case.image)
    ws.set_mask(case.mask)
    ws.mask_op("grow", 2)
    result = ws.remove("lama")
    out = result.images[0]
    assert np.array_equal(out[result.alpha == 0], case.image[result.alpha == 0])
    red = (out[..., 0] > 180) & (out[..., 1] < 80)
    assert red[case.mask].mean() < 0.05
    assert "cleaner:lama" in result.infotexts[0]


def test_lama_without_its_file_is_unavailable(tmp_path):
    app = App(Settings(models_dir=str(tmp_path), offline=True))
    with pytest.raises(UnavailableError, match="big-lama.pt"):
        app.backend("cleaner", "lama")


def test_a_broken_lama_file_gives_a_clear_error(tmp_path, synthetic):
    (tmp_path / "big-lama.pt").write_bytes(b"not torchscript")
    app = App(Settings(models_dir=str(tmp_path), offline=True))
    ws = app.workspace("s")
    case = synthetic[0]
    ws.set_image(case.image)
    ws.set_mask(case.mask)
    with pytest.raises(UnrecognizedCheckpointError, match="Could not load LaMa") as err:
        ws.remove("lama")
    assert err.value.status_code == 422  # the user's file, not a missing feature (501)
    assert str(tmp_path) not in str(err.value)
