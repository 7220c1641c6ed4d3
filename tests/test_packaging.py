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
