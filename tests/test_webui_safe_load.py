"""SAM files written by a recent torch inside the WebUI, whose pickle check (modules/safe.py) replaces
torch.load and refuses them (".format_version" inside the zip): our weights-only loader reads them."""

from __future__ import annotations

import io
import zipfile

import pytest


@pytest.fixture
def host_safe(webui_host, monkeypatch):
    """The stand-in host with its pickle check installed (torch.load restored afterwards)."""
    import torch

    monkeypatch.setattr(torch, "load", torch.load)  # teardown puts the original back
    import modules.safe as safe

    assert torch.load is safe.load
    return safe


def test_host_check_refuses_a_recent_torch_file_and_we_still_load_it(host_safe, webui_host, tmp_path):
    import torch
    from fixtures.tiny_sam import save_tiny_sam
    from modules import errors

    from inpaint_anything.app import App
    from inpaint_anything.config import Settings
    from inpaint_anything.segment.checkpoint import load_sam, read_state_dict

    models = tmp_path / "models"
    models.mkdir()
    path = save_tiny_sam("sam", models / "my_sam.pth")
    assert any(n.endswith("/.format_version") for n in zipfile.ZipFile(path).namelist())
    # the host's patched torch.load refuses it (reports, returns None), as v1.10.1 does
    assert torch.load(str(path), map_location="cpu", weights_only=True) is None
    assert "bad file inside" in errors.exception_records[-1]["exception"]
    refused = len(errors.exception_records)

    sd = read_state_dict(path)
    assert sd and all(isinstance(v, torch.Tensor) for v in sd.values())
    listed = {m.id: m for m in App(Settings(models_dir=str(models))).sam_models()}
    assert listed["file:my_sam.pth"].available and listed["file:my_sam.pth"].downloaded, listed
    loaded = load_sam(path, device="cpu")
    assert loaded.family == "sam"
    assert len(errors.exception_records) == refused  # our loads never went through the host's check


def test_weights_only_still_refuses_code_in_a_pickle(host_safe, tmp_path):
    """Bypassing the host's check does not mean loading anything: globals are still refused."""
    import torch

    from inpaint_anything.errors import UnsafeCheckpointError
    from inpaint_anything.segment.checkpoint import read_state_dict

    path = tmp_path / "evil.pth"
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2), "f": io.BytesIO}, buf)  # a global torch's weights-only loader refuses
    path.write_bytes(buf.getvalue())
    with pytest.raises(UnsafeCheckpointError, match="refused"):
        read_state_dict(path)


def test_host_check_does_not_hide_a_recent_torch_ckpt_from_the_diffusers_loader(host_safe, webui_host, tmp_path):
    """The same for single-file SD checkpoints saved as .ckpt by a recent torch (diffusion/pickles.py)."""
    import torch
    from modules import errors

    from inpaint_anything.diffusion.pickles import load_weights_pickle

    path = tmp_path / "model.ckpt"
    torch.save({"state_dict": {"model.diffusion_model.x": torch.arange(4.0)}, "global_step": 7}, str(path))
    assert torch.load(str(path), map_location="cpu", weights_only=True) is None  # the host refuses it
    refused = len(errors.exception_records)
    loaded = load_weights_pickle(path)
    assert torch.equal(loaded["state_dict"]["model.diffusion_model.x"], torch.arange(4.0))
    assert len(errors.exception_records) == refused
