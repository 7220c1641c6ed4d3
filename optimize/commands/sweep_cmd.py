"""`inferonomics sweep`: model x hardware x precision x TP x batch x context, vectorised (optimize/sweep.py), with
the calibrated serving model (in-flight prefill) or, with --ideal, the closed-form step model."""

from __future__ import annotations

import argparse
import math
from dataclasses import replace

from inferonomics.symbolic.errors import InvalidInputError

from inferonomics.optimize.commands import _table as T
from inferonomics.optimize.commands._io import MAX_TOKENS, ensure_writable, positive_int, print_json, write_atomic
from inferonomics.optimize.commands._progress import progress
from inferonomics.optimize.commands.deploy_args import int_list, names, overlap_flag, space_from_args, workload_lengths

#: rows a sweep CSV may hold per (hardware, precision, TP) slab: the file is built in memory (~100 B a row)
MAX_CSV_ROWS = 10_000_000


def register(sub: argparse._SubParsersAction) -> None:
    from inferonomics.optimize.sweep import RANGE_FORMS

    p = sub.add_parser(
        "sweep", help="evaluate model x hardware x precision x TP x batch x context, vectorised",
        description="A grid of step times. step_model (in the JSON) says which model: the calibrated serving model "
                    "(the default for catalog cards; as `evaluate` and `validate` compute it: in-flight prefill at "
                    "--isl/--osl, decode attention and the resident KV cache at each context, requests past the "
                    "resident batch queue) or, with --ideal, the closed-form step model. Ranges: " + RANGE_FORMS
                    + ". A:B:N is N points, never a step of N; a step is written with its sign, A:B:+S.")
    p.add_argument("--model", required=True, help="catalog model (e.g. llama3.1-8b)")
    p.add_argument("--hardware", required=True, type=names, help="catalog hardware, comma-separated")
    p.add_argument("--precision", type=names, default=None,
                   help="weight precisions, comma-separated (default: the model's)")
    p.add_argument("--kv-precision", type=names, default=None,
                   help="KV-cache precisions, --ideal only (default: the model's; the serving model's follows "
                        "--precision)")
    p.add_argument("--tp", type=int_list, default=[1, 2, 4, 8], help="TP degrees, comma-separated (default 1,2,4,8)")
    p.add_argument("--pp", type=positive_int, help="pipeline stages of every worker (serving model only; default 1)")
    p.add_argument("--attention-dp", type=positive_int, help="attention data-parallel groups of each TP, an MoE only: "
                   "workers of tp x attention_dp x pp chips (serving model only; default 1)")
    p.add_argument("--ep", type=positive_int, help="expert-parallel degree, an MoE only (serving model only; default "
                   "the largest power of two dividing the experts and tp x attention_dp, as optimize reports)")
    p.add_argument("--batch", default="1:4096", help="sequences (concurrent requests): A:B, A:B:N points, A:B:+S "
                                                     "or a list (default 1:4096)")
    p.add_argument("--context", default="512:32768:64",
                   help="decode context per sequence, tokens: A:B, A:B:N points, A:B:+S or a list (default "
                        "512:32768:64, i.e. 512, 1024, ..., 32768; at least 1 for the serving model)")
    workload_lengths(p, when=": the serving model's prompt work per step (B isl/osl prompt tokens on average)")
    overlap_flag(p)
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="floating-point type of an --ideal grid (float32: faster, ~1e-7 relative error); the "
                        "serving model runs in float64")
    p.add_argument("-o", "--output", metavar="CSV", help="write every row of the grid as CSV")
    p.add_argument("--csv", action="store_true", help="print every row of the grid as CSV (default: a summary)")
    p.add_argument("--summary", action="store_true", help="evaluate only; write no rows")
    p.add_argument("--calibration", metavar="FILE", help="calibration file (default: the shipped one)")
    p.add_argument("--ideal", action="store_true", help="the closed-form step model at ideal values: efficiencies "
                                                        "1, no overheads")
    p.add_argument("--backend", choices=("trtllm", "vllm", "sglang"), default="trtllm",
                   help="serving backend of the serving model (default trtllm): its fitted overheads; cards it "
                        "does not run on are skipped")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_sweep)


def _serving_only(space):
    """The space's platforms the serving model covers; the others are skipped, with the reason."""
    left = tuple(p for p in space.platforms if p.serving is None)
    why = [n.split("closed-form step model for ", 1)[1] for n in space.notes if "closed-form step model for " in n]
    skipped = space.skipped + ((f"no serving model: {'; '.join(why)}",) if left else ())
    notes = tuple(n.split("; closed-form step model for ")[0] for n in space.notes)
    return replace(space, platforms=tuple(p for p in space.platforms if p.serving is not None), skipped=skipped,
                   notes=notes)


def run_sweep(args: argparse.Namespace) -> int:
    import numpy as np

    from inferonomics.optimize.constraints import Workload
    from inferonomics.optimize.sweep import csv_writer, parse_range, sweep

    serving = not args.ideal
    batch = parse_range(args.batch, "--batch", minimum=1, maximum=MAX_TOKENS)
    context = parse_range(args.context, "--context", minimum=1 if serving else 0, maximum=MAX_TOKENS)
    if serving and args.dtype == "float32":
        raise InvalidInputError("--dtype", "float64 with the serving model (float32: add --ideal)", args.dtype)
    if serving and args.kv_precision:
        raise InvalidInputError("--kv-precision", "not with the serving model (its KV precision follows "
                                "--precision): add --ideal")
    rows = (args.output or args.csv) and not args.summary
    if args.csv and args.json:
        raise InvalidInputError("--csv", "not together with --json")
    if rows and batch.size * context.size > MAX_CSV_ROWS:
        raise InvalidInputError("--csv" if args.csv else "-o", f"a grid of at most {MAX_CSV_ROWS:,} (batch x "
                                "context) rows per configuration for a CSV (use --summary for larger sweeps)",
                                f"{batch.size * context.size:,}")
    if args.output and not args.summary:
        ensure_writable(args.output, "-o")
    args.price_usd_per_hour = None
    dtype = np.float32 if args.dtype == "float32" else np.float64
    wl = Workload(args.isl, args.osl, mixed=serving, policy=args.policy)
    with progress(args, "sweep") as bar:
        bar.phase("reading the catalog and calibration")
        # the space checks the shape as optimize checks one-element lists (dense models, --ideal, divisors)
        lists = {k: [getattr(args, k)] if getattr(args, k) else None for k in ("pp", "attention_dp", "ep")}
        space = space_from_args(argparse.Namespace(**{**vars(args), **lists}), False, serving=serving)
        if serving:
            space = _serving_only(space)
        if not space.platforms:
            raise InvalidInputError("--hardware", "at least one (hardware, precision) the model can run on ("
                                    + "; ".join(space.skipped) + ")")
        shape = _worker_shape(args, space, serving)
        bar.phase(f"{space.model} grid")
        buf = None
        if rows:
            import io

            buf = io.StringIO()
        summ = sweep(space, None, batch, context, workload=wl, dtype=dtype, progress=bar.count, serving=serving,
                     sink=csv_writer(buf, space.model) if buf is not None else None, shape=shape)
        if args.output and buf is not None:
            bar.phase(f"writing {args.output}")
            write_atomic(args.output, buf.getvalue(), "-o")
    out = {"step_model": "serving" if serving else "ideal", "configs": summ.configs, "seconds": summ.seconds,
           "configs_per_s": summ.configs_per_s, "best": summ.best, "worst": summ.worst,
           "dtype": "float64" if serving else args.dtype, "notes": list(space.notes), "skipped": list(space.skipped)}
    if serving:
        out.update({"isl": args.isl, "osl": args.osl, "backend": args.backend})
    if args.json:
        print_json(out)
    elif args.csv and buf is not None:
        print(buf.getvalue(), end="")
    else:
        print(_text(summ, space, "serving" if serving else "ideal"))
    return 0 if math.isfinite(summ.seconds) else 2


def _worker_shape(args: argparse.Namespace, space, serving: bool) -> tuple[int, int, int | None]:
    """(attention DP, PP, EP or None) of every worker, checked at every TP of every platform as `evaluate` checks
    one (:func:`.evaluate.parallel_shape`: one line and exit 2 for a shape the model cannot take)."""
    from inferonomics.optimize.commands.evaluate import parallel_shape

    if not serving:  # the space refused a shape above 1 on the closed form
        return 1, 1, None
    for p in space.platforms:
        for t in p.tps:
            parallel_shape(args, p.serving.arch, t)
    return args.attention_dp or 1, args.pp or 1, args.ep


def _text(summ, space, step_model: str) -> str:
    head = ["", "hardware", "precision", "TP", "batch", "resident", "context", "TPOT ms", "tokens/s/chip", "GB/chip",
            "fits"]
    shape = lambda r: r["tp"] if r["chips_per_replica"] == r["tp"] else (  # noqa: E731
        f"{r['tp']} x DP {r['attention_dp']} x EP {r['ep']} x PP {r['pp']}")
    rows = [[which, r["hardware"], r["precision"], shape(r), T.num(r["batch"]), T.num(r["resident_batch"]),
             T.num(r["context"]), f"{r['step_ms']:.3g}", T.num(r["tokens_per_s_per_chip"]),
             f"{r['memory_gb_per_chip']:.3g}", "yes" if r["fits_memory"] else "no"]
            for which, r in (("best", summ.best), ("worst", summ.worst)) if r is not None]
    lines = [f"{summ.configs:,} configurations ({step_model} model) in {summ.seconds:.3f} s "
             f"({summ.configs_per_s / 1e6:.1f} M/s); best and worst by tokens/s per chip among those that fit in "
             "memory", T.table(head, rows)]
    lines += [f"note: {n}" for n in space.notes] + [f"skipped {x}" for x in space.skipped]
    return "\n".join(lines)
