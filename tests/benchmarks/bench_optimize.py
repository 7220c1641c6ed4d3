"""Benchmark of the optimizer (not collected by pytest): run ``python tests/benchmarks/bench_optimize.py [N]``.

Prints: the median solve time of a typical query after warm-up (target <= 50 ms; calibrated: also with a cold
per-option cache of the serving model's curves), the same query over today's deployment forms (TP x PP, and
--mode auto with disaggregated pools and speculation tried on and off; an MoE query with attention DP x EP;
target <= 100 ms warm), the full Pareto frontier
time (<= 1 s), sweep configurations per second on one core (>= 10 M/s, float64 and float32), and the
optimality gap against the brute-force oracle on N random instances (exactly 0).
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from inferonomics.optimize.constraints import Demand, Workload  # noqa: E402
from inferonomics.optimize.pareto import frontier  # noqa: E402
from inferonomics.optimize.solver import Problem, solve  # noqa: E402
from inferonomics.optimize.space import DecisionSpace, Platform, PrecisionChoice, build_space  # noqa: E402
from inferonomics.optimize.sweep import parse_range, sweep  # noqa: E402

HARDWARE = {"h100-sxm": 2.5, "h200-sxm": 3.5, "b200": 5.0, "mi300x": 2.0, "gb200": 6.0}  # illustrative $/h
PRECISIONS = ["bf16", "fp8", "int4"]
TPS = [1, 2, 4, 8, 16, 32, 64]


def median_ms(fn, repeat: int = 21) -> float:
    fn()  # warm-up: compile the expressions, load the catalog
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def typical(ideal: bool) -> tuple[Problem, int]:
    space = build_space("llama3.1-70b", list(HARDWARE), PRECISIONS, tp=TPS, prices=HARDWARE, ideal=ideal)
    return Problem(space, Workload(1024, 512), tpot_slo_s=0.05, ttft_slo_s=1.0, demand=Demand(50_000.0)), \
        len(space.options())


def random_problem(rng: np.random.Generator) -> Problem:
    plats = []
    for i in range(int(rng.integers(1, 3))):
        total = math.exp(rng.uniform(math.log(2e8), math.log(2e10)))
        v = {"total_params": total, "bytes_per_weight": float(rng.choice([0.5, 1.0, 2.0])),
             "peak_flop_per_s": math.exp(rng.uniform(math.log(2e13), math.log(2e15))),
             "hbm_bandwidth_bytes_per_s": math.exp(rng.uniform(math.log(2e11), math.log(5e12))),
             "hbm_capacity_bytes": math.exp(rng.uniform(math.log(1.2e10), math.log(1.5e11))),
             "kv_bytes_per_token": math.exp(rng.uniform(math.log(1e4), math.log(1e6))),
             "n_layers": float(rng.integers(4, 80)), "d_model": float(rng.choice([1024, 4096, 8192])),
             "link_latency_s": 10 ** rng.uniform(-7, -5), "link_bandwidth_bytes_per_s": 10 ** rng.uniform(10.7, 12),
             "eta_flop": rng.uniform(0.3, 1), "eta_bw": rng.uniform(0.3, 1), "eta_kv": rng.uniform(0.3, 1),
             "overhead_s": rng.uniform(0, 3e-3), "layer_overhead_s": rng.uniform(0, 2e-5)}
        tps = tuple(sorted(set(int(x) for x in rng.choice([1, 2, 4, 8], size=rng.integers(1, 5)))))
        plats.append(Platform(f"hw{i}", PrecisionChoice("p", "p", "p"), v, tps, float(rng.uniform(0.5, 10))))
    wl = Workload(float(rng.integers(16, 2048)), float(rng.integers(16, 1024)), mixed=bool(rng.integers(2)),
                  policy=str(rng.choice(["step", "per-op"])))
    from inferonomics.symbolic.evaluate import evaluate_step

    base = evaluate_step(dict(plats[0].values, tp=1, batch=1, context=wl.context, prompt_len=wl.isl,
                              output_len=wl.osl), wl.policy, mixed=wl.mixed).step_s
    return Problem(DecisionSpace("bench", tuple(plats)), wl, tpot_slo_s=base * rng.uniform(0.3, 4),
                   demand=Demand(rng.uniform(0.2, 40) / base),
                   objective=str(rng.choice(["usd_per_hour", "usd_per_mtok", "tokens_per_usd"])), max_batch=48,
                   fleet="homogeneous")


def oracle_gap(n: int, seed: int = 0) -> tuple[int, int, float]:
    import oracle

    rng = np.random.default_rng(seed)
    solved = agreed_infeasible = 0
    worst = 0.0
    for _ in range(n):
        problem = random_problem(rng)
        res = solve(problem)
        best = oracle.homogeneous_optimum(problem)
        if best is None:
            assert not res.optimal, "solver found a point the oracle calls infeasible"
            agreed_infeasible += 1
            continue
        assert res.optimal, res.reason
        ours = oracle.objective_value(problem.objective, oracle.evaluate_choice(problem, res.point))
        theirs = oracle.objective_value(problem.objective, best)
        worst = max(worst, ours - theirs)
        solved += 1
    return solved, agreed_infeasible, worst


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    except (AttributeError, OSError):
        pass
    for ideal in (True, False):
        problem, n_opt = typical(ideal)
        label = "ideal" if ideal else "calibrated"
        ms = median_ms(lambda: solve(problem))
        e2e = median_ms(lambda: solve(typical(ideal)[0]))
        res = solve(problem)
        print(f"solve, typical query ({label}; 1 model x 5 hardware x 3 precisions x TP 1..64 = {n_opt} options "
              f"after the scale-up domain and heads): median {ms:.2f} ms (with building the space: {e2e:.2f} ms)"
              f" [target <= 50 ms] -> {res.point.replicas} x {res.point.tp} x {res.point.hardware} "
              f"{res.point.precision}")
        if not ideal:  # the serving model's curves are cached per (option, workload): also time a cold cache
            from inferonomics.optimize import serving_step

            def cold():
                serving_step._CURVES.clear()
                solve(problem)

            print(f"solve ({label}, cold serving-curve cache: every batch 1..cap of every option evaluated): "
                  f"median {median_ms(cold):.2f} ms [target <= 50 ms]")
        front_ms = median_ms(lambda: frontier(replace_obj(problem)), repeat=7)
        f = frontier(replace_obj(problem))
        print(f"pareto ({label}): {front_ms:.1f} ms for {f.candidates} candidates -> {len(f.points)} frontier points"
              f" [target <= 1000 ms]")
    forms()
    space = build_space("llama3.1-70b", ["h100-sxm", "h200-sxm", "mi300x"], ["bf16", "fp8"], ideal=True)
    batch, context = parse_range("1:4096", "b"), parse_range("0:32768:64", "c")
    for dtype in (np.float64, np.float32):
        sweep(space, [1], batch[:64], context, dtype=dtype)
        runs = [sweep(space, [1, 2, 4, 8], batch, context, dtype=dtype) for _ in range(3)]
        best = max(runs, key=lambda s: s.configs_per_s)
        print(f"sweep ({dtype.__name__}, one core): {best.configs:,} configs in {best.seconds:.3f} s = "
              f"{best.configs_per_s / 1e6:.1f} M configs/s [target >= 10 M/s]")
    t0 = time.perf_counter()
    solved, infeasible, gap = oracle_gap(n)
    print(f"oracle: {n} random instances ({solved} feasible, {infeasible} infeasible by both), max optimality gap "
          f"{gap!r} [target exactly 0] in {time.perf_counter() - t0:.1f} s")


def forms() -> None:
    """Warm solve times over the larger decision space of issue 14 (target <= 100 ms)."""
    from dataclasses import replace

    from inferonomics.optimize.speculation import Speculation

    problem, n_opt = typical(False)
    moe_space = build_space("qwen3-235b-a22b", ["h100-sxm", "h200-sxm", "b200"], ["fp8"], prices=HARDWARE)
    moe = Problem(moe_space, Workload(1024, 512), tpot_slo_s=0.05, ttft_slo_s=1.0, demand=Demand(50_000.0))
    cases = [("typical, TP x PP (agg, the default)", problem, n_opt),
             ("typical, --mode auto (agg + disaggregated pools)", replace(problem, mode="auto"), n_opt),
             ("typical, --mode auto + speculation on/off", replace(problem, mode="auto",
                                                                   speculation=Speculation(0.7, 3, 0.05)), n_opt),
             ("MoE qwen3-235b-a22b x 3 cards, TP x PP x attention DP x EP (agg)", moe, len(moe_space.options())),
             ("MoE, --mode auto", replace(moe, mode="auto"), len(moe_space.options()))]
    for label, pr, n in cases:
        ms = median_ms(lambda: solve(pr), repeat=9)
        p = solve(pr).point
        print(f"solve, {label}: {n} options, median {ms:.1f} ms warm [target <= 100 ms] -> {p.mode} "
              f"{p.replicas} x (TP {p.tp}, PP {p.pp}, DP {p.attention_dp}, EP {p.ep}) {p.hardware} {p.precision}"
              + (f", spec G {p.speculation.draft_tokens}" if p.speculation is not None else "")
              + (f", {dict(p.form)['prefill_workers']} prefill workers" if p.mode == "disagg" else ""))


def replace_obj(problem: Problem) -> Problem:
    from dataclasses import replace

    return replace(problem, objective="usd_per_mtok", demand=None)


if __name__ == "__main__":
    main()
