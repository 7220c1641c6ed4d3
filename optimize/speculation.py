"""Speculative decoding (a draft model, or multi-token-prediction heads) on the calibrated serving model, as the
optimizer tries it (``--spec-acceptance A --spec-draft-tokens G [--spec-draft-cost C]``).

One round per sequence: ``G`` draft steps, each ``c_d`` of a plain decode step at the same batch, then one
verification step of the target that checks the ``G`` drafted tokens and adds its own; each round yields
``E = spec_decode_tokens_per_step(A, G) = (1 - A^(G+1)) / (1 - A)`` tokens (the closed form of
:mod:`inferonomics.symbolic.forms_spec`, compiled here, not retyped). So

    TPOT_spec = (t_verify(B) + G c_d t_decode(B)) / E + (TPOT(B) - t_decode(B)),

with ``t_decode`` the serving model's decode step (no prompt tokens) and ``TPOT - t_decode`` its in-flight
prompt work per output token, unchanged by speculation (a request's prompt is prefilled once per ``osl`` tokens
whatever the tokens per step).

**The verification step** is the serving model's own step (:func:`.calibration.serving_model.step_time`) at
batch ``B`` with ``B G`` extra tokens entering it as prompt-like tokens: they pass every weight GEMM, the MoE's
grouped GEMMs (touching experts for ``B (G+1)`` tokens) and the collectives like prompt tokens, and their
attention is the step's prefill-attention term with its span set to the decode context (the compiled step's
prompt-length argument set to twice the context, its causal span being half of it): each extra query token
attends over the whole cache, which the decode attention term already reads once. Not counted: the LM head over
the ``G`` extra positions (one row per sequence is in the step) and the draft's own KV cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from inferonomics.symbolic.errors import InvalidInputError


@dataclass(frozen=True)
class Speculation:
    """Acceptance rate ``A`` in [0, 1), drafted tokens ``G >= 1`` per round, draft step cost ``c_d >= 0`` (in plain
    decode steps at the same batch)."""

    acceptance: float
    draft_tokens: int
    draft_cost: float = 0.0

    def __post_init__(self) -> None:
        a, g, c = self.acceptance, self.draft_tokens, self.draft_cost
        if not (isinstance(a, (int, float)) and math.isfinite(a) and 0 <= a < 1):
            raise InvalidInputError("--spec-acceptance", "an acceptance rate in [0, 1)", a)
        if not (isinstance(g, int) and g >= 1):
            raise InvalidInputError("--spec-draft-tokens", "a whole number of drafted tokens >= 1", g)
        if not (isinstance(c, (int, float)) and math.isfinite(c) and c >= 0):
            raise InvalidInputError("--spec-draft-cost", "a finite draft-step cost >= 0 (in target steps)", c)

    @property
    def tokens_per_step(self) -> float:
        return float(tokens_per_step(self.acceptance, self.draft_tokens))

    def as_json(self) -> dict:
        return {"acceptance_rate": self.acceptance, "draft_tokens": self.draft_tokens,
                "draft_cost": self.draft_cost, "tokens_per_step": self.tokens_per_step}


@lru_cache(maxsize=1)
def _tokens_form():
    from inferonomics.symbolic.formulas import get_formula
    from inferonomics.symbolic.numeric import compile_record

    return compile_record(get_formula("spec_decode_tokens_per_step"))


def tokens_per_step(acceptance, draft_tokens):
    """Expected tokens a sequence gains per verification round: the compiled closed form
    ``spec_decode_tokens_per_step`` (arguments ``acceptance_rate``, ``draft_tokens``)."""
    return _tokens_form()(acceptance, draft_tokens)


def spec_tpot_s(a, batch, isl, osl, tp, dp, ep, mtp, precision: str, backend: str, env, *, speculation: Speculation,
                mixed: bool = True, context=None):
    """Seconds per output token with speculation (module docstring), at the resident batch; the signature of
    :func:`.calibration.serving_model.serving_tpot_s` so that :func:`.calibration.pipeline.pipelined` composes it."""
    from inferonomics.optimize.calibration.serving_model import resident_batch, serving_tpot_s, step_time

    ctx = isl + osl / 2 if context is None else context
    b = resident_batch(a, batch, isl, osl, tp, dp, precision, env, ctx) if np.isfinite(
        env.get("hbm_capacity_bytes", np.nan)) else np.asarray(batch, dtype=float)
    g, shape = speculation.draft_tokens, (tp, dp, ep, mtp)
    t_dec = step_time(a, b, isl, osl, *shape, precision, backend, env, prefill_tokens=0.0 * b, context=ctx)
    t_ver = step_time(a, b, 2 * ctx, osl, *shape, precision, backend, env, prefill_tokens=b * g, context=ctx)
    plain = serving_tpot_s(a, b, isl, osl, *shape, precision, backend, env, mixed=mixed, context=context)
    e = speculation.tokens_per_step
    return (t_ver + g * speculation.draft_cost * t_dec) / e + (plain - t_dec)
