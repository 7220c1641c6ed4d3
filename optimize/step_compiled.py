"""The closed-form step model (symbolic.model) compiled once per (overlap policy, mixed, MoE) for the solver.

The decode step of a dense model is a maximum of functions affine in the batch ``B`` (the roofline ``Max`` of
symbolic.model plus communication and overhead), so the largest batch meeting a TPOT SLO ``S`` is
``floor(min_j (S - a_j) / b_j)`` over the pieces ``a_j + b_j B``, read off the SymPy builders here once
(:func:`affine_pieces`). An MoE's weight read grows with the experts touched, ``E (1 - (1 - k/E)^T)``: that
piece is not affine and is compiled on its own (``curved``), for a root finder. Every function takes the
argument vector of :data:`inferonomics.symbolic.evaluate.ARGS` (see :func:`option_vector`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

import sympy as sp

from inferonomics.symbolic import model as M
from inferonomics.symbolic import symbols as s
from inferonomics.symbolic.evaluate import ARGS
from inferonomics.symbolic.numeric import compile_scalar
from inferonomics.symbolic.numpy_lambdify import lambdify_numpy

#: position of each symbol's value in an argument vector
INDEX = {a.name: i for i, a in enumerate(ARGS)}
BATCH = INDEX["batch"]


class StepParts(NamedTuple):
    """The closed-form step's named parts at one batch (or, from ``parts_np``, at an array of batches)."""

    compute: Any
    memory: Any
    comm: Any
    overhead: Any
    step: Any
    flops: Any  # useful FLOPs of the step (2 N_a tokens + attention), for utilization


def experts_touched(tokens: sp.Expr) -> sp.Expr:
    """Expected distinct experts hit by ``tokens`` tokens routed top-k among E (symbolic.moe)."""
    from inferonomics.symbolic.moe import expected_experts_touched

    return expected_experts_touched(tokens, s.E, s.k_top)


def moe_weights(tokens: sp.Expr) -> sp.Expr:
    """Weight bytes read by a step of ``tokens`` tokens: the dense part plus each expert touched."""
    return (s.N_dense + experts_touched(tokens) * s.N_exp) * s.b_w


def step_tokens(mixed: bool) -> sp.Expr:
    return s.B + (M.prefill_tokens_per_step() if mixed else 0)


def affine_pieces(expr: sp.Expr) -> list[sp.Expr]:
    """Write ``expr`` (sums and Max of terms) as the list of pieces whose maximum it is."""
    if isinstance(expr, sp.Max):
        return [p for a in expr.args for p in affine_pieces(a)]
    if isinstance(expr, sp.Add):
        out = [sp.S.Zero]
        for term in expr.args:
            out = [o + p for o in out for p in affine_pieces(term)]
        return out
    if expr.has(sp.Max):
        raise ValueError(f"cannot split {expr} into pieces")
    return [expr]


@dataclass(frozen=True)
class ClosedFormStep:
    """Scalar (math) callables over evaluate.ARGS for one (policy, mixed, moe)."""

    affine: Callable[..., list[float]]  # -> [a_0, b_0, a_1, b_1, ...]
    n_affine: int
    curved: tuple[Callable[..., float], ...]  # each -> a non-affine piece at the vector (batch inside it)
    parts_math: Callable[..., list[float]]
    parts_numpy: Callable[..., list[Any]]  # batch may be an array
    ttft: Callable[..., float]

    def parts(self, *vec: float) -> StepParts:
        return StepParts(*self.parts_math(*vec))

    def parts_np(self, *vec: Any) -> StepParts:
        return StepParts(*self.parts_numpy(*vec))


@cache
def closed_form_step(policy: str, mixed: bool, moe: bool) -> ClosedFormStep:
    weights = moe_weights(step_tokens(mixed)) if moe else None
    parts = M.step_parts(policy, weights=weights, mixed=mixed)
    prefill = M.prefill_tokens_per_step() if mixed else sp.S.Zero
    flops = M.matmul_flops(prefill=prefill) + M.attention_flops(prefill=prefill)
    affine, curved = [], []
    for p in affine_pieces(parts["step"]):
        if sp.diff(p, s.B, 2) == 0:
            affine += [p.subs(s.B, 0), sp.diff(p, s.B)]
        else:
            curved.append(compile_scalar(ARGS, p))
    exprs = [parts[k] for k in StepParts._fields[:-1]] + [flops]
    return ClosedFormStep(
        affine=compile_scalar(ARGS, affine), n_affine=len(affine) // 2, curved=tuple(curved),
        parts_math=compile_scalar(ARGS, exprs), parts_numpy=lambdify_numpy(ARGS, exprs),
        ttft=compile_scalar(ARGS, ttft_expr(moe)),
    )


def ttft_expr(moe: bool) -> sp.Expr:
    r"""Prefill of one prompt of ``isl`` tokens on the replica: compute-bound roofline plus comm and overhead.

    :math:`\max(\frac{2 N_a n_{in} + 2 L d_{attn} n_{in}^2}{t \eta_F F}, \frac{N b_w}{t \eta_W W})
    + t_{comm}(n_{in}) + L t_\ell + t_o` (the weights are read once for the whole prompt).
    """
    zero = sp.S.Zero
    flops = M.matmul_flops(batch=zero, prefill=s.isl) + M.attention_flops(batch=zero, context=zero, prefill=s.isl)
    weights = moe_weights(s.isl) if moe else M.weight_bytes()
    return (sp.Max(M.t_compute(flops), M.t_memory(weights), evaluate=False)  # see model.t_step
            + M.t_comm(s.isl) + M.t_overhead())


_STEP = StepParts._fields.index("step")


def step_at(c: ClosedFormStep, vec: list, batch: float) -> float:
    """The closed-form step time at ``batch`` (written into ``vec``); the hot loop of the batch search, so
    without building the named tuple."""
    vec[BATCH] = float(batch)
    return c.parts_math(*vec)[_STEP]

