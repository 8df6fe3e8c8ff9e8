"""SAM 2 / 2.1: availability probe, recognition from weights, safe strict loading, the session,
'segment everything', the catalogue status and the install plan."""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from inpaint_anything import installer
from inpaint_anything.errors import UnavailableError, UnrecognizedCheckpointError, UnsafeCheckpointError
from inpaint_anything.models import catalogue
from inpaint_anything.segment import sam2_requirements

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from fixtures.tiny_sam import predictor_for  # noqa: E402
from fixtures.tiny_sam2 import TINY_SAM2_OVERRIDES, build_tiny_sam2, make_tiny_sam2_files, tiny_sam2_state_dict  # noqa: E402

from inpaint_anything.segment.checkpoint import LoadedSam, load_sam, read_state_dict  # noqa: E402
from inpaint_anything.segment.sam2_session import Sam2Session  # noqa: E402
from inpaint_anything.segment.sam2_spec import PUBLISHED_TRUNKS, Sam2Spec, infer_sam2_spec  # noqa: E402
from inpaint_anything.segment.session import session_for  # noqa: E402
from inpaint_anything.segment.spec import infer_sam_spec, infer_spec  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sam2_files(tmp_path_factory) -> dict[str, Path]:
    """{"pt": '{"model": sd}' under an arbitrary name, "safetensors": the plain state dict}."""
    return make_tiny_sam2_files(tmp_path_factory.mktemp("tiny_sam2"))


@pytest.fixture(scope="module")
def loaded(sam2_files) -> LoadedSam:
    return load_sam(sam2_files["pt"])


@pytest.fixture(scope="module")
def image(synthetic):
    return synthetic[0].image  # 240x320


@pytest.fixture(scope="module")
def session(loaded, image) -> Sam2Session:
    s = Sam2Session(loaded)
    s.set_image(image)
    return s


def _hook_counter(module) -> tuple[list[int], object]:
    calls: list[int] = []
    return calls, module.register_forward_hook(lambda *a: calls.append(1))


# --------------------------------------------------------------------------- availability probe


@pytest.mark.parametrize(
    ("torch_v", "vision_v", "sam2_error", "expected"),
    [
        ("2.1.2+cu121", "0.16.2+cu121", None, "torch 2.5.1 or newer; this installation has torch 2.1.2+cu121"),
        ("2.5.1", "0.19.1", None, "torchvision 0.20.1 or newer; this installation has torchvision 0.19.1"),
        (None, None, None, "torch is not installed"),
        ("2.5.1+cu124", "0.20.1", "not installed", "pip install --no-build-isolation sam2==1.1.0"),
        ("2.6.0", "0.21.0", "ModuleNotFoundError: No module named 'hydra'", "could not be imported (ModuleNot"),
        ("2.5.1", "0.20.1+cpu", None, None),
        ("2.14.1+cu130", "0.29.1", None, None),
    ],
)
def test_requirements_probe_is_pure(torch_v, vision_v, sam2_error, expected):
    problem = catalogue.sam2_requirements_problem(torch_v, vision_v, sam2_error)
    if expected is None:
        assert problem is None
    else:
        assert expected in problem and problem.startswith("SAM 2.1 needs")


def test_old_torch_is_reported_without_importing_sam2(monkeypatch):
    monkeypatch.setattr(sam2_requirements, "_installed_version", {"torch": "2.1.2", "torchvision": "0.16.2"}.get)
    monkeypatch.setattr(sam2_requirements, "_sam2_import_error", lambda: pytest.fail("sam2 must not be imported"))
    reason = catalogue.sam2_unavailable_reason()
    assert "torch 2.1.2" in reason and "torchvision 0.16.2" in reason


def test_a_broken_sam2_install_is_reported(monkeypatch):
    real = importlib.import_module

    def import_module(name, *a, **k):
        if name == "sam2":
            raise ImportError("No module named 'iopath'")
        return real(name, *a, **k)

    monkeypatch.setattr(sam2_requirements.importlib, "import_module", import_module)
    assert "could not be imported (ImportError: No module named 'iopath')" in catalogue.sam2_unavailable_reason()


@pytest.mark.both_stacks
def test_catalogue_offers_sam2_in_this_environment_and_explains_otherwise(monkeypatch):
    assert catalogue.sam2_unavailable_reason() is None
    statuses = [s for s in catalogue.available_entries() if s.entry.family == "sam2"]
    assert len(statuses) == 4 and all(s.available and not s.reason for s in statuses)

    monkeypatch.setattr(sam2_requirements, "_installed_version", {"torch": "2.1.2", "torchvision": "0.16.2"}.get)
    statuses = [s for s in catalogue.available_entries() if s.entry.family == "sam2"]
    assert all(not s.available and "torch 2.5.1 or newer" in s.reason for s in statuses)
    from inpaint_anything.segment.sam2_model import import_sam2

    with pytest.raises(UnavailableError, match="torch 2.5.1 or newer"):
        import_sam2()


# --------------------------------------------------------------------------- recognition


def _published_shapes(config: str) -> dict[str, object]:
    """Tensor names and (meta) shapes of a model built from a packaged config, without weights."""
    from accelerate import init_empty_weights
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    text = importlib.resources.files("sam2").joinpath(config).read_text(encoding="utf-8")
    with init_empty_weights():
        return instantiate(OmegaConf.create(text).model).state_dict()


@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_published_sizes_are_recognised_and_rebuilt_with_the_same_tensors(version):
    pytest.importorskip("accelerate")
    from inpaint_anything.segment.sam2_model import build_sam2_model

    names = {"hiera_t": "t", "hiera_s": "s", "hiera_b+": "b+", "hiera_l": "l"}
    for (embed_dim, stages), (variant, stem, *_rest) in PUBLISHED_TRUNKS.items():
        prefix = "configs/sam2.1/sam2.1" if version == "2.1" else "configs/sam2/sam2"
        sd = _published_shapes(f"{prefix}_hiera_{names[variant]}.yaml")
        spec = infer_spec(sd)
        assert isinstance(spec, Sam2Spec)
        assert (spec.variant, spec.version, spec.config_stem) == (variant, version, stem)
        assert (spec.trunk.embed_dim, spec.trunk.stages, spec.d_model) == (embed_dim, stages, 256)
        assert spec.describe().startswith(f"SAM {version} Hiera-")
        if variant == "hiera_b+":  # the one whose trunk comes from Hiera's defaults (window bkg 14x14)
            assert spec.trunk.window_pos_embed_bkg_spatial_size == (14, 14)
            ours = build_sam2_model(spec).state_dict()
            assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in sd.items()}


@pytest.mark.both_stacks
def test_tiny_checkpoint_is_recognised_from_weights_under_any_name(sam2_files, tmp_path):
    for path in sam2_files.values():
        spec = infer_spec(read_state_dict(path))  # {"model": sd} in a .pt, plain in .safetensors
        assert isinstance(spec, Sam2Spec) and spec.version == "2.1" and spec.variant == "custom"
        trunk = TINY_SAM2_OVERRIDES["image_encoder"]["trunk"]
        assert spec.trunk.embed_dim == trunk["embed_dim"] and list(spec.trunk.stages) == trunk["stages"]
        assert list(spec.trunk.global_att_blocks) == trunk["global_att_blocks"]
        assert spec.d_model == 32 and spec.memory.mem_dim == 16 and spec.memory.attention_layers == 1
    # wrapped in a DataParallel prefix and saved as .bin: still recognised
    odd = tmp_path / "pytorch_model.bin"
    torch.save({"state_dict": {f"module.{k}": v for k, v in tiny_sam2_state_dict().items()}}, str(odd))
    assert infer_spec(read_state_dict(odd)).trunk.stages == (1, 2, 2, 1)


def test_sam2_0_checkpoint_loads_with_the_sam2_0_config(tmp_path):
    model = build_tiny_sam2(config="configs/sam2/sam2_hiera_t.yaml")
    path = tmp_path / "old.pth"
    torch.save({"model": model.state_dict()}, str(path))
    loaded = load_sam(path)
    assert loaded.spec.version == "2.0" and "configs/sam2/" in loaded.spec.config_name
    assert loaded.model.no_obj_embed_spatial is None and not loaded.model.proj_tpos_enc_in_obj_ptrs


def test_unrecognised_and_inconsistent_checkpoints_give_clear_errors(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"model": {"encoder.weight": torch.zeros(3, 3)}}, str(other))
    with pytest.raises(UnrecognizedCheckpointError, match="not a Segment Anything"):
        load_sam(other)

    sd = tiny_sam2_state_dict()
    partial = tmp_path / "partial.pt"
    torch.save({"model": {k: v for k, v in sd.items() if k != "sam_mask_decoder.conv_s0.weight"}}, str(partial))
    with pytest.raises(UnrecognizedCheckpointError, match=r"1 missing \(e\.g\. sam_mask_decoder\.conv_s0\.weight"):
        load_sam(partial)

    mixed = dict(sd)
    del mixed["no_obj_embed_spatial"]
    with pytest.raises(UnrecognizedCheckpointError, match="mixes SAM 2.0 and SAM 2.1"):
        infer_sam2_spec(mixed)
    with pytest.raises(UnrecognizedCheckpointError, match="This is a SAM 2 checkpoint"):
        infer_sam_spec(sd)  # the SAM 1 inference says what the file is


class _RunsCommand:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "sam2.1_hiera_tiny.pt"
    torch.save({"model": tiny_sam2_state_dict(), "hook": _RunsCommand(marker)}, str(path))
    with pytest.raises(UnsafeCheckpointError, match="system"):
        load_sam(path)
    assert not marker.exists()


# --------------------------------------------------------------------------- loading and caching


@pytest.mark.both_stacks
def test_loaded_weights_equal_the_saved_ones(sam2_files, loaded):
    saved = tiny_sam2_state_dict()
    for fmt in ("pt", "safetensors"):
        model = loaded.model if fmt == "pt" else load_sam(sam2_files[fmt]).model
        state = model.state_dict()
        assert set(state) == set(saved)
        for key, value in saved.items():
            assert torch.equal(state[key], value), (fmt, key)
    assert loaded.family == "sam2" and loaded.is_sam2 and not loaded.is_hq
    assert loaded.device == "cpu" and not loaded.model.training
    assert loaded.spec.describe() == "SAM 2.1 custom Hiera (8-wide)"


def test_model_cache_keeps_one_sam2_model(sam2_files, image):
    from inpaint_anything.segment.model_cache import SamModelCache

    cache = SamModelCache(max_models=1, device="cpu")
    first = cache.get(sam2_files["pt"])
    assert cache.get(sam2_files["pt"]) is first and cache.loads == 1
    patch = first.model.image_encoder.trunk.patch_embed.proj.weight
    assert patch.is_contiguous(memory_format=torch.channels_last)  # as the other SAM models on CPU
    result = Sam2Session(first).set_image(image)
    assert result.features.dtype == torch.float32
    cache.get(sam2_files["safetensors"])
    assert cache.loaded_paths() == [str(sam2_files["safetensors"].resolve())] and cache.loads == 2


# --------------------------------------------------------------------------- session


def test_encoder_and_high_res_features_run_once_for_many_prompts(loaded, image):
    dec = loaded.model.sam_mask_decoder
    counters = [_hook_counter(m) for m in (loaded.model.image_encoder, dec.conv_s0, dec.conv_s1)]
    try:
        s = Sam2Session(loaded)
        s.set_image(image)
        s.set_image(image.copy())  # same pixels
        for x in (40, 120, 200, 280):
            s.predict(points=[(x, 120)])
        s.predict(box=(20, 20, 200, 200))
        assert [len(c) for c, _ in counters] == [1, 1, 1] and s.encoder_runs == 1
        s.set_image(image[::-1].copy())
        assert [len(c) for c, _ in counters] == [2, 2, 2]
    finally:
        for _, handle in counters:
            handle.remove()


@pytest.mark.parametrize(
    ("kwargs", "n"),
    [
        ({"points": [(160, 120)]}, 3),
        ({"points": [(160, 120)], "multimask": False}, 1),
        ({"box": (80, 40, 240, 200), "multimask": False}, 1),
        ({"points": [(160, 120), (20, 20)], "labels": [1, 0], "box": (80, 40, 240, 200), "multimask": False}, 1),
    ],
)
def test_prompts_give_full_size_bool_masks_best_first(session, kwargs, n):
    result = session.predict(**kwargs)
    assert len(result) == n == session.candidates_per_prompt(kwargs.get("multimask", True))
    assert result.masks.shape == (n, 240, 320) and result.masks.dtype == bool
    assert result.scores.dtype == np.float32 and np.all(np.diff(result.scores) <= 0)
    assert result.low_res_logits.shape == (n, 256, 256) and np.abs(result.low_res_logits).max() <= 32.0
    assert session.geometry.input_size == (1024, 1024) and session.geometry.lowres == 256


def test_refinement_and_box_order(session):
    first = session.predict(points=[(160, 120)])
    again = session.predict(points=[(160, 120), (60, 60)], labels=[1, 0], multimask=False)
    refined = session.predict(points=[(160, 120), (60, 60)], labels=[1, 0], multimask=False, refine_from=first)
    assert not np.allclose(refined.low_res_logits, again.low_res_logits)
    from_logits = session.predict(
        points=[(160, 120), (60, 60)], labels=[1, 0], multimask=False, refine_from=first.low_res_logits[0]
    )
    np.testing.assert_array_equal(from_logits.low_res_logits, refined.low_res_logits)
    boxed = session.predict(box=(80, 40, 240, 200), multimask=False)
    swapped = session.predict(box=(240, 200, 80, 40), multimask=False)
    np.testing.assert_array_equal(swapped.low_res_logits, boxed.low_res_logits)


@pytest.mark.both_stacks
@pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:FutureWarning")  # inside SAM2ImagePredictor
def test_results_equal_metas_image_predictor(loaded, session, image):
    predictor = predictor_for(loaded)
    predictor.set_image(image)
    first = session.predict(points=[(160, 120)])
    cases = [
        ({"points": [(160, 120)]}, {"point_coords": np.array([[160, 120]]), "point_labels": np.array([1])}),
        ({"box": (60, 30, 260, 210), "multimask": False}, {"box": np.array([60, 30, 260, 210]), "multimask_output": False}),
        (
            {"points": [(160, 120), (30, 40)], "labels": [1, 0], "box": (60, 30, 260, 210), "multimask": False},
            {
                "point_coords": np.array([[160, 120], [30, 40]]),
                "point_labels": np.array([1, 0]),
                "box": np.array([60, 30, 260, 210]),
                "multimask_output": False,
            },
        ),
        (
            {"points": [(160, 120), (30, 40)], "labels": [1, 0], "multimask": False, "refine_from": first},
            {
                "point_coords": np.array([[160, 120], [30, 40]]),
                "point_labels": np.array([1, 0]),
                "multimask_output": False,
                "mask_input": first.low_res_logits[:1],
            },
        ),
    ]
    for ours_kwargs, theirs_kwargs in cases:
        ours = session.predict(**ours_kwargs)
        masks, scores, low = predictor.predict(**theirs_kwargs)
        order = np.argsort(-scores, kind="stable")
        np.testing.assert_array_equal(ours.masks, masks[order])
        np.testing.assert_array_equal(ours.scores, scores[order])
        np.testing.assert_allclose(ours.low_res_logits, low[order], atol=1e-5)


def test_segment_everything_is_deterministic_and_does_not_reencode(session, image):
    from inpaint_anything.segment.everything import segment_everything

    runs = session.encoder_runs
    loose = {"pred_iou_thresh": 0.0, "stability_thresh": 0.0, "min_area_frac": 0.0}
    first = segment_everything(session, points_per_side=4, **loose)
    second = segment_everything(session, image, points_per_side=4, **loose)
    assert session.encoder_runs == runs
    assert len(first) >= 1 and first.labels.shape == image.shape[:2]
    np.testing.assert_array_equal(first.labels, second.labels)
    np.testing.assert_array_equal(first.scores, second.scores)
    assert list(first.areas) == sorted(first.areas)
    assert set(np.unique(first.labels)) <= set(range(-1, len(first)))
    full = first.mask(0)
    assert full.shape == image.shape[:2] and full.dtype == bool and full.any()
    # prompts decoded together (as on CUDA) give the same segments as one at a time
    batched = segment_everything(session, points_per_side=4, points_per_batch=16, **loose)
    np.testing.assert_array_equal(batched.labels, first.labels)
    np.testing.assert_allclose(batched.scores, first.scores, atol=1e-5)


def test_workspace_uses_a_sam2_session_for_a_sam2_file(sam2_files, tmp_path, image):
    from inpaint_anything.app import App
    from inpaint_anything.config import Settings

    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(sam2_files["pt"], models / "anything.pt")
    app = App(Settings(models_dir=str(models), sam_device="cpu", offline=True))
    ws = app.workspace("a")
    ws.set_image(image)
    result = ws.click(160, 120, model_id="file:anything.pt")
    assert isinstance(ws._session, Sam2Session) and result.masks.shape == (3, 240, 320)
    np.testing.assert_array_equal(ws.mask, result.masks[0])
    assert isinstance(session_for(ws._session.loaded), Sam2Session)


# --------------------------------------------------------------------------- install plan

HOST = {
    "segment-anything": "1.0",
    "segment-anything-hq": "0.3",
    "timm": "1.0.9",
    "diffusers": "0.31.0",
    "pypatchmatch": "2.2.0",
    "opencv-python": "4.10.0.84",
    "numpy": "1.26.2",
}


def test_a1111_torch_skips_sam2_with_a_note():
    plan = installer.plan(dict(HOST, torch="2.1.2+cu121", torchvision="0.16.2+cu121"), (3, 10), "linux")
    assert plan.nothing_to_do
    assert any(note.startswith("SAM 2.1 skipped") and "torch 2.1.2+cu121" in note for note in plan.notes)
    # torch new enough but torchvision not: still skipped (never up- or downgraded for sam2)
    plan = installer.plan(dict(HOST, torch="2.5.1", torchvision="0.19.1"), (3, 11), "linux")
    assert plan.nothing_to_do and any("SAM 2.1 skipped" in n for n in plan.notes)


def test_new_enough_torch_plans_sam2_without_build_isolation():
    plan = installer.plan(dict(HOST, torch="2.5.1+cu124", torchvision="0.20.1+cu124"), (3, 11), "linux")
    [req] = plan.install
    assert req.spec == "sam2==1.1.0" and req.optional and req.no_build_isolation
    assert dict(req.env) == {"SAM2_BUILD_CUDA": "0"}
    assert req.pip_args("/tmp/c.txt") == 'install "sam2==1.1.0" -c "/tmp/c.txt" --no-build-isolation'
    assert plan.constraints["torch"] == "2.5.1+cu124" and plan.constraints["torchvision"] == "0.20.1+cu124"
    assert installer.plan(dict(HOST, torch="2.5.1", torchvision="0.20.1", sam2="1.1.0"), (3, 11), "linux").nothing_to_do


def test_install_py_passes_the_build_env_to_the_hosts_pip(monkeypatch, capsys):
    calls = []

    def run_pip(command, desc=None, live=False):
        calls.append((command, os.environ.get("SAM2_BUILD_CUDA"), os.path.exists(command.split('"')[3])))

    monkeypatch.setitem(sys.modules, "launch", types.SimpleNamespace(run_pip=run_pip))
    monkeypatch.setattr(installer, "installed_distributions", lambda: dict(HOST, torch="2.6.0", torchvision="0.21.0"))
    monkeypatch.delenv("SAM2_BUILD_CUDA", raising=False)
    spec = importlib.util.spec_from_file_location("ia_install_py", REPO / "install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main() == 0
    [(command, env, constraints_existed)] = calls
    assert command.startswith('install "sam2==1.1.0" -c "') and command.endswith("--no-build-isolation")
    assert env == "0" and constraints_existed
    assert "SAM2_BUILD_CUDA" not in os.environ  # restored afterwards
