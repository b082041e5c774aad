"""The shape of the code, checked from its imports (read as text, nothing is run):

* `factories` and `matching` import nothing of `marketplace`; `matching` imports nothing
  of ours and no web or database library;
* inside `marketplace`, a layer never imports a layer above it (LAYERS, top first);
* inside an area, domain modules never import the pages, the API or the presenters;
* no module imports one of ours inside a function (a cycle dodged is still a cycle);
* no two modules import each other, however long the way round.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("marketplace", "factories", "matching")

# Top first. A module belongs to the first layer one of whose prefixes it starts with.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("entry points", ("marketplace.cli", "marketplace.tasks")),
    ("application", ("marketplace.app", "marketplace.commands", "marketplace.models")),
    ("tools and home", ("marketplace.tools", "marketplace.home")),
    ("operator", ("marketplace.operator",)),
    ("payments", ("marketplace.payments",)),
    # Machines' reports change capacity (supply) and put work at risk (orders).
    ("telemetry", ("marketplace.telemetry",)),
    ("orders", ("marketplace.orders",)),
    # Every area's services append to the ledger through credit's records.
    ("credit", ("marketplace.credit",)),
    ("supply", ("marketplace.supply",)),
    ("accounts", ("marketplace.accounts",)),
    (
        "kits: pages, API, request protections",
        ("marketplace.web", "marketplace.api", "marketplace.security"),
    ),
    ("foundation", ("marketplace.config", "marketplace.db", "marketplace.migrate")),
)
# Inside an area: what serves requests and what shows objects sit above the domain.
INTERFACE = {"views", "api", "setup", "cli"}
PRESENTATION = {"presenters", "words", "texts"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


MODULES = modules()


def resolve(name: str) -> str | None:
    """The module of ours that `name` (a module, or a name inside one) refers to."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported module of ours, line, inside a function) for each import."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(
                        [*package.split(".")[: len(package.split(".")) - child.level + 1], base]
                    ).strip(".")
                names = [f"{base}.{alias.name}" for alias in child.names]
            else:
                visit(child, nested)
                continue
            for name in names:
                target = resolve(name)
                if target is not None and target != module:
                    found.append((target, child.lineno, in_function))

    visit(tree, False)
    return found


IMPORTS = {module: imports_of(module, path) for module, path in MODULES.items()}


def layer(module: str) -> int | None:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(ROOT)}:{line}"


def test_supply_and_engine_import_nothing_of_the_marketplace():
    wrong = [
        f"{where(m, line)} imports {target}"
        for m, found in IMPORTS.items()
        for target, line, _ in found
        if (m.startswith("factories") and target.startswith("marketplace"))
        or (m.startswith("matching") and not target.startswith("matching"))
    ]
    assert wrong == []


def test_the_engine_uses_no_web_or_database_library():
    wrong = []
    for module, path in MODULES.items():
        if not module.startswith("matching"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                if name.split(".")[0] in {"flask", "sqlalchemy", "sqlmodel", "psycopg"}:
                    wrong.append(f"{where(module, node.lineno)} imports {name}")
    assert wrong == []


def test_no_layer_imports_a_layer_above_it():
    wrong = []
    for module, found in IMPORTS.items():
        own = layer(module)
        for target, line, _ in found:
            theirs = layer(target)
            if own is not None and theirs is not None and theirs < own:
                wrong.append(
                    f"{where(module, line)}: {LAYERS[own][0]} imports {target} "
                    f"({LAYERS[theirs][0]})"
                )
    assert wrong == []


def _kind(module: str) -> str:
    """A module is of the pages, the API or the command line if it, or a package it is
    in, is named so (`accounts.views.signin`); else presentation, else domain."""
    parts = set(module.split(".")[2:])
    if parts & INTERFACE:
        return "interface"
    if parts & PRESENTATION:
        return "presentation"
    return "domain"


def test_domain_modules_never_import_pages_api_or_presenters():
    rank = {"interface": 0, "presentation": 1, "domain": 2}
    wrong = [
        f"{where(m, line)}: {_kind(m)} module imports {target} ({_kind(target)})"
        for m, found in IMPORTS.items()
        if m.startswith("marketplace.") and m.count(".") >= 2
        for target, line, _ in found
        if target.startswith("marketplace.")
        and target.count(".") >= 2
        and rank[_kind(target)] < rank[_kind(m)]
    ]
    assert wrong == []


def test_no_import_of_ours_inside_a_function():
    wrong = [
        f"{where(m, line)} imports {target} inside a function"
        for m, found in IMPORTS.items()
        for target, line, inside in found
        if inside
    ]
    assert wrong == []


def test_no_import_cycles():
    graph: dict[str, set[str]] = defaultdict(set)
    for module, found in IMPORTS.items():
        for target, _, _ in found:
            # A package's own __init__ importing its modules is how packages start.
            if not target.startswith(module + "."):
                graph[module].add(target)
    cycles = _strongly_connected(graph)
    assert cycles == [], "\n".join(" -> ".join(sorted(c)) for c in cycles)


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the groups of modules that reach each other (size > 1)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    counter = [0]

    def connect(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_much_over_400_lines(package):
    long = [
        f"{path.relative_to(ROOT)}: {count} lines"
        for module, path in MODULES.items()
        if module.split(".")[0] == package and (count := len(path.read_text().splitlines())) > 450
    ]
    assert long == []
