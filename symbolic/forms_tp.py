"""Closed forms of tensor parallelism at batch 1: the latency-optimal degree (ring and square-root laws) and the
degree at which communication overtakes the weight read."""

from __future__ import annotations

import sympy as sp
from sympy import Rational, sqrt

from . import symbols as s
from . import units as U
from .closedform import ClosedForm, Step
from .efficiency import IDEAL, Efficiencies
from .forms_common import (
    DENSE,
    record,
    tau_sym,
)


def optimal_tp_degree(e: Efficiencies = IDEAL) -> ClosedForm:
    expr = sqrt(s.N * s.b_w / (2 * e.eta_W * s.W * s.L * s.n_ar * s.alpha))
    _tp_lat = s.N * s.b_w / (s.t * e.eta_W * s.W) + 2 * s.L * s.n_ar * (s.t - 1) * s.alpha
    return record(
        e, name="optimal_tp_degree", notation="t^{*}",
        meaning="tensor-parallel degree that minimizes batch-1 latency when all-reduce latency grows with the degree",
        expr=expr, args=(s.N, s.b_w, s.W, s.L, s.n_ar, s.alpha), unit=U.one, policy="step",
        unknown=s.t, residual=sp.diff(_tp_lat, s.t),
        steps=(
            Step(tau_sym, _tp_lat, "Batch-1 time: the weight read shrinks as 1/t while ring all-reduce latency grows as t - 1."),
            Step(sp.Derivative(tau_sym, s.t), sp.diff(_tp_lat, s.t), "The minimum of a convex function where its derivative vanishes."),
            Step(s.t, expr, "Solve; the optimum grows as the square root of model size because the ring's latency grows linearly in t (Epoch AI's latency, growing as sqrt(t), gives the 2/3 power instead: optimal_tp_degree_sqrt)."),
        ),
        conditions=(s.N * s.b_w >= 2 * e.eta_W * s.W * s.L * s.n_ar * s.alpha,),
        condition_text=("the optimum is at least one chip: N b_w >= 2 W L n_ar alpha" if e == IDEAL else
                        "the optimum is at least one chip: N b_w >= 2 eta_W W L n_ar alpha",),
        assumptions=(DENSE, "memory-bound at batch 1", "latency-only ring all-reduce; real degrees are integers and the optimizer compares neighbours"),
        bracket=(expr / 4, 4 * expr),
    )


_tp_lat_sqrt = s.N * s.b_w / (s.t * s.W) + s.L * s.n_ar * (s.alpha_s * (sqrt(s.t) - 1) + s.alpha_0)


def optimal_tp_degree_sqrt() -> ClosedForm:
    expr = (2 * s.N * s.b_w / (s.alpha_s * s.L * s.n_ar * s.W)) ** Rational(2, 3)
    return ClosedForm(
        name="optimal_tp_degree_sqrt", notation=r"t^{*}_{\surd}",
        meaning="tensor-parallel degree that minimizes batch-1 latency when all-reduce latency grows as the square root of the degree (Epoch AI's law)",
        expr=expr, args=(s.N, s.b_w, s.W, s.L, s.n_ar, s.alpha_s), unit=U.one, policy="step",
        unknown=s.t, residual=sp.diff(_tp_lat_sqrt, s.t),
        steps=(
            Step(tau_sym, _tp_lat_sqrt, "Batch-1 time: the weight read shrinks as 1/t while each all-reduce costs alpha_s (sqrt(t) - 1) + alpha_0, Epoch AI's latency law."),
            Step(sp.Derivative(tau_sym, s.t), sp.diff(_tp_lat_sqrt, s.t), "The derivative changes sign once, from negative to positive, so its root is the minimum; the fixed alpha_0 drops out."),
            Step(s.t ** Rational(3, 2), 2 * s.N * s.b_w / (s.alpha_s * s.L * s.n_ar * s.W), "Multiply by 2 t^2 sqrt(t)/(alpha_s L n_ar) and collect the powers of t."),
            Step(s.t, expr, "Raise to the power 2/3: the optimum grows as the 2/3 power of model size, not as the square root of the ring's law."),
        ),
        conditions=(2 * s.N * s.b_w >= s.alpha_s * s.L * s.n_ar * s.W,),
        condition_text=("the optimum is at least one chip: 2 N b_w >= alpha_s L n_ar W",),
        assumptions=(DENSE, "memory-bound at batch 1", "latency-only all-reduce growing as sqrt(t) (Epoch AI); real degrees are integers and the optimizer compares neighbours"),
        bracket=(expr / 4, 4 * expr),
    )


def tp_comm_crossover(e: Efficiencies = IDEAL) -> ClosedForm:
    expr = Rational(1, 2) + sqrt(Rational(1, 4) + s.N * s.b_w / (2 * s.L * s.n_ar * s.alpha * e.eta_W * s.W))
    read = s.N * s.b_w / (s.t * e.eta_W * s.W)
    return record(
        e, name="tp_comm_crossover", notation=r"t_{\times}",
        meaning="tensor-parallel degree at which all-reduce time equals the weight-read time at batch 1",
        expr=expr, args=(s.N, s.b_w, s.L, s.n_ar, s.alpha, s.W), unit=U.one, policy="step",
        unknown=s.t, residual=read - 2 * s.L * s.n_ar * (s.t - 1) * s.alpha,
        steps=(
            Step(read, 2 * s.L * s.n_ar * (s.t - 1) * s.alpha, "Weight-read time per chip equals the latency of the step's all-reduces."),
            Step(s.t ** 2 - s.t, s.N * s.b_w / (2 * s.L * s.n_ar * s.alpha * e.eta_W * s.W), "Multiply by t and divide by the all-reduce term: a quadratic in t."),
            Step(s.t, expr, "Take the positive root; note it equals 1/2 + sqrt(1/4 + t*^2)."),
        ),
        assumptions=(DENSE, "memory-bound at batch 1", "latency-only ring all-reduce"),
        bracket=(sp.Integer(1), 4 * expr),
    )
