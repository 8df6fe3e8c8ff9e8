"""Install decisions for install.py: what is missing and which versions fit the host.

Pure logic over a mapping of installed distributions, so it is tested without a WebUI. install.py
(the host runs it on every start) gathers the installed versions, asks :func:`plan` what to install,
and runs pip through the host's helper with a constraints file that freezes every package the host
pins, so an install can add packages but never upgrade or downgrade one the host depends on.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from inpaint_anything.models.catalogue import SAM2_MIN_TORCH, SAM2_MIN_TORCHVISION

# Packages the WebUI (A1111 or Forge) pins or depends on; we never change their versions.
HOST_PINNED = (
    "torch",
    "torchvision",
    "gradio",
    "gradio-client",
    "fastapi",
    "starlette",
    "pydantic",
    "transformers",
    "tokenizers",
    "huggingface-hub",
    "numpy",
    "pillow",
    "accelerate",
    "safetensors",
    "scikit-image",
    "open-clip-torch",
    "protobuf",
    "httpx",
    "opencv-python",
    "opencv-python-headless",
    "diffusers",
    "timm",
)

OPENCV_DISTS = ("opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless")

# SAM 2.1: Meta's sam2 package is an sdist whose build imports torch (so no build isolation), with an
# optional CUDA extension that is not needed (SAM2_BUILD_CUDA=0). It requires these versions, which
# are never installed for it: the host's torch/torchvision must already be new enough.
SAM2_SPEC = "sam2==1.1.0"
SAM2_BUILD_ENV = (("SAM2_BUILD_CUDA", "0"),)


def normalize(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_version(text: str) -> tuple[int, ...]:
    """A comparable tuple from a version string ('4.30.2' -> (4, 30, 2); '2.1.2+cu121' -> (2, 1, 2))."""
    parts = []
    for piece in re.split(r"[.+-]", text):
        m = re.match(r"\d+", piece)
        if not m:
            break
        parts.append(int(m.group()))
    return tuple(parts)


@dataclass(frozen=True)
class Requirement:
    """One pip requirement to install, with the reason shown in the log."""

    spec: str
    reason: str
    optional: bool = False
    no_deps: bool = False
    no_build_isolation: bool = False  # the build needs packages of the host's environment (torch)
    env: tuple[tuple[str, str], ...] = ()  # environment variables set while pip runs

    def pip_args(self, constraints: str | None = None) -> str:
        """The ``command`` for the host's ``launch.run_pip``: ``install "<spec>" [-c "<file>"] [flags]``."""
        parts = [f'install "{self.spec}"']
        if constraints:
            parts.append(f'-c "{constraints}"')
        if self.no_deps:
            parts.append("--no-deps")
        if self.no_build_isolation:
            parts.append("--no-build-isolation")
        return " ".join(parts)


@dataclass
class Plan:
    """What install.py should do."""

    install: list[Requirement] = field(default_factory=list)
    constraints: dict[str, str] = field(default_factory=dict)  # normalised name -> installed version
    notes: list[str] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        return not self.install


def installed_distributions() -> dict[str, str]:
    """Installed distributions as {normalised name: version} (fast: metadata only, no imports)."""
    from importlib import metadata

    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            found.setdefault(normalize(name), dist.version)
    return found


def _diffusers_spec(installed: dict[str, str]) -> tuple[str, str]:
    """A diffusers release that imports its SD/SDXL inpainting pipelines with the host's packages.

    diffusers 0.32+ imports SiglipImageProcessor (transformers >= 4.37) from its IP-adapter loader,
    so with A1111's transformers 4.30.2 the newest working release is 0.31.0 (Forge pins 0.31.0).
    """
    transformers = parse_version(installed.get("transformers", "0"))
    hub = parse_version(installed.get("huggingface-hub", "0"))
    if transformers and transformers < (4, 37):
        return "diffusers==0.31.0", "newest release that works with transformers < 4.37"
    if hub and hub < (0, 34):
        return "diffusers==0.31.0", "works with huggingface_hub < 0.34"
    return "diffusers>=0.31.0,<0.36", "tested range"


def _sam2_item(installed: Mapping[str, str]) -> Requirement | str:
    """The optional sam2 requirement, or the one-line note saying why it is skipped."""
    torch = parse_version(installed.get("torch", ""))
    vision = parse_version(installed.get("torchvision", ""))
    if torch and vision and torch >= SAM2_MIN_TORCH and vision >= SAM2_MIN_TORCHVISION:
        return Requirement(
            SAM2_SPEC,
            "SAM 2.1 models (optional; built without CUDA extension)",
            optional=True,
            no_build_isolation=True,
            env=SAM2_BUILD_ENV,
        )
    found = f"torch {installed.get('torch', 'missing')}, torchvision {installed.get('torchvision', 'missing')}"
    return f"SAM 2.1 skipped: it needs torch >= 2.5.1 and torchvision >= 0.20.1 ({found} here); the other SAM models work"


def plan(installed: dict[str, str], python_version: tuple[int, int] | None = None, platform: str | None = None) -> Plan:
    """Decide what to install into a host environment described by ``installed``."""
    py = python_version or sys.version_info[:2]
    platform = platform or sys.platform
    installed = {normalize(k): v for k, v in installed.items()}
    result = Plan(constraints={name: installed[name] for name in HOST_PINNED if name in installed})

    if "segment-anything" not in installed:
        result.install.append(Requirement("segment-anything==1.0", "SAM models"))
    if "segment-anything-hq" not in installed:
        result.install.append(Requirement("segment-anything-hq==0.3", "SAM-HQ and MobileSAM models"))
    if "timm" not in installed:
        # segment-anything-hq imports timm without declaring it.
        result.install.append(Requirement("timm>=0.9,<2", "needed by segment-anything-hq (undeclared)"))
    if "diffusers" not in installed:
        spec, why = _diffusers_spec(installed)
        result.install.append(Requirement(spec, f"Hugging Face inpainting models ({why})"))
    if not any(name in installed for name in OPENCV_DISTS):
        numpy = parse_version(installed.get("numpy", "0"))
        spec = "opencv-python-headless>=4.8,<4.12" if numpy and numpy < (2,) else "opencv-python-headless>=4.8"
        result.install.append(Requirement(spec, "image processing (keeps numpy < 2)"))
    if "sam2" not in installed:
        item = _sam2_item(installed)
        if isinstance(item, Requirement):
            result.install.append(item)
        else:
            result.notes.append(item)
    if "pypatchmatch" not in installed:
        if py >= (3, 11) and platform.startswith("linux"):
            result.install.append(Requirement("pypatchmatch==2.2.0", "PatchMatch object removal (optional)", optional=True))
        else:
            result.notes.append("PatchMatch wheel not available for this platform; the built-in fill is used instead")
    return result


def constraints_text(constraints: dict[str, str]) -> str:
    """pip constraints file content that freezes the given distributions at their versions."""
    return "".join(f"{name}=={version}\n" for name, version in sorted(constraints.items()))
