"""mypy over the package as a user's type checker sees it (both packages ship ``py.typed``).

setuptools installs ``symbolic/`` as ``inferonomics.symbolic`` and ``optimize/`` as ``inferonomics.optimize``
(package-dir), which mypy cannot read from the source tree or from a default editable install (an import
hook). So the test lays the two folders out under ``inferonomics/`` with symlinks, as a wheel or an
``editable_mode=strict`` install does, and runs ``mypy -p inferonomics`` there with the project's config.
The cache starts cold each run (about 20 s on two cores), so a stale cache can never hide an error.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]


def _layout(tmp: Path) -> Path:
    base = tmp / "site"
    for dotted, folder in PACKAGE_DIRS.items():
        target = base.joinpath(*dotted.split("."))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(ROOT / folder, target_is_directory=True)
    return base


def test_mypy_clean_on_the_installed_layout(tmp_path):
    base = _layout(tmp_path)
    env = {**os.environ, "MYPYPATH": str(base)}
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"), "-p", "inferonomics"],
        cwd=base, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    # every module was checked, not an empty tree: "Success: no issues found in N source files"
    n_files = sum(1 for folder in PACKAGE_DIRS.values() for _ in (ROOT / folder).rglob("*.py"))
    checked = re.search(r"no issues found in (\d+) source files", run.stdout)
    assert checked and int(checked[1]) >= n_files, run.stdout


def test_lazy_surface_is_visible_to_mypy(tmp_path):
    """A name from a package's lazy ``__all__`` has its real type for a checker, not ``Any``."""
    base = _layout(tmp_path)
    probe = base / "probe.py"
    probe.write_text(
        "from inferonomics.symbolic import ClosedForm, compile_numpy\n"
        "from inferonomics.optimize import Problem, solve\n"
        "reveal_type(ClosedForm)\nreveal_type(compile_numpy)\nreveal_type(Problem)\nreveal_type(solve)\n")
    env = {**os.environ, "MYPYPATH": str(base)}
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"), "--follow-imports", "silent", str(probe)],
        cwd=base, env=env, capture_output=True, text=True)
    revealed = [line for line in run.stdout.splitlines() if "Revealed type" in line]
    assert len(revealed) == 4, run.stdout + run.stderr
    for line in revealed:
        assert '"Any"' not in line, line
    assert "inferonomics.symbolic.closedform.ClosedForm" in revealed[0]
    assert "inferonomics.optimize.solver.Problem" in revealed[2]


def _type_checking_imports(init: Path) -> dict[str, tuple[str, str | None]]:
    """``{name: (module, attribute)}`` imported under ``if TYPE_CHECKING:`` in a package ``__init__``."""
    package = init.parent.name
    out = {}
    for node in ast.walk(ast.parse(init.read_text())):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module
                for alias in imp.names:
                    module = imp.module.removeprefix(f"inferonomics.{package}").lstrip(".")
                    out[alias.asname or alias.name] = (module, alias.name) if module else (alias.name, None)
    return out


@pytest.mark.parametrize("package", ["symbolic", "optimize"])
def test_type_checking_imports_match_the_lazy_surface(package):
    """The names a checker sees are exactly the names ``__getattr__`` loads, from the same places."""
    module = importlib.import_module(f"inferonomics.{package}")
    assert _type_checking_imports(ROOT / package / "__init__.py") == module._SURFACE
