"""`inferonomics pareto`: the frontier of tokens/s per user against $ (or chip-hours) per million tokens."""

from __future__ import annotations

import argparse
import sys

from inferonomics.optimize.commands import _table as T
from inferonomics.optimize.commands._io import ensure_writable, image_format, positive_int, print_json, write_atomic
from inferonomics.optimize.commands.deploy_args import (EXIT_INFEASIBLE, deployment_flags, problem_from_args,
                                                        space_from_args)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pareto", help="frontier of tokens/s per user against $ per million tokens")
    deployment_flags(p)
    p.add_argument("-o", "--output", metavar="CSV", help="write the whole frontier as CSV")
    p.add_argument("--csv", action="store_true", help="print the whole frontier as CSV (default: a short table)")
    p.add_argument("--rows", type=positive_int, default=12,
                   help="rows of the text table, spread along the frontier (default 12)")
    p.add_argument("--plot", metavar="PNG", help="write a plot of the frontier (.png or .svg)")
    p.set_defaults(func=run_pareto)


def run_pareto(args: argparse.Namespace) -> int:
    from inferonomics.optimize.pareto import plot_png, to_csv
    from inferonomics.optimize.pareto import frontier as make_frontier

    if args.output:
        ensure_writable(args.output, "-o")  # before the search, not after it
    if args.plot:
        fmt = image_format(args.plot, "--plot")
        ensure_writable(args.plot, "--plot")
    space = space_from_args(args, True)
    front = make_frontier(problem_from_args(args, space, objective="usd_per_mtok"))
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
                    [[p.hardware, p.precision, p.shape, p.batch, f"{p.step_ms:.2f}", f"{p.tokens_per_s_per_user:.1f}",
                      T.usd(p.cost_usd_per_million_tokens) if front.priced
                      else f"{p.chip_hours_per_million_tokens:.4g}",
                      T.num(p.tokens_per_s), T.pct(p.utilization)] for p in (pts[i] for i in _spread(len(pts), rows))])
    shown = min(rows, len(pts))
    tail = (f"{shown} of {len(pts)} frontier points ({front.candidates:,} candidates), cheapest first"
            + ("" if shown == len(pts) else "; all of them with --csv or -o FILE")
            + (f"; written to {written}" if written else ""))
    note = "" if front.priced else "\nno prices given (--price-usd-per-hour): cost in chip-hours per million tokens"
    return f"{table}\n{tail}{note}"
