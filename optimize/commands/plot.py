"""`inferonomics plot KIND -o FILE.png|svg`: draw one of the model's pictures: of the calibrated serving model for a
catalog model on catalog hardware (the step `evaluate` reports), of the ideal model (the essay's limit) otherwise
or with --ideal."""

from __future__ import annotations

import argparse
from pathlib import Path

from inferonomics.symbolic.errors import InvalidInputError

from . import catalog_args
from ._io import ensure_writable, image_format, nonnegative_float, positive_float, positive_int, print_json, write_atomic

KINDS = ("roofline", "utilization", "cost", "context", "users", "balance")
_ROOF = ("peak_flop_per_s", "hbm_bandwidth_bytes_per_s", "bytes_per_weight")
#: the values each plot reads; a catalog entry may lack one (m4-max publishes no FLOP/s): say so, in one line
NEEDS = {"roofline": _ROOF, "utilization": (*_ROOF, "total_params"), "cost": (*_ROOF, "total_params"),
         "context": (*_ROOF, "total_params"), "users": _ROOF}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="draw roofline|utilization|cost|context|users|balance",
                       description="Without catalog flags, draws the essay's example (ideal model). A catalog model "
                                   "on catalog hardware gets the calibrated serving model, as `evaluate` reports it "
                                   "(batch curves: its step at each batch up to the resident batch; break-even batch, "
                                   "critical context, roofline: the general closed forms at the calibration's "
                                   "efficiencies) unless --ideal. The title says which model it drew.")
    p.add_argument("kind", choices=KINDS, help="which figure: " + ", ".join(KINDS))
    p.add_argument("-o", "--output", required=True, help="FILE.png or FILE.svg")
    catalog_args.add_catalog_args(p)
    g = p.add_argument_group("serving model (catalog model and hardware)")
    g.add_argument("--ideal", action="store_true", help="the ideal model (the essay's limit), also for catalog names")
    g.add_argument("--tp", type=positive_int, default=None, help="tensor-parallel degree (default 1)")
    g.add_argument("--isl", "--prompt-len", dest="isl", type=positive_float, default=None,
                   help="input tokens per request (default 1024)")
    g.add_argument("--osl", "--output-len", dest="osl", type=positive_float, default=None,
                   help="output tokens per request (default 1024)")
    g.add_argument("--context", type=nonnegative_float, default=None,
                   help="decode attention's and KV cache's context (default isl + osl/2)")
    g.add_argument("--backend", choices=("trtllm", "vllm", "sglang"), default="trtllm",
                   help="serving engine whose fitted overheads apply (default trtllm)")
    g.add_argument("--calibration", metavar="FILE", help="calibration TOML (default: the card's shipped fit)")
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
        if args.ideal and args.calibration:
            raise InvalidInputError("--ideal", "not together with --calibration")
        model = None
        if not args.ideal and args.hardware and (args.model or args.model_file or args.model_config):
            from .plot_serving import serving_curve

            model, values = serving_curve(args, values)
        elif args.tp or args.isl or args.osl or args.context is not None or args.calibration:
            raise InvalidInputError("--tp/--isl/--osl/--context/--calibration",
                                    "only with the serving model (a catalog --model on catalog --hardware, no --ideal)")
        data, marks = render(args.kind, values, fmt, model)
        write_atomic(out, data, "-o")
    if args.json:
        print_json({"kind": args.kind, "output": str(out), **marks})
    else:
        print(f"wrote {out} ({len(data)} bytes)")
    return 0
