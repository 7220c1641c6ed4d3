"""Every number `inferonomics seed` prints (and the derivation document's essay example shows): the essay's
example through the closed forms and the step model, with the refinements and, optionally, the deployment."""

from __future__ import annotations

from inferonomics.symbolic.essay import essay_example
from inferonomics.symbolic.evaluate import evaluate_step
from inferonomics.symbolic.formulas import get_formula


def seed_numbers(*, deployment: bool = True) -> dict:
    """Every number the seed prints, computed from the closed forms and the step model.

    ``deployment=False`` skips the optimization under the SLO (the derivation document does not show it).
    """
    ex = essay_example()
    v = dict(ex.values)
    b1, b100 = ex.utilization_batches
    at1 = evaluate_step(dict(v, batch=b1))
    at100 = evaluate_step(dict(v, batch=b100))
    bstar = get_formula("break_even_batch").evaluate(v)
    users = get_formula("min_user_base")
    ill = ex.illustrative
    kv = dict(v, **ill, context=ill["context_example"], overhead_s=0.0, layer_overhead_s=0.0)
    bkv = get_formula("break_even_batch_with_kv")
    floor_no_comm = get_formula("latency_floor").evaluate(dict(kv, link_latency_s=0.0))
    floor = get_formula("latency_floor").evaluate(kv)
    out = {
        "compute_ms": at1.compute_s * 1e3,
        "memory_ms": at1.memory_s * 1e3,
        "utilization_at_batch_1": at1.utilization,
        "utilization_at_batch_100": at100.utilization,
        "break_even_batch": bstar,
        "essay_break_even_batch": ex.essay_break_even_claim,
        # the essay's 3e15 FLOP/s is a round figure: the H100 SXM datasheet's dense fp8 rate is 1.979e15
        "break_even_batch_h100_datasheet_fp8": _datasheet_break_even("h100-sxm", "fp8"),
        "min_user_base": users.evaluate(dict(v, concurrency=ex.essay_concurrency)),
        "min_user_base_at_break_even": users.evaluate(dict(v, concurrency=bstar)),
        "refinements": {
            "assumed": ill,
            # None: the context is beyond c* (at TP 20 the 8 KV heads are replicated 2.5 times over)
            "break_even_batch_with_kv": None if bkv.failed_conditions(kv) else bkv.evaluate(kv),
            "break_even_batch_with_kv_tp8": bkv.evaluate(dict(kv, tp=min(8.0, ill["n_kv_heads"]))),
            "critical_context_tp8": get_formula("critical_context").evaluate(dict(kv, tp=min(8.0, ill["n_kv_heads"]))),
            "critical_context": get_formula("critical_context").evaluate(kv),
            "latency_floor_ms_without_comm": floor_no_comm * 1e3,
            "latency_floor_ms_with_comm": floor * 1e3,
            "optimal_tp_degree": get_formula("optimal_tp_degree").evaluate(kv),
            "tp_comm_crossover": get_formula("tp_comm_crossover").evaluate(kv),
        },
    }
    from inferonomics.symbolic.essay_question import essay_question_numbers

    out.update(essay_question_numbers())  # issue 16: the essay's closing claims
    if not deployment:
        return out
    from inferonomics.optimize.essay import seed_deployment

    dep = seed_deployment()
    return out | {
        # issue: the essay model's optimal deployment under a 50 ms/token SLO, and the minimum user base
        # at which it reaches 50% utilization; under the essay's own assumptions and with the refinements
        "slo_deployment": {
            "essay_assumptions": dep["essay_assumptions"]["deployment"],
            "refined": dep["deployment"],
            "assumed": dep["assumed"],
        },
        "min_user_base_at_50pct_utilization": dep["essay_assumptions"].get("users", {}).get("min_user_base"),
        "min_user_base_at_50pct_utilization_refined": dep.get("users", {}).get("min_user_base"),
        "users_at_50pct": {"essay_assumptions": dep["essay_assumptions"].get("users"), "refined": dep.get("users")},
    }


def _datasheet_break_even(hardware: str, precision: str) -> float:
    from inferonomics.symbolic.catalog.loader import lookup

    h = lookup("hardware", hardware)
    return get_formula("break_even_batch").evaluate({"peak_flop_per_s": h.peak_flop_per_s[precision],
                                                    "hbm_bandwidth_bytes_per_s": h.hbm_bandwidth_bytes_per_s,
                                                    "bytes_per_weight": 1.0})


def calibrated_numbers(hardware: str = "h100-sxm", backend: str = "trtllm") -> dict:
    """The essay's example under a card's calibration: the general closed forms (efficiencies and fixed costs
    as symbols) with the values the card's calibrated kernel terms give (:mod:`.calibrated_forms`, at the essay's
    8-bit weights: fp8), evaluated on the essay's model and rates. The essay's figures are their ideal limit."""
    from inferonomics.optimize.calibrated_forms import calibrate, calibrated_values
    from inferonomics.optimize.calibration.calfile import calibration_for

    ex = essay_example()
    v = dict(ex.values)
    cal = calibrated_values(hardware, "fp8", backend)
    fit = calibration_for(hardware)[0]  # the file behind the values: its card and the date it was fitted
    b1, b100 = ex.utilization_batches
    bstar = calibrate(get_formula("break_even_batch"), cal).evaluate(v)
    # the step model with the calibrated efficiencies and fixed costs, as the ideal seed evaluates it
    at1, at100 = (evaluate_step(dict(v, **cal.values, batch=b)) for b in (b1, b100))
    return {
        "calibration": cal.note(),
        "calibration_source": cal.source,
        "calibration_hardware": fit.hardware,
        "calibration_date": fit.date,
        "backend": backend,
        "values": dict(cal.values),
        "break_even_batch": bstar,
        "step_ms_at_batch_1": at1.step_s * 1e3,
        "utilization_at_batch_1": at1.utilization,
        "utilization_at_batch_100": at100.utilization,
        "min_user_base_at_break_even": get_formula("min_user_base").evaluate(dict(v, concurrency=bstar)),
    }
