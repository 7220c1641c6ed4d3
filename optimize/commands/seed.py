"""`inferonomics seed`: the essay reproduced end to end, with the closed forms and our refinements."""

from __future__ import annotations

import argparse

from inferonomics.symbolic.essay import CLAIMS
from inferonomics.symbolic.formulas import get_formula

from inferonomics.optimize.essay_numbers import seed_numbers as seed_numbers  # the numbers, for tests too

from ._io import print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("seed", help="reproduce the essay's numbers and show where the derivation refines them",
                       description="Reproduce the essay end to end on its embedded example (no arguments needed).")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.add_argument("--calibrated", action="store_true",
                   help="also the essay's numbers under a card's calibration: the general closed forms and the step "
                        "model with the fitted efficiencies and fixed costs (the essay's are their ideal limit)")
    p.add_argument("--hardware", default=None,
                   help="the card whose calibration --calibrated uses (default h100-sxm, the essay's card)")
    p.set_defaults(func=run)



def _deployment_line(label: str, d: dict) -> str:
    if d["status"] != "optimal":
        return f"  * {label}: infeasible: {d['reason']}"
    return (f"  * {label}: TP {d['tp']} x {d['replicas']} replica(s), batch {d['batch']}, {d['step_ms']:.1f} ms/token, "
            f"utilization {d['utilization']:.1%}, ${d['cost_usd_per_million_tokens']:.2f}/Mtok")


def _users_line(u: dict | None) -> str:
    if not u:
        return "      minimum user base at 50% utilization: not computed"
    if u["status"] != "optimal":
        return f"      minimum user base at 50% utilization: none ({u['reason']})"
    return (f"      minimum user base at 50% utilization: {u['min_user_base']:,.0f} users "
            f"({u['concurrency']} concurrent at 10 min/day)")


def _calibrated_lines(n: dict) -> list[str]:
    c = n["calibrated"]
    return [
        "Under a card's calibration (--calibrated): the same forms with the fitted efficiencies and fixed costs",
        f"  break-even batch B*    {c['break_even_batch']:.0f}        (ideal {n['break_even_batch']:.0f})",
        f"  step at batch 1        {c['step_ms_at_batch_1']:.1f} ms   (ideal: the weight reads, {n['memory_ms']:.1f} ms)",
        f"  utilization, batch 1   {c['utilization_at_batch_1']:.2%}     (ideal {n['utilization_at_batch_1']:.2%})",
        f"  utilization, batch 100 {c['utilization_at_batch_100']:.1%}      (ideal {n['utilization_at_batch_100']:.0%})",
        f"  user base at C = B*    {c['min_user_base_at_break_even']:,.0f}",
        f"  {c['calibration']}",
        "",
    ]


def run(args: argparse.Namespace) -> int:
    from inferonomics.symbolic.essay_question import essay_question_lines

    from inferonomics.symbolic.errors import InvalidInputError

    if args.hardware and not args.calibrated:
        raise InvalidInputError("--hardware", "only with --calibrated")
    n = seed_numbers()
    if args.calibrated:
        from inferonomics.optimize.essay_numbers import calibrated_numbers

        n["calibrated"] = calibrated_numbers(args.hardware or "h100-sxm")
    if args.json:
        print_json(n)
        return 0
    r = n["refinements"]
    f = {name: get_formula(name) for name in ("break_even_batch", "utilization", "min_user_base",
                                               "break_even_batch_with_kv", "critical_context",
                                               "latency_floor", "optimal_tp_degree")}
    lines = [
        "The essay, reproduced (1.6e12-parameter dense model, 8-bit weights, "
        "20 x H100 at ~3e15 FLOP/s and ~3 TB/s, TP 20)",
        "",
        f"  compute per token      {n['compute_ms']:.4f} ms   <- 2 N B / (t F)            [{CLAIMS['compute_ms']}]",
        f"  weight reads per token {n['memory_ms']:.2f} ms    <- N b_w / (t W)            [{CLAIMS['memory_ms']}]",
        f"  utilization, batch 1   {n['utilization_at_batch_1']:.2%}      <- {f['utilization'].plain()}",
        f"  utilization, batch 100 {n['utilization_at_batch_100']:.0%}        [{CLAIMS['utilization_at_batch_100']}]",
        f"  break-even batch B*    {n['break_even_batch']:.0f}        <- {f['break_even_batch'].plain()}",
        f"  minimum user base      {n['min_user_base']:,.0f}    <- {f['min_user_base'].plain()}  "
        "(C = 1000, m = 10 min/day, rho_tr = 1)",
        f"  user base at C = B*    {n['min_user_base_at_break_even']:,.0f}",
        "",
        "Where the derivation refines the essay",
        f"  * The essay counts 2 FLOPs per parameter (3.2e12 ops for 1.6e12), but its break-even "
        f"~{n['essay_break_even_batch']:.0f} is the raw FLOP:byte ratio F/W;",
        f"      2 FLOPs per weight byte make it B* = F b_w/(2W) = {n['break_even_batch']:.0f} "
        f"(at the H100's dense fp8 datasheet rate, 1.979e15 FLOP/s over 3.35 TB/s: "
        f"{n['break_even_batch_h100_datasheet_fp8']:.0f}; the essay's 3e15 is a round figure).",
        f"  * KV cache (assumed {r['assumed']['kv_bytes_per_token']:.0f} B/token, "
        f"{r['assumed']['n_kv_heads']:.0f} KV heads, context {r['assumed']['context_example']:.0f}): "
        f"at TP 8 B*_kv = {r['break_even_batch_with_kv_tp8']:.0f} and c* = {r['critical_context_tp8']:,.0f} tokens; "
        f"at TP 20 the heads are replicated {20 / r['assumed']['n_kv_heads']:g}x, c* = {r['critical_context']:,.0f}"
        + (f" and B*_kv = {r['break_even_batch_with_kv']:.0f}." if r["break_even_batch_with_kv"] is not None
           else ": decode is memory-bound at every batch (step policy)."),
        f"      B*_kv = {f['break_even_batch_with_kv'].plain()}   if {f['break_even_batch_with_kv'].condition_text[0]}",
        f"  * TP communication (assumed {r['assumed']['link_latency_s'] * 1e6:.0f} us per all-reduce hop, "
        f"{r['assumed']['n_layers']:.0f} layers, 2 all-reduces/layer): "
        f"batch-1 latency {r['latency_floor_ms_without_comm']:.2f} -> {r['latency_floor_ms_with_comm']:.2f} ms "
        "at t = 20;",
        f"      t* = {f['optimal_tp_degree'].plain()} = {r['optimal_tp_degree']:.1f}; "
        f"communication equals weight reads at t = {r['tp_comm_crossover']:.1f}.",
        "  * A fixed per-step overhead and achieved (not datasheet) rates: see `inferonomics evaluate --hardware`.",
        "",
        *essay_question_lines(n),
        "",
        f"Under a real latency promise ({n['slo_deployment']['assumed']['tpot_slo_ms']:.0f} ms per token, "
        f"illustrative ${n['slo_deployment']['assumed']['price_usd_per_chip_hour']:.2f}/chip-hour, not a quote)",
        _deployment_line("essay's assumptions", n["slo_deployment"]["essay_assumptions"]),
        _users_line(n["users_at_50pct"]["essay_assumptions"]),
        _deployment_line("with KV + TP comm", n["slo_deployment"]["refined"]),
        _users_line(n["users_at_50pct"]["refined"]),
        "",
        *(_calibrated_lines(n) if args.calibrated else []),
        "Every formula with its derivation: `inferonomics derive`.",
    ]
    print("\n".join(lines))
    return 0
