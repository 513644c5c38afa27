"""The shape of the package: life-cycle layers without import cycles, small modules, thin notebooks.

The layers (docs/architecture.md): a package may import from the packages of earlier layers and from its own, never
from a later one; modules import no module that imports them back, not even inside a function or for type hints.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "privacyops"
# request -> find -> answer -> prove: earlier layers never import later ones.
LAYERS = [
    {"errors", "values", "templating"},
    {"map"},
    {"sources"},
    {"workspace"},
    {"ledger"},
    {"lookup"},
    {"access", "rectify", "erasure", "consent"},
    {"reports"},
    {"ui"},
    {"jobs", "demo"},
    {"cli"},
]
MAX_MODULE_LINES = 600
MAX_BLOCK_LINES = 150
MAX_NOTEBOOK_CODE_LINES = 20


def _modules() -> dict[str, Path]:
    out = {}
    for f in PKG.rglob("*.py"):
        parts = list(f.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every privacyops module `name` imports, wherever the import stands (functions and TYPE_CHECKING included)."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                target = ".".join(base[: len(base) - node.level + 1] + (node.module.split(".") if node.module else []))
            elif node.module and node.module.split(".")[0] == "privacyops":
                target = node.module
            else:
                continue
            subs = {f"{target}.{a.name}" for a in node.names} & set(MODULES)
            found |= subs or ({target} & set(MODULES))
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in MODULES}
    found.discard(name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "privacyops"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_between_modules():
    assert _cycles(GRAPH) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_packages_import_only_earlier_layers():
    layer = {pkg: i for i, pkgs in enumerate(LAYERS) for pkg in pkgs}
    unknown = sorted({_package(m) for m in MODULES} - set(layer) - {"privacyops"})
    assert not unknown, f"packages missing from LAYERS (and docs/architecture.md): {unknown}"
    wrong = []
    for module, targets in GRAPH.items():
        src = _package(module)
        for t in targets:
            dst = _package(t)
            if src in layer and dst in layer and dst != src and layer[dst] >= layer[src]:
                wrong.append(f"{module} -> {t}")
    assert wrong == []


def test_every_module_imports_in_a_fresh_interpreter():
    names = sorted(m for m in MODULES if not m.endswith(".__main__"))  # running those starts a program
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    proc = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=300,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_modules_and_their_functions_stay_small():
    big, long_blocks = [], []
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        n = len(text.splitlines())
        if n > MAX_MODULE_LINES:
            big.append(f"{name} ({n} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_BLOCK_LINES:
                    long_blocks.append(f"{name}.{node.name} ({length} lines)")
    assert big == [] and long_blocks == []


@pytest.mark.parametrize("notebook", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_thin(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    lines = [line for line in code.splitlines() if line.strip() and not line.strip().startswith("#")]
    tree = ast.parse("\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))))
    defs = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    assert len(lines) <= MAX_NOTEBOOK_CODE_LINES and defs == [], (len(lines), defs)
