"""`inferonomics optimize | pareto | users | sweep`: the cheapest deployment, the cost-speed frontier, the user
base under a latency promise, and a vectorised grid. SciPy and matplotlib are imported inside run functions."""

from __future__ import annotations

import argparse
import math
import sys

from inferonomics.symbolic.errors import InvalidInputError

from inferonomics.optimize.commands._io import (MAX_TOKENS, ensure_writable, image_format, nonnegative_float,
                                               positive_float, positive_int, print_json, token_count, write_atomic)

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
    p.add_argument("--isl", type=token_count, default=1024.0, help="prompt tokens per request (default 1024)")
    p.add_argument("--osl", type=token_count, default=1024.0, help="output tokens per request (default 1024)")
    p.add_argument("--tpot-slo-ms", type=positive_float, required=slo_required, help="time per output token SLO, ms")
    p.add_argument("--ttft-slo-ms", type=positive_float, help="time to first token SLO, ms")
    p.add_argument("--slo-confidence", type=float, default=None, metavar="P",
                   help="meet the SLOs with probability P (0 < P < 1) under the calibration's prediction intervals: "
                        "each predicted TPOT/TTFT is taken at its pessimistic end (0.9: the 90th percentile of "
                        "measured/predicted on the fit's serving rows); default: the prediction itself")
    p.add_argument("--price-usd-per-hour", action="append", metavar="H=USD",
                   help="price per chip-hour per hardware (H=USD, comma-separated or repeated; a bare number "
                        "applies to all); the catalog has no prices")
    p.add_argument("--max-batch", type=positive_int, default=4096, help="cap on sequences per replica (default 4096)")
    p.add_argument("--decode-only", action="store_true",
                   help="steps carry no prompt tokens (default: continuous batching, B isl/osl per step)")
    p.add_argument("--policy", choices=("step", "per-op"), default="step", help="roofline overlap policy")
    p.add_argument("--activation-reserve", type=nonnegative_float, default=0.05,
                   help="fraction of HBM kept for activations (default 0.05)")
    p.add_argument("--framework-reserve-gb", type=nonnegative_float, default=2.0,
                   help="HBM per chip kept for the framework, GB (default 2)")
    p.add_argument("--calibration", metavar="FILE", help="calibration file (default: the shipped one)")
    p.add_argument("--ideal", action="store_true", help="ideal model: efficiencies 1, no overheads")
    _backend(p)
    p.add_argument("--json", action="store_true", help="print JSON")


def _backend(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("trtllm", "vllm", "sglang"), default="trtllm",
                   help="serving backend of the calibrated serving model (default trtllm): calibrated "
                        "deployments (catalog model with an architecture, catalog hardware, not --ideal) take TPOT "
                        "and TTFT from it, exactly as `inferonomics validate` does; its fixed per-step overhead "
                        "is the backend's fitted one")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("optimize", help="the cheapest deployment under latency, memory and demand constraints",
                       description="Cheapest deployment: hardware x precision x TP x batch x replicas, exactly.")
    _common(p, slo_required=True)
    g = p.add_argument_group("demand (one of)")
    g.add_argument("--demand-tokens-per-s", type=positive_float, help="fleet output tokens/s at peak")
    g.add_argument("--users", type=positive_float, help="registered users (with --minutes-per-day)")
    g.add_argument("--minutes-per-day", type=positive_float, help="active minutes per user per day")
    g.add_argument("--peak-to-mean", type=positive_float, default=1.0,
                   help="peak over mean concurrency of the day: the fleet is sized for the peak (default 1)")
    g.add_argument("--tokens-per-active-minute", type=positive_float, default=600.0,
                   help="output tokens a user consumes per active minute (default 600, an assumption)")
    p.add_argument("--max-chips", action="append", metavar="H=N", help="chips available per hardware")
    p.add_argument("--budget-usd-per-hour", type=positive_float, help="fleet budget, $/h")
    p.add_argument("--objective", choices=("usd_per_hour", "usd_per_mtok", "tokens_per_usd"), default="usd_per_hour")
    p.add_argument("--fleet", choices=("auto", "homogeneous", "mixed"), default="auto",
                   help="mixed: a MILP over replicas per option (auto: mixed when --max-chips is given)")
    p.set_defaults(func=run_optimize)

    p = sub.add_parser("pareto", help="frontier of tokens/s per user against $ per million tokens")
    _common(p)
    p.add_argument("-o", "--output", metavar="CSV", help="write the frontier as CSV")
    p.add_argument("--plot", metavar="PNG", help="write a plot of the frontier")
    p.set_defaults(func=run_pareto)

    p = sub.add_parser("users", help="minimum user base at which a deployment under the SLO reaches a utilization")
    _common(p, slo_required=True)
    p.add_argument("--target-utilization", type=positive_float, default=0.5,
                   help="fraction of peak FLOP/s (default 0.5)")
    p.add_argument("--minutes-per-day", type=positive_float, default=10.0, help="active minutes per user per day")
    p.add_argument("--mean-to-trough", type=positive_float, default=1.0,
                   help="mean over trough concurrency of the day: the replica must stay busy at the trough (default 1)")
    p.set_defaults(func=run_users)

    p = sub.add_parser("sweep", help="evaluate model x hardware x precision x TP x batch x context, vectorised")
    p.add_argument("--model", required=True)
    p.add_argument("--hardware", required=True, type=_names)
    p.add_argument("--precision", type=_names, default=None)
    p.add_argument("--kv-precision", type=_names, default=None)
    p.add_argument("--tp", type=_ints, default=[1, 2, 4, 8])
    p.add_argument("--batch", default="1:4096", help="A:B (every integer), A:B:N (N values) or a list")
    p.add_argument("--context", default="0:32768:64", help="A:B, A:B:N or a list")
    p.add_argument("--policy", choices=("step", "per-op"), default="step")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.add_argument("-o", "--output", metavar="CSV")
    p.add_argument("--summary", action="store_true", help="evaluate only; write no rows")
    p.add_argument("--calibration", metavar="FILE")
    p.add_argument("--ideal", action="store_true")
    p.add_argument("--backend", choices=("trtllm", "vllm", "sglang"), default="trtllm",
                   help="serving backend whose fitted per-step overhead the calibrated values take (default "
                        "trtllm); the grid itself uses the closed-form step model at each (batch, context)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_sweep)


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


def run_optimize(args: argparse.Namespace) -> int:
    from inferonomics.optimize.solver import solve

    demand = _demand(args)
    if demand is None and args.objective == "usd_per_hour":
        raise InvalidInputError("demand", "--demand-tokens-per-s D or --users U --minutes-per-day m")
    limits = {k: int(v) for k, v in _pairs(args.max_chips, "--max-chips", positive_int).items()}
    if "*" in limits:
        raise InvalidInputError("--max-chips", "H=N for a named hardware", limits["*"])
    res = solve(_problem(args, _space(args, True), demand=demand, objective=args.objective,
                         budget_usd_per_hour=args.budget_usd_per_hour, max_chips=limits or None, fleet=args.fleet))
    out = res.as_json()
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
    lines = [f"OPTIMAL ({res.objective} = {res.objective_value:.6g}), solved in {res.solve_ms:.1f} ms"]
    for p in res.fleet:
        lines.append(f"  {p.replicas} x {p.tp} x {p.hardware} at {p.precision}: batch {p.batch} (max {p.batch_max}), "
                     f"{p.step_s * 1e3:.2f} ms/token, TTFT {p.ttft_s * 1e3:.1f} ms, "
                     f"{p.fleet_tokens_per_s:,.0f} tokens/s, "
                     f"utilization {p.utilization:.1%}")
    cost = res.cost_usd_per_hour
    if cost is not None:
        lines.append(f"  cost ${cost:,.2f}/h, ${cost / (3600 * res.tokens_per_s) * 1e6:.4f} per million tokens")
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
    front = make_frontier(_problem(args, _space(args, True), objective="usd_per_mtok"))
    if args.output:
        write_atomic(args.output, to_csv(front), "-o")
    if args.plot:
        slo = f", TPOT <= {args.tpot_slo_ms:g} ms" if args.tpot_slo_ms else ""
        write_atomic(args.plot, plot_png(front, f"{args.model}: cost vs speed per user{slo}", fmt), "--plot")
    if args.json:
        print_json({"points": [p.__dict__ for p in front.points], "candidates": front.candidates,
                    "seconds": front.seconds, "reason": front.reason})
    elif not args.output:
        print(to_csv(front), end="")
    if not front.points:
        print(f"inferonomics pareto: infeasible: {front.reason}", file=sys.stderr)
        return EXIT_INFEASIBLE
    return 0


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
              f"at {p.precision}, "
              f"{p.step_s * 1e3:.2f} ms/token, utilization {p.utilization:.1%})")
    if ub.users is None:
        print(f"inferonomics users: infeasible: {ub.reason}", file=sys.stderr)
        return EXIT_INFEASIBLE
    return 0


#: rows a sweep CSV may hold per (hardware, precision, TP) slab: the file is built in memory (~100 B a row)
MAX_CSV_ROWS = 10_000_000


def run_sweep(args: argparse.Namespace) -> int:
    import numpy as np

    from inferonomics.optimize.constraints import Workload
    from inferonomics.optimize.sweep import csv_writer, parse_range, sweep

    batch = parse_range(args.batch, "--batch", minimum=1, maximum=MAX_TOKENS)
    context = parse_range(args.context, "--context", minimum=0, maximum=MAX_TOKENS)
    if args.output and not args.summary and batch.size * context.size > MAX_CSV_ROWS:
        raise InvalidInputError("-o", f"a grid of at most {MAX_CSV_ROWS:,} (batch x context) rows per "
                                "configuration for a CSV (use --summary for larger sweeps)",
                                f"{batch.size * context.size:,}")
    if args.output and not args.summary:
        ensure_writable(args.output, "-o")
    args.price_usd_per_hour = None
    space = _space(args, False, serving=False)
    dtype = np.float32 if args.dtype == "float32" else np.float64
    wl = Workload(mixed=False, policy=args.policy)
    if args.output and not args.summary:
        import io

        buf = io.StringIO()
        summ = sweep(space, None, batch, context, workload=wl, sink=csv_writer(buf, space.model), dtype=dtype)
        write_atomic(args.output, buf.getvalue(), "-o")
    else:
        summ = sweep(space, None, batch, context, workload=wl, dtype=dtype)
    out = {"configs": summ.configs, "seconds": summ.seconds, "configs_per_s": summ.configs_per_s,
           "best": summ.best, "worst": summ.worst, "dtype": args.dtype, "notes": list(space.notes)}
    if args.json:
        print_json(out)
    else:
        print(f"{summ.configs:,} configurations in {summ.seconds:.3f} s ({summ.configs_per_s / 1e6:.1f} M/s)")
    return 0 if math.isfinite(summ.seconds) else 2
