"""Learned removers (LaMa, MI-GAN): TorchScript stand-ins with the real input/output contracts,
saved by the test and loaded through the app's own path (file in the models folder)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inpaint_anything.app import App
from inpaint_anything.config import Settings
from inpaint_anything.errors import OfflineError, UnrecognizedCheckpointError
from inpaint_anything.inpaint.cleaner import CLEANERS, available_cleaners

LAMA_FILL = (0.2, 0.4, 0.6)  # what the LaMa stand-in paints into the hole ([0, 1])
MIGAN_FILL = (0.6, -0.2, -0.6)  # what the MI-GAN stand-in paints ([-1, 1])

pytestmark = pytest.mark.both_stacks  # TorchScript loading under each stack's torch


class FakeLama(torch.nn.Module):
    """big-lama's contract: image [1,3,H,W] in [0,1], mask [1,1,H,W] in {0,1} -> image [1,3,H,W] in
    [0,1]; H and W multiples of 8, the long side at most 1024 (what the engine promises)."""

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        assert image.shape[1] == 3 and mask.shape[1] == 1
        assert image.shape[2] % 8 == 0 and image.shape[3] % 8 == 0
        assert max(image.shape[2], image.shape[3]) <= 1024
        assert bool(((mask == 0) | (mask == 1)).all())
        fill = torch.tensor([0.2, 0.4, 0.6]).view(1, 3, 1, 1)
        return image * (1 - mask) + fill * mask


class FakeMigan(torch.nn.Module):
    """IOPaint's MI-GAN contract: x [1,4,512,512] = cat(0.5 - mask, image * (1 - mask)), image in
    [-1, 1] -> RGB [1,3,512,512] in [-1, 1]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1] == 4 and x.shape[2] == 512 and x.shape[3] == 512
        hole = 0.5 - x[:, 0:1]
        assert bool(((hole == 0) | (hole == 1)).all())
        image = x[:, 1:4]
        assert bool((image * hole == 0).all())  # the hole arrives erased
        assert float(image.min()) >= -1.0 and float(image.max()) <= 1.0
        fill = torch.tensor([0.6, -0.2, -0.6]).view(1, 3, 1, 1)
        return image * (1 - hole) + fill * hole


def _save(folder, method: str) -> None:
    module, name = (FakeLama(), "big-lama.pt") if method == "lama" else (FakeMigan(), "migan_traced.pt")
    torch.jit.script(module).save(str(folder / name))


def _app(tmp_path, **kw) -> App:
    return App(Settings(models_dir=str(tmp_path), offline=True, remove_device="cpu", **kw))


def _inner(mask: np.ndarray, px: int) -> np.ndarray:
    """The mask shrunk by ``px`` (the fill there is the model's own, not mixed by scaling)."""
    import cv2

    return cv2.erode(mask.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0


def _expected(method: str) -> np.ndarray:
    fill = np.array(LAMA_FILL) if method == "lama" else (np.array(MIGAN_FILL) + 1) / 2
    return np.round(fill * 255)


@pytest.mark.parametrize("method", ["lama", "migan"])
@pytest.mark.parametrize("shape", ["disk", "triangle"])
def test_removal_pastes_the_model_output_into_the_mask_only(tmp_path, synthetic, method, shape):
    _save(tmp_path, method)
    ws = _app(tmp_path).workspace("s")
    case = next(c for c in synthetic if c.name == shape)
    ws.set_image(case.image)
    ws.set_mask(case.mask)
    result = ws.remove(method, mask_blur=2, padding=32)
    out = result.images[0]
    assert out.shape == case.image.shape and out.dtype == np.uint8
    outside = result.alpha == 0
    assert outside.any() and np.array_equal(out[outside], case.image[outside])  # bit-exact
    core = _inner(case.mask, 3)
    assert core.any() and (result.alpha[core] == 1).all()
    # the model's fill lands inside the mask (through scaling, padding and de-normalisation)
    assert np.abs(out[core].astype(int) - _expected(method)).max() <= 3
    assert f"cleaner:{method}" in result.infotexts[0]


def test_migan_gets_512_and_a_large_lama_crop_is_scaled_down(tmp_path):
    for method in ("lama", "migan"):
        _save(tmp_path, method)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (1100, 1500, 3), dtype=np.uint8)
    mask = np.zeros(image.shape[:2], bool)
    mask[100:1000, 200:1300] = True  # 60 % of the image: bigger than either model takes
    ws = _app(tmp_path).workspace("s")
    ws.set_image(image)
    ws.set_mask(mask)
    for method in ("lama", "migan"):  # the stand-ins refuse inputs over 1024 / other than 512
        result = ws.remove(method, mask_blur=2, padding=16)
        out = result.images[0]
        assert out.shape == image.shape
        assert np.array_equal(out[result.alpha == 0], image[result.alpha == 0])
        assert np.abs(out[200:900, 300:1200].astype(int) - _expected(method)).max() <= 3


def test_both_are_listed_and_offline_without_file_says_where_to_put_it(tmp_path, synthetic):
    assert {"lama", "migan"} <= set(CLEANERS) and {"lama", "migan"} <= set(available_cleaners())
    app = _app(tmp_path)
    listed = {r["method"]: r for r in app.removers()}
    assert listed["lama"]["size_bytes"] == 205_669_692 and not listed["lama"]["downloaded"]
    ws = app.workspace("s")
    ws.set_image(synthetic[0].image)
    ws.set_mask(synthetic[0].mask)
    with pytest.raises(OfflineError, match="migan_traced.pt") as err:
        ws.remove("migan")
    assert str(tmp_path) in str(err.value) and "github.com/Sanster/models" in str(err.value)
    _save(tmp_path, "migan")
    assert {r["method"]: r for r in app.removers()}["migan"]["downloaded"]


def test_the_removers_files_are_not_offered_as_sam_models(tmp_path):
    _save(tmp_path, "lama")
    _save(tmp_path, "migan")
    names = {m.id for m in _app(tmp_path).sam_models()}
    assert not any("lama" in n or "migan" in n for n in names)


def test_a_broken_file_gives_a_clear_error(tmp_path, synthetic):
    (tmp_path / "big-lama.pt").write_bytes(b"not torchscript")
    ws = _app(tmp_path).workspace("s")
    ws.set_image(synthetic[0].image)
    ws.set_mask(synthetic[0].mask)
    with pytest.raises(UnrecognizedCheckpointError, match="Could not load LaMa") as err:
        ws.remove("lama")
    assert err.value.status_code == 422  # the user's file, not a missing feature (501)
    assert str(tmp_path) not in str(err.value)


def test_loading_hides_only_the_torchscript_deprecation_warning(tmp_path, monkeypatch):
    import warnings

    from inpaint_anything.inpaint.learned import load_torchscript

    _save(tmp_path, "lama")
    real = torch.jit.load

    def noisy_load(*args, **kwargs):  # what a newer torch says, plus an unrelated warning
        warnings.warn("`torch.jit.load` is deprecated. Please switch to `torch.export`.", FutureWarning, stacklevel=2)
        warnings.warn("TorchScript support is deprecated and will be removed.", DeprecationWarning, stacklevel=2)
        warnings.warn("something else about this file", UserWarning, stacklevel=2)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.jit, "load", noisy_load)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        model = load_torchscript(tmp_path / "big-lama.pt", "cpu", "LaMa")
    assert model(torch.zeros(1, 3, 8, 8), torch.zeros(1, 1, 8, 8)).shape == (1, 3, 8, 8)
    assert [str(w.message) for w in seen] == ["something else about this file"]


def test_api_lists_the_removers_and_removes_with_migan(tmp_path, synthetic):
    from test_api import b64png, build_client, decode_png

    _save(tmp_path, "migan")
    client = build_client(_app(tmp_path))
    listed = {r["method"]: r for r in client.get("/inpaint-anything/v1/models/removers").json()["removers"]}
    assert listed["migan"]["downloaded"] and not listed["lama"]["downloaded"]
    assert listed["lama"]["size_bytes"] == 205_669_692 and listed["lama"]["filename"] == "big-lama.pt"
    assert {"lama", "migan"} <= set(client.get("/inpaint-anything/v1/models/inpaint").json()["cleaner"])
    refused = client.post("/inpaint-anything/v1/models/removers/lama/download")
    assert refused.status_code == 409 and "big-lama.pt" in refused.json()["detail"]
    case = next(c for c in synthetic if c.name == "disk")
    reply = client.post(
        "/inpaint-anything/v1/remove",
        json={"image": b64png(case.image), "mask": b64png(case.mask.astype(np.uint8) * 255), "method": "migan"},
    )
    assert reply.status_code == 200, reply.text
    out = decode_png(reply.json()["images"][0])[0][..., :3]
    assert out.shape == case.image.shape
    assert np.abs(out[_inner(case.mask, 4)].astype(int) - _expected("migan")).max() <= 3
