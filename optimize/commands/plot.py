"""`inferonomics plot KIND -o FILE.png|svg`: draw one of the model's pictures."""

from __future__ import annotations

import argparse
from pathlib import Path

from inferonomics.symbolic.errors import InvalidInputError

from . import catalog_args
from ._io import ensure_writable, image_format, print_json, write_atomic

KINDS = ("roofline", "utilization", "cost", "context", "users", "balance")
_ROOF = ("peak_flop_per_s", "hbm_bandwidth_bytes_per_s", "bytes_per_weight")
#: the values each plot reads; a catalog entry may lack one (m4-max publishes no FLOP/s): say so, in one line
NEEDS = {"roofline": _ROOF, "utilization": (*_ROOF, "total_params"), "cost": (*_ROOF, "total_params"),
         "context": (*_ROOF, "total_params"), "users": _ROOF}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="draw roofline|utilization|cost|context|users|balance",
                       description="Without catalog flags, draws the essay's example.")
    p.add_argument("kind", choices=KINDS, help="which figure: " + ", ".join(KINDS))
    p.add_argument("-o", "--output", required=True, help="FILE.png or FILE.svg")
    catalog_args.add_catalog_args(p)
    p.add_argument("--json", action="store_true", help="print the marked numbers as JSON")
    p.set_defaults(func=run)


def plot_values(args: argparse.Namespace) -> dict[str, float]:
    from inferonomics.symbolic.essay import essay_example

    values = catalog_args.resolve_catalog_values(args)
    if not values:
        ex = essay_example()
        values = dict(ex.values, **{k: v for k, v in ex.illustrative.items() if k != "context_example"})
    return values


def run(args: argparse.Namespace) -> int:
    from inferonomics.optimize.plots import render

    out = Path(args.output)
    fmt = image_format(out, "-o")
    ensure_writable(out, "-o")
    if args.kind == "balance":  # the catalog's memory wall (issue 16): every card, not one configuration
        from inferonomics.optimize.memory_wall import render as render_balance

        data, marks = render_balance(args.precision or "bf16", fmt)
        write_atomic(out, data, "-o")
    else:
        values = plot_values(args)
        missing = [n for n in NEEDS[args.kind] if not values.get(n)]
        if missing:
            given = " ".join(f"--{f.replace('_', '-')} {getattr(args, f)}" for f in ("model", "hardware", "precision")
                             if getattr(args, f, None))
            raise InvalidInputError(f"plot {args.kind}", f"{', '.join(missing)} (absent from {given or 'the flags'}; "
                                    "name a catalog entry that has it or add --set NAME=VALUE)")
        data, marks = render(args.kind, values, fmt)
        write_atomic(out, data, "-o")
    if args.json:
        print_json({"kind": args.kind, "output": str(out), **marks})
    else:
        print(f"wrote {out} ({len(data)} bytes)")
    return 0
