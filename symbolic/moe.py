r"""Mixture-of-experts economics in SymPy: experts touched by a batch, weight bytes read, break-even batch.

Uniform routing: each token picks ``k`` distinct experts of ``E`` uniformly, so one expert escapes one token
with probability :math:`1 - k/E` and escapes a batch of ``B`` independent tokens with :math:`(1-k/E)^B`:

.. math:: \mathbb{E}[\text{touched}] = E\,\bigl(1 - (1 - k/E)^B\bigr)

(exact for uniform routing; real routers are skewed and touch fewer experts). The break-even batch solves
``2 N_a B / F = (N_d + touched(B) N_e) b_w / W + B c k_{kv} / W``; its exact root is found numerically
in ``optimize/``; here are closed forms around it with stated errors.
"""

from __future__ import annotations

from sympy import Expr, Integer, exp

from .symbols import B as _B
from .symbols import E as _E
from .symbols import F as _F
from .symbols import N_dense as _Nd
from .symbols import N_exp as _Ne
from .symbols import Na as _Na
from .symbols import W as _W
from .symbols import b_w as _bw
from .symbols import k_top as _k
from .symbols import kv as _kv


def expected_experts_touched(B: Expr = _B, E: Expr = _E, k: Expr = _k) -> Expr:
    r"""Expected distinct routed experts touched per MoE layer by ``B`` tokens: :math:`E(1-(1-k/E)^B)`.

    Parameters
    ----------
    B : batch (tokens in the step), 1
    E : routed experts per layer, 1
    k : experts per token (top-k), 1
    """
    return E * (1 - (1 - k / E) ** B)


def expected_experts_touched_lower(B: Expr = _B, E: Expr = _E, k: Expr = _k) -> Expr:
    r"""A smooth LOWER bound :math:`E(1-e^{-Bk/E})`, from :math:`(1-k/E)^B \le e^{-Bk/E}`.

    Its relative shortfall is largest at B = 1, where it is :math:`1 - E(1-e^{-k/E})/k \le k/(2E)`;
    so for every B >= 1 it is within k/(2E) of the exact value (1.6% for DeepSeek-V3's 8 of 256, 12.5%
    for Mixtral's 2 of 8), and it converges to the exact value as B grows.
    """
    return E * (1 - exp(-B * k / E))


def moe_weight_bytes(B: Expr = _B, E: Expr = _E, k: Expr = _k, dense_params: Expr = _Nd,
                     expert_params: Expr = _Ne, bytes_per_weight: Expr = _bw) -> Expr:
    r"""Weight bytes one decode step reads: :math:`(N_d + \mathbb{E}[\text{touched}]\,N_e)\,b_w`.

    ``expert_params`` is ONE routed expert summed over the MoE layers; ``dense_params`` is everything every
    token reads (attention, embeddings, norms, shared experts, router, dense layers), in parameters.
    """
    return (dense_params + expected_experts_touched(B, E, k) * expert_params) * bytes_per_weight


def dense_breakeven_batch(F: Expr = _F, W: Expr = _W, bytes_per_weight: Expr = _bw) -> Expr:
    r"""Dense break-even batch before KV traffic: :math:`B^*_{dense} = F b_w / (2W)` (the ridge x b_w / 2)."""
    return F * bytes_per_weight / (2 * W)


def moe_breakeven_batch_saturated(F: Expr = _F, W: Expr = _W, bytes_per_weight: Expr = _bw,
                                  active_params: Expr = _Na, dense_params: Expr = _Nd, expert_params: Expr = _Ne,
                                  E: Expr = _E, context: Expr | None = None,
                                  kv_bytes_per_token: Expr = _kv) -> Expr:
    r"""Break-even batch when every expert is touched (touched -> E):

    .. math:: B^*_{sat} = \frac{N_{tot}\, b_w\, F}{2 N_a W - c\,k_{kv} F},\qquad N_{tot} = N_d + E N_e

    Without context this is :math:`B^*_{dense} N_{tot}/N_a`. It holds only while
    :math:`2 N_a W > c\,k_{kv} F` (else KV traffic grows faster than compute and no break-even exists).
    It is an UPPER bound on the exact root; see :func:`moe_breakeven_relative_error_bound`.
    """
    total = dense_params + E * expert_params
    kv_term = Integer(0) if context is None else context * kv_bytes_per_token * F
    return total * bytes_per_weight * F / (2 * active_params * W - kv_term)


def moe_breakeven_relative_error_bound(F: Expr = _F, W: Expr = _W, bytes_per_weight: Expr = _bw,
                                       active_params: Expr = _Na, dense_params: Expr = _Nd,
                                       expert_params: Expr = _Ne, E: Expr = _E, k: Expr = _k) -> Expr:
    r"""Bound on :math:`(B^*_{sat} - B^*)/B^*_{sat}` (no-context case), with :math:`B^*` the exact root.

    With :math:`a = 2N_aW/(F b_w)` the exact root solves :math:`aB = N_d + E N_e(1-(1-k/E)^B)` and
    :math:`aB^*_{sat} = N_{tot}`, so the relative error is :math:`E N_e (1-k/E)^{B^*}/N_{tot}`. Since
    :math:`B^* \ge B_{lo} = (N_d + k N_e)/a` (at least k experts are touched once B >= 1; so the
    bound needs :math:`B_{lo} \ge 1`, true for any model whose dense break-even exceeds one) and
    :math:`(1-k/E)^B \le e^{-Bk/E}`:

    .. math:: 0 \le \frac{B^*_{sat}-B^*}{B^*_{sat}} \le \frac{E N_e}{N_{tot}}\, e^{-k B_{lo}/E}
    """
    a = 2 * active_params * W / (F * bytes_per_weight)
    b_lo = (dense_params + k * expert_params) / a
    total = dense_params + E * expert_params
    return E * expert_params / total * exp(-k * b_lo / E)


def moe_breakeven_batch_refined(F: Expr = _F, W: Expr = _W, bytes_per_weight: Expr = _bw,
                                active_params: Expr = _Na, dense_params: Expr = _Nd, expert_params: Expr = _Ne,
                                E: Expr = _E, k: Expr = _k) -> Expr:
    r"""One fixed-point step from :math:`B^*_{sat}`: :math:`B_1 = (N_d + \mathbb{E}[\text{touched}](B^*_{sat})N_e)/a`.

    Because touched(B) is increasing and the exact root lies below :math:`B^*_{sat}`, :math:`B_1` lies
    between the exact root and :math:`B^*_{sat}` (a lower-error closed form; no context term).
    """
    a = 2 * active_params * W / (F * bytes_per_weight)
    b_sat = moe_breakeven_batch_saturated(F, W, bytes_per_weight, active_params, dense_params, expert_params, E)
    return (dense_params + expected_experts_touched(b_sat, E, k) * expert_params) / a
