"""`inferonomics users`: the minimum user base at which a deployment under the SLOs reaches a utilization."""

from __future__ import annotations

import argparse
import sys

from inferonomics.symbolic.errors import InvalidInputError

from inferonomics.optimize.commands import _table as T
from inferonomics.optimize.commands._io import fraction_or_percent, positive_float, print_json
from inferonomics.optimize.space import shape_words
from inferonomics.optimize.commands.deploy_args import (EXIT_INFEASIBLE, deployment_flags, problem_from_args,
                                                        space_from_args)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="minimum user base at which a deployment under the SLO reaches a utilization")
    deployment_flags(p, slo_required=True)
    p.add_argument("--target-utilization", type=fraction_or_percent, default=0.5,
                   help="share of peak FLOP/s to reach: a fraction (0.5) or a percent (50%%) (default 0.5)")
    p.add_argument("--minutes-per-day", type=positive_float, default=10.0,
                   help="active minutes per user per day (default 10)")
    p.add_argument("--mean-to-trough", type=positive_float, default=1.0,
                   help="mean over trough concurrency of the day: the replica must stay busy at the trough (default 1)")
    p.set_defaults(func=run_users)


def run_users(args: argparse.Namespace) -> int:
    from inferonomics.optimize.user_base import users_at_utilization

    if not args.target_utilization <= 1:
        raise InvalidInputError("--target-utilization", "a fraction in (0, 1]", args.target_utilization)
    if args.minutes_per_day > 1440:
        raise InvalidInputError("--minutes-per-day", "at most 1440", args.minutes_per_day)
    problem = problem_from_args(args, space_from_args(args, False), objective="usd_per_mtok")
    ub = users_at_utilization(problem, args.target_utilization, args.minutes_per_day, args.mean_to_trough)
    if args.json:
        print_json(ub.as_json())
    elif ub.users is not None:
        p = ub.point
        if p is None:
            raise AssertionError("internal: a user base without its deployment point")
        print(f"{ub.users:,.0f} users ({ub.concurrency} concurrent even at the daily trough on {p.chips_per_replica} x {p.hardware} "
              f"({shape_words(p.tp, p.pp, p.attention_dp, p.ep)}) "
              f"at {p.precision}, {p.step_s * 1e3:.2f} ms/token, utilization {T.pct(p.utilization)})")
    if ub.users is None:
        print(f"inferonomics users: infeasible: {ub.reason}", file=sys.stderr)
        return EXIT_INFEASIBLE
    return 0

