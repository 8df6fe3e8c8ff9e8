"""``modules.safe`` (v1.10.1 behaviour): the host's pickle check replaces ``torch.load`` when imported.

The replacement opens the file, accepts only the zip member names of the torch format the host
knew (``<dir>/data.pkl``, ``<dir>/data/<n>``, ``<dir>/version``, ``<dir>/byteorder``,
``<dir>/.data/serialization_id``) and a small allow-list of pickle globals; anything else (e.g. the
``.format_version`` member a recent torch writes) is reported through ``errors.report`` and the load
returns None instead of raising. ``unsafe_torch_load`` keeps the original function. Independently
written from the host's observable behaviour; importing this module patches torch for the process,
so tests restore ``torch.load`` themselves (monkeypatch).
"""

from __future__ import annotations

import collections
import pickle
import re
import zipfile

import torch

_ALLOWED_MEMBER = re.compile(r"^[^/]+/(data/\d+|version|byteorder|\.data/serialization_id|data\.pkl)$")
_DATA_PKL = re.compile(r"^[^/]+/data\.pkl$")
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_device_tensor_from_numpy"),
    *(
        ("torch", n)
        for n in (
            "FloatStorage",
            "HalfStorage",
            "IntStorage",
            "LongStorage",
            "DoubleStorage",
            "ByteStorage",
            "float32",
            "BFloat16Storage",
        )
    ),
}


class _CheckingUnpickler(pickle.Unpickler):
    def persistent_load(self, saved_id):
        return None  # only the structure is checked, no storage is read

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            import importlib

            return getattr(importlib.import_module(module), name) if module != "collections" else collections.OrderedDict
        raise Exception(f"global '{module}/{name}' is forbidden")  # noqa: TRY002 - the host raises a bare Exception


def check_pt(filename, extra_handler=None):
    with zipfile.ZipFile(filename) as z:
        names = z.namelist()
        for name in names:
            if not _ALLOWED_MEMBER.match(name):
                raise Exception(f"bad file inside {filename}: {name}")  # noqa: TRY002
        pkls = [n for n in names if _DATA_PKL.match(n)]
        if len(pkls) != 1:
            raise Exception(f"data.pkl not found in {filename}")  # noqa: TRY002
        with z.open(pkls[0]) as fh:
            _CheckingUnpickler(fh).load()


def load(filename, *args, **kwargs):
    return load_with_extra(filename, *args, extra_handler=None, **kwargs)


def load_with_extra(filename, extra_handler=None, *args, **kwargs):
    from modules import errors, shared

    try:
        if not getattr(shared.cmd_opts, "disable_safe_unpickle", False):
            check_pt(filename, extra_handler)
    except Exception:  # noqa: BLE001 - the host reports and returns None
        errors.report(
            f"Error verifying pickled file from {filename}\nThe file may be malicious, so the program is not "
            "going to read it.\nYou can skip this check with --disable-safe-unpickle commandline argument.\n\n",
            exc_info=True,
        )
        return None
    return unsafe_torch_load(filename, *args, **kwargs)


unsafe_torch_load = torch.load
torch.load = load
