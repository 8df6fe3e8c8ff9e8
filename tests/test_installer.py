"""install.py decisions: what it installs for a given host, never touching pinned packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from inpaint_anything import installer

A1111 = {
    "torch": "2.1.2+cu121",
    "torchvision": "0.16.2+cu121",
    "gradio": "3.41.2",
    "fastapi": "0.94.0",
    "pydantic": "1.10.17",
    "transformers": "4.30.2",
    "huggingface-hub": "0.24.5",
    "numpy": "1.26.2",
    "Pillow": "9.5.0",
    "accelerate": "0.21.0",
    "safetensors": "0.4.2",
    "open-clip-torch": "2.20.0",
    "scikit-image": "0.21.0",
    "opencv-python": "4.10.0.84",
}
FORGE = {
    "torch": "2.3.1",
    "gradio": "4.40.0",
    "fastapi": "0.104.1",
    "pydantic": "2.8.2",
    "transformers": "4.46.1",
    "huggingface_hub": "0.26.2",
    "diffusers": "0.31.0",
    "accelerate": "0.31.0",
    "numpy": "1.26.2",
    "Pillow": "9.5.0",
}


def specs(plan: installer.Plan) -> dict[str, str]:
    return {r.spec.split("=")[0].split(">")[0].split("<")[0]: r.spec for r in plan.install}


def test_a1111_gets_diffusers_that_imports_with_transformers_4_30():
    plan = installer.plan(A1111, (3, 10), "linux")
    got = specs(plan)
    assert got["diffusers"] == "diffusers==0.31.0"
    assert {"segment-anything", "segment-anything-hq", "timm"} <= set(got)
    # opencv-python is already there: no second OpenCV
    assert not any(name.startswith("opencv") for name in got)
    # PatchMatch wheel needs Python 3.11; on 3.10 it is skipped with a note
    assert "pypatchmatch" not in got
    assert plan.notes


def test_pinned_packages_are_frozen_and_never_installed():
    plan = installer.plan(A1111, (3, 11), "linux")
    installed_names = set(specs(plan))
    for name in ("torch", "gradio", "transformers", "numpy", "pillow", "pydantic", "fastapi", "accelerate", "safetensors"):
        assert name not in installed_names
        assert plan.constraints[name] == A1111.get(name, A1111.get(name.capitalize()))
    text = installer.constraints_text(plan.constraints)
    assert "numpy==1.26.2\n" in text and "transformers==4.30.2\n" in text and "pillow==9.5.0\n" in text


def test_forge_keeps_its_diffusers_and_hub():
    plan = installer.plan(FORGE, (3, 10), "linux")
    got = specs(plan)
    assert "diffusers" not in got
    assert plan.constraints["diffusers"] == "0.31.0"
    assert plan.constraints["huggingface-hub"] == "0.26.2"
    # no OpenCV at all -> a headless build that keeps numpy < 2
    assert got["opencv-python-headless"] == "opencv-python-headless>=4.8,<4.12"


@pytest.mark.parametrize("host", [A1111, FORGE])
def test_ray_is_never_installed_into_a_webui(host):
    """Ray (the optional batch engine, requirements/ray.txt) is not a runtime requirement."""
    assert not any(name.startswith("ray") for name in specs(installer.plan(host, (3, 11), "linux")))
    runtime = (Path(__file__).resolve().parents[1] / "requirements" / "runtime.txt").read_text()
    assert "ray" not in runtime.lower().replace("array", "")


def test_nothing_missing_means_nothing_to_do():
    full = dict(
        A1111,
        **{
            "segment-anything": "1.0",
            "segment-anything-hq": "0.3",
            "timm": "1.0.9",
            "diffusers": "0.31.0",
            "pypatchmatch": "2.2.0",
        },
    )
    assert installer.plan(full, (3, 11), "linux").nothing_to_do


def test_newer_transformers_allows_newer_diffusers():
    env = dict(A1111, transformers="4.46.1")
    env["huggingface-hub"] = "0.36.0"
    assert specs(installer.plan(env, (3, 11), "linux"))["diffusers"] == "diffusers>=0.31.0,<0.36"


@pytest.mark.parametrize(
    ("text", "expected"), [("4.30.2", (4, 30, 2)), ("2.1.2+cu121", (2, 1, 2)), ("1.0rc1", (1, 0)), ("0.36.2.dev0", (0, 36, 2))]
)
def test_parse_version(text, expected):
    assert installer.parse_version(text) == expected


def test_scanning_installed_distributions_is_fast():

    found = installer.installed_distributions()

    assert "numpy" in found and "torch" in found
