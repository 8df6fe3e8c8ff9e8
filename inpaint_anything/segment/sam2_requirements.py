"""Whether SAM 2.1 can run in this installation, and why not, in words for the user: torch >= 2.5.1,
torchvision >= 0.20.1 and an importable ``sam2`` package. Reads package metadata and imports ``sam2``
(hydra and omegaconf only) when the versions allow it, never torch."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re

SAM2_MIN_TORCH = (2, 5, 1)
SAM2_MIN_TORCHVISION = (0, 20, 1)


def _version_tuple(text: str) -> tuple[int, ...]:
    """``"2.5.1+cu121"`` -> (2, 5, 1); ``"2.6.0rc1"`` -> (2, 6, 0)."""
    parts = []
    for piece in text.split("+")[0].split(".")[:3]:
        match = re.match(r"\d+", piece)
        if not match:
            break
        parts.append(int(match.group()))
    return tuple(parts)


def sam2_requirements_problem(torch_version: str | None, torchvision_version: str | None, sam2_error: str | None) -> str | None:
    """Why SAM 2.1 cannot run with these installed versions, for the user; None when it can (pure).

    ``torch_version`` / ``torchvision_version``: installed versions (None: not installed);
    ``sam2_error``: why ``import sam2`` failed (``"not installed"`` or the error), None if it worked.
    """
    needs = []
    for name, found, minimum in (
        ("torch", torch_version, SAM2_MIN_TORCH),
        ("torchvision", torchvision_version, SAM2_MIN_TORCHVISION),
    ):
        need = ".".join(map(str, minimum))
        if found is None:
            needs.append(f"{name} {need} or newer, and {name} is not installed")
        else:
            parsed = _version_tuple(found)
            if not parsed or parsed < minimum:
                needs.append(f"{name} {need} or newer; this installation has {name} {found}")
    if needs:
        return (
            "SAM 2.1 needs " + "; it also needs ".join(needs) + ". The other Segment Anything models work; "
            "SAM 2.1 becomes available in a WebUI whose torch is new enough (then the extension installs "
            "the 'sam2' package)."
        )
    if sam2_error == "not installed":
        return (
            "SAM 2.1 needs the 'sam2' package, which is not installed. Restart the WebUI so that the "
            "extension installs it, or run: SAM2_BUILD_CUDA=0 pip install --no-build-isolation sam2==1.1.0"
        )
    if sam2_error:
        return (
            f"SAM 2.1 needs the 'sam2' package, which is installed but could not be imported ({sam2_error}). "
            "Reinstall it: SAM2_BUILD_CUDA=0 pip install --no-build-isolation --force-reinstall sam2==1.1.0"
        )
    return None


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _sam2_import_error() -> str | None:
    """None when ``import sam2`` works, ``"not installed"``, or the import error (one line)."""
    if importlib.util.find_spec("sam2") is None:
        return "not installed"
    try:
        importlib.import_module("sam2")  # light: hydra and omegaconf, not torch
    except Exception as exc:
        text = str(exc).strip().splitlines()
        return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
    return None


def sam2_unavailable_reason() -> str | None:
    """Why SAM 2.1 cannot run here (None when it can); never raises.

    Versions come from package metadata; ``sam2`` is imported (it needs only hydra and omegaconf)
    only when torch and torchvision are new enough.
    """
    try:
        torch_version, vision_version = _installed_version("torch"), _installed_version("torchvision")
        problem = sam2_requirements_problem(torch_version, vision_version, None)
        if problem is not None:
            return problem
        return sam2_requirements_problem(torch_version, vision_version, _sam2_import_error())
    except Exception as exc:  # a broken environment must not break the model list
        return f"SAM 2.1 availability could not be checked ({type(exc).__name__}: {exc})."


__all__ = ["SAM2_MIN_TORCH", "SAM2_MIN_TORCHVISION", "sam2_requirements_problem", "sam2_unavailable_reason"]
