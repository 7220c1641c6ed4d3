"""What the closed forms share: the unknowns that are results, the assumptions in words, the roofline terms."""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy import Max

from . import symbols as s
from .closedform import ClosedForm
from .efficiency import IDEAL, Efficiencies, carried

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
NO_COMM = "no communication in the step (its fixed costs L t_layer + t_o are counted)"
FIXED_OUTSIDE = ("no communication; the fixed costs L t_layer + t_o add to the step outside its roofline, so they "
                 "drop out of this balance")
KV_HEADS = "a KV head is never split across chips: beyond t = h_kv heads are replicated (each chip reads B c k/h_kv)"

#: KV replication: per chip the cache read is B c k/min(t, h_kv) = B c k r/t (symbolic.model.kv_chips)
_r = Max(1, s.t / s.h_kv)


# The step's roofline terms at the achieved rates of ``e`` (model.t_compute, t_memory, t_kv of a dense model):
def t_comp(e: Efficiencies = IDEAL) -> sp.Expr:
    return 2 * s.N * s.B / (s.t * e.eta_F * s.F)


def t_w(e: Efficiencies = IDEAL) -> sp.Expr:
    return s.N * s.b_w / (s.t * e.eta_W * s.W)


def t_kv(e: Efficiencies = IDEAL) -> sp.Expr:
    return s.B * s.ctx * s.kv * _r / (s.t * e.eta_kv * s.W)


_t_comp, _t_w, _t_kv = t_comp(), t_w(), t_kv()


def record(e: Efficiencies, *, args: tuple[sp.Symbol, ...], expr: sp.Expr, residual: sp.Expr,
           conditions: tuple[sp.Basic, ...] = (), **fields: Any) -> ClosedForm:
    """A ClosedForm whose args gain the efficiency symbols its expression, residual or conditions use (with
    their ideal values as defaults): with ``e = IDEAL`` exactly the fields given."""
    full, defaults = carried(args, expr, residual, *conditions)
    return ClosedForm(args=full, expr=expr, residual=residual, conditions=conditions, defaults=defaults, **fields)
