"""The closed forms of the essay and its refinements, each derived step by step as a ClosedForm record.

Every result is written out by hand (no ``solve`` at import time, so the CLI starts fast) and tests
check each one by substitution into its defining equation and against a numeric root. Unless a record
says otherwise, ``F`` and ``W`` are the rates actually achieved: the ideal model uses the datasheet,
a calibrated one substitutes ``eta_flop*F`` and ``eta_bw*W``.
"""

from __future__ import annotations

from functools import cache

import sympy as sp
from sympy import Eq, Max, Min, Rational, sqrt

from . import symbols as s
from . import units as U
from .closedform import ClosedForm, Step
from .errors import UnknownNameError

# Quantities that are results, not inputs: they appear as the unknown of a defining equation.
u_sym = sp.Symbol("utilization", positive=True)
tau_sym = sp.Symbol("time_per_token", positive=True)
users_sym = sp.Symbol("user_base", positive=True)

DENSE = "dense model: every token reads every weight (N_a = N)"
WEIGHTS_ONLY = "KV-cache reads and attention FLOPs are neglected (short context)"
NO_FIXED = "no communication and no fixed overhead in the step"
ATTN_FLOPS = "attention FLOPs are neglected next to the 2N matmul FLOPs per token (4 L d_attn c << 2N)"
STEP_POLICY = ("the 'step' policy (one roofline per step); under 'per-op' the weight matmuls still turn compute-bound "
               "at B* whatever the context and only attention stays memory-bound")
KV_HEADS = "a KV head is never split across chips: beyond t = h_kv heads are replicated (each chip reads B c k/h_kv)"

_t_comp = 2 * s.N * s.B / (s.t * s.F)
_t_w = s.N * s.b_w / (s.t * s.W)
#: KV replication: per chip the cache read is B c k/min(t, h_kv) = B c k r/t (symbolic.model.kv_chips)
_r = Max(1, s.t / s.h_kv)
_t_kv = s.B * s.ctx * s.kv * _r / (s.t * s.W)


def break_even_batch() -> ClosedForm:
    expr = s.F * s.b_w / (2 * s.W)
    return ClosedForm(
        name="break_even_batch", notation="B^{*}",
        meaning="batch at which a decode step stops being memory-bound (weights only)",
        expr=expr, args=(s.F, s.b_w, s.W), unit=U.one, policy="step",
        unknown=s.B, residual=_t_comp - _t_w,
        steps=(
            Step(sp.Symbol("t_{compute}"), _t_comp, "Each of the B tokens does one multiply and one add per weight, split over t chips."),
            Step(sp.Symbol("t_{memory}"), _t_w, "Every weight is read once per step, whatever the batch: the batch shares the read."),
            Step(_t_comp, _t_w, "The step stops being memory-bound where the two times are equal."),
            Step(s.B, expr, "N and t cancel: the break-even batch is a property of the chip and the precision, not of the model."),
        ),
        assumptions=(DENSE, WEIGHTS_ONLY, NO_FIXED),
        bracket=(sp.S.Zero, 4 * expr),
    )


def break_even_batch_with_kv() -> ClosedForm:
    expr = s.N * s.b_w * s.F / (2 * s.N * s.W - s.ctx * s.kv * _r * s.F)
    cond = 2 * s.N * s.W > s.ctx * s.kv * _r * s.F
    return ClosedForm(
        name="break_even_batch_with_kv", notation="B^{*}_{kv}",
        meaning="break-even batch when every sequence also reads its KV cache of c tokens",
        expr=expr, args=(s.N, s.b_w, s.F, s.W, s.ctx, s.kv, s.t, s.h_kv), unit=U.one, policy="step",
        unknown=s.B, residual=_t_comp - _t_w - _t_kv,
        steps=(
            Step(sp.Symbol("t_{memory}"), _t_w + _t_kv, "Besides the shared weights, each of the B sequences reads its own c tokens of KV cache, split over min(t, h_kv) chips since a KV head is never split."),
            Step(_t_comp, _t_w + _t_kv, "Break-even: compute time equals the time to read weights and caches."),
            Step(s.B * (2 * s.N / s.F - s.ctx * s.kv * _r / s.W), s.N * s.b_w / s.W, "Multiply by t and collect the terms in B: the cache eats into the compute side, r = max(1, t/h_kv) times over once heads are replicated."),
            Step(s.B, expr, "Divide; the result is positive, and so exists, only while the bracket is positive: it diverges as c rises to c*."),
        ),
        conditions=(cond,),
        condition_text=("the context is below the critical context: 2 N W > c k F max(1, t/h_kv)",),
        assumptions=(DENSE, STEP_POLICY, ATTN_FLOPS, NO_FIXED, KV_HEADS),
        bracket=(sp.S.Zero, 4 * expr),
    )


def critical_context() -> ClosedForm:
    expr = 2 * s.N * s.W / (s.kv * s.F * _r)
    return ClosedForm(
        name="critical_context", notation="c^{*}",
        meaning="context beyond which decode never becomes compute-bound, at any batch (step policy)",
        expr=expr, args=(s.N, s.W, s.kv, s.F, s.t, s.h_kv), unit=U.one, policy="step",
        unknown=s.ctx, residual=2 * s.N / s.F - s.ctx * s.kv * _r / s.W,
        steps=(
            Step(sp.Symbol("t_{compute}") / s.B, 2 * s.N / (s.t * s.F), "Per sequence, compute grows by 2N/(tF) with each token of batch."),
            Step(sp.Symbol("t_{kv}") / s.B, s.ctx * s.kv * _r / (s.t * s.W), "Per sequence, memory grows by its cache read, c k/(min(t, h_kv) W): replicated heads are read on every chip that holds them."),
            Step(2 * s.N / s.F, s.ctx * s.kv * _r / s.W, "If the cache term grows at least as fast, compute never catches up: batching stops helping."),
            Step(s.ctx, expr, "Solve for the context; it is the pole of the break-even batch with KV, which diverges there."),
        ),
        assumptions=(DENSE, STEP_POLICY, NO_FIXED, KV_HEADS,
                     "attention FLOPs are neglected; counting their 4 L d_attn per cached token moves the critical "
                     "context out to 2 N W/(k F max(1, t/h_kv) - 4 L d_attn W), and to infinity when k F max(1, t/h_kv) "
                     "<= 4 L d_attn W"),
        bracket=(sp.S.Zero, 4 * expr),
    )


def utilization() -> ClosedForm:
    expr = Min(1, 2 * s.N * s.B * s.W / (s.F * (s.N * s.b_w + s.B * s.ctx * s.kv * _r)), evaluate=False)
    step = Max(_t_comp, _t_w + _t_kv, evaluate=False)
    return ClosedForm(
        name="utilization", notation="u(B)",
        meaning="fraction of peak FLOP/s doing useful matmuls at batch B, in both regimes",
        expr=expr, args=(s.B, s.N, s.b_w, s.W, s.F, s.ctx, s.kv, s.t, s.h_kv), unit=U.one, policy="step",
        unknown=u_sym, residual=u_sym * step - _t_comp,
        steps=(
            Step(u_sym, _t_comp / step, "Useful compute time over the step time, which is the larger of compute and memory."),
            Step(u_sym, 2 * s.N * s.B * s.W / (s.F * (s.N * s.b_w + s.B * s.ctx * s.kv * _r)), "Memory-bound (B < B*_kv, the break-even batch with KV; B* when c k is negligible): the chip waits on HBM, and utilization grows with B, linearly while c k is small."),
            Step(u_sym, sp.S.One, "Compute-bound (B >= B*_kv, which exists only below c*): the matmuls set the pace; utilization saturates at one."),
            Step(u_sym, expr, "Both regimes in one expression."),
        ),
        assumptions=(DENSE, ATTN_FLOPS, NO_FIXED, KV_HEADS, "utilization is measured against the achieved rate F"),
        bracket=(sp.S.Zero, sp.Integer(2)),
    )


# evaluate=False: Max's search for a provably larger argument costs ~0.1 s here and never succeeds
_roof1 = Max(2 * s.N / (s.t * s.F), s.N * s.b_w / (s.t * s.W), evaluate=False)
_latency = _roof1 + 2 * s.L * s.n_ar * (s.t - 1) * s.alpha + s.L * s.t_layer + s.t_o


def latency_floor() -> ClosedForm:
    return ClosedForm(
        name="latency_floor", notation=r"\tau_{1}(t)",
        meaning="time per output token at batch 1 on t chips: the fastest any user can be served",
        expr=_latency, args=(s.N, s.b_w, s.W, s.F, s.t, s.L, s.n_ar, s.alpha, s.t_layer, s.t_o), unit=U.second,
        policy="step", unknown=tau_sym, residual=tau_sym - _latency,
        steps=(
            Step(tau_sym, _roof1 + sp.Symbol("t_{comm}") + s.L * s.t_layer + s.t_o, "At batch 1 the step is one roofline plus communication and the fixed costs, L per-layer tails and one per-step overhead."),
            Step(sp.Symbol("t_{comm}"), 2 * s.L * s.n_ar * (s.t - 1) * s.alpha, "n_ar ring all-reduces per layer of 2(t-1) hops each; at batch 1 the message is tiny, so only hop latency counts."),
            Step(tau_sym, _latency, "Substitute the communication term into the step time."),
        ),
        assumptions=(DENSE, WEIGHTS_ONLY, "ring all-reduce, latency-bound at batch 1"),
        bracket=(sp.S.Zero, 4 * _latency),
    )


def min_user_base() -> ClosedForm:
    expr = s.MINUTES_PER_DAY * s.C * s.rho_tr / s.m
    return ClosedForm(
        name="min_user_base", notation="U_{min}",
        meaning="registered users needed to keep at least C users active at every hour, the daily trough included",
        expr=expr, args=(s.C, s.m, s.rho_tr), unit=U.one, policy="any",
        unknown=users_sym, residual=users_sym * s.m / (s.MINUTES_PER_DAY * s.rho_tr) - s.C,
        steps=(
            Step(sp.Symbol(r"\bar{C}"), users_sym * s.m / s.MINUTES_PER_DAY, "On average a user is active m of the day's 1440 minutes."),
            Step(s.C, users_sym * s.m / (s.MINUTES_PER_DAY * s.rho_tr), "The trough is the mean divided by the mean-to-trough ratio rho_tr, and it must still bring C users."),
            Step(users_sym, expr, "Solve for the user base."),
        ),
        assumptions=("rho_tr = 1 is a flat day (the essay's 144K users); a 24-hour service with a deep night trough "
                     "needs rho_tr of several, which is the essay's 'perhaps even approach 1M users'",
                     "sizing the fleet for the PEAK is another ratio, rho_pk = peak/mean, used by the demand a user "
                     "base places on a fleet (optimize's --users)"),
        bracket=(sp.S.Zero, 4 * expr),
    )


_tp_lat = s.N * s.b_w / (s.t * s.W) + 2 * s.L * s.n_ar * (s.t - 1) * s.alpha


def optimal_tp_degree() -> ClosedForm:
    expr = sqrt(s.N * s.b_w / (2 * s.W * s.L * s.n_ar * s.alpha))
    return ClosedForm(
        name="optimal_tp_degree", notation="t^{*}",
        meaning="tensor-parallel degree that minimizes batch-1 latency when all-reduce latency grows with the degree",
        expr=expr, args=(s.N, s.b_w, s.W, s.L, s.n_ar, s.alpha), unit=U.one, policy="step",
        unknown=s.t, residual=sp.diff(_tp_lat, s.t),
        steps=(
            Step(tau_sym, _tp_lat, "Batch-1 time: the weight read shrinks as 1/t while ring all-reduce latency grows as t - 1."),
            Step(sp.Derivative(tau_sym, s.t), sp.diff(_tp_lat, s.t), "The minimum of a convex function where its derivative vanishes."),
            Step(s.t, expr, "Solve; the optimum grows as the square root of model size because the ring's latency grows linearly in t (Epoch AI's latency, growing as sqrt(t), gives the 2/3 power instead: optimal_tp_degree_sqrt)."),
        ),
        conditions=(s.N * s.b_w >= 2 * s.W * s.L * s.n_ar * s.alpha,),
        condition_text=("the optimum is at least one chip: N b_w >= 2 W L n_ar alpha",),
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


def tp_comm_crossover() -> ClosedForm:
    expr = Rational(1, 2) + sqrt(Rational(1, 4) + s.N * s.b_w / (2 * s.L * s.n_ar * s.alpha * s.W))
    return ClosedForm(
        name="tp_comm_crossover", notation=r"t_{\times}",
        meaning="tensor-parallel degree at which all-reduce time equals the weight-read time at batch 1",
        expr=expr, args=(s.N, s.b_w, s.L, s.n_ar, s.alpha, s.W), unit=U.one, policy="step",
        unknown=s.t, residual=s.N * s.b_w / (s.t * s.W) - 2 * s.L * s.n_ar * (s.t - 1) * s.alpha,
        steps=(
            Step(s.N * s.b_w / (s.t * s.W), 2 * s.L * s.n_ar * (s.t - 1) * s.alpha, "Weight-read time per chip equals the latency of the step's all-reduces."),
            Step(s.t ** 2 - s.t, s.N * s.b_w / (2 * s.L * s.n_ar * s.alpha * s.W), "Multiply by t and divide by the all-reduce term: a quadratic in t."),
            Step(s.t, expr, "Take the positive root; note it equals 1/2 + sqrt(1/4 + t*^2)."),
        ),
        assumptions=(DENSE, "memory-bound at batch 1", "latency-only ring all-reduce"),
        bracket=(sp.Integer(1), 4 * expr),
    )


_cost_mem = 10**6 * s.price * s.N * s.b_w / (3600 * s.W * s.B)


def api_price_crossover() -> ClosedForm:
    expr = 10**6 * s.price * s.N * s.b_w / (3600 * s.W * s.api)
    return ClosedForm(
        name="api_price_crossover", notation=r"B_{\pi}",
        meaning="batch per replica at which self-hosting costs the same per million tokens as an API",
        expr=expr, args=(s.price, s.N, s.b_w, s.W, s.api, s.F), unit=U.one, policy="step",
        unknown=s.B, residual=_cost_mem - s.api,
        steps=(
            Step(sp.Symbol("c_{tok}"), s.price * s.t * sp.Symbol(r"\tau") / (3600 * s.B), "A replica of t chips costs p t dollars an hour and emits B tokens per step of tau seconds."),
            Step(sp.Symbol(r"c_{M}"), _cost_mem, "Memory-bound, tau = N b_w/(tW): t cancels, and the cost per million tokens falls as 1/B."),
            Step(_cost_mem, s.api, "Self-hosting breaks even with the API price pi."),
            Step(s.B, expr, "Solve for the batch; it must lie below B* or self-hosting never gets that cheap."),
        ),
        conditions=(s.api * 3600 * s.F > 2 * 10**6 * s.N * s.price,),
        condition_text=("the API charges more than the compute-bound floor 2 N p 10^6/(3600 F) per million tokens",),
        assumptions=(DENSE, WEIGHTS_ONLY, NO_FIXED, "price per chip-hour p is the all-in cost of a chip"),
        bracket=(expr / 4, 4 * expr),
    )


def api_price_crossover_users() -> ClosedForm:
    b_pi = api_price_crossover().expr
    expr = s.MINUTES_PER_DAY * s.rho_tr * b_pi / s.m
    return ClosedForm(
        name="api_price_crossover_users", notation=r"U_{\pi}",
        meaning="user base per replica at which self-hosting beats an API price per million tokens",
        expr=expr, args=(s.price, s.N, s.b_w, s.W, s.api, s.m, s.rho_tr, s.F), unit=U.one, policy="step",
        unknown=users_sym, residual=users_sym * s.m / (s.MINUTES_PER_DAY * s.rho_tr) - b_pi,
        steps=(
            Step(s.C, b_pi, "The replica must hold the crossover batch of concurrent users at every hour, the daily trough included."),
            Step(users_sym, expr, "Convert concurrency to a user base as in the minimum user base."),
        ),
        conditions=api_price_crossover().conditions,
        condition_text=api_price_crossover().condition_text,
        assumptions=api_price_crossover().assumptions,
        bracket=(sp.S.Zero, 4 * expr),
    )


def _moe_residual() -> sp.Expr:
    from .moe import moe_weight_bytes

    return 2 * s.Na * s.B / (s.t * s.F) - moe_weight_bytes() / (s.t * s.W)


def moe_break_even_batch() -> ClosedForm:
    from .moe import expected_experts_touched, moe_breakeven_relative_error_bound

    total = s.N_dense + s.E * s.N_exp
    expr = total * s.b_w * s.F / (2 * s.Na * s.W)
    bound = moe_breakeven_relative_error_bound()
    touched = expected_experts_touched()
    return ClosedForm(
        name="moe_break_even_batch", notation=r"B^{*}_{MoE}",
        meaning="break-even batch of a mixture-of-experts model (all experts touched), with its error bound",
        expr=expr, args=(s.N_dense, s.E, s.N_exp, s.b_w, s.F, s.Na, s.W, s.k_top), unit=U.one, policy="step",
        unknown=s.B, residual=_moe_residual(),
        steps=(
            Step(sp.Symbol(r"\bar{n}_{touched}"), touched, "With uniform top-k routing an expert escapes each token with probability 1 - k/E, so the batch touches this many experts on average."),
            Step(sp.Symbol("t_{memory}"), (s.N_dense + touched * s.N_exp) * s.b_w / (s.t * s.W), "Only the touched experts are read, beside the dense part every token uses."),
            Step(2 * s.Na * s.B / (s.t * s.F), (s.N_dense + touched * s.N_exp) * s.b_w / (s.t * s.W), "Break-even: the exact root of this equation is found numerically (brentq in the optimizer)."),
            Step(s.B, expr, "Count every expert as touched (touched <= E) and the right side is the total weight bytes: the saturated form, the dense break-even batch times N/N_a, an UPPER bound on the exact root."),
            Step(sp.Symbol(r"\epsilon"), bound, "The saturated form overestimates the exact root by at most this fraction, since the root is at least B_lo = (N_d + k N_e) F b_w/(2 N_a W), where k experts are touched, and (1 - k/E)^B <= exp(-Bk/E)."),
        ),
        conditions=((s.N_dense + s.k_top * s.N_exp) * s.F * s.b_w >= 2 * s.Na * s.W,),
        condition_text=("the error bound needs B_lo >= 1: (N_d + k_e N_e) F b_w >= 2 N_a W (one token already touches k experts)",),
        assumptions=("uniform top-k routing (real routers are skewed and touch fewer experts)", WEIGHTS_ONLY, NO_FIXED),
        bracket=(sp.S.Zero, 4 * expr), error_bound=bound,
    )


# -- the essay's question: can the imbalance be engineered away? (inverse forms) -----------------------
ratio_sym = sp.Symbol("cost_ratio", positive=True)
QUANT_SHIFTS = ("precision enters only through F b_w: quantizing the weights alone (W4A16) lowers b_w and moves "
                "the wall, while quantizing weights and compute together (FP8 on an FP8 chip) doubles F as it "
                "halves b_w and leaves it where it was; no precision removes it")


def bandwidth_for_break_even_batch() -> ClosedForm:
    expr = s.F * s.b_w / (2 * s.B)
    return ClosedForm(
        name="bandwidth_for_break_even_batch", notation=r"W_{B}",
        meaning="memory bandwidth at which the break-even batch equals a target B (B = 1: economies of scale vanish)",
        expr=expr, args=(s.F, s.b_w, s.B), unit=U.byte_per_s, policy="step",
        unknown=s.W, residual=_t_comp - _t_w,
        steps=(
            Step(_t_comp, _t_w, "The break-even batch is where the compute of B tokens takes as long as one read of the weights."),
            Step(s.W, expr, "Solve for the bandwidth instead of the batch: N and t cancel as before."),
            Step(sp.Symbol(r"W_{1}"), s.F * s.b_w / 2, "At B = 1 a single user keeps the chip busy: bandwidth must match half the arithmetic rate times the bytes per weight."),
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


def min_user_base_vs_balance() -> ClosedForm:
    base = min_user_base()
    bstar = s.r_fb * s.b_w / 2
    expr = base.expr.xreplace({s.C: bstar})
    return ClosedForm(
        name="min_user_base_vs_balance", notation=r"U_{r}",
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


def single_user_cost_ratio() -> ClosedForm:
    expr = s.F * s.b_w / (2 * s.W)
    c1 = s.price * s.N * s.b_w / (3600 * s.W)
    cstar = s.price * 2 * s.N / (3600 * s.F)
    return ClosedForm(
        name="single_user_cost_ratio", notation=r"\kappa_{1}",
        meaning="cost per token of serving one user alone over a provider's cost at the break-even batch",
        expr=expr, args=(s.F, s.b_w, s.W), unit=U.one, policy="step",
        unknown=ratio_sym, residual=ratio_sym * cstar - c1,
        steps=(
            Step(sp.Symbol("c_{tok}"), s.price * s.t * sp.Symbol(r"\tau") / (3600 * s.B), "A replica of t chips costs p t dollars an hour and emits B tokens per step of tau seconds."),
            Step(sp.Symbol("c_{1}"), c1, "Alone (B = 1) the step is the weight read N b_w/(tW): t cancels."),
            Step(sp.Symbol(r"c_{\ast}"), cstar, "At the break-even batch the step is compute-bound, 2 N B*/(tF), shared by B* tokens."),
            Step(ratio_sym, expr, "Divide: the single user pays B* times as much, the break-even batch itself."),
        ),
        conditions=(s.F * s.b_w >= 2 * s.W,),
        condition_text=("the chip is memory-bound at batch 1 (B* >= 1); otherwise batching saves nothing and the ratio is 1",),
        assumptions=(DENSE, WEIGHTS_ONLY, NO_FIXED, "the same chips at the same price per chip-hour for both", QUANT_SHIFTS),
        bracket=(expr / 4, 4 * expr),
    )


# -- speculative decoding and multi-token prediction (issue 14) -------------------------------------------------
tokens_sym = sp.Symbol("tokens_per_step", positive=True)
speedup_sym = sp.Symbol("spec_speedup", positive=True)
_i = sp.Symbol("i", positive=True)  # the position in the draft, only in a derivation step
# the geometric sum as notation: the exporters' trees carry no Sum node
_GEOMETRIC = sp.Symbol(r"1 + \alpha_{\mathrm{acc}} + \alpha_{\mathrm{acc}}^{2} + \ldots + \alpha_{\mathrm{acc}}^{\gamma}")
SPEC_IID = ("every drafted token is accepted independently with the same probability alpha_acc (Leviathan et al. "
            "2023, arXiv:2211.17192); real acceptance falls along the draft, so gamma beyond a few tokens gains less")
SPEC_DRAFT = ("a draft step costs c_d target steps at the same batch: exact under this roofline for a draft model of "
              "c_d N parameters (both of its times scale with its size); MTP heads are c_d = their share of a step")
SPEC_NO_KV = ("KV-cache reads and attention FLOPs neglected: the verify pass reads each cache once for its gamma + 1 "
              "tokens, so the cache keeps it memory-bound longer and moves the break-even batch of speculation up")
_E_spec = (1 - s.acc ** (s.gamma + 1)) / (1 - s.acc)
_B_star = s.F * s.b_w / (2 * s.W)
_t_plain = Max(2 * s.N * s.B / (s.t * s.F), s.N * s.b_w / (s.t * s.W), evaluate=False)
_t_verify = Max(2 * s.N * s.B * (s.gamma + 1) / (s.t * s.F), s.N * s.b_w / (s.t * s.W), evaluate=False)
_SPEC_CONDS = (s.acc < 1, s.gamma >= 1)
_SPEC_TEXT = ("the acceptance rate is below one: 0 < alpha_acc < 1 (at one the count is its limit gamma + 1)",
              "at least one token is drafted: gamma >= 1")


def spec_decode_tokens_per_step() -> ClosedForm:
    expr = _E_spec
    return ClosedForm(
        name="spec_decode_tokens_per_step", notation=r"\bar{n}_{spec}",
        meaning="expected tokens a sequence gains per verification step when gamma tokens are drafted and each is accepted with probability alpha_acc",
        expr=expr, args=(s.acc, s.gamma), unit=U.one, policy="any",
        unknown=tokens_sym, residual=tokens_sym * (1 - s.acc) - (1 - s.acc ** (s.gamma + 1)),
        steps=(
            Step(sp.Symbol(r"p_{i}"), s.acc ** _i, "The step emits more than i tokens only if the first i drafted tokens are all accepted, for i from 0 to gamma."),
            Step(tokens_sym, _GEOMETRIC, "The expected count is the sum of these tail probabilities: the target always adds one token of its own, a correction or the bonus."),
            Step(tokens_sym * (1 - s.acc), 1 - s.acc ** (s.gamma + 1), "Multiply by 1 - alpha_acc and the geometric sum telescopes."),
            Step(tokens_sym, expr, "Divide by 1 - alpha_acc > 0: the count runs from 1 (nothing accepted) towards gamma + 1 (everything accepted)."),
        ),
        conditions=_SPEC_CONDS, condition_text=_SPEC_TEXT,
        assumptions=(SPEC_IID, "the target samples with the rejection rule of Leviathan et al., so the output distribution is the target's own"),
        bracket=(Rational(1, 2), s.gamma + 2),
    )


def spec_decode_speedup() -> ClosedForm:
    plain, verify = Max(s.B, _B_star, evaluate=False), Max((s.gamma + 1) * s.B, _B_star, evaluate=False)
    expr = _E_spec * plain / (s.gamma * s.c_draft * plain + verify)
    return ClosedForm(
        name="spec_decode_speedup", notation=r"S_{spec}(B)",
        meaning="speed-up of speculative decoding (a draft model or MTP heads) over plain decoding at batch B, on the step roofline",
        expr=expr, args=(s.acc, s.gamma, s.c_draft, s.B, s.F, s.b_w, s.W), unit=U.one, policy="step",
        unknown=speedup_sym,
        residual=speedup_sym * (s.gamma * s.c_draft * _t_plain + _t_verify) - _E_spec * _t_plain,
        steps=(
            Step(sp.Symbol(r"t_{step}"), _t_plain, "A plain step of B sequences emits one token each: one roofline over its matmuls and one read of the weights."),
            Step(sp.Symbol(r"t_{draft}"), s.gamma * s.c_draft * _t_plain, "Drafting costs gamma draft steps at the same batch, each c_d plain steps."),
            Step(sp.Symbol(r"t_{verify}"), _t_verify, "The target checks the gamma drafted tokens and adds its own for every sequence in one pass: gamma + 1 tokens of matmuls, still one read of the weights."),
            Step(speedup_sym, _E_spec * _t_plain / (s.gamma * s.c_draft * _t_plain + _t_verify), "Each draft-and-verify round yields the expected tokens per step where plain decoding yields one per step."),
            Step(speedup_sym, expr, "Multiply through by t F/(2N): N and t cancel, leaving max(B, B*) and max((gamma + 1) B, B*) with B* = F b_w/(2W)."),
            Step(sp.Symbol(r"S_{spec,0}"), _E_spec / (s.gamma * s.c_draft + 1), "While (gamma + 1) B <= B* both passes only wait on the weights and the extra tokens are free: Leviathan et al.'s speed-up."),
            Step(sp.Symbol(r"S_{spec,\infty}"), _E_spec / (s.gamma * s.c_draft + s.gamma + 1), "Beyond B* every verified token costs compute and the speed-up is below one, since at most gamma + 1 tokens are gained."),
        ),
        conditions=_SPEC_CONDS, condition_text=_SPEC_TEXT,
        assumptions=(SPEC_IID, SPEC_DRAFT, DENSE, SPEC_NO_KV, NO_FIXED,
                     "the step policy (one roofline per step); a rejected draft's compute is spent all the same"),
        bracket=(sp.S.Zero, s.gamma + 2),
    )


def spec_decode_break_even_batch() -> ClosedForm:
    expr = _B_star * (_E_spec - s.gamma * s.c_draft) / (s.gamma + 1)
    return ClosedForm(
        name="spec_decode_break_even_batch", notation=r"B^{*}_{spec}",
        meaning="batch beyond which speculative decoding (a draft model or MTP heads) stops paying: its speed-up falls to one",
        expr=expr, args=(s.acc, s.gamma, s.c_draft, s.F, s.b_w, s.W), unit=U.one, policy="step",
        unknown=s.B, residual=(_E_spec - s.gamma * s.c_draft) * _t_plain - _t_verify,
        steps=(
            Step(_E_spec * _t_plain, s.gamma * s.c_draft * _t_plain + _t_verify, "Speculation stops paying where a draft-and-verify round takes as long as the plain steps that emit the same expected number of tokens."),
            Step((_E_spec - s.gamma * s.c_draft) * s.N * s.b_w / (s.t * s.W), 2 * s.N * s.B * (s.gamma + 1) / (s.t * s.F), "At small batch the round is cheaper (the condition), beyond B* dearer; in between the plain step still waits on the weights while the verify pass, gamma + 1 times the tokens, is already compute-bound."),
            Step(s.B, expr, "Solve for the batch: N and t cancel, as in the break-even batch, and the root lies between B*/(gamma + 1) and B*."),
            Step(sp.Symbol(r"B^{\ast}_{spec}") / sp.Symbol(r"B^{\ast}"), (_E_spec - s.gamma * s.c_draft) / (s.gamma + 1), "This is the essay's bandwidth wall at batch 1 the other way around: the compute the wall leaves idle at small batch verifies the drafted tokens for free, and speculation stops paying before batching alone has filled it, since the ratio is below one."),
        ),
        conditions=(*_SPEC_CONDS, _E_spec - s.gamma * s.c_draft > 1),
        condition_text=(*_SPEC_TEXT, "speculation pays at small batch: E > 1 + gamma c_d, the expected tokens per step above the round's cost in plain steps"),
        assumptions=(SPEC_IID, SPEC_DRAFT, DENSE, SPEC_NO_KV, NO_FIXED, STEP_POLICY),
        bracket=(sp.S.Zero, 2 * _B_star),
    )


pool_sym = sp.Symbol("pool_ratio", positive=True)


def disagg_pool_ratio() -> ClosedForm:
    """Prefill chips per decode chip that balance a disaggregated deployment's two pools."""
    mu_p = s.F / (2 * s.Na * s.isl)
    decode_bytes = s.N * s.b_w + s.B * s.ctx * s.kv
    mu_d = s.B * s.W / (s.osl * decode_bytes)
    expr = 2 * s.Na * s.isl * s.B * s.W / (s.osl * s.F * decode_bytes)
    return ClosedForm(
        name="disagg_pool_ratio", notation=r"\rho_{p/d}",
        meaning="prefill chips per decode chip at which a disaggregated deployment's prefill and decode pools "
                "serve the same requests per second",
        expr=expr, args=(s.Na, s.isl, s.B, s.W, s.osl, s.F, s.N, s.b_w, s.ctx, s.kv), unit=U.one, policy="step",
        unknown=pool_sym, residual=pool_sym * mu_p - mu_d,
        steps=(
            Step(sp.Symbol(r"\mu_{p}"), mu_p, "A prefill chip is compute-bound: each prompt token costs 2 N_a FLOPs, "
                 "so one chip prefills F/(2 N_a n_in) requests a second."),
            Step(sp.Symbol(r"\tau_{d}"), decode_bytes / (s.t * s.W), "A decode step of B sequences on t chips is "
                 "memory-bound: it reads every weight and each sequence's KV cache once."),
            Step(sp.Symbol(r"\mu_{d}"), mu_d, "Each step emits B tokens and a request needs n_out of them: "
                 "B/(n_out t tau_d) requests a second per chip, t cancels."),
            Step(pool_sym * mu_p, mu_d, "Balanced pools finish as many prefills as decodes: rho prefill chips "
                 "per decode chip."),
            Step(pool_sym, expr, "Divide both sides by mu_p: N_a, n_in and F land in the numerator."),
        ),
        conditions=(2 * s.Na * s.B * s.W <= s.F * decode_bytes,),
        condition_text=("the decode step is memory-bound (2 N_a B W <= F (N b_w + B c k)); past that a decode chip "
                        "is compute-bound and the ratio tends to n_in/n_out",),
        assumptions=("uniform requests of n_in prompt and n_out output tokens; no queueing slack in either pool",
                     ATTN_FLOPS, "the decode batch reads every stored weight (an MoE's experts all touched)",
                     "no KV replication (t <= h_kv), no KV-transfer time and no fixed cost in either pool"),
        bracket=(expr / 4, 4 * expr),
    )


_BUILDERS = (
    break_even_batch, break_even_batch_with_kv, critical_context, utilization, latency_floor,
    min_user_base, optimal_tp_degree, optimal_tp_degree_sqrt, tp_comm_crossover, api_price_crossover, api_price_crossover_users,
    moe_break_even_batch,
    bandwidth_for_break_even_batch, bandwidth_for_batch1_speed, chips_to_hold_model, min_user_base_vs_balance,
    single_user_cost_ratio,
    spec_decode_tokens_per_step, spec_decode_speedup, spec_decode_break_even_batch,
    disagg_pool_ratio,
)


@cache
def all_formulas() -> tuple[ClosedForm, ...]:
    """Every closed form, in document order (built once per process)."""
    return tuple(b() for b in _BUILDERS)


def get_formula(name: str) -> ClosedForm:
    for f in all_formulas():
        if f.name == name:
            return f
    raise UnknownNameError("formula", name, [f.name for f in all_formulas()])


__all__ = ["all_formulas", "get_formula", "Eq"]
