"""The essay's question for one card: its balance F/W and what the inverse closed forms say it would take to
engineer the imbalance away (issue 16). Every number comes from a ClosedForm record or the step model."""

from __future__ import annotations

import math
from collections.abc import Mapping

from inferonomics.symbolic.errors import InvalidInputError
from inferonomics.symbolic.formulas import get_formula

#: the essay's usage: each user is active 10 minutes a day; demand flat over the day (rho = 1)
ESSAY_MINUTES_PER_DAY = 10.0
ESSAY_MEAN_TO_TROUGH = 1.0


def _need(values: Mapping[str, float], name: str, hint: str) -> float:
    v = values.get(name)
    if v is None:
        raise InvalidInputError(name, hint)
    return float(v)


def card_balance(values: Mapping[str, float], *, target_break_even_batch: float = 1.0,
                 minutes_per_day: float = ESSAY_MINUTES_PER_DAY) -> dict:
    """Balance numbers of one chip at one precision: ``values`` binds peak_flop_per_s,
    hbm_bandwidth_bytes_per_s and bytes_per_weight (SI). Weights only, ideal rates (the closed forms)."""
    F = _need(values, "peak_flop_per_s", "a peak FLOP/s at the compute precision (this card publishes none "
                                          "there: give --set peak_flop_per_s=VALUE or another precision)")
    W = _need(values, "hbm_bandwidth_bytes_per_s", "a memory bandwidth")
    bw = _need(values, "bytes_per_weight", "bytes per weight (--precision)")
    for name, x in (("peak_flop_per_s", F), ("hbm_bandwidth_bytes_per_s", W), ("bytes_per_weight", bw),
                    ("--target-break-even-batch", target_break_even_batch), ("--minutes-per-day", minutes_per_day)):
        if not (math.isfinite(x) and x > 0):
            raise InvalidInputError(name, "a finite number > 0", x)
    if target_break_even_batch < 1:
        raise InvalidInputError("--target-break-even-batch", "a batch >= 1", target_break_even_batch)
    if minutes_per_day > 1440:
        raise InvalidInputError("--minutes-per-day", "at most the 1440 minutes of a day", minutes_per_day)
    v = {"peak_flop_per_s": F, "hbm_bandwidth_bytes_per_s": W, "bytes_per_weight": bw,
         "batch": target_break_even_batch, "flop_per_byte": F / W, "minutes_per_day": minutes_per_day,
         "mean_to_trough": ESSAY_MEAN_TO_TROUGH}
    bstar = get_formula("break_even_batch").evaluate(v)
    needed = get_formula("bandwidth_for_break_even_batch").evaluate(v)
    ratio = get_formula("single_user_cost_ratio")
    return {
        "peak_flop_per_s": F, "hbm_bandwidth_bytes_per_s": W, "bytes_per_weight": bw,
        "flop_per_byte": F / W,
        "break_even_batch": bstar,
        "target_break_even_batch": target_break_even_batch,
        "bandwidth_needed_bytes_per_s": needed,
        "bandwidth_multiple_needed": needed / W,
        "minutes_per_day": minutes_per_day, "mean_to_trough": ESSAY_MEAN_TO_TROUGH,
        "min_user_base": get_formula("min_user_base_vs_balance").evaluate(v),
        # below B* = 1 batching saves nothing: a single user pays what a provider pays
        "single_user_cost_ratio": ratio.evaluate(v) if not ratio.failed_conditions(v) else 1.0,
    }


def model_on_card(values: Mapping[str, float], price_usd_per_chip_hour: float | None = None,
                  weights: str | None = None) -> dict:
    """A model spread over just enough chips to hold its weights (the capacity bound an SRAM machine pays):
    the chip count, and the batch-1 speed and cost there from the ideal step model (no communication).
    ``weights`` names the bytes a batch-1 step reads, if not every weight (an MoE's active experts)."""
    from inferonomics.symbolic.evaluate import evaluate_step

    hold = get_formula("chips_to_hold_model").evaluate(values)
    chips = math.ceil(hold - 1e-9)
    step = evaluate_step(dict(values, tp=float(chips), batch=1.0, context=0.0, link_latency_s=0.0,
                              link_bandwidth_bytes_per_s=math.inf), weights=weights)
    chip_hours_per_mtok = chips * 1e6 / step.tokens_per_s / 3600
    ratio = get_formula("single_user_cost_ratio")
    card_ratio = ratio.evaluate(values) if not ratio.failed_conditions(values) else 1.0
    return {
        "weight_bytes": values["total_params"] * values["bytes_per_weight"],
        "chips_to_hold_model": chips,
        "batch1_ms_per_token": step.step_s * 1e3,
        "batch1_tokens_per_s": step.tokens_per_s,
        "batch1_chip_hours_per_mtok": chip_hours_per_mtok,
        "break_even_chip_hours_per_mtok": chip_hours_per_mtok / card_ratio,
        "batch1_usd_per_mtok": (None if price_usd_per_chip_hour is None
                                else chip_hours_per_mtok * price_usd_per_chip_hour),
        "batch1_assumes": "weights only, ideal rates, no communication: a lower bound on the time per token",
    }


def speed_on_card(values: Mapping[str, float], tokens_per_s_per_user: float) -> dict:
    """The aggregate bandwidth that serves one user alone at ``tokens_per_s_per_user`` (every weight it uses
    read once per token, at the datasheet rate unless eta_bw is bound), and the chips of this card that supply it
    (at least those that hold the model)."""
    v = dict(values, tokens_per_s_per_user=tokens_per_s_per_user)
    v.setdefault("eta_bw", 1.0)
    if v.get("n_experts", 1.0) > 1:  # an MoE reads its dense part and k experts per token at batch 1
        v["total_params"] = v["dense_params"] + v["experts_per_token"] * v["expert_params"]
    need = get_formula("bandwidth_for_batch1_speed").evaluate(v)
    hold = math.ceil(get_formula("chips_to_hold_model").evaluate(values) - 1e-9)
    return {"tokens_per_s_per_user": tokens_per_s_per_user, "bandwidth_for_speed_bytes_per_s": need,
            "chips_for_speed": max(hold, math.ceil(need / values["hbm_bandwidth_bytes_per_s"] - 1e-9))}
