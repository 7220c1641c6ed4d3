"""Guards for the packaging traps in DESIGN.md: package list vs folders, bare imports, layering."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE_DIRS = PYPROJECT["tool"]["setuptools"]["package-dir"]


def _source_files():
    for top in ("symbolic", "optimize", "tests"):
        yield from sorted((ROOT / top).rglob("*.py"))


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_package_list_matches_folders():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = set()
    for dotted, folder in PACKAGE_DIRS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            on_disk.add(".".join([dotted, *rel.parts]))
    assert listed == on_disk


def test_no_bare_import_of_the_folders():
    for path in _source_files():
        for mod in _imports(path):
            assert mod.split(".")[0] not in ("symbolic", "optimize"), f"{path}: import {mod}"


def test_symbolic_never_imports_optimize_or_scipy():
    for path in sorted((ROOT / "symbolic").rglob("*.py")):
        for mod in _imports(path):
            assert not mod.startswith("inferonomics.optimize"), f"{path}: {mod}"
            assert mod.split(".")[0] != "scipy", f"{path}: {mod}"


def test_data_is_read_with_importlib_resources():
    for path in sorted((ROOT / "symbolic").rglob("*.py")) + sorted((ROOT / "optimize").rglob("*.py")):
        assert "__file__" not in path.read_text(), f"{path} locates data through __file__"


@pytest.mark.parametrize("dotted", sorted(PYPROJECT["tool"]["setuptools"]["packages"]))
def test_every_package_imports(dotted):
    __import__(dotted)


@pytest.mark.parametrize("package", ["inferonomics.symbolic", "inferonomics.optimize"])
def test_public_surface_resolves(package):
    mod = __import__(package, fromlist=["__all__"])
    assert mod.__all__
    for name in mod.__all__:
        assert getattr(mod, name) is not None, name


def test_every_error_survives_pickling():
    """Errors cross process boundaries (multiprocessing, the derive figure worker): each comes back as the same
    class with the same fields and message."""
    import pickle

    from inferonomics.symbolic.errors import (ConditionError, InvalidInputError, SpecError, UnknownNameError,
                                              UnsafeFormulaError)

    for err in (InvalidInputError("--tp", "a positive integer", 3.5), InvalidInputError("x", "y"),
                UnknownNameError("hardware", "h300", ["h100-sxm", "h200-sxm"]),
                SpecError("/tmp/a.toml", "line 3", "a number"), UnsafeFormulaError("no calls"),
                ConditionError("B < B*")):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err) and back.args == err.args
        assert vars(back) == vars(err)


# ------------------------------------------------------------------------------------------ import cycles
#: cycles that remain until solver.py is split (issue "One serving model", item 5) and the serving assembly moves
#: into symbolic/: each is listed so that any NEW cycle fails, and a listed one that disappears fails too (then
#: delete it here)
KNOWN_CYCLES = {
    frozenset({"inferonomics.optimize.fleet", "inferonomics.optimize.solver"}),
}


def _import_graph() -> dict[str, set[str]]:
    """Module -> modules of the package it imports anywhere (function-local imports too). ``from pkg import sub``
    of a submodule counts as importing ``sub``, not the package's namespace."""
    mods: dict[str, Path] = {}
    for pkg, folder in (("inferonomics.symbolic", "symbolic"), ("inferonomics.optimize", "optimize")):
        for p in (ROOT / folder).rglob("*.py"):
            parts = [x for x in p.relative_to(ROOT / folder).with_suffix("").parts if x != "__init__"]
            mods[".".join([pkg, *parts])] = p
    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in mods)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                subs = {f"{target}.{a.name}" for a in node.names} & set(mods)
                deps.update(subs)
                if len(subs) < len(node.names) and target in mods:
                    deps.add(target)
        deps.discard(mod)
        graph[mod] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.add(frozenset(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == {frozenset("abc")}


def test_no_import_cycles_beyond_the_known_ones():
    found = _cycles(_import_graph())
    assert found - KNOWN_CYCLES == set(), f"new import cycles: {[sorted(c) for c in found - KNOWN_CYCLES]}"
    assert KNOWN_CYCLES - found == set(), f"gone (delete from KNOWN_CYCLES): {[sorted(c) for c in KNOWN_CYCLES - found]}"
