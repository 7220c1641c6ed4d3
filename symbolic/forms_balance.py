"""The essay's question as inverse forms: can the imbalance be engineered away (bandwidth, capacity, balance,
the single user's cost)?"""

from __future__ import annotations

import sympy as sp

from . import symbols as s
from . import units as U
from .closedform import ClosedForm, Step
from .efficiency import IDEAL, Efficiencies
from .forms_common import (
    DENSE,
    NO_FIXED,
    WEIGHTS_ONLY,
    record,
    t_comp,
    t_w,
    users_sym,
)
from .forms_economics import min_user_base

ratio_sym = sp.Symbol("cost_ratio", positive=True)
QUANT_SHIFTS = ("precision enters only through F b_w: quantizing the weights alone (W4A16) lowers b_w and moves "
                "the wall, while quantizing weights and compute together (FP8 on an FP8 chip) doubles F as it "
                "halves b_w and leaves it where it was; no precision removes it")


def bandwidth_for_break_even_batch(e: Efficiencies = IDEAL) -> ClosedForm:
    expr = e.eta_F * s.F * s.b_w / (2 * e.eta_W * s.B)
    tc, tw = t_comp(e), t_w(e)
    return record(
        e, name="bandwidth_for_break_even_batch", notation=r"W_{B}",
        meaning="memory bandwidth at which the break-even batch equals a target B (B = 1: economies of scale vanish)",
        expr=expr, args=(s.F, s.b_w, s.B), unit=U.byte_per_s, policy="step",
        unknown=s.W, residual=tc - tw,
        steps=(
            Step(tc, tw, "The break-even batch is where the compute of B tokens takes as long as one read of the weights."),
            Step(s.W, expr, "Solve for the bandwidth instead of the batch: N and t cancel as before."),
            Step(sp.Symbol(r"W_{1}"), e.eta_F * s.F * s.b_w / (2 * e.eta_W), "At B = 1 a single user keeps the chip busy: bandwidth must match half the arithmetic rate times the bytes per weight."),
            Step(sp.Symbol(r"W_{B}") / s.W, s.B / sp.Symbol(r"B^{\ast}"), "Against today's chip the bandwidth must grow by the factor B*/B, which is B* itself for batch 1."),
            Step(sp.Symbol(r"W_{B}"), expr, "The needed bandwidth is proportional to b_w: halving the bytes per weight at the same F halves it, which shifts the wall and does not remove it."),
        ),
        conditions=(s.B >= 1,),
        condition_text=("the target is a batch of at least one sequence: B >= 1",),
        assumptions=(DENSE, WEIGHTS_ONLY, NO_FIXED, QUANT_SHIFTS),
        bracket=(expr / 4, 4 * expr),
    )


def bandwidth_for_batch1_speed() -> ClosedForm:
    expr = s.N * s.b_w * s.v_tok / s.eta_W
    t1 = s.N * s.b_w / (s.eta_W * s.W)
    return ClosedForm(
        name="bandwidth_for_batch1_speed", notation=r"W_{v}",
        meaning="aggregate memory bandwidth a system needs to serve one user alone at v tokens/s, at achieved fraction eta of it",
        expr=expr, args=(s.N, s.b_w, s.v_tok, s.eta_W), unit=U.byte_per_s, policy="step",
        unknown=s.W, residual=1 / s.v_tok - t1,
        steps=(
            Step(sp.Symbol(r"\tau_{1}"), t1, "At batch 1 every weight is read once per token, at the achieved fraction of the system's bandwidth."),
            Step(1 / s.v_tok, t1, "The time per token is the reciprocal of the speed the user is promised."),
            Step(s.W, expr, "Solve for the bandwidth: a model's bytes times its tokens per second."),
            Step(sp.Symbol(r"M_{sys}"), s.N * s.b_w, "Its memory must also hold the weights once; chips_to_hold_model divides this by one chip's capacity."),
            Step(sp.Symbol(r"F_{sys}"), 2 * s.N * s.v_tok, "It needs only 2N FLOPs per token, so its arithmetic runs at 2/(b_w F/W) of peak: the balance, not the bandwidth, sets the idle fraction."),
        ),
        assumptions=(DENSE, WEIGHTS_ONLY, NO_FIXED, "memory-bound at batch 1 (the system's B* >= 1)", QUANT_SHIFTS),
        bracket=(expr / 4, 4 * expr),
    )


def chips_to_hold_model() -> ClosedForm:
    expr = s.N * s.b_w / s.M
    return ClosedForm(
        name="chips_to_hold_model", notation=r"t_{M}",
        meaning="chips whose memory together holds the weights once: the capacity bound SRAM machines pay",
        expr=expr, args=(s.N, s.b_w, s.M), unit=U.one, policy="any",
        unknown=s.t, residual=s.t * s.M - s.N * s.b_w,
        steps=(
            Step(s.t * s.M, s.N * s.b_w, "t chips of capacity M hold the weights once, with nothing left for KV cache or activations."),
            Step(s.t, expr, "Solve; a real deployment rounds up to a whole number of chips."),
            Step(s.N * s.b_w / (s.t * s.W), s.M / s.W, "On exactly that many chips the batch-1 weight read takes M/W: the time to drain one chip's memory, whatever the model."),
        ),
        assumptions=(DENSE, "weights only: KV cache, activations and replication need more"),
        bracket=(expr / 4, 4 * expr),
    )


def min_user_base_vs_balance(e: Efficiencies = IDEAL) -> ClosedForm:
    base = min_user_base()
    bstar = e.eta_F * s.r_fb * s.b_w / (2 * e.eta_W)
    expr = base.expr.xreplace({s.C: bstar})
    return record(
        e, name="min_user_base_vs_balance", notation=r"U_{r}",
        meaning="user base needed to keep one replica at its break-even batch, as a function of the balance r = F/W",
        expr=expr, args=(s.r_fb, s.b_w, s.m, s.rho_tr), unit=U.one, policy="step",
        unknown=users_sym, residual=base.residual.xreplace({s.C: bstar}),
        steps=(
            Step(s.r_fb, s.F / s.W, "The balance of a chip is its arithmetic rate over its memory bandwidth, in FLOP per byte."),
            Step(sp.Symbol(r"B^{\ast}"), bstar, "The break-even batch F b_w/(2W) depends on the chip only through r."),
            Step(s.C, bstar, "To stay compute-bound a replica must hold B* concurrent users at all times."),
            Step(users_sym, expr, "Convert concurrency to a user base as in the minimum user base: it grows linearly with r and with b_w."),
        ),
        assumptions=(*base.assumptions, DENSE, WEIGHTS_ONLY, NO_FIXED, QUANT_SHIFTS),
        bracket=(expr / 4, 4 * expr),
    )


def single_user_cost_ratio(e: Efficiencies = IDEAL) -> ClosedForm:
    expr = e.eta_F * s.F * s.b_w / (2 * e.eta_W * s.W)
    c1 = s.price * s.N * s.b_w / (3600 * e.eta_W * s.W)
    cstar = s.price * 2 * s.N / (3600 * e.eta_F * s.F)
    return record(
        e, name="single_user_cost_ratio", notation=r"\kappa_{1}",
        meaning="cost per token of serving one user alone over a provider's cost at the break-even batch",
        expr=expr, args=(s.F, s.b_w, s.W), unit=U.one, policy="step",
        unknown=ratio_sym, residual=ratio_sym * cstar - c1,
        steps=(
            Step(sp.Symbol("c_{tok}"), s.price * s.t * sp.Symbol(r"\tau") / (3600 * s.B), "A replica of t chips costs p t dollars an hour and emits B tokens per step of tau seconds."),
            Step(sp.Symbol("c_{1}"), c1, "Alone (B = 1) the step is the weight read N b_w/(tW): t cancels."),
            Step(sp.Symbol(r"c_{\ast}"), cstar, "At the break-even batch the step is compute-bound, 2 N B*/(tF), shared by B* tokens."),
            Step(ratio_sym, expr, "Divide: the single user pays B* times as much, the break-even batch itself."),
        ),
        conditions=(e.eta_F * s.F * s.b_w >= 2 * e.eta_W * s.W,),
        condition_text=("the chip is memory-bound at batch 1 (B* >= 1); otherwise batching saves nothing and the ratio is 1",),
        assumptions=(DENSE, WEIGHTS_ONLY, NO_FIXED, "the same chips at the same price per chip-hour for both", QUANT_SHIFTS),
        bracket=(expr / 4, 4 * expr),
    )
