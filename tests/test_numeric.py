"""compile_numpy / compile_record: documented argument order, refusal of non-identifier names, NaN guard."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from sampling import all_records, cached_valid_points, close, violating_points

from inferonomics.symbolic import symbols as s
from inferonomics.symbolic.errors import InvalidInputError, UnsafeFormulaError
from inferonomics.symbolic.numeric import compile_numpy, compile_record, compile_scalar

RECORDS = all_records()


@pytest.mark.parametrize("record", RECORDS, ids=[r.name for r in RECORDS])
def test_compile_record_matches_evalf_and_guards(record):
    f = compile_record(record)
    points, refs = cached_valid_points(record)
    got = f(*np.array(points).T)
    assert all(close(g, r) for g, r in zip(got.tolist(), refs)), record.name
    bad = violating_points(record)
    if bad:
        assert np.isnan(f(*np.array(bad).T)).all()
        mixed = f(*np.array([points[0], bad[0]]).T)  # only the failing element becomes NaN
        assert close(float(mixed[0]), refs[0]) and np.isnan(mixed[1])


def test_argument_order_is_the_callers():
    f = compile_numpy(s.F / s.W, (s.W, s.F))
    assert f(2.0, 10.0) == 5.0
    g = compile_numpy(s.F / s.W, (s.F, s.W))
    assert g(2.0, 10.0) == 0.2


def test_max_broadcasts_and_integer_inputs_work():
    f = compile_numpy(sp.Max(s.B, s.ctx) * s.B ** -2, (s.B, s.ctx))
    out = f(np.array([1, 2, 4]), 3)
    assert np.allclose(out, [3.0, 0.75, 0.25])


def test_named_call_and_errors():
    record = next(r for r in RECORDS if r.conditions)
    f = compile_record(record)
    points, refs = cached_valid_points(record)
    named = dict(zip(f.arg_names, points[0]))
    assert close(float(f(**named)), refs[0])
    with pytest.raises(InvalidInputError):
        f(**{**named, "bogus": 1.0})
    with pytest.raises(InvalidInputError):
        f(**{k: v for k, v in list(named.items())[1:]})


@pytest.mark.parametrize("name", ["__import__('os').system('x')", "_x", "a.b", "lambda", "numpy"])
def test_refuses_names_that_are_not_plain_identifiers(name):
    bad = sp.Symbol(name)
    with pytest.raises(UnsafeFormulaError):
        compile_numpy(bad + s.B, (bad, s.B))


def test_refuses_undefined_functions_and_missing_args():
    f = sp.Function("exec")
    with pytest.raises(UnsafeFormulaError):
        compile_numpy(f(s.B), (s.B,))
    with pytest.raises(UnsafeFormulaError, match="not in args"):
        compile_numpy(s.B + s.ctx, (s.B,))


def test_compile_scalar_math_and_mpmath():
    """The scalar path the solver and evaluate_step use: the caller's argument order, a list gives a list,
    mpmath gives mpmath numbers (for its root finders); values by hand."""
    x, y = sp.symbols("x y", positive=True)
    f = compile_scalar((y, x), [x / y, sp.Max(x, y) + 1])
    assert f(2.0, 3.0) == [1.5, 4.0]
    g = compile_scalar((x,), x**2 - 2, module="mpmath")
    import mpmath

    with mpmath.workdps(30):
        assert mpmath.nstr(mpmath.findroot(g, 1.0), 20) == "1.4142135623730950488"


@pytest.mark.parametrize("name", ["__import__('os').system('x')", "_x", "a.b", "lambda", "math"])
def test_compile_scalar_refuses_unsafe_names(name):
    bad = sp.Symbol(name)
    with pytest.raises(UnsafeFormulaError):
        compile_scalar((bad, s.B), [bad + s.B])
    with pytest.raises(UnsafeFormulaError):
        compile_scalar((s.B,), sp.Function("exec")(s.B), module="mpmath")
