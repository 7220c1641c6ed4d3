"""Closed forms of speculative decoding and multi-token prediction (issue 14), and of disaggregated serving."""

from __future__ import annotations

import sympy as sp
from sympy import Max, Rational

from . import symbols as s
from . import units as U
from .closedform import ClosedForm, Step
from .forms_common import (
    ATTN_FLOPS,
    DENSE,
    NO_FIXED,
    STEP_POLICY,
)

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
