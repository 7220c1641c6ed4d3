"""The closed forms of the essay and its refinements, each derived step by step as a ClosedForm record.

Every result is written out by hand (no ``solve`` at import time, so the CLI starts fast) and tests
check each one by substitution into its defining equation and against a numeric root. The builders live in
``forms_*`` modules, one idea each; this module is their registry. A builder with a step time in its result
takes an :class:`~inferonomics.symbolic.efficiency.Efficiencies`: ``get_formula(name)`` is its ideal form
(datasheet rates, no fixed costs), ``get_formula(name, efficiencies=True)`` its general form, with the step's
efficiencies and fixed costs as symbols (``inferonomics.optimize.calibrated_forms`` fills them from a calibration).
"""

from __future__ import annotations

from functools import cache

from sympy import Eq

from .closedform import ClosedForm
from .efficiency import SYMBOLIC
from .errors import NoEfficienciesError, UnknownNameError
from .forms_balance import (
    bandwidth_for_batch1_speed,
    bandwidth_for_break_even_batch,
    chips_to_hold_model,
    min_user_base_vs_balance,
    single_user_cost_ratio,
)
from .forms_economics import api_price_crossover, api_price_crossover_users, min_user_base
from .forms_pp import pp_break_even_batch, pp_stages_to_fit, pp_throughput_gain, pp_token_time
from .forms_roofline import (
    break_even_batch,
    break_even_batch_with_kv,
    critical_context,
    latency_floor,
    moe_break_even_batch,
    utilization,
)
from .forms_spec import (
    disagg_pool_ratio,
    spec_decode_break_even_batch,
    spec_decode_speedup,
    spec_decode_tokens_per_step,
)
from .forms_tp import optimal_tp_degree, optimal_tp_degree_sqrt, tp_comm_crossover

_BUILDERS = (
    break_even_batch, break_even_batch_with_kv, critical_context, utilization, latency_floor,
    min_user_base, optimal_tp_degree, optimal_tp_degree_sqrt, tp_comm_crossover, api_price_crossover, api_price_crossover_users,
    moe_break_even_batch,
    bandwidth_for_break_even_batch, bandwidth_for_batch1_speed, chips_to_hold_model, min_user_base_vs_balance,
    single_user_cost_ratio,
    spec_decode_tokens_per_step, spec_decode_speedup, spec_decode_break_even_batch,
    disagg_pool_ratio,
    pp_token_time, pp_throughput_gain, pp_break_even_batch, pp_stages_to_fit,
)


@cache
def all_formulas() -> tuple[ClosedForm, ...]:
    """Every closed form, in document order (built once per process)."""
    return tuple(b() for b in _BUILDERS)


def get_formula(name: str, *, efficiencies: bool = False) -> ClosedForm:
    """The closed form called ``name``: its ideal form, or with ``efficiencies`` its general form, which carries
    the step's efficiencies and fixed costs as symbols (their ideal values as defaults); a formula whose result
    involves no step time has no general form (:class:`NoEfficienciesError`)."""
    if efficiencies:
        if name not in _GENERAL:
            get_formula(name)  # an unknown name says so first, with suggestions
            raise NoEfficienciesError(name, GENERAL_FORMULAS)
        return general_formula(name)
    for f in all_formulas():
        if f.name == name:
            return f
    raise UnknownNameError("formula", name, [f.name for f in all_formulas()])


#: builders that accept an Efficiencies: their general forms carry the step's efficiencies and fixed costs
_GENERAL = {b.__name__: b for b in (break_even_batch, break_even_batch_with_kv, critical_context, utilization,
                                    latency_floor, optimal_tp_degree, tp_comm_crossover,
                                    api_price_crossover, api_price_crossover_users, bandwidth_for_break_even_batch,
                                    min_user_base_vs_balance, single_user_cost_ratio)}
GENERAL_FORMULAS: tuple[str, ...] = tuple(_GENERAL)


@cache
def general_formula(name: str) -> ClosedForm:
    """The general form of ``name`` (one of :data:`GENERAL_FORMULAS`), built once per process."""
    return _GENERAL[name](SYMBOLIC)


__all__ = ["GENERAL_FORMULAS", "NoEfficienciesError", "all_formulas", "general_formula", "get_formula", "Eq"]
