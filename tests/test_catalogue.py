"""The model catalogue, SAM 2.1 availability, and the models folder scan."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
from pathlib import Path

import pytest

from inpaint_anything.errors import InvalidInputError, ModelNotFoundError, UnrecognizedCheckpointError
from inpaint_anything.models.catalogue import CATALOGUE, FAMILIES, available_entries, find_by_filename, get_entry
from inpaint_anything.models.files import ModelScanner, Recognised, recognise_checkpoint, safetensors_shapes, scan_models
from inpaint_anything.segment import sam2_requirements

# -------------------------------------------------------------------------------------------------
# Catalogue


def test_ids_and_filenames_are_unique():
    assert len({e.id for e in CATALOGUE}) == len(CATALOGUE)
    assert len({e.filename.lower() for e in CATALOGUE}) == len(CATALOGUE)


def test_entries_are_well_formed():
    for e in CATALOGUE:
        assert e.family in FAMILIES, e.id
        assert e.sources, e.id
        assert e.filename.endswith((".pth", ".pt")), e.id
        assert e.size_bytes is None or (isinstance(e.size_bytes, int) and e.size_bytes > 1_000_000), e.id
        assert e.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", e.sha256), e.id
        assert e.description and e.title
        for s in e.sources:
            if s.kind == "hf":
                assert re.fullmatch(r"[\w.-]+/[\w.-]+", s.repo_id) and s.filename.endswith(e.filename), e.id
            else:
                assert s.kind == "url" and s.url.startswith("https://") and s.url.endswith("/" + e.filename), e.id


def test_expected_models_are_listed():
    ids = {e.id for e in CATALOGUE}
    assert {
        "sam_vit_b",
        "sam_vit_l",
        "sam_vit_h",
        "sam_hq_vit_b",
        "sam_hq_vit_l",
        "sam_hq_vit_h",
        "sam_hq_vit_tiny",
        "mobile_sam",
        "sam2_1_hiera_tiny",
        "sam2_1_hiera_small",
        "sam2_1_hiera_base_plus",
        "sam2_1_hiera_large",
    } <= ids
    assert get_entry("sam_hq_vit_tiny").family == "sam_hq_tiny"
    assert get_entry("mobile_sam").arch == "vit_tiny"
    assert all(e.requires for e in CATALOGUE if e.family == "sam2")
    assert get_entry("sam_vit_h").size_bytes == 2_564_550_879


def test_default_setting_names_a_catalogue_entry():
    from inpaint_anything.config import Settings

    assert get_entry(Settings().default_sam_model).family == "sam"


def test_unknown_id_and_filename_lookup():
    with pytest.raises(ModelNotFoundError, match="sam_vit_b"):
        get_entry("sam_vit_x")
    assert find_by_filename("SAM_VIT_B_01EC64.pth").id == "sam_vit_b"
    assert find_by_filename("nothing.pth") is None


def _fake_env(monkeypatch, *, sam2: bool, torch: str | None, torchvision: str | None = "0.20.1"):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *a, **k):
        if name == "sam2":
            return object() if sam2 else None
        return real_find_spec(name, *a, **k)

    def version(name):
        found = {"torch": torch, "torchvision": torchvision}.get(name)
        if found is not None:
            return found
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(sam2_requirements.importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(sam2_requirements.importlib.metadata, "version", version)


@pytest.mark.parametrize(
    ("sam2", "torch", "torchvision", "available", "reason"),
    [
        (False, "2.6.0", "0.21.0", False, "'sam2' package"),
        (True, "2.4.1+cu121", "0.19.1", False, "torch 2.5.1 or newer; this installation has torch 2.4.1+cu121"),
        (True, None, "0.20.1", False, "torch is not installed"),
        (True, "2.5.1", "0.19.1", False, "torchvision 0.20.1 or newer; this installation has torchvision 0.19.1"),
        (True, "2.5.1+cu124", "0.20.1+cu124", True, ""),
        (True, "2.10.0", "0.25.0", True, ""),
    ],
)
def test_sam2_availability(monkeypatch, sam2, torch, torchvision, available, reason):
    _fake_env(monkeypatch, sam2=sam2, torch=torch, torchvision=torchvision)
    statuses = {s.entry.id: s for s in available_entries()}
    assert len(statuses) == len(CATALOGUE)
    for entry_id, status in statuses.items():
        if status.entry.family == "sam2":
            assert status.available is available
            assert reason in status.reason
        else:
            assert status.available and not status.reason, entry_id


def test_availability_never_raises(monkeypatch):
    def broken(*a, **k):
        raise ValueError("broken metadata")

    monkeypatch.setattr(sam2_requirements.importlib.util, "find_spec", broken)
    sam2 = [s for s in available_entries() if s.entry.family == "sam2"]
    assert sam2 and all(not s.available and "broken metadata" in s.reason for s in sam2)


# -------------------------------------------------------------------------------------------------
# Models folder scan


class CountingRecogniser:
    def __init__(self):
        self.calls: list[str] = []

    def __call__(self, path: Path) -> Recognised:
        self.calls.append(path.name)
        if path.read_bytes().startswith(b"SAM"):
            return Recognised("sam", "vit_b")
        raise UnrecognizedCheckpointError(f"'{path.name}' is not a Segment Anything checkpoint.")


def _sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def test_scan_matches_catalogue_by_name_and_size(tmp_path):
    _sparse(tmp_path / "sam_vit_b_01ec64.pth", get_entry("sam_vit_b").size_bytes)
    _sparse(tmp_path / "mobile_sam.pt", 1234)
    recogniser = CountingRecogniser()
    found = {f.name: f for f in scan_models(tmp_path, recognise=recogniser)}
    good, short = found["sam_vit_b_01ec64.pth"], found["mobile_sam.pt"]
    assert good.usable and good.entry.id == "sam_vit_b" and good.matched_by == "catalogue"
    assert not short.usable and "1234 bytes instead of 40728226" in short.problem
    assert recogniser.calls == []  # catalogue files are never opened


def test_scan_recognises_unknown_names_once_per_version(tmp_path):
    (tmp_path / "mine.pth").write_bytes(b"SAM weights")
    (tmp_path / "other.safetensors").write_bytes(b"not a model")
    sub = tmp_path / "sub"
    (sub / "deeper").mkdir(parents=True)
    (sub / "nested.pt").write_bytes(b"SAM nested")
    (sub / "deeper" / "too_deep.pth").write_bytes(b"SAM")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.pth").write_bytes(b"SAM")
    (tmp_path / "mine.pth.part").write_bytes(b"SAM")
    (tmp_path / "notes.txt").write_text("SAM")

    recogniser = CountingRecogniser()
    scanner = ModelScanner(recogniser)
    found = {f.path.relative_to(tmp_path).as_posix(): f for f in scanner.scan(tmp_path)}
    assert sorted(found) == ["mine.pth", "other.safetensors", "sub/nested.pt"]
    assert found["mine.pth"].family == "sam" and found["mine.pth"].matched_by == "weights"
    assert not found["other.safetensors"].usable and "not a Segment Anything" in found["other.safetensors"].problem
    assert sorted(recogniser.calls) == ["mine.pth", "nested.pt", "other.safetensors"]

    scanner.scan(tmp_path)
    assert len(recogniser.calls) == 3  # cached by (path, size, mtime)
    st = (tmp_path / "mine.pth").stat()
    os.utime(tmp_path / "mine.pth", ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    scanner.scan(tmp_path)
    assert recogniser.calls[3:] == ["mine.pth"]


def test_scan_of_missing_folder_is_empty(tmp_path):
    assert scan_models(tmp_path / "nope") == []


def test_real_recognition_of_tiny_checkpoints(tiny_sam_files, tmp_path):
    from fixtures.tiny_sam import save_tiny_sam

    for kind, src in tiny_sam_files.items():
        shutil.copy(src, tmp_path / f"{kind}_weights.pth")  # torch.save or safetensors content, .pth name
    save_tiny_sam("mobile_sam", tmp_path / "as_safetensors.safetensors")
    found = {f.name: f for f in scan_models(tmp_path)}
    for kind in tiny_sam_files:
        f = found[f"{kind}_weights.pth"]
        assert f.usable and f.family == kind and f.spec.family == kind, (kind, f.problem)
    assert found["as_safetensors.safetensors"].family == "mobile_sam"


def test_safetensors_header_shapes_and_truncation(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    path = tmp_path / "w.safetensors"
    save_file({"a.weight": torch.zeros(3, 4), "b": torch.zeros(7)}, str(path))
    assert {k: v.shape for k, v in safetensors_shapes(path).items()} == {"a.weight": (3, 4), "b": (7,)}
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    with pytest.raises(InvalidInputError, match="incomplete"):
        safetensors_shapes(path)


@pytest.mark.parametrize(("width", "blocks", "arch"), [(96, 12, "hiera_t"), (112, 24, "hiera_b+"), (64, 3, "custom")])
def test_sam2_checkpoint_is_recognised_from_weights(tmp_path, width, blocks, arch):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    sd = {"image_encoder.trunk.patch_embed.proj.weight": torch.zeros(width, 3, 1, 1)}
    sd.update({f"image_encoder.trunk.blocks.{i}.norm1.weight": torch.zeros(1) for i in range(blocks)})
    save_file(sd, str(tmp_path / "sam2.safetensors"))
    assert recognise_checkpoint(tmp_path / "sam2.safetensors") == Recognised("sam2", arch)
