"""mypy over the package as a user's type checker sees it (both packages ship ``py.typed``).

setuptools installs ``symbolic/`` as ``inferonomics.symbolic`` and ``optimize/`` as ``inferonomics.optimize``
(package-dir), which mypy cannot read from the source tree or from a default editable install (an import
hook). So the test lays the two folders out under ``inferonomics/`` with symlinks, as a wheel or an
``editable_mode=strict`` install does, and runs ``mypy -p inferonomics`` there with the project's config.
The cache starts cold in each session (the check takes about 20-40 s on two busy cores), so a stale cache can
never hide an error; the second test reuses it.
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


PROBE = """\
from inferonomics.symbolic import ClosedForm, compile_numpy
from inferonomics.optimize import Problem, solve
reveal_type(ClosedForm)
reveal_type(compile_numpy)
reveal_type(Problem)
reveal_type(solve)
"""


@pytest.fixture(scope="module")
def mypy_run(tmp_path_factory) -> subprocess.CompletedProcess:
    """One cold-cache mypy run over the installed layout, plus a probe that imports the lazy surfaces."""
    tmp = tmp_path_factory.mktemp("types")
    base = _layout(tmp)
    (base / "lazy_surface_probe.py").write_text(PROBE)  # a module of its own: mypy takes modules or files
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp / "cache"),
         "-p", "inferonomics", "-m", "lazy_surface_probe"],
        cwd=base, env={**os.environ, "MYPYPATH": str(base)}, capture_output=True, text=True)


def test_mypy_clean_on_the_installed_layout(mypy_run):
    errors = [line for line in mypy_run.stdout.splitlines() if ": error:" in line]
    assert mypy_run.returncode == 0 and not errors, mypy_run.stdout + mypy_run.stderr
    # every module was checked, not an empty tree: "Success: no issues found in N source files"
    n_files = sum(1 for folder in PACKAGE_DIRS.values() for _ in (ROOT / folder).rglob("*.py"))
    checked = re.search(r"no issues found in (\d+) source files", mypy_run.stdout)
    assert checked and int(checked[1]) > n_files, mypy_run.stdout  # the package and the probe


def test_lazy_surface_is_visible_to_mypy(mypy_run):
    """A name from a package's lazy ``__all__`` has its real type for a checker, not ``Any``."""
    revealed = [line for line in mypy_run.stdout.splitlines() if "Revealed type" in line]
    assert len(revealed) == 4, mypy_run.stdout + mypy_run.stderr
    for line in revealed:
        assert '"Any"' not in line, line
    assert "inferonomics.symbolic.closedform.ClosedForm" in revealed[0]
    assert "inferonomics.symbolic.numeric.compile_numpy" in revealed[1] or "def (expr" in revealed[1], revealed[1]
    assert "inferonomics.optimize.problem.Problem" in revealed[2]  # its home since the solver split


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
