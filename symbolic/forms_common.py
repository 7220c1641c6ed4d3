"""What the closed forms share: the unknowns that are results, the assumptions in words, the roofline terms."""

from __future__ import annotations

import sympy as sp
from sympy import Max

from . import symbols as s

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
