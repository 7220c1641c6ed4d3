"""Closed forms of one decode step's roofline: break-even batch (dense, with KV, MoE), critical context,
utilization and the latency floor."""

from __future__ import annotations

import sympy as sp
from sympy import Max, Min

from . import symbols as s
from . import units as U
from .closedform import ClosedForm, Step
from .efficiency import IDEAL, Efficiencies
from .forms_common import (
    ATTN_FLOPS,
    DENSE,
    FIXED_OUTSIDE,
    KV_HEADS,
    NO_COMM,
    NO_FIXED,
    STEP_POLICY,
    WEIGHTS_ONLY,
    _r,
    _t_comp,
    record,
    t_comp,
    t_kv,
    t_w,
    tau_sym,
    u_sym,
)


def break_even_batch(e: Efficiencies = IDEAL) -> ClosedForm:
    expr = e.eta_F * s.F * s.b_w / (2 * e.eta_W * s.W)
    tc, tw = t_comp(e), t_w(e)
    return record(
        e, name="break_even_batch", notation="B^{*}",
        meaning="batch at which a decode step stops being memory-bound (weights only)",
        expr=expr, args=(s.F, s.b_w, s.W), unit=U.one, policy="step",
        unknown=s.B, residual=tc - tw,
        steps=(
            Step(sp.Symbol("t_{compute}"), tc, "Each of the B tokens does one multiply and one add per weight, split over t chips."),
            Step(sp.Symbol("t_{memory}"), tw, "Every weight is read once per step, whatever the batch: the batch shares the read."),
            Step(tc, tw, "The step stops being memory-bound where the two times are equal."),
            Step(s.B, expr, "N and t cancel: the break-even batch is a property of the chip and the precision, not of the model."),
        ),
        assumptions=(DENSE, WEIGHTS_ONLY, NO_FIXED if e == IDEAL else FIXED_OUTSIDE),
        bracket=(sp.S.Zero, 4 * expr),
    )


def break_even_batch_with_kv(e: Efficiencies = IDEAL) -> ClosedForm:
    expr = (s.N * s.b_w * e.eta_F * s.F * e.eta_kv
            / (e.eta_W * (2 * s.N * e.eta_kv * s.W - s.ctx * s.kv * _r * e.eta_F * s.F)))
    cond = 2 * s.N * e.eta_kv * s.W > s.ctx * s.kv * _r * e.eta_F * s.F
    tc, tw, tk = t_comp(e), t_w(e), t_kv(e)
    return record(
        e, name="break_even_batch_with_kv", notation="B^{*}_{kv}",
        meaning="break-even batch when every sequence also reads its KV cache of c tokens",
        expr=expr, args=(s.N, s.b_w, s.F, s.W, s.ctx, s.kv, s.t, s.h_kv), unit=U.one, policy="step",
        unknown=s.B, residual=tc - tw - tk,
        steps=(
            Step(sp.Symbol("t_{memory}"), tw + tk, "Besides the shared weights, each of the B sequences reads its own c tokens of KV cache, split over min(t, h_kv) chips since a KV head is never split."),
            Step(tc, tw + tk, "Break-even: compute time equals the time to read weights and caches."),
            Step(s.B * (2 * s.N / (e.eta_F * s.F) - s.ctx * s.kv * _r / (e.eta_kv * s.W)), s.N * s.b_w / (e.eta_W * s.W), "Multiply by t and collect the terms in B: the cache eats into the compute side, r = max(1, t/h_kv) times over once heads are replicated."),
            Step(s.B, expr, "Divide; the result is positive, and so exists, only while the bracket is positive: it diverges as c rises to c*."),
        ),
        conditions=(cond,),
        condition_text=("the context is below the critical context: 2 N W > c k F max(1, t/h_kv)" if e == IDEAL else
                        "the context is below the critical context: 2 N eta_kv W > c k eta_F F max(1, t/h_kv)",),
        assumptions=(DENSE, STEP_POLICY, ATTN_FLOPS, NO_FIXED if e == IDEAL else FIXED_OUTSIDE, KV_HEADS),
        bracket=(sp.S.Zero, 4 * expr),
    )


def critical_context(e: Efficiencies = IDEAL) -> ClosedForm:
    expr = 2 * s.N * e.eta_kv * s.W / (s.kv * e.eta_F * s.F * _r)
    per_seq_c, per_seq_kv = 2 * s.N / (e.eta_F * s.F), s.ctx * s.kv * _r / (e.eta_kv * s.W)
    return record(
        e, name="critical_context", notation="c^{*}",
        meaning="context beyond which decode never becomes compute-bound, at any batch (step policy)",
        expr=expr, args=(s.N, s.W, s.kv, s.F, s.t, s.h_kv), unit=U.one, policy="step",
        unknown=s.ctx, residual=per_seq_c - per_seq_kv,
        steps=(
            Step(sp.Symbol("t_{compute}") / s.B, per_seq_c / s.t, "Per sequence, compute grows by 2N/(tF) with each token of batch."),
            Step(sp.Symbol("t_{kv}") / s.B, per_seq_kv / s.t, "Per sequence, memory grows by its cache read, c k/(min(t, h_kv) W): replicated heads are read on every chip that holds them."),
            Step(per_seq_c, per_seq_kv, "If the cache term grows at least as fast, compute never catches up: batching stops helping."),
            Step(s.ctx, expr, "Solve for the context; it is the pole of the break-even batch with KV, which diverges there."),
        ),
        assumptions=(DENSE, STEP_POLICY, NO_FIXED if e == IDEAL else FIXED_OUTSIDE, KV_HEADS,
                     "attention FLOPs are neglected; counting their 4 L d_attn per cached token moves the critical "
                     "context out to 2 N W/(k F max(1, t/h_kv) - 4 L d_attn W), and to infinity when k F max(1, t/h_kv) "
                     "<= 4 L d_attn W"),
        bracket=(sp.S.Zero, 4 * expr),
    )


def utilization(e: Efficiencies = IDEAL) -> ClosedForm:
    fixed = e.fixed()
    # u = useful time at peak / step = (2NB/(tF)) / (max(compute, memory) + fixed), one Min arm per regime
    compute_arm = 2 * s.N * s.B * e.eta_F / (2 * s.N * s.B + s.t * e.eta_F * s.F * fixed)
    memory_arm = 2 * s.N * s.B * s.W / (s.F * (s.N * s.b_w / e.eta_W + s.B * s.ctx * s.kv * _r / e.eta_kv
                                                + s.t * s.W * fixed))
    expr = Min(compute_arm, memory_arm, evaluate=False)
    tc = t_comp(e)
    step = Max(tc, t_w(e) + t_kv(e), evaluate=False) + fixed
    return record(
        e, name="utilization", notation="u(B)",
        meaning="fraction of peak FLOP/s doing useful matmuls at batch B, in both regimes",
        expr=expr, args=(s.B, s.N, s.b_w, s.W, s.F, s.ctx, s.kv, s.t, s.h_kv, *((s.L,) if fixed != 0 else ())),
        unit=U.one, policy="step", unknown=u_sym, residual=u_sym * step - _t_comp,
        steps=(
            Step(u_sym, _t_comp / step, "Useful compute time over the step time, which is the larger of compute and memory."),
            Step(u_sym, memory_arm, "Memory-bound (B < B*_kv, the break-even batch with KV; B* when c k is negligible): the chip waits on HBM, and utilization grows with B, linearly while c k is small."),
            Step(u_sym, compute_arm, "Compute-bound (B >= B*_kv, which exists only below c*): the matmuls set the pace; utilization saturates at one."),
            Step(u_sym, expr, "Both regimes in one expression."),
        ),
        assumptions=(DENSE, ATTN_FLOPS, NO_FIXED, KV_HEADS, "utilization is measured against the achieved rate F")
        if e == IDEAL else (DENSE, ATTN_FLOPS, NO_COMM, KV_HEADS, "utilization is measured against the datasheet "
                            "peak F: compute-bound it saturates at eta_F, less the share the fixed costs take"),
        bracket=(sp.S.Zero, sp.Integer(2)),
    )


#: the latency floor has always carried the fixed costs; its ideal form keeps them as symbols
_LATENCY_DEFAULT = Efficiencies(t_o=s.t_o, t_layer=s.t_layer)


def latency_floor(e: Efficiencies = _LATENCY_DEFAULT) -> ClosedForm:
    # evaluate=False: Max's search for a provably larger argument costs ~0.1 s here and never succeeds
    roof1 = Max(2 * s.N / (s.t * e.eta_F * s.F), s.N * s.b_w / (s.t * e.eta_W * s.W), evaluate=False)
    latency = roof1 + 2 * s.L * s.n_ar * (s.t - 1) * s.alpha + s.L * e.t_layer + e.t_o
    return record(
        e, name="latency_floor", notation=r"\tau_{1}(t)",
        meaning="time per output token at batch 1 on t chips: the fastest any user can be served",
        expr=latency, args=(s.N, s.b_w, s.W, s.F, s.t, s.L, s.n_ar, s.alpha, s.t_layer, s.t_o), unit=U.second,
        policy="step", unknown=tau_sym, residual=tau_sym - latency,
        steps=(
            Step(tau_sym, roof1 + sp.Symbol("t_{comm}") + s.L * e.t_layer + e.t_o, "At batch 1 the step is one roofline plus communication and the fixed costs, L per-layer tails and one per-step overhead."),
            Step(sp.Symbol("t_{comm}"), 2 * s.L * s.n_ar * (s.t - 1) * s.alpha, "n_ar ring all-reduces per layer of 2(t-1) hops each; at batch 1 the message is tiny, so only hop latency counts."),
            Step(tau_sym, latency, "Substitute the communication term into the step time."),
        ),
        assumptions=(DENSE, WEIGHTS_ONLY, "ring all-reduce, latency-bound at batch 1"),
        bracket=(sp.S.Zero, 4 * latency),
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
