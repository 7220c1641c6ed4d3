"""`inferonomics sweep`: model x hardware x precision x TP x batch x context, vectorised. NumPy is imported
inside the run function."""

from __future__ import annotations

import argparse
import math

from inferonomics.symbolic.errors import InvalidInputError

from inferonomics.optimize.commands import _table as T
from inferonomics.optimize.commands._io import MAX_TOKENS, ensure_writable, print_json, write_atomic
from inferonomics.optimize.commands._progress import progress
from inferonomics.optimize.commands.deploy_args import int_list, names, overlap_flag, space_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="evaluate model x hardware x precision x TP x batch x context, vectorised")
    p.add_argument("--model", required=True, help="catalog model (e.g. llama3.1-8b)")
    p.add_argument("--hardware", required=True, type=names, help="catalog hardware, comma-separated")
    p.add_argument("--precision", type=names, default=None,
                   help="weight precisions, comma-separated (default: the model's)")
    p.add_argument("--kv-precision", type=names, default=None, help="KV-cache precisions (default: the model's)")
    p.add_argument("--tp", type=int_list, default=[1, 2, 4, 8], help="TP degrees, comma-separated (default 1,2,4,8)")
    p.add_argument("--batch", default="1:4096", help="A:B (every integer), A:B:N (N values) or a list")
    p.add_argument("--context", default="0:32768:64", help="A:B, A:B:N or a list")
    overlap_flag(p)
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="floating-point type of the grid (float32: faster, ~1e-7 relative error)")
    p.add_argument("-o", "--output", metavar="CSV", help="write every row of the grid as CSV")
    p.add_argument("--csv", action="store_true", help="print every row of the grid as CSV (default: a summary)")
    p.add_argument("--summary", action="store_true", help="evaluate only; write no rows")
    p.add_argument("--calibration", metavar="FILE", help="calibration file (default: the shipped one)")
    p.add_argument("--ideal", action="store_true", help="ideal model: efficiencies 1, no overheads")
    p.add_argument("--backend", choices=("trtllm", "vllm", "sglang"), default="trtllm",
                   help="serving backend whose fitted per-step overhead the calibrated values take (default "
                        "trtllm); the grid itself uses the closed-form step model at each (batch, context)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_sweep)


#: rows a sweep CSV may hold per (hardware, precision, TP) slab: the file is built in memory (~100 B a row)
MAX_CSV_ROWS = 10_000_000


def run_sweep(args: argparse.Namespace) -> int:
    import numpy as np

    from inferonomics.optimize.constraints import Workload
    from inferonomics.optimize.sweep import csv_writer, parse_range, sweep

    batch = parse_range(args.batch, "--batch", minimum=1, maximum=MAX_TOKENS)
    context = parse_range(args.context, "--context", minimum=0, maximum=MAX_TOKENS)
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
    wl = Workload(mixed=False, policy=args.policy)
    with progress(args, "sweep") as bar:
        bar.phase("reading the catalog and calibration")
        space = space_from_args(args, False, serving=False)
        if not space.platforms:
            raise InvalidInputError("--hardware", "at least one (hardware, precision) the model can run on ("
                                    + "; ".join(space.skipped) + ")")
        bar.phase(f"{space.model} grid")
        buf = None
        if rows:
            import io

            buf = io.StringIO()
        summ = sweep(space, None, batch, context, workload=wl, dtype=dtype, progress=bar.count,
                     sink=csv_writer(buf, space.model) if buf is not None else None)
        if args.output and buf is not None:
            bar.phase(f"writing {args.output}")
            write_atomic(args.output, buf.getvalue(), "-o")
    out = {"configs": summ.configs, "seconds": summ.seconds, "configs_per_s": summ.configs_per_s,
           "best": summ.best, "worst": summ.worst, "dtype": args.dtype, "notes": list(space.notes),
           "skipped": list(space.skipped)}
    if args.json:
        print_json(out)
    elif args.csv and buf is not None:
        print(buf.getvalue(), end="")
    else:
        print(_sweep_text(summ, space))
    return 0 if math.isfinite(summ.seconds) else 2


def _sweep_text(summ, space) -> str:
    head = ["", "hardware", "precision", "TP", "batch", "context", "TPOT ms", "tokens/s/chip", "GB/chip", "fits"]
    rows = [[which, r["hardware"], r["precision"], r["tp"], T.num(r["batch"]), T.num(r["context"]),
             f"{r['step_ms']:.3g}", T.num(r["tokens_per_s_per_chip"]), f"{r['memory_gb_per_chip']:.3g}",
             "yes" if r["fits_memory"] else "no"]
            for which, r in (("best", summ.best), ("worst", summ.worst)) if r is not None]
    lines = [f"{summ.configs:,} configurations in {summ.seconds:.3f} s ({summ.configs_per_s / 1e6:.1f} M/s); "
             "best and worst by tokens/s per chip among those that fit in memory", T.table(head, rows)]
    lines += [f"note: {n}" for n in space.notes] + [f"skipped {x}" for x in space.skipped]
    return "\n".join(lines)
