"""Why an option misses, which constraints bind, and every constraint's slack, in words.

Each miss is ``(need/have ratio, sentence)``; the ratio comes from the constraint object that failed
(:meth:`Constraint.over`) and the slack from :meth:`Constraint.slack`, so no comparison is re-done here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferonomics.optimize.option_eval import OptionEval
from inferonomics.optimize.problem import Problem
from inferonomics.optimize.result import DeploymentResult, Point, Status

if TYPE_CHECKING:  # a type only: serving_step is imported where it runs (it loads the calibration)
    from inferonomics.optimize.serving_step import ServingSpec

Miss = tuple[float, str]

#: why an option's batch stops where it does (OptionEval.limited_by)
LIMITS = {"tpot": "the TPOT SLO", "ttft": "the TTFT SLO (TTFT grows with the running batch)",
          "memory": "HBM capacity", "max_batch": "the batch cap {max_batch}",
          "kv_residency": "the sequences whose KV cache the serving engine keeps resident"}


def weights_miss(ev: OptionEval, problem: Problem) -> Miss:
    """The weights alone do not fit in the usable HBM."""
    o, t = ev.option, ev.option.chips
    w_chip = ev.memory_at(0.0, problem.workload)
    hbm = ev.option.platform.values["hbm_capacity_bytes"]
    return (problem.memory.over(w_chip, ev.usable),
            f"{problem.space.model} at {o.platform.precision.weights} needs {w_chip * t / 1e9:.0f} GB of weights; "
            f"{t} x {o.platform.hardware}{'' if o.plain else f' ({o.shape_label})'} hold {t * hbm / 1e9:.0f} GB "
            f"({t * ev.usable / 1e9:.0f} GB usable after "
            f"reserves)")


def one_sequence_miss(ev: OptionEval, problem: Problem, cap_by: str, spec: ServingSpec | None = None) -> Miss:
    """Batch 1 is over the memory (or resident-sequence) cap although the weights fit; ``spec``: the calibrated
    serving model, whose resident-sequence cap (``cap_by == "kv_residency"``) only it sets."""
    wl = problem.workload
    if cap_by == "kv_residency":
        from inferonomics.optimize.serving_step import resident_cap

        if spec is None:
            raise AssertionError(f"internal: a kv_residency cap without a serving model on {ev.where}")
        o = ev.option
        resident = resident_cap(spec, o.tp, wl.isl, wl.osl, ep=o.ep, dp=o.attention_dp, pp=o.pp)
        return (1.0 / max(resident, 1e-300), f"the serving engine keeps {resident:.3g} sequences of "
                f"{wl.isl + wl.osl:g} tokens resident on {ev.where}; batch 1 needs one")
    need = ev.memory_at(1.0, wl)
    return (problem.memory.over(need, ev.usable),
            f"the weights and one sequence's KV cache at {wl.context:g} tokens need "
            f"{need / 1e9:.4g} GB per chip on {ev.where}; {ev.usable / 1e9:.4g} GB are usable")


def ttft_miss(ev: OptionEval, problem: Problem, ttft_s: float) -> Miss:
    """The closed-form prefill of one prompt is over the TTFT SLO."""
    slo = problem.ttft
    assert slo is not None
    return (slo.over(ttft_s, slo.slo_s), f"prefill of {problem.workload.isl:g} tokens takes {ttft_s * 1e3:.4g} ms "
            f"on {ev.where}; the TTFT SLO is {slo.slo_s * 1e3:g} ms")


def serving_ttft_miss(ev: OptionEval, spec: ServingSpec, problem: Problem, ttft_s: float, fixed_s: float) -> Miss:
    """The serving model ``spec``'s first token at batch 1 is over the TTFT SLO; ``fixed_s`` of it is the
    engine's."""
    slo = problem.ttft
    assert slo is not None
    return (slo.over(ttft_s, slo.slo_s), f"the first token of a {problem.workload.isl:g}-token prompt takes "
            f"{ttft_s * 1e3:.4g} ms on {ev.where} ({fixed_s * 1e3:.4g} ms of it {spec.backend}'s fitted request "
            f"overhead); the TTFT SLO is {slo.slo_s * 1e3:g} ms")


def tpot_miss(ev: OptionEval, problem: Problem, step_s: float) -> Miss:
    """Batch 1's step is over the TPOT SLO."""
    slo = problem.tpot
    assert slo is not None
    return (slo.over(step_s, slo.slo_s), f"batch 1 takes {step_s * 1e3:.4g} ms per token on {ev.where}; "
            f"the TPOT SLO is {slo.slo_s * 1e3:g} ms")


def limits_miss(point: Point, problem: Problem) -> Miss | None:
    """The point, sized to the demand, breaks the budget or its hardware's chip limit."""
    budget = problem.budget
    if budget is not None and not budget.satisfied(point):
        cost = budget.measure(point)
        return budget.over(cost, budget.usd_per_hour), (
            f"{point.replicas} x {point.chips_per_replica} x {point.hardware} at {point.precision} cost ${cost:.4g}/h; "
            f"the budget is ${budget.usd_per_hour:g}/h")
    for limit in problem.chip_limits:
        if limit.hardware == point.hardware and not limit.satisfied(point):
            return limit.over(point.chips, limit.chips), (
                f"the demand needs {point.replicas} replicas = {point.chips} x {point.hardware}; at most "
                f"{limit.chips} are available")
    return None


def infeasible(problem: Problem, misses: list[Miss]) -> DeploymentResult:
    """INFEASIBLE, with the closest miss of all options (the smallest need/have ratio) in words."""
    if not misses:
        return DeploymentResult(Status.INFEASIBLE, problem.objective, reason="no option to choose from")
    ratio, why = min(misses, key=lambda m: m[0])
    if ratio == float("inf"):  # a miss with no measure (no shape allowed, no disaggregated split): its words alone
        return DeploymentResult(Status.INFEASIBLE, problem.objective, reason=why)
    return DeploymentResult(Status.INFEASIBLE, problem.objective,
                            reason=f"{why} (closest miss of {len(misses)} options: {ratio:.3g}x over)")


def explain(problem: Problem, ev: OptionEval, pt: Point) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Binding constraints and every constraint's slack, in words."""
    limit = LIMITS[ev.limited_by].format(max_batch=problem.max_batch)
    binding = [f"batch per replica at most {ev.batch_max}, set by {limit}"]
    if problem.demand is not None:
        binding.append(f"demand {problem.demand.tokens_per_s:.6g} tokens/s sets {pt.replicas} replica(s)"
                       + (f" at batch {pt.batch}" if pt.batch < ev.batch_max else ""))
    return tuple(binding), tuple(c.slack(pt) for c in problem.constraints())
