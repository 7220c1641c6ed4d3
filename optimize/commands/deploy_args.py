"""Flags shared by `optimize`, `pareto` and `users` (and the lists `sweep` takes), and the deployment problem
built from them: the decision space, the workload, SLOs, demand and objective."""

from __future__ import annotations

import argparse
import math

from inferonomics.symbolic.errors import InvalidInputError

from inferonomics.optimize.commands._io import nonnegative_float, positive_float, positive_int, token_count
from inferonomics.optimize.objectives import UNPRICED

EXIT_INFEASIBLE = 3


def names(text: str) -> list[str]:
    out = [x.strip() for x in text.split(",") if x.strip()]
    if not out:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of names, got {text!r}")
    return out


#: TP degrees: no scale-up domain comes near this
MAX_TP = 1 << 20


def int_list(text: str) -> list[int]:
    try:
        out = [positive_int(x) for x in names(text)]
    except argparse.ArgumentTypeError:
        out = []
    if not out or max(out) > MAX_TP:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of positive integers up to {MAX_TP:,}, got {text!r}")
    return out


def pairs(items: list[str] | None, flag: str, cast) -> dict[str, float]:
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


def deployment_flags(p: argparse.ArgumentParser, *, slo_required: bool = False) -> None:
    p.add_argument("--model", required=True, help="catalog model (e.g. llama3.1-70b)")
    p.add_argument("--hardware", required=True, type=names, help="catalog hardware, comma-separated")
    p.add_argument("--precision", type=names, default=None,
                   help="weight precisions to try, comma-separated (default: the model's)")
    p.add_argument("--kv-precision", type=names, default=None,
                   help="KV-cache precisions to try (default: the model's)")
    p.add_argument("--tp", type=int_list, default=None,
                   help="TP degrees to try (default: powers of two up to each hardware's scale-up domain)")
    p.add_argument("--pp", type=int_list, default=None,
                   help="pipeline-parallel degrees to try (default: those of 1, 2, 4 dividing the layers; the "
                        "calibrated serving model only)")
    p.add_argument("--attention-dp", type=int_list, default=None,
                   help="attention data-parallel degrees to try, MoE only (default: powers of two with TP x DP up to "
                        "the scale-up domain, or up to 64 chips across domains for an MoE whose weights fit in no "
                        "domain: wide EP)")
    p.add_argument("--ep", type=int_list, default=None,
                   help="expert-parallel degrees to try, MoE only (default: powers of two up to the scale-up "
                        "domain, or to 64 with wide EP, dividing the experts and TP x DP)")
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


# -- building a problem from flags --------------------------------------------------------------------


def space_from_args(args, need_prices: bool, serving: bool = True):
    from inferonomics.optimize.space import build_space
    from inferonomics.symbolic import catalog

    if args.ideal and args.calibration:
        raise InvalidInputError("--ideal", "not together with --calibration")
    prices = pairs(getattr(args, "price_usd_per_hour", None), "--price-usd-per-hour", positive_float)
    if "*" in prices:
        every = prices.pop("*")
        prices = {**{h: every for h in args.hardware}, **prices}
    precisions = args.precision or [catalog.model(args.model).weight_precision]
    space = build_space(args.model, args.hardware, precisions, kv_precisions=args.kv_precision, tp=args.tp,
                        prices=prices, calibration=args.calibration, ideal=args.ideal,
                        backend=getattr(args, "backend", "trtllm"), serving=serving,
                        pp=getattr(args, "pp", None), attention_dp=getattr(args, "attention_dp", None),
                        ep=getattr(args, "ep", None))
    return space


def problem_from_args(args, space, **kw):
    from inferonomics.optimize.constraints import MemoryReserve, Workload
    from inferonomics.optimize.problem import Problem

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


def demand_from_args(args):
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


def objective_from_args(args, problem):
    """--objective, or the default: fleet $/h with prices, chips without; a problem priced for some cards and not
    others is refused (problem.check_prices), as is a budget without prices."""
    from inferonomics.optimize.problem import check_prices

    priced = check_prices(problem, required=args.budget_usd_per_hour is not None)
    name = args.objective or ("usd_per_hour" if priced else "chips")
    if not priced and name in UNPRICED:
        raise InvalidInputError("--objective", f"{UNPRICED[name]} without prices (or --price-usd-per-hour for "
                                f"every hardware)", name)
    return name
