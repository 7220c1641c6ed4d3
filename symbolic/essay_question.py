"""The essay's closing question, in numbers: what a single user pays, how many users keep a service busy
around the clock, what NVLink does to batch 1, the energy per token, and what the brain would need
(issue 16). Every number comes from a ClosedForm record or the step model; every figure that the essay
does not give is named in ``ASSUMED`` and printed with the numbers."""

from __future__ import annotations

from .essay import essay_example
from .evaluate import evaluate_step
from .formulas import get_formula

#: the essay's own figures
ESSAY_NVLINK_BYTES_PER_S = 1e12  # "around 1 TB/s if the GPUs are using NVLink"
ESSAY_H100_POWER_W = 700.0  # "an H100 draws 700 W"
BRAIN_PARAMETER_BYTES = 1e14  # "~100 TB of parameters": ~1e14 synapses at ~1 byte each
BRAIN_POWER_W = 20.0  # "on 20 W"
ESSAY_USERS_FOR_24H = 1e6  # "perhaps even approach 1M total users"

#: figures the essay does not give, stated wherever they are printed (numbers named apart from the notes so
#: that arithmetic on them is typed as float)
DAILY_SWING = 5.0
HUMAN_TOKENS_PER_S = 150 / 60 / 0.75
ASSUMED = {
    "daily_swing": DAILY_SWING,
    "daily_swing_note": "ASSUMED: trough concurrency = mean concurrency / swing, with the night trough at a fifth "
                        "of the daily mean (the essay gives no figure); a service that keeps its batch full all day "
                        "must hold the batch at the trough",
    "human_tokens_per_s": HUMAN_TOKENS_PER_S,
    "human_tokens_per_s_note": "ASSUMED human-like speed: speech at ~150 words per minute, ~0.75 words per token "
                               "(3.3 tokens/s)",
    "comm_note": "TP all-reduces of the essay's model with symbolic.essay's illustrative shape (160 layers, "
                 "d = 25600, 2 all-reduces per layer, 2-byte activations)",
}


def users_for_24h_service(concurrency: float, minutes_per_day: float, daily_swing: float) -> float:
    """Users needed so that the daily trough still holds ``concurrency`` users active at once: the closed form
    ``min_user_base`` with the daily swing as its mean-to-trough ratio rho_tr (trough concurrency = mean
    concurrency / daily_swing; mean concurrency = users x minutes_per_day / 1440)."""
    from inferonomics.symbolic.formulas import get_formula  # noqa: PLC0415

    return get_formula("min_user_base").evaluate({"concurrency": concurrency, "minutes_per_day": minutes_per_day,
                                                  "mean_to_trough": daily_swing})


def _essay_values() -> tuple[dict, dict]:
    ex = essay_example()
    v = dict(ex.values)
    ill = ex.illustrative
    comm = dict(v, n_layers=ill["n_layers"], d_model=ill["d_model"], allreduces_per_layer=ill["allreduces_per_layer"],
                bytes_per_activation=ill["bytes_per_activation"])
    return v, comm


def essay_question_numbers() -> dict:
    """The numbers of the essay's closing claims, with the assumptions they need (keys as in `seed --json`)."""
    ex = essay_example()
    v, comm = _essay_values()
    m = v["minutes_per_day"]
    bstar = get_formula("break_even_batch").evaluate(v)
    swing = DAILY_SWING
    alone = evaluate_step(v)
    nvlink_bw = evaluate_step(dict(comm, link_bandwidth_bytes_per_s=ESSAY_NVLINK_BYTES_PER_S))
    nvlink_lat = evaluate_step(dict(comm, link_bandwidth_bytes_per_s=ESSAY_NVLINK_BYTES_PER_S,
                                    link_latency_s=ex.illustrative["link_latency_s"]))
    power = dict(v, power_w=ESSAY_H100_POWER_W)
    human = HUMAN_TOKENS_PER_S
    brain = {"total_params": BRAIN_PARAMETER_BYTES, "bytes_per_weight": 1.0, "tokens_per_s_per_user": human,
             "eta_bw": 1.0, "hbm_capacity_bytes": 80e9}
    brain_bw = get_formula("bandwidth_for_batch1_speed").evaluate(brain)
    h100s_to_hold = get_formula("chips_to_hold_model").evaluate(brain)
    return {
        "single_user_cost_ratio": get_formula("single_user_cost_ratio").evaluate(v),
        "essay_single_user_cost_ratio": ex.essay_break_even_claim,
        "users_for_24h_service": users_for_24h_service(ex.essay_concurrency, m, swing),
        "users_for_24h_service_at_break_even": users_for_24h_service(bstar, m, swing),
        "daily_swing_implied_by_essay_1m_users": ESSAY_USERS_FOR_24H * m / (1440 * ex.essay_concurrency),
        "batch1_ms_without_comm": alone.step_s * 1e3,
        "batch1_ms_with_nvlink": nvlink_bw.step_s * 1e3,
        "batch1_ms_with_nvlink_and_hop_latency": nvlink_lat.step_s * 1e3,
        "energy_j_per_token_batch1": evaluate_step(power).energy_j_per_token,
        "energy_j_per_token_at_break_even": evaluate_step(dict(power, batch=bstar)).energy_j_per_token,
        "brain_bandwidth_needed_bytes_per_s": brain_bw,
        "brain_energy_j_per_token": BRAIN_POWER_W / human,
        "essay_h100s_for_brain_bandwidth": brain_bw / v["hbm_bandwidth_bytes_per_s"],
        "h100s_to_hold_brain_parameters": h100s_to_hold,
        "essay_question_assumed": {**ASSUMED, "nvlink_bytes_per_s": ESSAY_NVLINK_BYTES_PER_S,
                                   "hop_latency_s": ex.illustrative["link_latency_s"],
                                   "h100_power_w": ESSAY_H100_POWER_W, "brain_parameter_bytes": BRAIN_PARAMETER_BYTES,
                                   "brain_power_w": BRAIN_POWER_W, "h100_capacity_bytes": 80e9},
    }


def essay_question_lines(n: dict) -> list[str]:
    """The seed's text block for these numbers (the CLI prints it)."""
    a = n["essay_question_assumed"]
    return [
        "The essay's closing claims",
        f"  * a single user pays {n['single_user_cost_ratio']:.0f}x a batched provider per token (B* itself), not the "
        f"essay's {n['essay_single_user_cost_ratio']:.0f}x: its 1000 is the raw FLOP:byte ratio F/W, and two FLOPs per "
        f"parameter halve it.",
        f"  * 24-hour service: {n['users_for_24h_service']:,.0f} users hold 1000 concurrent at the trough "
        f"(swing {a['daily_swing']:g}; {n['users_for_24h_service_at_break_even']:,.0f} at C = B*); the essay's 1M "
        f"implies a swing of {n['daily_swing_implied_by_essay_1m_users']:.1f}.",
        f"      {a['daily_swing_note']}.",
        f"  * NVLink at ~1 TB/s: batch 1 goes {n['batch1_ms_without_comm']:.2f} -> "
        f"{n['batch1_ms_with_nvlink']:.2f} ms from bandwidth alone, "
        f"{n['batch1_ms_with_nvlink_and_hop_latency']:.2f} ms with {a['hop_latency_s'] * 1e6:g} us per hop "
        "(assumed): hop latency, not link bandwidth, is what hurts batch 1.",
        f"  * energy at {a['h100_power_w']:.0f} W per H100: {n['energy_j_per_token_batch1']:.0f} J/token at batch 1, "
        f"{n['energy_j_per_token_at_break_even']:.2f} J/token at B*.",
        f"  * the brain's ~100 TB at {a['human_tokens_per_s']:.1f} tokens/s (assumed) needs "
        f"{n['brain_bandwidth_needed_bytes_per_s'] / 1e12:,.0f} TB/s at batch 1: "
        f"{n['essay_h100s_for_brain_bandwidth']:.0f} essay H100s of bandwidth, "
        f"{n['h100s_to_hold_brain_parameters']:,.0f} of 80 GB to hold it; the brain: 20 W, "
        f"{n['brain_energy_j_per_token']:.0f} J/token.",
    ]
