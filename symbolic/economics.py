"""Builders that turn a step time into throughput, utilization, cost, energy and users."""

from __future__ import annotations

from sympy import Expr, Integer

from . import symbols as s
from .model import attention_flops, matmul_flops

SECONDS_PER_HOUR = Integer(3600)
TOKENS_PER_MILLION = Integer(10) ** 6


def tokens_per_s(step: Expr) -> Expr:
    """Output tokens per second of one replica: the batch advances one token per step."""
    return s.B / step


def tokens_per_s_per_user(step: Expr) -> Expr:
    """Output tokens per second each sequence sees (the reciprocal of time per output token)."""
    return 1 / step


def utilization(step: Expr, flops: Expr | None = None) -> Expr:
    """Model FLOP utilization: useful FLOPs per step over what ``t`` chips could do at peak in that time."""
    useful = matmul_flops() + attention_flops() if flops is None else flops
    return useful / (s.t * s.F * step)


def cost_per_token(step: Expr) -> Expr:
    """Dollars per output token: the replica's ``t`` chips, rented for one step, shared by ``B`` tokens."""
    return s.price * s.t * step / (SECONDS_PER_HOUR * s.B)


def cost_per_million_tokens(step: Expr) -> Expr:
    return TOKENS_PER_MILLION * cost_per_token(step)


def energy_per_token(step: Expr) -> Expr:
    """Joules per output token: ``t`` chips at power ``P`` for one step, shared by ``B`` tokens."""
    return s.power * s.t * step / s.B


def user_base(concurrency: Expr = s.C) -> Expr:
    r"""Registered users needed to keep ``concurrency`` users active at every hour, the daily trough
    included: :math:`C\rho_{tr}\,1440/m` (``rho_tr`` = mean/trough concurrency; formulas.min_user_base)."""
    return concurrency * s.rho_tr * s.MINUTES_PER_DAY / s.m
