"""Points for round-trip tests: log-uniform samples per symbol, split by each record's conditions,
with SymPy references (evalf at 50 digits; the doubles enter exactly as 60-digit Floats); and fixture records
that exercise every node type the exporters print."""

from __future__ import annotations

import math
import random

import sympy as sp

from inferonomics.symbolic import symbols as s
from inferonomics.symbolic import units as U
from inferonomics.symbolic.closedform import ClosedForm, Step

#: log-uniform (low, high) per unit string, for symbols without a range of their own
UNIT_RANGES = {
    "1": (1.0, 1e3), "s": (1e-6, 1e-1), "byte": (0.5, 1e6), "FLOP/s": (1e13, 1e16), "byte/s": (1e10, 1e13),
    "USD": (0.05, 100), "USD/h": (0.2, 20), "W": (50, 2000), "J": (1e-3, 1e3),
}
DIGITS = 50


def symbol_range(sym: sp.Symbol) -> tuple[float, float]:
    """Plausible (low, high) of a symbol: its own range if the tests know one, else its unit's."""
    try:
        from strategies import RANGES
    except ImportError:  # pragma: no cover - strategies.py ships with the tests
        RANGES = {}
    if sym.name in RANGES:
        return RANGES[sym.name]
    info = s.TABLE.get(sym.name)
    return UNIT_RANGES[str(info.unit) if info is not None else "1"]


def draw(record, rng: random.Random, widen: float = 1.0) -> tuple[float, ...]:
    out = []
    for a in record.args:
        lo, hi = symbol_range(a)
        out.append(math.exp(rng.uniform(math.log(lo / widen), math.log(hi * widen))))
    return tuple(out)


def exact(record, point) -> dict:
    """The point as 60-digit Floats: each double converts exactly, and SymPy then computes at 60 digits
    (exact Rationals would make powers like (1 - k/E)**B take forever)."""
    return {a: sp.Float(x, 60) for a, x in zip(record.args, point)}


def holds(record, point) -> bool:
    """Every condition holds at the exact point."""
    sub = exact(record, point)
    return all(bool(c.xreplace(sub)) for c in record.conditions)


def reference(record, point) -> float | None:
    """SymPy's value at 50 digits at the point, as a float; None if not a finite real."""
    value = record.expr.xreplace(exact(record, point)).evalf(DIGITS)
    if not value.is_real or not value.is_finite:
        return None
    return float(value)


def valid_points(record, n: int = 200, seed: int = 0) -> tuple[list[tuple[float, ...]], list[float]]:
    """``n`` points where every condition holds and the value is a finite real, with references."""
    rng = random.Random(f"{record.name}:{seed}")
    points, refs = [], []
    for _ in range(200 * n):
        p = draw(record, rng)
        if not holds(record, p):
            continue
        ref = reference(record, p)
        if ref is None:
            continue
        points.append(p)
        refs.append(ref)
        if len(points) == n:
            return points, refs
    raise AssertionError(f"{record.name}: only {len(points)} valid points in the plausible ranges")


def violating_points(record, n: int = 20, seed: int = 1) -> list[tuple[float, ...]]:
    """Up to ``n`` points where some condition fails (ranges widened 100x if needed)."""
    if not record.conditions:
        return []
    rng = random.Random(f"{record.name}:bad:{seed}")
    out = []
    for widen in (1.0, 100.0):
        for _ in range(50 * n):
            p = draw(record, rng, widen)
            if not holds(record, p):
                out.append(p)
                if len(out) == n:
                    return out
    return out


def close(got: float, want: float, rel: float = 1e-12) -> bool:
    return math.isclose(got, want, rel_tol=rel, abs_tol=0.0)


# -- fixture records: every node type the exporters print --------------------------------------
def _record(name, expr, args, conditions=(), texts=(), steps=None, unit=U.one):
    unknown = sp.Symbol("y", positive=True)
    return ClosedForm(
        name=name, notation=name.replace("_", r"\_"), meaning=f"test record {name}", expr=expr, args=tuple(args),
        unit=unit, policy="step", unknown=unknown, residual=unknown - expr,
        steps=steps or (Step(unknown, expr, "By definition."),), conditions=tuple(conditions),
        condition_text=tuple(texts), assumptions=("test fixture",),
    )


def fixture_records() -> tuple[ClosedForm, ...]:
    t_c, t_m = 2 * s.N * s.B / s.F, s.N * s.b_w / s.W
    b_star = s.F * s.b_w / (2 * s.W)
    return (
        _record("fx_break_even", b_star, (s.F, s.b_w, s.W),
                steps=(Step(sp.Symbol("t_{compute}"), t_c, "Two FLOPs per weight per token."),
                       Step(s.B, b_star, "Equate with the weight read & solve; 100% of N cancels."))),
        _record("fx_step_piecewise", sp.Piecewise((t_m, s.B < b_star), (Max_(t_c, t_m) + s.t_o, True)) + Min_(t_c, t_m),
                (s.N, s.B, s.F, s.b_w, s.W, s.t_o), unit=U.second),
        _record("fx_sqrt_log_exp", sp.sqrt(s.N * s.b_w / (2 * s.W * s.alpha)) + sp.log(s.B) * sp.exp(-s.alpha * 1000)
                + sp.Abs(s.B - 64) * sp.Float(0.1234567890123456) + s.B ** sp.Rational(-3, 2) + sp.pi / s.B,
                (s.N, s.b_w, s.W, s.alpha, s.B)),
        _record("fx_kv_condition", s.N * s.b_w * s.F / (2 * s.N * s.W - s.ctx * s.kv * s.F),
                (s.N, s.b_w, s.F, s.W, s.ctx, s.kv),
                (2 * s.N * s.W > s.ctx * s.kv * s.F,), ("the context is below the critical context",)),
        _record("fx_experts_touched", s.E * (1 - (1 - s.k_top / s.E) ** s.B), (s.E, s.k_top, s.B),
                (s.k_top < s.E, sp.And(s.B >= 1, s.E > 1)), ("top-k is below the expert count", "a batch and experts")),
        _record("fx_piecewise_and", sp.Piecewise((s.B, sp.And(s.B > 8, s.ctx < 4096)), (s.ctx / s.B, s.B <= 8)),
                (s.B, s.ctx)),
    )


def Max_(*a):
    return sp.Max(*a)


def Min_(*a):
    return sp.Min(*a)


def all_records() -> tuple[ClosedForm, ...]:
    """Fixture records plus every closed form of inferonomics.symbolic.formulas."""
    from inferonomics.symbolic.formulas import all_formulas

    return fixture_records() + tuple(all_formulas())


_CACHE: dict[tuple[str, int], tuple[list[tuple[float, ...]], list[float]]] = {}


def cached_valid_points(record, n: int = 200) -> tuple[list[tuple[float, ...]], list[float]]:
    """valid_points, computed once per process per record (every format compares at the same points)."""
    key = (record.name, n)
    if key not in _CACHE:
        _CACHE[key] = valid_points(record, n)
    return _CACHE[key]
