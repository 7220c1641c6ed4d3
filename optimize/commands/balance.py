"""`inferonomics balance`: one card's arithmetic-to-bandwidth balance and what it would take to engineer the
imbalance away; `--trend`: the memory wall across the catalog, fitted and extrapolated."""

from __future__ import annotations

import argparse

from inferonomics.symbolic.errors import InvalidInputError

from . import catalog_args
from ._io import batch_value, positive_float, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("balance", help="a card's FLOP/byte balance and the bandwidth, users and cost it implies",
                       description="The essay's question: can the ~1000:1 imbalance between arithmetic and memory "
                                   "bandwidth be engineered away? Ideal rates, weights only (the closed forms).")
    p.add_argument("--trend", action="store_true",
                   help="every catalog card by release year, with log-linear fits of FLOP/s and bandwidth")
    p.add_argument("--target-break-even-batch", type=batch_value, default=1.0, metavar="B",
                   help="break-even batch to reach (default 1: economies of scale vanish)")
    p.add_argument("--minutes-per-day", type=positive_float, default=10.0, metavar="M",
                   help="minutes each user is active per day (default: the essay's 10)")
    p.add_argument("--tokens-per-s-per-user", type=positive_float, metavar="V",
                   help="with --model: the bandwidth (and chips) to serve one user alone at V tokens/s")
    p.add_argument("--price-usd-per-hour", type=positive_float, metavar="USD",
                   help="price of one chip-hour, for $/Mtok (the catalog carries no prices)")
    catalog_args.add_catalog_args(p)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=run)


def _default_precisions(args: argparse.Namespace) -> None:
    """Weight precision: the model's, else bf16; compute precision as catalog.bind picks it (fp8 weights
    compute at fp8 where the card has an fp8 rate), or the weights' own where the card lacks bf16."""
    from inferonomics.symbolic import catalog

    if args.precision is None:
        m = catalog_args._model(args)
        args.precision = "bf16" if m is None else m.weight_precision
    if args.activation_precision is None and args.hardware and args.precision:
        w, hw = catalog.precision(args.precision), catalog.hardware(args.hardware)
        act = catalog.default_activation_precision(w, hw)
        if act not in hw.peak_flop_per_s and w.compute_key in hw.peak_flop_per_s:
            act = w.name  # a card without a bf16 rate (Groq: fp16) computes at the weights' own precision
        args.activation_precision = act


def card_numbers(args: argparse.Namespace) -> dict:
    from inferonomics.optimize.balance import card_balance, model_on_card, speed_on_card

    if not (args.hardware or args.hardware_file):
        raise InvalidInputError("--hardware", "a catalog card (see `inferonomics list hardware`), or --trend")
    _default_precisions(args)
    values = catalog_args.resolve_catalog_values(args)
    from inferonomics.symbolic import catalog

    hw = catalog.hardware(args.hardware).name if args.hardware else args.hardware_file
    out: dict = {"hardware": hw, "precision": args.precision,
                 "compute_precision": args.activation_precision}
    out.update(card_balance(values, target_break_even_batch=args.target_break_even_batch,
                            minutes_per_day=args.minutes_per_day))
    if "total_params" in values:
        if values.get("n_experts", 1.0) > 1:  # at batch 1 an MoE reads its dense part and k experts
            args.weights = "(dense_params + experts_per_token*expert_params)*bytes_per_weight"
        out["model"] = args.model or args.model_file or args.model_config
        out.update(model_on_card(values, args.price_usd_per_hour, getattr(args, "weights", None)))
        if args.tokens_per_s_per_user is not None:
            out.update(speed_on_card(values, args.tokens_per_s_per_user))
    elif args.tokens_per_s_per_user is not None:
        raise InvalidInputError("--tokens-per-s-per-user", "a model to serve (--model, --model-file or --model-config)")
    return out


def _text_card(n: dict) -> list[str]:
    lines = [
        f"{n['hardware']} at {n['precision']} (compute {n['compute_precision']}): "
        f"{n['flop_per_byte']:,.0f} FLOP per byte of bandwidth",
        f"  break-even batch B* = F b_w/(2W)          {n['break_even_batch']:,.1f}",
        f"  a single user pays B* times a provider   {n['single_user_cost_ratio']:,.1f}x per token",
        f"  users to keep B* busy ({n['minutes_per_day']:g} min/day)      {n['min_user_base']:,.0f}",
        f"  bandwidth for B* = {n['target_break_even_batch']:g}                  "
        f"{n['bandwidth_needed_bytes_per_s'] / 1e12:,.1f} TB/s ({n['bandwidth_multiple_needed']:,.1f}x today's)",
    ]
    if "model" in n:
        usd = n["batch1_usd_per_mtok"]
        lines += [
            f"  {n['model']}: {n['weight_bytes'] / 1e9:,.1f} GB of weights -> {n['chips_to_hold_model']} chip(s) "
            "just to hold them",
            f"    batch 1 there: {n['batch1_ms_per_token']:.3g} ms/token, {n['batch1_tokens_per_s']:,.0f} tokens/s, "
            f"{n['batch1_chip_hours_per_mtok']:.3g} chip-hours/Mtok"
            + (f" = ${usd:,.2f}/Mtok" if usd is not None else " (give --price-usd-per-hour for $/Mtok)"),
            f"    at B*: {n['break_even_chip_hours_per_mtok']:.3g} chip-hours/Mtok; {n['batch1_assumes']}",
        ]
    if "bandwidth_for_speed_bytes_per_s" in n:
        lines.append(f"    one user at {n['tokens_per_s_per_user']:g} tokens/s needs "
                     f"{n['bandwidth_for_speed_bytes_per_s'] / 1e12:,.1f} TB/s: {n['chips_for_speed']} chip(s) of "
                     "bandwidth, at batch 1")
    return lines


def _text_trend(t: dict) -> list[str]:
    f = t["fit"]
    lines = [f"The memory wall in the catalog ({t['precision']}, compute {t['compute_key']}); "
             f"{t['n_cards_with_sourced_year']} of {t['n_cards']} cards with a sourced year", ""]
    lines += [f"  {c['year']}  {c['name']:<15} {c['flop_per_byte']:>8,.0f} FLOP/byte" if c["flop_per_byte"]
              else f"  {c['year']}  {c['name']:<15} {'-':>8}            ({c['excluded_because']})"
              for c in t["cards"]]
    lines.append("")
    for key, label in (("flop_per_s", "peak FLOP/s"), ("bandwidth", "bandwidth"), ("flop_per_byte", "balance F/W")):
        g = f[key]
        lo, hi = g["growth_per_year_95"]
        lines.append(f"  {label:<12} x{g['growth_per_year']:.2f} per year (95%: x{lo:.2f} to x{hi:.2f}), "
                     f"{f['n_cards']} cards {f['years'][0]}-{f['years'][1]}")
    lines.append("")
    for e in t["extrapolation"]:
        lo, hi = e["break_even_batch_95"]
        ulo, uhi = e["min_user_base_95"]
        lines.append(f"  {e['year']}: B* {e['break_even_batch']:,.0f} ({lo:,.0f}-{hi:,.0f}), "
                     f"users {e['min_user_base']:,.0f} ({ulo:,.0f}-{uhi:,.0f}) at {t['minutes_per_day']:g} min/day")
    return lines


def run(args: argparse.Namespace) -> int:
    if args.trend:
        for flag in ("hardware", "hardware_file", "model", "model_file", "model_config", "set"):
            if getattr(args, flag, None):
                raise InvalidInputError("--trend", f"not together with --{flag.replace('_', '-')} (it uses every card)")
        from inferonomics.optimize.memory_wall import trend

        out = trend(args.precision or "bf16", args.minutes_per_day)
        out.pop("_fits")
        lines = _text_trend(out)
    else:
        out = card_numbers(args)
        lines = _text_card(out)
    if args.json:
        print_json(out)
    else:
        print("\n".join(lines))
    return 0
