"""`inferonomics optimize`: the cheapest deployment under latency, memory, demand, budget and chip limits."""

from __future__ import annotations

import argparse
import sys

from inferonomics.symbolic.errors import InvalidInputError

from inferonomics.optimize.commands import _table as T
from inferonomics.optimize.commands._io import positive_float, positive_int, print_json
from inferonomics.optimize.commands.deploy_args import (EXIT_INFEASIBLE, demand_from_args, deployment_flags,
                                                        objective_from_args, pairs, problem_from_args,
                                                        space_from_args)
from inferonomics.optimize.commands.deploy_args import overlap_flag as overlap_flag  # evaluate's import
from inferonomics.optimize.objectives import OBJECTIVES
from inferonomics.optimize.space import shape_words


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("optimize", help="the cheapest deployment under latency, memory and demand constraints",
                       description="Cheapest deployment: hardware x precision x TP x batch x replicas, exactly.")
    deployment_flags(p, slo_required=True)
    g = p.add_argument_group("demand (one of)")
    g.add_argument("--demand-tokens-per-s", type=positive_float, help="fleet output tokens/s at peak")
    g.add_argument("--users", type=positive_float, help="registered users (with --minutes-per-day)")
    g.add_argument("--minutes-per-day", type=positive_float, help="active minutes per user per day")
    g.add_argument("--peak-to-mean", type=positive_float, default=1.0,
                   help="peak over mean concurrency of the day, with --users: the fleet is sized for the peak "
                        "(default 1)")
    g.add_argument("--tokens-per-active-minute", type=positive_float, default=600.0,
                   help="output tokens a user consumes per active minute (default 600, an assumption)")
    p.add_argument("--max-chips", action="append", metavar="H=N", help="chips available per hardware")
    p.add_argument("--budget-usd-per-hour", type=positive_float, help="fleet budget, $/h")
    p.add_argument("--objective", choices=tuple(OBJECTIVES), default=None,
                   help="what to minimize: usd_per_hour (fleet $/h for the demand; the default with prices), "
                        "usd_per_mtok, tokens_per_usd (maximized); without prices their chip counts: chips (the "
                        "default), chip_hours_per_mtok, tokens_per_chip_hour")
    p.add_argument("--mode", choices=("agg", "disagg", "auto"), default="agg",
                   help="agg: prefill and decode in one pool (default); disagg: a prefill pool and a decode pool "
                        "(TTFT = prefill + KV transfer, TPOT a decode-only step, the prefill pool sized to keep up); "
                        "auto: the better of both")
    g = p.add_argument_group("speculative decoding (tried on and off)")
    g.add_argument("--spec-acceptance", type=float, metavar="A",
                   help="probability a drafted token is accepted, in [0, 1); with --spec-draft-tokens")
    g.add_argument("--spec-draft-tokens", type=int, metavar="G", help="tokens drafted per sequence per round (>= 1)")
    g.add_argument("--spec-draft-cost", type=float, default=0.0, metavar="C",
                   help="one draft step's time in plain decode steps at the same batch (default 0: a drafter of "
                        "negligible cost; a draft model of N_d parameters: about N_d/N; MTP heads: a layer's share)")
    p.add_argument("--fleet", choices=("auto", "homogeneous", "mixed"), default="auto",
                   help="mixed: a MILP over replicas per option (auto: mixed when --max-chips is given)")
    p.set_defaults(func=run_optimize)


def run_optimize(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from inferonomics.optimize.objectives import objective as get_objective
    from inferonomics.optimize.solver import solve

    demand = demand_from_args(args)
    limits = {k: int(v) for k, v in pairs(args.max_chips, "--max-chips", positive_int).items()}
    if "*" in limits:
        raise InvalidInputError("--max-chips", "H=N for a named hardware", limits["*"])
    problem = problem_from_args(args, space_from_args(args, True), demand=demand,
                                budget_usd_per_hour=args.budget_usd_per_hour, max_chips=limits or None,
                                fleet=args.fleet, mode=args.mode, speculation=_speculation(args))
    name = objective_from_args(args, problem)
    if demand is None and get_objective(name).needs_demand:
        raise InvalidInputError("demand", "--demand-tokens-per-s D or --users U --minutes-per-day m")
    res = solve(replace(problem, objective=name))
    out = res.as_json()
    out["skipped"] = list(problem.space.skipped)  # also in notes, as "skipped ...": what was left out and why
    if demand is not None:
        out["demand_tokens_per_s"] = demand.tokens_per_s
        out["demand"] = demand.derivation
    if args.json:
        print_json(out)
    else:
        print(_text(res))
    if not res.optimal:
        print(f"inferonomics optimize: infeasible: {res.reason}", file=sys.stderr)
        return EXIT_INFEASIBLE
    return 0


def _text(res) -> str:
    if not res.optimal:
        return f"INFEASIBLE: {res.reason}"
    from inferonomics.optimize.objectives import objective as get_objective

    obj = get_objective(res.objective)
    value = T.usd(res.objective_value) if obj.priced and obj.needs_demand else T.num(res.objective_value)
    lines = [f"OPTIMAL: {obj.meaning} = {value} ({res.objective}), solved in {res.solve_ms:.0f} ms"]
    priced = res.cost_usd_per_hour is not None
    head = ["replicas", "shape", "hardware", "precision", "batch", "max batch", "TPOT ms", "TTFT ms", "tokens/s",
            "utilization"] + (["$/h"] if priced else [])
    rows = [[p.replicas, shape_label(p), p.hardware, p.precision, p.batch, p.batch_max, f"{p.step_s * 1e3:.2f}",
             f"{p.ttft_s * 1e3:.1f}", T.num(p.fleet_tokens_per_s), T.pct(p.utilization)]
            + ([T.usd(p.cost_usd_per_hour)] if priced else []) for p in res.fleet]
    lines.append(T.table(head, rows, indent="  "))
    tokens = res.tokens_per_s
    lines.append(f"  {res.chips} chips, {T.num(tokens)} tokens/s, "
                 f"{res.chips / (3600 * tokens) * 1e6:.4g} chip-hours per million tokens")
    if priced:
        cost = res.cost_usd_per_hour
        lines.append(f"  cost {T.usd(cost)}/h, {T.usd(cost / (3600 * tokens) * 1e6)} per million tokens")
    else:
        lines.append("  no prices given (--price-usd-per-hour): the objective counts chips, not dollars")
    if res.point is not None and res.point.mode == "disagg":
        f = dict(res.point.form)
        lines.append(f"  disaggregated: {f['prefill_workers']} prefill worker(s) of TP {f['prefill_tp']}"
                     + (f" x attention DP {f['prefill_attention_dp']}" if f["prefill_attention_dp"] > 1 else "")
                     + f" ({res.point.prefill_chips} chips) feed the {res.point.replicas} decode worker(s) above")
    lines += [f"  binding: {b}" for b in res.binding]
    lines += [f"  note: {n}" for n in res.notes]
    return "\n".join(lines)


def _speculation(args):
    """The Speculation the flags ask for (checked: one line, exit 2), or None."""
    from inferonomics.optimize.speculation import Speculation

    if args.spec_acceptance is None and args.spec_draft_tokens is None:
        if args.spec_draft_cost != 0.0:
            raise InvalidInputError("--spec-draft-cost", "with --spec-acceptance and --spec-draft-tokens")
        return None
    if args.spec_acceptance is None or args.spec_draft_tokens is None:
        raise InvalidInputError("--spec-acceptance" if args.spec_acceptance is None else "--spec-draft-tokens",
                                "given together with the other speculation flag")
    if args.ideal:
        raise InvalidInputError("--spec-acceptance", "the calibrated serving model (speculation is not in the "
                                "closed-form step model): drop --ideal")
    return Speculation(args.spec_acceptance, args.spec_draft_tokens, args.spec_draft_cost)


def shape_label(p) -> str:
    """A point's parallel shape in words (:func:`~inferonomics.optimize.space.shape_words`)."""
    return shape_words(p.tp, p.pp, p.attention_dp, p.ep, p.speculation)
