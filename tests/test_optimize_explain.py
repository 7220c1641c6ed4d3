"""Constraint objects decide feasibility with one tolerance rule; misses are explained from them (by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inferonomics.optimize.constraints import (REL_TOL, Budget, ChipLimit, Demand, DemandCovered, MemoryFits,
                                               TpotSLO, TtftSLO, Workload)
from inferonomics.optimize.problem import Problem
from inferonomics.optimize.result import Point, Status
from inferonomics.optimize.solver import solve
from inferonomics.optimize.space import DecisionSpace, Platform, PrecisionChoice


def _point(**kw) -> Point:
    base = dict(hardware="h", precision="p", tp=2, ep=1, batch=10, replicas=3, compute_s=0.0, memory_s=0.0,
                comm_s=0.0, overhead_s=0.0, step_s=0.02, ttft_s=0.3, utilization=0.5, memory_bytes=60e9,
                usable_bytes=74e9, price_usd_per_chip_hour=2.0)
    return Point(**{**base, **kw})


def test_ceilings_and_floors_share_one_relative_tolerance():
    slo = TpotSLO(0.05)
    assert slo.admits(0.05 * (1 + REL_TOL / 2)) and not slo.admits(0.05 * (1 + 3 * REL_TOL))
    assert list(slo.admits(np.array([0.04, 0.06]))) == [True, False]  # elementwise, for the serving curves
    floor = DemandCovered(Demand(1000.0))
    assert floor.within(1000.0 * (1 - REL_TOL / 2), 1000.0) and not floor.within(999.0, 1000.0)


def test_residual_over_and_slack_by_hand():
    pt = _point()  # 3 replicas x 2 chips at batch 10, 20 ms: 1500 tokens/s, 6 chips, $12/h
    assert TpotSLO(0.05).residual(pt) == pytest.approx(30.0)  # ms
    assert TtftSLO(0.2).residual(pt) == pytest.approx(-100.0) and not TtftSLO(0.2).satisfied(pt)
    assert MemoryFits().residual(pt) == pytest.approx(14.0)  # GB per chip
    assert DemandCovered(Demand(2000.0)).residual(pt) == pytest.approx(-500.0)
    assert DemandCovered(Demand(2000.0)).over(1500.0, 2000.0) == pytest.approx(2000 / 1500)  # need / have
    assert Budget(10.0).over(12.0, 10.0) == pytest.approx(1.2) and not Budget(10.0).satisfied(pt)
    assert ChipLimit("h", 6).satisfied(pt) and not ChipLimit("h", 5).satisfied(pt)
    assert ChipLimit("other", 0).satisfied(pt)
    assert TpotSLO(0.05).slack(pt) == f"{TpotSLO(0.05).describe()}: slack 30 ms"


def _one_card(kv_bytes_per_token: float) -> DecisionSpace:
    v = {"total_params": 1e9, "bytes_per_weight": 2.0, "peak_flop_per_s": 1e15, "hbm_bandwidth_bytes_per_s": 3e12,
         "hbm_capacity_bytes": 10e9, "kv_bytes_per_token": kv_bytes_per_token, "n_layers": 16.0, "d_model": 2048.0}
    return DecisionSpace("m", (Platform("card", PrecisionChoice("p", "p", "p"), v, (1,), 1.0),))


def test_a_sequence_that_does_not_fit_is_named_as_memory_not_as_an_infinite_slo():
    """Weights 2 GB fit in 10 GB x 0.95 - 2 GB = 7.5 GB usable, but one sequence of 1024 + 1024 tokens at
    3 MB/token is 6.144 GB more: 8.144 GB > 7.5 GB, 1.086x over. No TPOT SLO is set."""
    res = solve(Problem(_one_card(3e6), Workload(1024, 1024), objective="usd_per_mtok"))
    assert res.status is Status.INFEASIBLE
    assert "one sequence's KV cache at 2048 tokens need 8.144 GB per chip on 1 x card at p" in res.reason
    assert "7.5 GB are usable" in res.reason and "1.09x over" in res.reason and "inf" not in res.reason


def test_the_tpot_miss_keeps_its_words_and_ratio():
    """The same card with a tiny KV cache under a TPOT SLO below the weight read: 2 GB / 3 TB/s = 0.667 ms."""
    res = solve(Problem(_one_card(1.0), Workload(16, 16, mixed=False), tpot_slo_s=0.5e-3, objective="usd_per_mtok"))
    assert res.status is Status.INFEASIBLE
    step_ms = float(res.reason.split("batch 1 takes ")[1].split(" ms")[0])
    assert step_ms == pytest.approx(2e9 / 3e12 * 1e3, rel=1e-2)  # memory-bound: the weight read dominates
    assert "the TPOT SLO is 0.5 ms" in res.reason
    assert math.isclose(float(res.reason.split("options: ")[1].split("x over")[0]), step_ms / 0.5, rel_tol=1e-2)
