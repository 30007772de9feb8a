"""The import rules of ARCHITECTURE.md, checked on the source (an AST walk over every import,
function-level ones included) and in a fresh interpreter (what importing a renderer loads)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "reportgen"
MAX_LINES = 400

# part -> prefixes of modules it may never import (directly or inside a function).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "reportgen.data": (
        "reportgen.segmentation", "reportgen.report.model", "reportgen.report.build", "reportgen.report.monitoring",
        "reportgen.report.cube", "reportgen.render", "reportgen.monthly",
        "reportgen.api", "reportgen.cli",
    ),
    # (reportgen.report.formatting, which imports nothing of the package, is allowed everywhere)
    "reportgen.segmentation": (
        "reportgen.report.model", "reportgen.report.build", "reportgen.report.monitoring", "reportgen.report.cube",
        "reportgen.render", "reportgen.monthly", "reportgen.api", "reportgen.cli"),
    "reportgen.report": ("reportgen.render", "reportgen.monthly", "reportgen.api", "reportgen.cli"),
    # renderers see the report model only: no analytics, no raw customers, no monthly operations
    "reportgen.render": (
        "reportgen.segmentation", "reportgen.data", "reportgen.monthly", "reportgen.report.build",
        "reportgen.report.monitoring", "reportgen.report.cube", "reportgen.api", "reportgen.cli",
        "sklearn", "scipy", "pandas",
    ),
    "reportgen.monthly": ("reportgen.api", "reportgen.cli"),
    # the report model and its formatting: plain values, importable without any analytics
    "reportgen.report.model": ("reportgen.segmentation", "reportgen.data", "sklearn", "scipy", "pandas"),
    "reportgen.report.formatting": ("reportgen.", "sklearn", "scipy", "pandas"),
    # nothing below the CLI knows the CLI
    "reportgen.api": ("reportgen.cli",),
    "reportgen.config": ("reportgen.cli", "reportgen.api"),
    "reportgen.errors": ("reportgen.",),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module an import statement in the file names (absolute names; relative ones resolved)."""
    found = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def broken_rules(graph: dict[str, set[str]]) -> list[str]:
    """``module imports target`` for every import a rule forbids."""
    broken = []
    for module, targets in graph.items():
        for part, banned in FORBIDDEN.items():
            if module != part and not module.startswith(part + "."):
                continue
            for target in sorted(targets):
                if any(target == b or target.startswith(b if b.endswith(".") else b + ".") for b in banned):
                    broken.append(f"{module} imports {target} (rule for {part})")
    return broken


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import circles between the package's own modules (Tarjan's strongly connected components)."""
    own = {m: {t for t in targets if t in graph and t != m} for m, targets in graph.items()}
    for m, targets in graph.items():  # `from pkg import name` also depends on pkg/__init__
        parents = {t.rsplit(".", 1)[0] for t in targets}
        own[m] |= {p for p in parents if p in graph and p != m and not m.startswith(p + ".")}  # not its own package
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in own[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            # a package's __init__ importing its own submodules is not a circle of concepts
            if len(component) > 1:
                result.append(sorted(component))

    for v in sorted(own):
        if v not in index:
            visit(v)
    return result


def import_graph() -> dict[str, set[str]]:
    return {name: imports_of(path) for name, path in modules().items()}


def test_no_import_breaks_the_layering():
    assert broken_rules(import_graph()) == []


def test_no_import_circles():
    assert cycles(import_graph()) == []


def test_the_rules_catch_a_renderer_that_imports_the_analytics():
    """The check itself: a renderer importing scikit-learn or the segmentation package is caught,
    and so is a circle."""
    graph = import_graph()
    graph["reportgen.render.pdf"] = graph["reportgen.render.pdf"] | {"sklearn.cluster", "reportgen.segmentation.model"}
    broken = broken_rules(graph)
    assert "reportgen.render.pdf imports sklearn.cluster (rule for reportgen.render)" in broken
    assert "reportgen.render.pdf imports reportgen.segmentation.model (rule for reportgen.render)" in broken
    graph["reportgen.report.formatting"] = graph["reportgen.report.formatting"] | {"reportgen.report.build"}
    assert any("reportgen.report.formatting" in c for c in cycles(graph))


def test_no_module_is_longer_than_400_lines():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_every_subpackage_says_what_it_does_and_may_not_import():
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc) > 80, f"{init} needs a docstring saying what the part does"
        if init.parent != PACKAGE and init.parent.name in {"data", "segmentation", "report", "render", "monthly"}:
            assert "import" in doc, f"{init}: say what the part may not import"


@pytest.mark.parametrize("module", ["reportgen.render.pdf", "reportgen.render.html", "reportgen.render.dashboard",
                                    "reportgen.render.deck.presentation", "reportgen.render.charts"])
def test_a_renderer_loads_no_analytics(module):
    """What a render lane imports in a fresh interpreter: never scikit-learn, SciPy, pandas or the
    segmentation and data packages (transitively, not only directly)."""
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'sklearn', 'scipy', 'pandas'}"
        " or m.startswith(('reportgen.segmentation', 'reportgen.data')))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_ruff_finds_nothing():
    """Pyflakes (undefined names, unused imports) and import order, as configured in pyproject.toml."""
    root = PACKAGE.parent
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "reportgen", "tests"],
        cwd=root, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
