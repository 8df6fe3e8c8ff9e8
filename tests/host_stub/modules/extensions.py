"""``modules.extensions`` (v1.10.1 subset): the list of installed extensions and ``active()``.

The stand-in scans ``extensions-builtin/`` and ``extensions/`` under the temp WebUI root, plus the
roots in ``stub_extra_roots`` (extensions that live elsewhere, e.g. this repository). metadata.ini
ordering is not implemented: scripts load in name order.
"""

from __future__ import annotations

import os

from modules import shared
from modules.paths_internal import extensions_builtin_dir, extensions_dir

stub_extra_roots: list[str] = []


class ExtensionMetadata:
    def __init__(self, path, canonical_name):
        self.path = path
        self.canonical_name = canonical_name

    def get_script_requirements(self, field, section, extra_section=None):
        return []

    def get_requirements(self, field):
        return []

    def list_callback_order_instructions(self):
        return []


class Extension:
    def __init__(self, name, path, enabled=True, is_builtin=False, metadata=None):
        self.name = name
        self.path = os.path.abspath(path)
        self.enabled = enabled
        self.status = ""
        self.can_update = False
        self.is_builtin = is_builtin
        self.commit_hash = ""
        self.version = ""
        self.remote = None
        self.canonical_name = name.lower()
        self.metadata = metadata or ExtensionMetadata(self.path, self.canonical_name)

    def list_files(self, subdir, extension):
        from modules import scripts

        dirpath = os.path.join(self.path, subdir)
        if not os.path.isdir(dirpath):
            return []
        res = [
            scripts.ScriptFile(self.path, filename, os.path.join(dirpath, filename)) for filename in sorted(os.listdir(dirpath))
        ]
        return [x for x in res if os.path.splitext(x.path)[1].lower() == extension and os.path.isfile(x.path)]


extensions: list[Extension] = []
extension_paths: dict[str, Extension] = {}


def active() -> list[Extension]:
    if shared.cmd_opts.disable_all_extensions or shared.opts.disable_all_extensions == "all":
        return []
    if shared.cmd_opts.disable_extra_extensions or shared.opts.disable_all_extensions == "extra":
        return [x for x in extensions if x.enabled and x.is_builtin]
    return [x for x in extensions if x.enabled]


def find_extension(filename):
    parentdir = os.path.dirname(os.path.realpath(filename))
    while parentdir != os.path.dirname(parentdir):
        ext = extension_paths.get(parentdir)
        if ext:
            return ext
        parentdir = os.path.dirname(parentdir)
    return None


def list_extensions() -> None:
    extensions.clear()
    extension_paths.clear()
    found = []
    for dirname, is_builtin in ((extensions_builtin_dir, True), (extensions_dir, False)):
        if not os.path.isdir(dirname):
            continue
        for name in sorted(os.listdir(dirname)):
            path = os.path.join(dirname, name)
            if os.path.isdir(path):
                found.append((name, path, is_builtin))
    found += [(os.path.basename(os.path.abspath(root)), root, False) for root in stub_extra_roots]
    disabled = set(shared.opts.disabled_extensions)
    for name, path, is_builtin in found:
        ext = Extension(name=name, path=path, enabled=name not in disabled, is_builtin=is_builtin)
        extensions.append(ext)
        extension_paths[os.path.realpath(ext.path)] = ext
