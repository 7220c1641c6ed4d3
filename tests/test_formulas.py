"""Every closed form satisfies its defining equation, symbolically and against a numeric root."""

from __future__ import annotations

import random

import mpmath
import pytest
import sympy as sp
from scipy.optimize import brentq

from inferonomics.symbolic.errors import ConditionError, UnknownNameError
from inferonomics.symbolic.formulas import all_formulas, get_formula
from strategies import sample_point

FORMULAS = all_formulas()
IDS = [f.name for f in FORMULAS]


def _consistent_moe(p):
    """An MoE point whose active parameters are its dense part plus k experts, as in a real model."""
    p["n_experts"] = max(p["n_experts"], p["experts_per_token"] + 1)
    p["active_params"] = p["dense_params"] + p["experts_per_token"] * p["expert_params"]
    a = 2 * p["active_params"] * p["hbm_bandwidth_bytes_per_s"] / (p["peak_flop_per_s"] * p["bytes_per_weight"])
    return p if (p["dense_params"] + p["experts_per_token"] * p["expert_params"]) / a >= 1 else None


def _points(f, n, seed):
    """Random points over every symbol the residual and the bracket use, satisfying the conditions."""
    rng = random.Random(seed)
    names = sorted({x.name for x in f.residual.free_symbols | set(f.args)} - {f.unknown.name})
    out = []
    while len(out) < n:
        p = sample_point(names, rng)
        if "n_experts" in p:
            p = _consistent_moe(p)
        if p is not None and not f.failed_conditions(p):
            out.append(p)
    return out


@pytest.mark.parametrize("f", FORMULAS, ids=IDS)
def test_args_are_exactly_the_free_symbols(f):
    # conditions may need a symbol the expression lacks (the API crossover's guard needs F)
    assert set(f.args) == f.expr.free_symbols.union(*(c.free_symbols for c in f.conditions))
    assert len(set(f.args)) == len(f.args)


@pytest.mark.parametrize("f", FORMULAS, ids=IDS)
def test_satisfies_defining_equation_by_substitution(f):
    if f.error_bound is not None:
        pytest.skip(f"{f.name} is an approximation; test_equals_numeric_root checks its error bound")
    residual = f.residual.subs(f.unknown, f.expr)
    simplified = sp.simplify(residual)
    if simplified != 0:  # Max/Min residuals: check numerically at 50 digits instead
        for p in _points(f, 50, 1):
            subs = {sp.Symbol(k, positive=True): sp.Float(v, 50) for k, v in p.items()}
            scale = abs(sp.N(f.residual.subs(f.unknown, 0).subs(subs), 50)) + abs(sp.N(f.expr.subs(subs), 50))
            assert abs(sp.N(residual.subs(subs), 50)) <= sp.Float("1e-40") * (1 + scale)


@pytest.mark.parametrize("f", FORMULAS, ids=IDS)
def test_equals_numeric_root(f):
    if f.bracket is None:
        pytest.skip(f"{f.name} has no bracket")
    names = [s.name for s in sorted(f.residual.free_symbols - {f.unknown}, key=str)]
    syms = [sp.Symbol(n, positive=True) for n in names]
    g = sp.lambdify([f.unknown, *syms], f.residual, "mpmath")
    lo_f = sp.lambdify(syms, f.bracket[0], "mpmath")
    hi_f = sp.lambdify(syms, f.bracket[1], "mpmath")
    mpmath.mp.dps = 30
    for p in _points(f, 40, 2):
        args = [p[n] for n in names]
        closed = f.evaluate(p)
        lo, hi = float(lo_f(*args)), float(hi_f(*args))
        root = brentq(lambda x: float(g(x, *args)), lo, hi, xtol=1e-300, rtol=1e-15, maxiter=500)
        if f.error_bound is None:
            assert root == pytest.approx(closed, rel=1e-9)
        else:  # an upper bound on the root, within the stated relative error
            bound = float(f.error_bound.evalf(30, subs={sp.Symbol(k, positive=True): v for k, v in p.items()}))
            assert root <= closed * (1 + 1e-9)
            assert (closed - root) / closed <= bound * (1 + 1e-9) + 1e-12


def test_break_even_with_kv_does_not_exist_beyond_critical_context():
    f, crit = get_formula("break_even_batch_with_kv"), get_formula("critical_context")
    p = {"total_params": 7e10, "bytes_per_weight": 2.0, "peak_flop_per_s": 1e15,
         "hbm_bandwidth_bytes_per_s": 3.35e12, "kv_bytes_per_token": 327680.0, "tp": 8.0, "n_kv_heads": 8.0}
    c_star = crit.evaluate(p)
    assert f.evaluate(dict(p, context=0.99 * c_star)) > 0
    with pytest.raises(ConditionError):
        f.evaluate(dict(p, context=1.01 * c_star))


def test_break_even_with_kv_grows_with_context_and_reduces_to_weights_only():
    f, f0 = get_formula("break_even_batch_with_kv"), get_formula("break_even_batch")
    p = {"total_params": 7e10, "bytes_per_weight": 2.0, "peak_flop_per_s": 1e15,
         "hbm_bandwidth_bytes_per_s": 3.35e12, "kv_bytes_per_token": 327680.0, "tp": 8.0, "n_kv_heads": 8.0}
    values = [f.evaluate(dict(p, context=c)) for c in (1, 100, 500, 1000)]
    assert values == sorted(values)
    assert sp.limit(f.expr, sp.Symbol("context", positive=True), 0) == f0.expr


def test_crossover_is_above_optimum_by_the_stated_identity():
    t_star, t_x = get_formula("optimal_tp_degree").expr, get_formula("tp_comm_crossover").expr
    assert sp.simplify(t_x - (sp.Rational(1, 2) + sp.sqrt(sp.Rational(1, 4) + t_star**2))) == 0


def test_utilization_regimes():
    u = get_formula("utilization")
    p = {"total_params": 1e9, "bytes_per_weight": 1.0, "peak_flop_per_s": 3e15,
         "hbm_bandwidth_bytes_per_s": 3e12, "kv_bytes_per_token": 1e-9, "context": 1e-9, "tp": 1.0,
         "n_kv_heads": 8.0}
    assert u.evaluate(dict(p, batch=250)) == pytest.approx(0.5, rel=1e-6)  # below B* = 500: linear
    assert u.evaluate(dict(p, batch=2000)) == 1.0  # above: saturated


def test_unknown_formula_suggests():
    with pytest.raises(UnknownNameError, match="did you mean break_even_batch"):
        get_formula("break_even_batc")


def test_records_have_steps_with_sentences():
    for f in FORMULAS:
        assert len(f.steps) >= 2, f.name
        for step in f.steps:
            assert step.why.endswith(".") and len(step.why.split()) >= 4, (f.name, step.why)
