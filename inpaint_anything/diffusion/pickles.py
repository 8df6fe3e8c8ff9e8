"""Read ``.ckpt``/``.pt`` checkpoints without running code from them.

First ``torch.load(weights_only=True)``. Old LDM checkpoints (SD 1.x trained with PyTorch Lightning 1.4)
also hold things torch's weights-only reader refuses although they are harmless: the *class*
``pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint`` used as a dictionary key, and numpy
scalars / dtypes (``global_step``). The WebUI's own restricted unpickler accepts exactly these, so such a
file is read a second time with :class:`_RestrictedUnpickler`: tensors, storages, plain containers, those
numpy types, and an inert stand-in for the Lightning class (Lightning is never imported). Any other
Python object is refused (:class:`~inpaint_anything.errors.UnsafeCheckpointError`).
"""

from __future__ import annotations

import collections
import os
import pickle
import re
import types
from pathlib import Path
from typing import Any

from inpaint_anything.errors import UnsafeCheckpointError

_LIGHTNING = (
    "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint",
    "lightning.pytorch.callbacks.model_checkpoint.ModelCheckpoint",
)
_NUMPY = ("numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype", "_codecs.encode")
_TORCH_FUNCS = ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_parameter_with_state")
_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


class LightningCallbackKey:
    """Stands in for a PyTorch Lightning callback class found as a dictionary key in an old checkpoint."""


def _refuse(path: Path, what: str) -> UnsafeCheckpointError:
    return UnsafeCheckpointError(
        f"{path.name} contains Python objects besides weights ({what}) and was not loaded, because loading it "
        "could run code. Use a .safetensors version of this model."
    )


class _RestrictedUnpickler(pickle.Unpickler):
    path = Path("checkpoint")

    def find_class(self, module: str, name: str) -> Any:
        import numpy as np
        import torch

        full = f"{module}.{name}"
        if full in _LIGHTNING:
            return LightningCallbackKey
        if module == "torch._utils" and name in _TORCH_FUNCS:
            return getattr(torch._utils, name)
        if module == "torch" and (
            name.endswith("Storage") or isinstance(getattr(torch, name, None), torch.dtype) or name == "Size"
        ):
            return getattr(torch, name)
        if full == "collections.OrderedDict":
            return collections.OrderedDict
        if full in ("numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar"):
            import importlib

            major = int(np.__version__.split(".")[0])
            return importlib.import_module("numpy._core.multiarray" if major >= 2 else "numpy.core.multiarray").scalar
        if full == "numpy.dtype":
            return np.dtype
        if module in ("numpy.dtypes", "numpy") and name.endswith("DType") and hasattr(np, "dtypes"):
            return getattr(np.dtypes, name)
        if full == "_codecs.encode":
            import codecs

            return codecs.encode
        raise _refuse(self.path, full)


def _pickle_module(path: Path) -> types.SimpleNamespace:
    unpickler = type("Unpickler", (_RestrictedUnpickler,), {"path": path})

    def load(file: Any, **kwargs: Any) -> Any:
        return unpickler(file, **kwargs).load()

    return types.SimpleNamespace(
        __name__="inpaint_anything_restricted_pickle", Unpickler=unpickler, load=load, UnpicklingError=pickle.UnpicklingError
    )


def _lenient(names: list[str]) -> bool:
    return bool(names) and all(n in _LIGHTNING or n in _NUMPY or n.startswith("numpy.dtypes.") for n in names)


def load_weights_pickle(path: str | os.PathLike[str], *, mmap: bool = True) -> Any:
    """The object stored in a ``.ckpt``/``.pt`` file, read without running code from it.

    Raises :class:`UnsafeCheckpointError` for other Python objects, ``pickle.UnpicklingError`` (or what
    torch raises) for a damaged file.
    """
    import torch.serialization

    p = Path(path)

    def load(**kwargs: Any) -> Any:
        try:
            return torch.serialization.load(p, map_location="cpu", mmap=mmap, **kwargs)
        except RuntimeError as exc:  # legacy (non-zip) files cannot be memory-mapped
            if "mmap" not in str(exc):
                raise
            return torch.serialization.load(p, map_location="cpu", **kwargs)

    try:
        return load(weights_only=True)
    except pickle.UnpicklingError as exc:
        names = _GLOBAL.findall(str(exc))
        if not names:
            raise
        if not _lenient(names[:1]):
            raise _refuse(p, names[0]) from None
    return load(weights_only=False, pickle_module=_pickle_module(p))
