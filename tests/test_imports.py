"""The library's modules import one another in one direction: no cycle, whether the import is at
module level or inside a function."""

import ast

from conftest import REPO

PACKAGE = REPO / "workflow" / "scripts" / "seqens"


def imported_modules() -> dict[str, set[str]]:
    """For each top-level module of seqens (a subpackage counts as one), the others it imports
    with a relative import anywhere in its code."""
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        here, package = parts[0], list(parts[:-1])
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[: len(package) - node.level + 1]
                targets = [base + node.module.split(".")] if node.module else [base + [a.name] for a in node.names]
                edges.setdefault(here, set()).update(t[0] for t in targets if t and t[0] != here)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, state, path = [], {}, []

    def visit(module):
        state[module] = "open"
        path.append(module)
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                found.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module)
    return found


def test_the_library_has_no_import_cycle():
    edges = imported_modules()
    assert {"member", "extraction"} <= edges["training"]  # seen at all: the Fisher during training is extraction's
    assert cycles(edges) == []


def test_a_cycle_is_found():
    assert cycles({"training": {"extraction"}, "extraction": {"member"}, "member": {"training"}}) == [
        ["extraction", "member", "training", "extraction"]
    ]


def test_the_readmes_module_table_names_every_module_of_the_library():
    """README's table ("The library can be used on its own") is where a newcomer finds a stage:
    every module and every module of a subpackage is named there."""
    import re

    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("| module | holds |"):]
    table = table.split("\n\n")[0]
    named = set(re.findall(r"`([a-z_]+)/?`", table))
    modules = {path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    for package in (path for path in PACKAGE.iterdir() if (path / "__init__.py").exists()):
        modules.add(package.name)
        modules |= {path.stem for path in package.glob("*.py") if path.stem != "__init__"}
    # objectives/ lists its objectives by their config names; its base and parameters modules
    # are described in config/README.md ("Adding an objective").
    modules -= {"base", "parameters", "mlm", "clm", "mae", "randommask"}
    assert modules - named == set()
