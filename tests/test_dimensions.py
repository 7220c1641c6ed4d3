"""Dimensional consistency: scale every base dimension and check each expression scales as its unit says.

Each symbol's unit is a sympy.physics.units quantity; its dimension (exponents of time, information,
currency, ...) says how its number changes when the base units change. A dimensionally consistent
expression changes by exactly the factor of its declared unit, through Max, sqrt and all.
"""

from __future__ import annotations

import math
import random

import pytest
import sympy as sp

from inferonomics.symbolic import economics as econ
from inferonomics.symbolic import model
from inferonomics.symbolic import units as U
from inferonomics.symbolic.formulas import all_formulas
from inferonomics.symbolic.symbols import TABLE
from strategies import RANGES

BASES = ("time", "information", "currency", "mass", "length")


def _factor(unit: str, scales: dict[str, float]) -> float:
    return math.prod(scales[d] ** e for d, e in U.dimension_of(unit).items())


def _check(expr: sp.Expr, unit: str, seed: int = 0) -> None:
    rng = random.Random(seed)
    syms = sorted(expr.free_symbols, key=str)
    f = sp.lambdify(syms, expr, "math")
    for _ in range(5):
        point = {s: math.exp(rng.uniform(*map(math.log, RANGES[s.name]))) for s in syms}
        scales = {b: math.exp(rng.uniform(-3, 3)) for b in BASES}
        base = f(*[point[s] for s in syms])
        scaled = f(*[point[s] * _factor(TABLE[s.name].unit, scales) for s in syms])
        assert scaled == pytest.approx(base * _factor(unit, scales), rel=1e-9)


def test_every_symbol_unit_is_known_and_has_a_dimension():
    for info in TABLE.values():
        assert info.unit in U.UNITS, info.name
        U.dimension_of(info.unit)
        assert info.meaning and info.latex


@pytest.mark.parametrize("f", all_formulas(), ids=lambda f: f.name)
def test_closed_forms_have_their_declared_dimension(f):
    _check(f.expr, f.unit)


STEP = model.t_step("per-op", mixed=True)
BUILDERS = {
    "t_step(step)": (model.t_step("step"), U.second),
    "t_step(per-op, mixed)": (STEP, U.second),
    "t_comm": (model.t_comm(), U.second),
    "weight_bytes": (model.weight_bytes(), U.byte),
    "kv_read_bytes": (model.kv_read_bytes(), U.byte),
    "t_memory": (model.t_memory(model.weight_bytes()), U.second),
    "t_compute": (model.t_compute(model.matmul_flops() + model.attention_flops()), U.second),
    "utilization": (econ.utilization(STEP), U.one),
    "cost_per_token": (econ.cost_per_token(STEP), U.usd),
    "energy_per_token": (econ.energy_per_token(STEP), U.joule),
    "tokens_per_s_per_user": (econ.tokens_per_s_per_user(STEP) * TABLE["overhead_s"].symbol, U.one),
}


@pytest.mark.parametrize("name", BUILDERS)
def test_builders_have_their_dimension(name):
    expr, unit = BUILDERS[name]
    _check(expr, unit)


def test_an_inconsistent_expression_is_caught():
    b_w, t_o = TABLE["bytes_per_weight"].symbol, TABLE["overhead_s"].symbol
    with pytest.raises(AssertionError):
        _check(b_w + 1, U.byte)  # bytes plus a pure number
    with pytest.raises(AssertionError):
        _check(sp.Max(b_w, t_o * 1e4), U.byte)  # bytes against seconds, comparable magnitudes
