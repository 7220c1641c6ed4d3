"""The derivation document's closing section, "Can the imbalance be engineered away?" (issue 16): the
inverse closed forms evaluated on the essay's H100, SRAM machines, quantization, the catalog's trend and the
brain, and the answer those numbers give. Every value comes from a ClosedForm record or the step model."""

from __future__ import annotations

import math

from inferonomics.symbolic import catalog
from inferonomics.symbolic.document import Example, Section
from inferonomics.symbolic.essay import essay_example
from inferonomics.symbolic.essay_question import essay_question_numbers
from inferonomics.symbolic.formulas import get_formula

FORMULAS = ("bandwidth_for_break_even_batch", "bandwidth_for_batch1_speed", "chips_to_hold_model",
            "min_user_base_vs_balance", "single_user_cost_ratio")
#: model sizes the section holds in SRAM, at 8-bit weights (round figures: a 70B, a 400B, the essay's 1.6T)
SIZES = (("70B", 7e10), ("400B", 4e11), ("1.6T", 1.6e12))
SERVER_CHIPS = 8


def _g(x: float, unit: str = "") -> str:
    text = f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.3g}"
    return f"{text} {unit}".strip()


def _rows() -> tuple[list[tuple[str, str, str]], dict]:
    """The table's rows, and the essay-question numbers the prose quotes."""
    v = dict(essay_example().values)
    hold = get_formula("chips_to_hold_model")
    need = get_formula("bandwidth_for_break_even_batch")
    bstar = get_formula("break_even_batch")
    rows = [
        ("bandwidth for B* = 1 on the essay's H100", "bandwidth_for_break_even_batch",
         _g(need.evaluate(dict(v, batch=1.0)) / 1e12, "TB/s")),
        ("... as a multiple of its 3 TB/s", "bandwidth_for_break_even_batch",
         _g(need.evaluate(dict(v, batch=1.0)) / v["hbm_bandwidth_bytes_per_s"])),
        ("single user's cost over a provider's", "single_user_cost_ratio",
         _g(get_formula("single_user_cost_ratio").evaluate(v))),
    ]
    sram = {name: catalog.hardware(name).hbm_capacity_bytes for name in ("groq-lpu", "cerebras-wse3")}
    for label, n in SIZES:
        p = {"total_params": n, "bytes_per_weight": 1.0}
        rows += [
            (f"{label} at 8 bits: 230 MB Groq chips to hold it", "chips_to_hold_model",
             _g(math.ceil(hold.evaluate(dict(p, hbm_capacity_bytes=sram["groq-lpu"]))))),
            (f"{label} at 8 bits: 44 GB Cerebras wafers to hold it", "chips_to_hold_model",
             _g(math.ceil(hold.evaluate(dict(p, hbm_capacity_bytes=sram["cerebras-wse3"]))))),
            (f"{label} at 8 bits: SRAM per chip on one {SERVER_CHIPS}-chip server", "chips_to_hold_model",
             _g(n / SERVER_CHIPS / 1e9, "GB")),
        ]
    h = catalog.hardware("h100-sxm")
    W = h.hbm_bandwidth_bytes_per_s
    for label, F, bw in (("bf16 weights, bf16 compute", h.peak_flop_per_s["bf16"], 2.0),
                         ("fp8 weights, fp8 compute", h.peak_flop_per_s["fp8"], 1.0),
                         ("4-bit weights, bf16 compute", h.peak_flop_per_s["bf16"], 0.5)):
        q = {"peak_flop_per_s": F, "bytes_per_weight": bw, "hbm_bandwidth_bytes_per_s": W, "batch": 1.0}
        rows.append((f"H100 SXM B*, {label}", "break_even_batch", _g(bstar.evaluate(q))))
        rows.append((f"H100 SXM bandwidth for B* = 1, {label}", "bandwidth_for_break_even_batch",
                     _g(need.evaluate(q) / 1e12, "TB/s")))
    e = essay_question_numbers()
    rows += [
        ("the brain's 100 TB at 3.3 tokens/s: bandwidth", "bandwidth_for_batch1_speed",
         _g(e["brain_bandwidth_needed_bytes_per_s"] / 1e12, "TB/s")),
        ("... essay H100s of bandwidth / of 80 GB to hold it", "chips_to_hold_model",
         f"{_g(e['essay_h100s_for_brain_bandwidth'])} / {_g(e['h100s_to_hold_brain_parameters'])}"),
        ("energy per token: H100s at batch 1 / at B* / the brain", "",
         f"{_g(e['energy_j_per_token_batch1'])} / {_g(e['energy_j_per_token_at_break_even'])} / "
         f"{_g(e['brain_energy_j_per_token'])} J"),
    ]
    return rows, e


def engineered_away_section() -> Section:
    from .memory_wall import trend

    rows, e = _rows()
    a = e["essay_question_assumed"]
    groq = catalog.hardware("groq-lpu")
    t = trend("bf16")
    g = t["fit"]["flop_per_byte"]
    lo, hi = g["growth_per_year_95"]
    ahead = t["extrapolation"][-1]
    paragraphs = (
        "The essay closes by asking whether the imbalance between arithmetic and memory bandwidth can be "
        "cheaply engineered away. The inverse forms above answer in the bandwidth, capacity and users a system "
        "would need; the table evaluates them. Assumptions: dense models, weights only (no KV cache), ideal "
        "rates, no communication, and 8-bit weights where not stated; SRAM figures are Groq's 230 MB per chip "
        "and Cerebras's 44 GB per wafer from the catalog; the brain's figures are the essay's (100 TB of "
        "parameters, 20 W) and its speed, 3.3 tokens/s, is an assumed human speaking rate.",
        "Bandwidth. To make batch 1 as efficient as a full batch, bandwidth must rise to F b_w/2: "
        f"{e['single_user_cost_ratio']:,.0f} times the essay's H100. SRAM machines buy that bandwidth "
        f"({groq.hbm_bandwidth_bytes_per_s / 1e12:,.0f} TB/s per Groq chip, a balance of "
        f"{groq.ridge('fp16'):.1f} FLOP per byte) but pay in capacity: hundreds to thousands of chips just to "
        "hold a large model, so the cost moves from idle arithmetic to idle silicon area. Compute-in-memory is "
        "the same trade taken further: it raises bandwidth per byte stored, and every byte of a model must "
        "still be stored once per replica.",
        "Quantization. The break-even batch is proportional to F b_w. Shrinking the weights alone (4-bit "
        "weights computed in bf16) divides it by four; shrinking weights and arithmetic together (fp8 on an "
        "fp8 chip) leaves it where bf16 had it. Quantization moves the wall; no precision removes it.",
        f"Trend. Across the catalog's {t['fit']['n_cards']} off-chip-memory cards of "
        f"{t['fit']['years'][0]}-{t['fit']['years'][1]}, the balance F/W grew {g['growth_per_year']:.2f}x a "
        f"year (95 % interval {lo:.2f}x to {hi:.2f}x): "
        + (f"the interval allows at most a {100 * (1 - lo):.0f} % fall a year, far from closing the wall. "
           if lo < 1 else "the wall is widening. ")
        + "Extrapolated to "
        + f"{ahead['year']}, a bf16 break-even batch of {ahead['break_even_batch']:,.0f} "
        f"({ahead['break_even_batch_95'][0]:,.0f}-{ahead['break_even_batch_95'][1]:,.0f}) and a user base of "
        f"{ahead['min_user_base']:,.0f} at 10 minutes a day.",
        f"The brain. Reading 100 TB once per token at a human speed needs "
        f"{e['brain_bandwidth_needed_bytes_per_s'] / 1e12:,.0f} TB/s, the bandwidth of "
        f"{e['essay_h100s_for_brain_bandwidth']:,.0f} of the essay's H100s, and holding it needs "
        f"{e['h100s_to_hold_brain_parameters']:,.0f} of them: "
        f"{e['h100s_to_hold_brain_parameters'] * a['h100_power_w'] / 1e3:,.0f} kW of GPUs at batch 1 against "
        f"{a['brain_power_w']:.0f} W. Whatever the brain does, it does not stream its parameters past its arithmetic "
        "once per token.",
        "The answer the numbers give: not cheaply. Every route trades the idle arithmetic for something else "
        "(bandwidth that costs capacity, capacity that costs chips, fewer bits that scale the wall without "
        "removing it), and the hardware trend does not close the gap. Serving many users at once remains the cheap way "
        "to use a chip, so inference keeps its economies of scale.",
    )
    table = Example("values", "Values of the inverse forms (ideal model, weights only).", tuple(rows))
    return Section("Can the imbalance be engineered away?", paragraphs, FORMULAS, table)
