"""The essay's question under a real latency promise: its 1.6T 8-bit model on its hypothetical H100s, the
cheapest deployment under a 50 ms/token SLO, and the smallest user base that keeps it 50 % busy.

Assumptions beyond the essay are labelled in the returned dict (``assumed``): the price per chip-hour is
ILLUSTRATIVE (no citable figure exists; the catalog carries none), and the KV and communication figures
are symbolic.essay's illustrative refinements. Any integer TP degree up to 64 is allowed (the essay's
hypothetical model has no head count, and it runs 20 chips in one group).
"""

from __future__ import annotations

from inferonomics.symbolic.essay import essay_example

from inferonomics.optimize.constraints import Workload
from inferonomics.optimize.problem import Problem
from inferonomics.optimize.solver import solve
from inferonomics.optimize.space import DecisionSpace, Platform, PrecisionChoice
from inferonomics.optimize.user_base import users_at_utilization

#: ILLUSTRATIVE price of one hypothetical H100 for one hour, an assumption (not a quote)
ILLUSTRATIVE_PRICE_USD_PER_CHIP_HOUR = 2.0
TPOT_SLO_S = 0.050
TARGET_UTILIZATION = 0.5
ISL = OSL = 2048.0  # context isl + osl = 4096 tokens, symbolic.essay's illustrative context


def essay_problem(tpot_slo_s: float = TPOT_SLO_S, refined: bool = True) -> Problem:
    """``refined``: add the illustrative KV cache and TP communication; else the essay's own assumptions
    (weights and matmuls only)."""
    ex = essay_example()
    ill = ex.illustrative
    values = {k: v for k, v in ex.values.items() if k not in ("tp", "batch", "context", "minutes_per_day",
                                                             "mean_to_trough")}
    if refined:
        values.update({k: ill[k] for k in ("n_layers", "d_model", "kv_bytes_per_token", "n_kv_heads", "link_latency_s",
                                           "allreduces_per_layer", "link_bandwidth_bytes_per_s",
                                           "bytes_per_activation")})
    values["hbm_capacity_bytes"] = 80e9  # "80 GB"
    plat = Platform("essay-h100", PrecisionChoice("int8", "int8", "int8"), values, tuple(range(1, 65)),
                    ILLUSTRATIVE_PRICE_USD_PER_CHIP_HOUR, 1, "the essay's hypothetical H100")
    space = DecisionSpace("essay-1.6t", (plat,), notes=("ideal model on the essay's figures",))
    return Problem(space, Workload(ISL, OSL, mixed=False), tpot_slo_s=tpot_slo_s, objective="usd_per_mtok")


def seed_deployment() -> dict:
    """The optimal deployment under the SLO (min $/Mtok at capacity) and its minimum user base at 50 %
    utilization, with the illustrative refinements (``deployment``, ``users``) and under the essay's own
    assumptions, no KV cache and free communication (``essay_assumptions``)."""
    out: dict = _one(essay_problem(refined=True))
    out["essay_assumptions"] = _one(essay_problem(refined=False))
    out["assumed"] = {
        "price_usd_per_chip_hour": ILLUSTRATIVE_PRICE_USD_PER_CHIP_HOUR,
        "price_note": "ILLUSTRATIVE assumption, not a quote: no citable H100 price exists in the catalog",
        "tpot_slo_ms": TPOT_SLO_S * 1e3, "target_utilization": TARGET_UTILIZATION,
        "isl": ISL, "osl": OSL, "hbm_capacity_bytes": 80e9,
        "refinements": "KV cache and TP communication from symbolic.essay's illustrative figures",
    }
    return out


def _one(problem: Problem) -> dict:
    ex = essay_example()
    best = solve(problem)
    out: dict = {"deployment": best.as_json()}
    p = best.point if best.optimal else None
    if p is not None:
        ub = users_at_utilization(problem, TARGET_UTILIZATION, ex.values["minutes_per_day"],
                                  ex.values["mean_to_trough"], only=(p.hardware, p.precision, p.tp))
        out["users"] = ub.as_json()
    return out
