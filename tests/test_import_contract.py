"""The import contract of ``inpaint_anything/``: no cycles, layers import only downward, host and UI
libraries only where they belong.

Every module is parsed with :mod:`ast`; *all* imports count: module-level ones, those inside
functions, and those under ``if TYPE_CHECKING:`` (a type-only import still ties two modules together
for a reader and for tools; where a lower module needs a type from a higher one, the type goes into a
leaf module as a :class:`typing.Protocol`, e.g. :mod:`inpaint_anything.services`). ``from . import x``
and ``from pkg import submodule`` resolve to the submodule. Importing ``a.b.c`` is an edge to
``a.b.c`` only (not to the packages ``a`` and ``a.b`` that Python runs first: their ``__init__``
files hold no code that imports back).

Layers, top to bottom (a module may import its own layer or any lower one):

1. ``webui`` — the host adapter (the only importer of ``modules`` / ``launch``).
2. entry points: ``__main__`` (+ ``cli_download``, ``cli_batch``), ``server``, ``api``, ``ui``, ``batch*`` (``batch_ray`` and its ``ray_pool`` too),
   ``doctor``, ``installer`` (install.py's decisions: not core, nothing in the package imports it).  ``server`` and
   ``__main__`` mount the API and the UI, ``api`` runs batches (``batch``), ``ui`` reads the batch
   spec, so they share one layer; cycles inside it are caught by the cycle check.
3. application: ``app``, ``workspace``, ``preparer``, ``sessions``, ``services`` (the narrow App
   interface that workspaces and the preparer see).
4. engines: ``segment``, ``inpaint``, ``outpaint``, ``diffusion``, ``models``, ``compose``,
   ``colormatch``, ``metrics``, ``selection`` (the selection value and the mask operations).
5. kit: ``fields`` (the parameter-table kit), ``masks``, ``imaging``, ``geometry``, ``jobs``, ``config``, ``outputs``.
6. base: ``errors`` and the package face ``inpaint_anything`` (``__version__``).

Differences from the first sketch in issue #19, from the code as it is: ``api``, ``ui`` and the
command-line entry points share a layer with ``batch*``/``doctor`` (above: they call each other
one way only, which the cycle check keeps so); ``services`` sits with ``app``.

Library rules: ``modules``/``launch`` (the WebUI host) only in ``webui``; ``gradio`` only in ``ui``
and ``webui`` (the adapter builds the host's settings and script controls); ``fastapi``/
``starlette``/``pydantic`` only in ``api`` and ``server``; ``ray`` (optional) only in ``batch_ray``,
and there only inside functions, so that nothing the WebUI loads ever imports it.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "inpaint_anything"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("host adapter", ("inpaint_anything.webui",)),
    (
        "entry points",
        (
            "inpaint_anything.__main__",
            "inpaint_anything.cli_download",
            "inpaint_anything.cli_batch",
            "inpaint_anything.server",
            "inpaint_anything.server_memory",
            "inpaint_anything.api",
            "inpaint_anything.ui",
            "inpaint_anything.batch",
            "inpaint_anything.batch_inputs",
            "inpaint_anything.batch_outputs",
            "inpaint_anything.batch_spec",
            "inpaint_anything.batch_ray",
            "inpaint_anything.ray_pool",
            "inpaint_anything.doctor",
            "inpaint_anything.installer",
        ),
    ),
    (
        "application",
        (
            "inpaint_anything.app",
            "inpaint_anything.backend_factory",
            "inpaint_anything.workspace",
            "inpaint_anything.workspace_sam",
            "inpaint_anything.preparer",
            "inpaint_anything.sessions",
            "inpaint_anything.services",
            "inpaint_anything.text_selection",
        ),
    ),
    (
        "engines",
        (
            "inpaint_anything.segment",
            "inpaint_anything.inpaint",
            "inpaint_anything.outpaint",
            "inpaint_anything.diffusion",
            "inpaint_anything.models",
            "inpaint_anything.compose",
            "inpaint_anything.colormatch",
            "inpaint_anything.metrics",
            "inpaint_anything.selection",
            "inpaint_anything.prefill",
        ),
    ),
    (
        "kit",
        (
            "inpaint_anything.fields",
            "inpaint_anything.masks",
            "inpaint_anything.imaging",
            "inpaint_anything.geometry",
            "inpaint_anything.jobs",
            "inpaint_anything.config",
            "inpaint_anything.outputs",
            "inpaint_anything.codec",
        ),
    ),
    ("base", ("inpaint_anything.errors", "inpaint_anything$")),
]

# top-level library name -> the module prefixes allowed to import it
LIBRARY_RULES: dict[str, tuple[str, ...]] = {
    "modules": ("inpaint_anything.webui",),
    "launch": ("inpaint_anything.webui",),
    "gradio": ("inpaint_anything.ui", "inpaint_anything.webui"),
    "fastapi": ("inpaint_anything.api", "inpaint_anything.server"),
    "starlette": ("inpaint_anything.api", "inpaint_anything.server", "inpaint_anything.server_memory"),
    "pydantic": ("inpaint_anything.api", "inpaint_anything.server"),
    "ray": ("inpaint_anything.batch_ray",),  # optional; imported inside functions only (test below)
}


@dataclass
class Graph:
    """Imports of one package: edges between its modules, and the outside libraries each module names."""

    modules: set[str]
    edges: dict[str, dict[str, int]] = field(default_factory=dict)  # importer -> {imported: line}
    libraries: dict[str, dict[str, int]] = field(default_factory=dict)  # importer -> {top-level name: line}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _in(name: str, prefix: str) -> bool:
    """``name`` is ``prefix`` or inside it; a prefix ending in ``$`` names one module exactly."""
    if prefix.endswith("$"):
        return name == prefix[:-1]
    return name == prefix or name.startswith(prefix + ".")


def imported_names(tree: ast.AST, module: str, is_package: bool, modules: set[str]) -> list[tuple[str, int]]:
    """Every name imported anywhere in ``tree`` (absolute; ``from X import sub`` as ``X.sub`` when a module)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                found.append((candidate if candidate in modules else source, node.lineno))
    return found


def build_graph(root: Path, package: str) -> Graph:
    """Parse every ``.py`` file of ``root/package`` and collect all its imports."""
    files = {_module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    graph = Graph(modules=set(files))

    def resolve(name: str) -> str | None:  # the longest prefix of ``name`` that is one of our modules
        while name:
            if name in graph.modules:
                return name
            name = name.rpartition(".")[0]
        return None

    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: dict[str, int] = {}
        libraries: dict[str, int] = {}
        for target, line in imported_names(tree, module, path.name == "__init__.py", graph.modules):
            if not _in(target, package):
                libraries.setdefault(target.split(".")[0], line)
            elif (found := resolve(target)) is not None and found != module:
                edges.setdefault(found, line)
        graph.edges[module] = edges
        graph.libraries[module] = libraries
    return graph


def find_cycles(graph: Graph) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.edges.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph.modules):
        if v not in index:
            visit(v)
    return [_cycle_in(graph, set(group)) for group in groups]


def _cycle_in(graph: Graph, group: set[str]) -> list[str]:
    """A concrete cycle through the first module of a strongly connected group (breadth-first)."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.edges[v]):
                if w == start:
                    return paths[v] + [start]
                if w in group and w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError("not a strongly connected group")  # pragma: no cover


def layer_of(module: str, layers: list[tuple[str, tuple[str, ...]]]) -> int | None:
    """The index of the layer whose longest prefix names ``module`` (0 = top)."""
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for i, (_, prefixes) in enumerate(layers):
        for prefix in prefixes:
            if _in(module, prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), i)
    return None if best is None else best[1]


def layer_violations(graph: Graph, layers: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    problems = []
    for module in sorted(graph.modules):
        mine = layer_of(module, layers)
        if mine is None:
            problems.append(f"{module} is in no layer: add it to LAYERS in tests/test_import_contract.py")
            continue
        for target, line in sorted(graph.edges[module].items()):
            theirs = layer_of(target, layers)
            if theirs is not None and theirs < mine:
                problems.append(
                    f"{module} (line {line}, layer '{layers[mine][0]}') imports {target} "
                    f"from the higher layer '{layers[theirs][0]}'"
                )
    return problems


def library_violations(graph: Graph, rules: dict[str, tuple[str, ...]]) -> list[str]:
    problems = []
    for module in sorted(graph.modules):
        for library, line in sorted(graph.libraries[module].items()):
            allowed = rules.get(library)
            if allowed is not None and not any(_in(module, prefix) for prefix in allowed):
                problems.append(f"{module} (line {line}) imports {library}, allowed only in {', '.join(allowed)}")
    return problems


def _report(title: str, lines: Iterable[str]) -> str:
    return title + "\n  " + "\n  ".join(lines)


# --- the contract ------------------------------------------------------------------------------------


def test_no_import_cycles():
    cycles = find_cycles(build_graph(ROOT, PACKAGE))
    assert not cycles, _report(
        "import cycles inside inpaint_anything/ (break each: move the shared part into a lower module):",
        (" -> ".join(c) for c in cycles),
    )


def test_layers_import_only_downward():
    problems = layer_violations(build_graph(ROOT, PACKAGE), LAYERS)
    assert not problems, _report("upward imports (see the layers in this test's docstring):", problems)


def test_nothing_in_the_package_imports_the_installer():
    """installer.py is install.py's logic, not core: the package runs without it."""
    graph = build_graph(ROOT, PACKAGE)
    users = sorted(m for m, targets in graph.edges.items() if "inpaint_anything.installer" in targets)
    assert users == [], users


def folder_graph(graph: Graph) -> Graph:
    """The same imports between the package's top-level rooms: a subpackage (``segment``) or a module
    (``app``) each; imports inside one room are dropped."""

    def room(module: str) -> str:
        return ".".join(module.split(".")[:2])

    folded = Graph(modules={room(m) for m in graph.modules})
    for module, targets in graph.edges.items():
        edges = folded.edges.setdefault(room(module), {})
        for target, line in targets.items():
            if room(target) != room(module):
                edges.setdefault(room(target), line)
    return folded


def test_no_cycles_between_subpackages():
    """Subpackages and top-level modules import each other one way only (``models/`` reads
    ``segment/``'s family table and checkpoint code, never the other way; ``outpaint/`` builds on
    ``inpaint/``; the pre-fills both use live in ``prefill.py``)."""
    cycles = find_cycles(folder_graph(build_graph(ROOT, PACKAGE)))
    assert not cycles, _report(
        "import cycles between the package's folders (move the shared part into a lower room):", (" -> ".join(c) for c in cycles)
    )


def test_api_route_modules_are_independent():
    """The API's route modules (``api/*_routes.py``) share code only through the leaves below them
    (``context``, ``docs``, ``payloads``, ``schemas``), never by importing each other; ``api/routes.py``
    includes them all."""
    graph = build_graph(ROOT, PACKAGE)
    routes = {m for m in graph.modules if m.startswith(f"{PACKAGE}.api.") and m.endswith("_routes")}
    assert len(routes) >= 5, sorted(routes)
    problems = [f"{m} imports {t}" for m in sorted(routes) for t in graph.edges[m] if t in routes]
    assert not problems, _report("route modules importing each other:", problems)


def test_host_and_ui_libraries_stay_in_their_packages():
    problems = library_violations(build_graph(ROOT, PACKAGE), LIBRARY_RULES)
    assert not problems, _report("libraries imported outside their packages:", problems)


def test_the_graph_is_read():
    graph = build_graph(ROOT, PACKAGE)
    assert "inpaint_anything.webui.extension" in graph.modules
    assert "inpaint_anything.app" in graph.edges["inpaint_anything.webui.extension"]
    assert "modules" in {lib for libs in graph.libraries.values() for lib in libs}


def test_ray_is_imported_lazily():
    """``import ray`` only inside functions of batch_ray: importing any module never imports Ray."""
    tree = ast.parse((ROOT / PACKAGE / "batch_ray.py").read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = [a.name for n in top for a in n.names] + [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if n == "ray" or n.startswith("ray.")]
    inner = [n for n in ast.walk(tree) if isinstance(n, ast.Import) and any(a.name == "ray" for a in n.names)]
    assert inner, "batch_ray imports ray somewhere (inside a function)"


# --- the checker itself, on a small synthetic package ---------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


SYNTHETIC_LAYERS = [("top", ("pkg.top",)), ("mid", ("pkg.mid",)), ("low", ("pkg.low", "pkg$"))]


def test_checker_reports_a_cycle_through_function_level_and_relative_imports(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/mid/__init__.py": "",
            "pkg/mid/a.py": "from . import b\n",
            "pkg/mid/b.py": "def f():\n    from pkg.mid.c import g\n",
            "pkg/mid/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import X\n",
            "pkg/low.py": "import os\n",
        },
    )
    graph = build_graph(tmp_path, "pkg")
    assert graph.edges["pkg.mid.a"] == {"pkg.mid.b": 1}
    assert graph.edges["pkg.mid.b"] == {"pkg.mid.c": 2}
    assert graph.edges["pkg.mid.c"] == {"pkg.mid.a": 3}
    assert graph.libraries["pkg.low"] == {"os": 1}
    assert find_cycles(graph) == [["pkg.mid.a", "pkg.mid.b", "pkg.mid.c", "pkg.mid.a"]]


def test_checker_reports_an_upward_import_and_a_module_outside_the_layers(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/top.py": "from pkg import low\nimport pkg.mid.x\n",
            "pkg/mid/__init__.py": "",
            "pkg/mid/x.py": "from pkg.low import thing\n",
            "pkg/low.py": "def f():\n    import pkg.top\n    import gradio\n",
            "pkg/stray.py": "",
        },
    )
    graph = build_graph(tmp_path, "pkg")
    assert find_cycles(graph) == [["pkg.low", "pkg.top", "pkg.low"]]
    assert layer_violations(graph, SYNTHETIC_LAYERS) == [
        "pkg.low (line 2, layer 'low') imports pkg.top from the higher layer 'top'",
        "pkg.stray is in no layer: add it to LAYERS in tests/test_import_contract.py",
    ]
    assert library_violations(graph, {"gradio": ("pkg.top",)}) == ["pkg.low (line 3) imports gradio, allowed only in pkg.top"]


def test_checker_accepts_a_clean_package(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/top.py": "from pkg.mid import x\nfrom .low import f\n",
            "pkg/mid/__init__.py": "",
            "pkg/mid/x.py": "from .. import low\nfrom . import y\n",
            "pkg/mid/y.py": "",
            "pkg/low.py": "",
        },
    )
    graph = build_graph(tmp_path, "pkg")
    assert graph.edges["pkg.mid.x"] == {"pkg.low": 1, "pkg.mid.y": 2}
    assert find_cycles(graph) == []
    assert layer_violations(graph, SYNTHETIC_LAYERS) == []
