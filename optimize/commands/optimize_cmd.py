"""`inferonomics optimize | pareto | users`: the cheapest deployment, the cost-speed frontier and the user
base under a latency promise (`sweep` is sweep_cmd's). SciPy and matplotlib are imported inside run functions."""

from __future__ import annotations

import argparse
import math
import sys

from inferonomics.symbolic.errors import InvalidInputError

from inferonomics.optimize.commands import _table as T
from inferonomics.optimize.commands._io import (ensure_writable, fraction_or_percent, image_format, nonnegative_float,
                                               positive_float, positive_int, print_json, token_count, write_atomic)
from inferonomics.optimize.objectives import OBJECTIVES, UNPRICED

EXIT_INFEASIBLE = 3


def _names(text: str) -> list[str]:
    out = [x.strip() for x in text.split(",") if x.strip()]
    if not out:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of names, got {text!r}")
    return out


#: TP degrees: no scale-up domain comes near this
MAX_TP = 1 << 20


def _ints(text: str) -> list[int]:
    try:
        out = [positive_int(x) for x in _names(text)]
    except argparse.ArgumentTypeError:
        out = []
    if not out or max(out) > MAX_TP:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of positive integers up to {MAX_TP:,}, got {text!r}")
    return out


def _pairs(items: list[str] | None, flag: str, cast) -> dict[str, float]:
    """``["h100-sxm=2.5,b200=5", "mi300x=2"]`` -> {name: value}; a bare number applies to every hardware ("*")."""
    out: dict[str, float] = {}
    for item in items or ():
        for part in item.split(","):
            key, sep, text = part.partition("=")
            if not sep:
                key, text = "*", key
            try:
                out[key.strip()] = cast(text.strip())
            except argparse.ArgumentTypeError as exc:
                raise InvalidInputError(flag, str(exc).replace("expected ", ""), part) from None
    return out


def _common(p: argparse.ArgumentParser, *, slo_required: bool = False) -> None:
    p.add_argument("--model", required=True, help="catalog model (e.g. llama3.1-70b)")
    p.add_argument("--hardware", required=True, type=_names, help="catalog hardware, comma-separated")
    p.add_argument("--precision", type=_names, default=None,
                   help="weight precisions to try, comma-separated (default: the model's)")
    p.add_argument("--kv-precision", type=_names, default=None,
                   help="KV-cache precisions to try (default: the model's)")
    p.add_argument("--tp", type=_ints, default=None,
                   help="TP degrees to try (default: powers of two up to each hardware's scale-up domain)")
    workload_lengths(p)
    p.add_argument("--tpot-slo-ms", type=positive_float, required=slo_required, help="time per output token SLO, ms")
    p.add_argument("--ttft-slo-ms", type=positive_float, help="time to first token SLO, ms")
    p.add_argument("--slo-confidence", type=float, default=None, metavar="P",
                   help="meet the SLOs with probability P (0 < P < 1) under the calibration's prediction intervals: "
                        "each predicted TPOT/TTFT is taken at its pessimistic end (0.9: the 90th percentile of "
                        "measured/predicted on the fit's serving rows); default: the prediction itself")
    p.add_argument("--price-usd-per-hour", action="append", metavar="H=USD",
                   help="price per chip-hour per hardware (H=USD, comma-separated or repeated; a bare number "
                        "applies to all); the catalog has no prices. Without any, costs are counted in chips "
                        "and chip-hours and every $ field is null")
    p.add_argument("--max-batch", type=positive_int, default=4096, help="cap on sequences per replica (default 4096)")
    p.add_argument("--decode-only", action="store_true",
                   help="steps carry no prompt tokens (default: continuous batching, B isl/osl per step)")
    overlap_flag(p)
    p.add_argument("--activation-reserve", type=nonnegative_float, default=0.05,
                   help="fraction of HBM kept for activations (default 0.05)")
    p.add_argument("--framework-reserve-gb", type=nonnegative_float, default=2.0,
                   help="HBM per chip kept for the framework, GB (default 2)")
    p.add_argument("--calibration", metavar="FILE", help="calibration file (default: the shipped one)")
    p.add_argument("--ideal", action="store_true", help="ideal model: efficiencies 1, no overheads")
    _backend(p)
    p.add_argument("--json", action="store_true", help="print JSON")


def workload_lengths(p, default: float | None = 1024.0, **kw) -> None:
    """``--isl``/``--osl``, one spelling in every command (``--prompt-len``/``--output-len`` are aliases)."""
    d = "" if default is None else f" (default {default:g})"
    p.add_argument("--isl", "--prompt-len", dest="isl", type=kw.get("type", token_count), default=default,
                   help=f"input (prompt) tokens per request{d}{kw.get('when', '')}")
    p.add_argument("--osl", "--output-len", dest="osl", type=kw.get("type", token_count), default=default,
                   help=f"output tokens per request{d}{kw.get('when', '')}")


def overlap_flag(p, dest: str = "policy") -> None:
    """``--overlap`` (alias ``--policy``): one roofline per step, or one per operator class."""
    p.add_argument("--overlap", "--policy", dest=dest, choices=("step", "per-op"), default="step",
                   help="roofline overlap policy: one max(compute, memory) per step, or one per operator class "
                        "(default step)")


def _backend(p: argparse.ArgumentParser) -> None:
    from inferonomics.optimize.backends import BACKENDS

    p.add_argument("--backend", choices=tuple(BACKENDS), default="trtllm",
                   help="serving backend of the calibrated serving model (default trtllm): calibrated "
                        "deployments (catalog model with an architecture, catalog hardware, not --ideal) take TPOT "
                        "and TTFT from it, exactly as `inferonomics validate` does; its fixed per-step overhead "
                        "is the backend's fitted one. Cards the backend does not run on are left out (`skipped`)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("optimize", help="the cheapest deployment under latency, memory and demand constraints",
                       description="Cheapest deployment: hardware x precision x TP x batch x replicas, exactly.")
    _common(p, slo_required=True)
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
    p.add_argument("--fleet", choices=("auto", "homogeneous", "mixed"), default="auto",
                   help="mixed: a MILP over replicas per option (auto: mixed when --max-chips is given)")
    p.set_defaults(func=run_optimize)

    p = sub.add_parser("pareto", help="frontier of tokens/s per user against $ per million tokens")
    _common(p)
    p.add_argument("-o", "--output", metavar="CSV", help="write the whole frontier as CSV")
    p.add_argument("--csv", action="store_true", help="print the whole frontier as CSV (default: a short table)")
    p.add_argument("--rows", type=positive_int, default=12,
                   help="rows of the text table, spread along the frontier (default 12)")
    p.add_argument("--plot", metavar="PNG", help="write a plot of the frontier (.png or .svg)")
    p.set_defaults(func=run_pareto)

    p = sub.add_parser("users", help="minimum user base at which a deployment under the SLO reaches a utilization")
    _common(p, slo_required=True)
    p.add_argument("--target-utilization", type=fraction_or_percent, default=0.5,
                   help="share of peak FLOP/s to reach: a fraction (0.5) or a percent (50%%) (default 0.5)")
    p.add_argument("--minutes-per-day", type=positive_float, default=10.0,
                   help="active minutes per user per day (default 10)")
    p.add_argument("--mean-to-trough", type=positive_float, default=1.0,
                   help="mean over trough concurrency of the day: the replica must stay busy at the trough (default 1)")
    p.set_defaults(func=run_users)


# -- building a problem from flags --------------------------------------------------------------------


def _space(args, need_prices: bool, serving: bool = True):
    from inferonomics.optimize.space import build_space
    from inferonomics.symbolic import catalog

    if args.ideal and args.calibration:
        raise InvalidInputError("--ideal", "not together with --calibration")
    prices = _pairs(getattr(args, "price_usd_per_hour", None), "--price-usd-per-hour", positive_float)
    if "*" in prices:
        every = prices.pop("*")
        prices = {**{h: every for h in args.hardware}, **prices}
    precisions = args.precision or [catalog.model(args.model).weight_precision]
    space = build_space(args.model, args.hardware, precisions, kv_precisions=args.kv_precision, tp=args.tp,
                        prices=prices, calibration=args.calibration, ideal=args.ideal,
                        backend=getattr(args, "backend", "trtllm"), serving=serving)
    return space


def _problem(args, space, **kw):
    from inferonomics.optimize.constraints import MemoryReserve, Workload
    from inferonomics.optimize.solver import Problem

    wl = Workload(args.isl, args.osl, mixed=not args.decode_only, policy=args.policy)
    reserve = MemoryReserve(args.activation_reserve, args.framework_reserve_gb * 1e9)
    if not args.activation_reserve < 1:
        raise InvalidInputError("--activation-reserve", "a fraction below 1", args.activation_reserve)
    tpot_f, ttft_f, note = _pessimism(args)
    ms = lambda x, f: None if x is None else x / 1e3 / f  # noqa: E731
    if note:
        kw["notes"] = tuple(kw.get("notes", ())) + (note,)
    return Problem(space, wl, tpot_slo_s=ms(args.tpot_slo_ms, tpot_f), ttft_slo_s=ms(args.ttft_slo_ms, ttft_f),
                   reserve=reserve, max_batch=args.max_batch, **kw)


def _pessimism(args) -> tuple[float, float, str]:
    """Factors by which predicted TPOT and TTFT are taken pessimistically for ``--slo-confidence`` (the SLO is
    divided by them), the largest over the cards' calibrations, and a note saying so."""
    c = getattr(args, "slo_confidence", None)
    if c is None:
        return 1.0, 1.0, ""
    if not (math.isfinite(c) and 0 < c < 1):
        raise InvalidInputError("--slo-confidence", "a probability strictly between 0 and 1", c)
    if getattr(args, "ideal", False):
        raise InvalidInputError("--slo-confidence", "a calibrated model (the ideal one has no intervals): drop --ideal")
    from inferonomics.optimize.calibration import calibration_for
    from inferonomics.optimize.calibration import intervals as I

    cals = [calibration_for(h, args.calibration)[0] for h in args.hardware]
    f = [max((I.pessimistic_factor(cal.intervals[k], c) for cal in cals if k in cal.intervals), default=1.0)
         for k in ("serving_tpot", "serving_ttft")]
    return f[0], f[1], (f"SLOs met with probability {c:g} under the calibration's prediction intervals: predicted "
                        f"TPOT taken x{f[0]:.3f}, TTFT x{f[1]:.3f}")


#: the largest fleet demand taken, tokens/s: 1e15 is 100,000 tokens/s for each of 10 billion people; beyond
#: it replica counts leave the integers numpy and floats count exactly
MAX_DEMAND_TOKENS_PER_S = 1e15


def _demand(args):
    from inferonomics.optimize.constraints import Demand

    if args.demand_tokens_per_s is not None and args.users is not None:
        raise InvalidInputError("--users", "not together with --demand-tokens-per-s (give one demand)")
    if args.demand_tokens_per_s is not None:
        if args.minutes_per_day is not None:
            raise InvalidInputError("--minutes-per-day", "only with --users")
        demand, flag = Demand(args.demand_tokens_per_s, f"{args.demand_tokens_per_s:g} tokens/s given"), \
            "--demand-tokens-per-s"
    elif args.users is not None:
        if args.minutes_per_day is None:
            raise InvalidInputError("--users", "with --minutes-per-day")
        if args.minutes_per_day > 1440:
            raise InvalidInputError("--minutes-per-day", "at most 1440", args.minutes_per_day)
        demand, flag = Demand.from_users(args.users, args.minutes_per_day, peak_to_mean=args.peak_to_mean,
                                         tokens_per_active_minute=args.tokens_per_active_minute), "--users"
    else:
        return None
    if not demand.tokens_per_s <= MAX_DEMAND_TOKENS_PER_S:
        raise InvalidInputError(flag, f"a demand of at most {MAX_DEMAND_TOKENS_PER_S:g} tokens/s",
                                f"{demand.tokens_per_s:g} tokens/s")
    return demand


def _objective(args, problem):
    """--objective, or the default: fleet $/h with prices, chips without; a problem priced for some cards and not
    others is refused (solver.check_prices), as is a budget without prices."""
    from inferonomics.optimize.solver import check_prices

    priced = check_prices(problem, required=args.budget_usd_per_hour is not None)
    name = args.objective or ("usd_per_hour" if priced else "chips")
    if not priced and name in UNPRICED:
        raise InvalidInputError("--objective", f"{UNPRICED[name]} without prices (or --price-usd-per-hour for "
                                f"every hardware)", name)
    return name


def run_optimize(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from inferonomics.optimize.objectives import objective as get_objective
    from inferonomics.optimize.solver import solve

    demand = _demand(args)
    limits = {k: int(v) for k, v in _pairs(args.max_chips, "--max-chips", positive_int).items()}
    if "*" in limits:
        raise InvalidInputError("--max-chips", "H=N for a named hardware", limits["*"])
    problem = _problem(args, _space(args, True), demand=demand, budget_usd_per_hour=args.budget_usd_per_hour,
                       max_chips=limits or None, fleet=args.fleet)
    name = _objective(args, problem)
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
    head = ["replicas", "TP", "hardware", "precision", "batch", "max batch", "TPOT ms", "TTFT ms", "tokens/s",
            "utilization"] + (["$/h"] if priced else [])
    rows = [[p.replicas, p.tp, p.hardware, p.precision, p.batch, p.batch_max, f"{p.step_s * 1e3:.2f}",
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
    lines += [f"  binding: {b}" for b in res.binding]
    lines += [f"  note: {n}" for n in res.notes]
    return "\n".join(lines)


def run_pareto(args: argparse.Namespace) -> int:
    from inferonomics.optimize.pareto import plot_png, to_csv
    from inferonomics.optimize.pareto import frontier as make_frontier

    if args.output:
        ensure_writable(args.output, "-o")  # before the search, not after it
    if args.plot:
        fmt = image_format(args.plot, "--plot")
        ensure_writable(args.plot, "--plot")
    space = _space(args, True)
    front = make_frontier(_problem(args, space, objective="usd_per_mtok"))
    if args.output:
        write_atomic(args.output, to_csv(front), "-o")
    if args.plot:
        slo = f", TPOT <= {args.tpot_slo_ms:g} ms" if args.tpot_slo_ms else ""
        write_atomic(args.plot, plot_png(front, f"{args.model}: cost vs speed per user{slo}", fmt), "--plot")
    if args.json:
        print_json({"points": [p.__dict__ for p in front.points], "candidates": front.candidates,
                    "seconds": front.seconds, "reason": front.reason, "priced": front.priced,
                    "skipped": list(space.skipped)})
    elif args.csv:
        print(to_csv(front), end="")
    elif front.points:
        print(_pareto_text(front, args.rows, args.output)
              + "".join(f"\nskipped {x}" for x in space.skipped))
    if not front.points:
        print(f"inferonomics pareto: infeasible: {front.reason}", file=sys.stderr)
        return EXIT_INFEASIBLE
    return 0


def _spread(n: int, k: int) -> list[int]:
    """``k`` indices spread evenly over ``range(n)``, first and last included."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)}) if k > 1 else [0]


def _pareto_text(front, rows: int, written: str | None) -> str:
    pts = front.points
    cost_head = "$/Mtok" if front.priced else "chip-h/Mtok"
    table = T.table(["hardware", "precision", "TP", "batch", "TPOT ms", "tokens/s/user", cost_head, "tokens/s",
                     "utilization"],
                    [[p.hardware, p.precision, p.tp, p.batch, f"{p.step_ms:.2f}", f"{p.tokens_per_s_per_user:.1f}",
                      T.usd(p.cost_usd_per_million_tokens) if front.priced
                      else f"{p.chip_hours_per_million_tokens:.4g}",
                      T.num(p.tokens_per_s), T.pct(p.utilization)] for p in (pts[i] for i in _spread(len(pts), rows))])
    shown = min(rows, len(pts))
    tail = (f"{shown} of {len(pts)} frontier points ({front.candidates:,} candidates), cheapest first"
            + ("" if shown == len(pts) else "; all of them with --csv or -o FILE")
            + (f"; written to {written}" if written else ""))
    note = "" if front.priced else "\nno prices given (--price-usd-per-hour): cost in chip-hours per million tokens"
    return f"{table}\n{tail}{note}"


def run_users(args: argparse.Namespace) -> int:
    from inferonomics.optimize.solver import users_at_utilization

    if not args.target_utilization <= 1:
        raise InvalidInputError("--target-utilization", "a fraction in (0, 1]", args.target_utilization)
    if args.minutes_per_day > 1440:
        raise InvalidInputError("--minutes-per-day", "at most 1440", args.minutes_per_day)
    problem = _problem(args, _space(args, False), objective="usd_per_mtok")
    ub = users_at_utilization(problem, args.target_utilization, args.minutes_per_day, args.mean_to_trough)
    if args.json:
        print_json(ub.as_json())
    elif ub.users is not None:
        p = ub.point
        print(f"{ub.users:,.0f} users ({ub.concurrency} concurrent even at the daily trough on {p.tp} x {p.hardware} "
              f"at {p.precision}, {p.step_s * 1e3:.2f} ms/token, utilization {T.pct(p.utilization)})")
    if ub.users is None:
        print(f"inferonomics users: infeasible: {ub.reason}", file=sys.stderr)
        return EXIT_INFEASIBLE
    return 0
