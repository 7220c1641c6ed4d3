"""Closed forms of pipeline parallelism: a token's time through n_pp stages (the stack at B/n_pp micro-batches
plus n_pp - 1 hand-offs), its throughput against one stage, the batch from which every micro-batch is
compute-bound, and the stages a model needs to fit.

The composition is the serving model's (:func:`inferonomics.optimize.calibration.serving._pipelined`) in its
ideal limit: the stack's step is the essay's weights-only roofline, and a hand-off is the two-chip all-to-all of
:func:`inferonomics.symbolic.kernels.collective_time` with its fixed time 0 and link efficiency 1.
"""

from __future__ import annotations

import sympy as sp
from sympy import Max, ceiling, sqrt

from . import symbols as s
from . import units as U
from .closedform import ClosedForm, Step
from .forms_common import DENSE, WEIGHTS_ONLY

_STAGES = ("the batch splits into n_pp equal micro-batches that follow each other through the stages (steady "
           "state: the pipeline is full, its fill and drain are left out)")
_HANDOFF = ("a hand-off moves a micro-batch's activations (B d b_a / n_pp bytes) between two chips as one two-chip "
            "all-to-all over the scale-up link (kernels.collective_time at t = 2, fixed time 0, efficiency 1)")
_gain = sp.Symbol("G_{pp}", positive=True)
#: the unknown: a token's time through the pipeline (forms_common's time_per_token prints as the batch-1 tau_1)
tau_sym = sp.Symbol(r"\tau_{pp}", positive=True)


def _stack(batch: sp.Expr) -> sp.Expr:
    """The essay's weights-only step of the whole stack on t chips at ``batch`` sequences."""
    return Max(2 * s.N * batch / (s.t * s.F), s.N * s.b_w / (s.t * s.W), evaluate=False)


def _handoff() -> sp.Expr:
    """One inter-stage hand-off of a micro-batch: the pipelined two-chip chain, (sqrt(alpha) + sqrt(m/(2 beta)))**2."""
    # evaluated (SymPy splits the root into a product of roots): an unevaluated root would not survive the exports'
    # round trip structurally
    return (sqrt(s.alpha) + sqrt(s.B * s.d * s.b_a / (2 * s.pp * s.beta))) ** 2


def pp_token_time() -> ClosedForm:
    expr = _stack(s.B / s.pp) + (s.pp - 1) * _handoff()
    h = sp.Symbol("t_{h}", positive=True)
    return ClosedForm(
        name="pp_token_time", notation=r"\tau_{pp}",
        meaning="time per output token of a replica of n_pp pipeline stages of t chips each: the whole stack at "
                "B/n_pp sequences plus n_pp - 1 hand-offs between stages (pipeline parallelism's latency cost)",
        expr=expr, args=(s.N, s.B, s.pp, s.t, s.F, s.b_w, s.W, s.alpha, s.d, s.b_a, s.beta), unit=U.second,
        policy="step", unknown=tau_sym, residual=tau_sym - expr,
        steps=(
            Step(tau_sym, _stack(s.B / s.pp) + (s.pp - 1) * h,
                 "Each stage holds L/n_pp layers and 1/n_pp of the weights on t chips; a micro-batch of B/n_pp "
                 "sequences crosses every layer, so a token takes the whole stack's step at B/n_pp, plus one "
                 "hand-off between each pair of consecutive stages."),
            Step(h, _handoff(),
                 "A hand-off is a two-chip all-to-all of the micro-batch's activations: the pipelined chain of the "
                 "serving model's collectives with one hop, the square of sqrt(alpha) + sqrt(size/(2 beta))."),
            Step(tau_sym, expr, "Substitute. At n_pp = 1 this is the essay's step on t chips."),
            Step(tau_sym - sp.Symbol(r"\tau_{pp,1}", positive=True), (s.pp - 1) * _handoff(),
                 "While the stack is memory-bound at B/n_pp the stages save no time (the weights are read once per "
                 "micro-batch either way), so the latency cost of pipelining is the n_pp - 1 hand-offs."),
        ),
        assumptions=(DENSE, WEIGHTS_ONLY, _STAGES, _HANDOFF, "no tensor-parallel communication or fixed costs"),
        bracket=(sp.S.Zero, 4 * expr),
    )


def pp_throughput_gain() -> ClosedForm:
    expr = _stack(s.B) / (_stack(s.B / s.pp) + (s.pp - 1) * _handoff())
    return ClosedForm(
        name="pp_throughput_gain", notation=r"G_{pp}",
        meaning="throughput of n_pp pipeline stages of t chips over one stage of t chips at the same batch B: "
                "at most n_pp (the chips it adds), reached once every micro-batch is compute-bound",
        expr=expr, args=(s.N, s.B, s.pp, s.t, s.F, s.b_w, s.W, s.alpha, s.d, s.b_a, s.beta), unit=U.one,
        policy="step", unknown=_gain, residual=_gain * (_stack(s.B / s.pp) + (s.pp - 1) * _handoff()) - _stack(s.B),
        steps=(
            Step(_gain, sp.Symbol(r"\tau_{pp,1}", positive=True) / tau_sym,
                 "Both serve B sequences one token per step, so throughput goes as the inverse of the time per token "
                 "(tau_{pp,1}: one stage, n_pp = 1)."),
            Step(_gain, expr, "Substitute the one-stage step and pp_token_time."),
            Step(sp.Symbol(r"G_{pp,c}", positive=True), s.pp / (1 + (s.pp - 1) * _handoff() * s.pp * s.t * s.F
                                                                  / (2 * s.N * s.B)),
                 "In the compute-bound regime, once B/n_pp >= B*, both steps are compute-bound and the stages divide the FLOPs: the gain tends to "
                 "n_pp, less the hand-offs' share. Below B* both read the same weights per token and the gain is at "
                 "most one: pipelining buys capacity (it holds a model no stage holds alone), not speed."),
        ),
        assumptions=(DENSE, WEIGHTS_ONLY, _STAGES, _HANDOFF,
                     "one stage of t chips is taken to hold the model (the comparison is per chip-count ratio n_pp)"),
        bracket=(expr / 4, 4 * expr),
    )


def pp_break_even_batch() -> ClosedForm:
    expr = s.pp * s.F * s.b_w / (2 * s.W)
    return ClosedForm(
        name="pp_break_even_batch", notation=r"B^{*}_{pp}",
        meaning="batch from which each of the n_pp micro-batches is compute-bound, so that pipeline parallelism "
                "multiplies throughput by n_pp (below it the added stages ride on the same weight reads)",
        expr=expr, args=(s.pp, s.F, s.b_w, s.W), unit=U.one, policy="step",
        unknown=s.B, residual=2 * s.N * (s.B / s.pp) / (s.t * s.F) - s.N * s.b_w / (s.t * s.W),
        steps=(
            Step(2 * s.N * (s.B / s.pp) / (s.t * s.F), s.N * s.b_w / (s.t * s.W),
                 "A micro-batch of B/n_pp sequences turns the stack compute-bound where its FLOP time equals the "
                 "weight read."),
            Step(s.B, expr, "Solve: n_pp times the break-even batch B* = F b_w/(2W); at n_pp = 1 it is B*."),
        ),
        assumptions=(DENSE, WEIGHTS_ONLY, _STAGES, "the 'step' policy (one roofline per step)"),
        bracket=(expr / 4, 4 * expr),
    )


def pp_stages_to_fit() -> ClosedForm:
    expr = ceiling(s.N * s.b_w / (s.t * s.M))
    return ClosedForm(
        name="pp_stages_to_fit", notation=r"n_{pp,M}",
        meaning="pipeline stages of t chips each (one scale-up domain) needed to hold the weights: the fewest "
                "n_pp with n_pp t M >= N b_w",
        expr=expr, args=(s.N, s.b_w, s.t, s.M), unit=U.one, policy="any",
        unknown=s.pp, residual=s.pp - expr,
        steps=(
            Step(s.pp * s.t * s.M, s.N * s.b_w, "n_pp stages of t chips of capacity M hold the weights once "
                                                  "(chips_to_hold_model, shared among n_pp stages of t)."),
            Step(s.pp, expr, "The fewest whole stages: round the ratio up. Llama-3.1-405B in bf16 (810 GB) on "
                             "nodes of 8 H100s (640 GB) needs 2."),
        ),
        assumptions=(DENSE, "weights only: KV cache, activations and the engine's reserve need more"),
    )
