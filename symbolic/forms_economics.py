"""Closed forms of users and money: the minimum user base and the batch and user base at which self-hosting
meets an API price."""

from __future__ import annotations

import sympy as sp

from . import symbols as s
from . import units as U
from .closedform import ClosedForm, Step
from .efficiency import IDEAL, Efficiencies
from .forms_common import (
    DENSE,
    NO_COMM,
    NO_FIXED,
    WEIGHTS_ONLY,
    record,
    users_sym,
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


def _cost_mem(e: Efficiencies = IDEAL) -> sp.Expr:
    """Dollars per million tokens of a memory-bound step, tau = N b_w/(t eta_W W) + L t_layer + t_o."""
    return 10**6 * s.price * (s.N * s.b_w / (e.eta_W * s.W) + s.t * e.fixed()) / (3600 * s.B)


def api_price_crossover(e: Efficiencies = IDEAL) -> ClosedForm:
    expr = 10**6 * s.price * (s.N * s.b_w / (e.eta_W * s.W) + s.t * e.fixed()) / (3600 * s.api)
    cost = _cost_mem(e)
    fixed = () if e.fixed() == 0 else (s.t, s.L)
    return record(
        e, name="api_price_crossover", notation=r"B_{\pi}",
        meaning="batch per replica at which self-hosting costs the same per million tokens as an API",
        expr=expr, args=(s.price, s.N, s.b_w, s.W, s.api, s.F, *fixed), unit=U.one, policy="step",
        unknown=s.B, residual=cost - s.api,
        steps=(
            Step(sp.Symbol("c_{tok}"), s.price * s.t * sp.Symbol(r"\tau") / (3600 * s.B), "A replica of t chips costs p t dollars an hour and emits B tokens per step of tau seconds."),
            Step(sp.Symbol(r"c_{M}"), cost, "Memory-bound, tau = N b_w/(tW): t cancels, and the cost per million tokens falls as 1/B."),
            Step(cost, s.api, "Self-hosting breaks even with the API price pi."),
            Step(s.B, expr, "Solve for the batch; it must lie below B* or self-hosting never gets that cheap."),
        ),
        conditions=(s.api * 3600 * e.eta_F * s.F > 2 * 10**6 * s.N * s.price,),
        condition_text=("the API charges more than the compute-bound floor 2 N p 10^6/(3600 F) per million tokens"
                        if e == IDEAL else "the API charges more than the compute-bound floor 2 N p 10^6/(3600 "
                        "eta_F F) per million tokens",),
        assumptions=(DENSE, WEIGHTS_ONLY, NO_FIXED if e == IDEAL else NO_COMM,
                     "price per chip-hour p is the all-in cost of a chip"),
        bracket=(expr / 4, 4 * expr),
    )


def api_price_crossover_users(e: Efficiencies = IDEAL) -> ClosedForm:
    crossover = api_price_crossover(e)
    b_pi = crossover.expr
    expr = s.MINUTES_PER_DAY * s.rho_tr * b_pi / s.m
    return record(
        e, name="api_price_crossover_users", notation=r"U_{\pi}",
        meaning="user base per replica at which self-hosting beats an API price per million tokens",
        expr=expr, args=(s.price, s.N, s.b_w, s.W, s.api, s.m, s.rho_tr, s.F,
                                   *(a for a in crossover.args[6:] if a not in crossover.defaults)), unit=U.one,
        policy="step",
        unknown=users_sym, residual=users_sym * s.m / (s.MINUTES_PER_DAY * s.rho_tr) - b_pi,
        steps=(
            Step(s.C, b_pi, "The replica must hold the crossover batch of concurrent users at every hour, the daily trough included."),
            Step(users_sym, expr, "Convert concurrency to a user base as in the minimum user base."),
        ),
        conditions=crossover.conditions,
        condition_text=crossover.condition_text,
        assumptions=crossover.assumptions,
        bracket=(sp.S.Zero, 4 * expr),
    )
