"""Every error class pickles with its message, its fields and attributes added later (issue #13, item 5).

A worker pool (multiprocessing, joblib) sends a raised error back to the parent by pickle; an error whose
``__init__`` takes fields rather than the message would fail to rebuild there without ``__reduce__``.
"""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest

from inferonomics.symbolic import errors as E

ROOT = Path(__file__).resolve().parents[1]

#: one instance of every error class, built as the package builds them
EXAMPLES = {
    "InferonomicsError": lambda: E.InferonomicsError("something failed"),
    "InvalidInputError": lambda: E.InvalidInputError("--tp", "a positive integer", 0.5),
    "UnknownNameError": lambda: E.UnknownNameError("hardware", "h1OO", ["h100-sxm", "b200"]),
    "SpecError": lambda: E.SpecError(Path("cal.toml"), "parameters.eta", "a number > 0"),
    "UnsafeFormulaError": lambda: E.UnsafeFormulaError("cannot export node type Lambda"),
    "ConditionError": lambda: E.ConditionError("break_even_batch does not exist here: F > 0"),
    "NoEfficienciesError": lambda: E.NoEfficienciesError("min_user_base", ("break_even_batch", "decode_step")),
}


def _exception_classes() -> set[str]:
    """Names of the classes in the package that derive (by name) from an error or exception class."""
    found = set()
    for top in ("symbolic", "optimize"):
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef):
                    bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                    if any(b.endswith(("Error", "Exception")) for b in bases):
                        found.add(node.name)
    return found


def test_every_error_class_has_an_example():
    assert _exception_classes() == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_error_survives_pickle(name):
    e = EXAMPLES[name]()
    e.add_note("while reading the calibration")
    e.hint = "try --help"
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is type(e)
    assert str(back) == str(e) and back.args == e.args
    assert vars(back) == vars(e)  # the named fields and the attributes added after raising
    assert back.__notes__ == ["while reading the calibration"] and back.hint == "try --help"


def test_fields_survive_by_value():
    """Spelled out for the field-taking classes: the rebuilt error answers the same questions."""
    e = pickle.loads(pickle.dumps(E.UnknownNameError("hardware", "h1OO", ["h100-sxm", "b200"])))
    assert (e.kind, e.name, e.known) == ("hardware", "h1OO", ["b200", "h100-sxm"])
    assert str(e) == "unknown hardware 'h1OO'"  # no close match above the cutoff: no hint
    e = pickle.loads(pickle.dumps(E.InvalidInputError("--tp", "a positive integer", 0.5)))
    assert (e.name, e.expected, e.got) == ("--tp", "a positive integer", 0.5)
    assert str(e) == "--tp: expected a positive integer, got 0.5"
    e = pickle.loads(pickle.dumps(E.SpecError(Path("cal.toml"), "parameters.eta", "a number > 0")))
    assert (e.path, e.field, e.expected) == (Path("cal.toml"), "parameters.eta", "a number > 0")
    assert str(e) == "cal.toml: parameters.eta: a number > 0"
    assert isinstance(e, ValueError)
