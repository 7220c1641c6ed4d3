"""`inferonomics calibrate` (fit the model's calibration terms to measurements) and `inferonomics validate`
(predict measured rows from datasheets + a calibration and report the errors)."""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys

from inferonomics.optimize.commands._io import ensure_writable, image_format, write_atomic
from inferonomics.optimize.commands._progress import progress
from inferonomics.symbolic.errors import InvalidInputError

EXIT_NOT_CONVERGED = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    cal = subparsers.add_parser("calibrate", help="fit calibration terms to measurements (writes a TOML file)",
                                description="Fit efficiencies, fixed kernel costs, link latency/bandwidth and "
                                            "backend overheads to a measurement directory.")
    cal.add_argument("--measurements", required=True, metavar="DIR",
                     help="measurement directory (ours and/or NVIDIA's)")
    cal.add_argument("--hardware", metavar="NAME", help="catalog hardware name (default: the one the data names)")
    cal.add_argument("-o", "--output", required=True, metavar="FILE", help="calibration TOML to write")
    cal.add_argument("--date", metavar="YYYY-MM-DD", help="date to record (default: today)")
    cal.add_argument("--use-measured-ceilings", action="store_true",
                     help="fit efficiencies as fractions of ceilings.csv's measured rates, not the datasheet's")
    cal.add_argument("--prior", metavar="FILE|shipped|none", default=None,
                     help="start from this calibration's values and keep them where the data say nothing (default: "
                          "the shipped fit when fitting another card than it, e.g. B200 kernels from the H100 fit; "
                          "none: generic starting values)")
    cal.add_argument("--json", action="store_true", help="print the result as JSON")
    cal.set_defaults(func=run_calibrate)

    val = subparsers.add_parser("validate", help="compare predictions with measurements, per file and kind",
                                description="Predict every measured row from datasheet figures plus a calibration.")
    val.add_argument("--measurements", required=True, metavar="DIR",
                     help="measurement directory (several cards may share it)")
    val.add_argument("--calibration", metavar="FILE",
                     help="calibration TOML for every card (default: each card's shipped calibration: its own fit, "
                          "else its architecture sibling's, else the H100's)")
    val.add_argument("--use-measured-ceilings", action="store_true", default=None,
                     help="use ceilings.csv's copy bandwidth and GEMM rates instead of the datasheet's "
                          "(default: as the calibration was fitted)")
    val.add_argument("--plot", metavar="FILE.png", help="write predicted-vs-measured (log-log) here")
    val.add_argument("--rows-out", metavar="FILE.csv",
                     help="write one CSV row per measured row: file, line, kind, hardware, predicted_s, measured_s, "
                          "lo_s, hi_s (80%% prediction interval), usable, held_out and the row's configuration")
    val.add_argument("--json", action="store_true", help="print the error tables as JSON")
    val.set_defaults(func=run_validate)


def _clean(o: object) -> object:
    """JSON-safe copy: NaN/inf become null."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if hasattr(o, "item"):
        return _clean(o.item())
    return o


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{float(x):7.2f}"


def _require_fitted_rows(meas, args: argparse.Namespace) -> None:
    """A fit on data holding no row of any kind it fits would only return its starting values as "converged"."""
    from inferonomics.optimize.calibration.fit import STAGES  # noqa: PLC0415

    fitted = {kind for kinds, _ in STAGES for kind in kinds}
    tables = [t for t in meas.tables if not args.hardware or t.hardware == args.hardware]
    if not any(t.kind in fitted and len(t) for t in tables):
        on = f" of {args.hardware}" if args.hardware else ""
        raise InvalidInputError("--measurements", f"rows{on} of a kind the fit uses ({', '.join(sorted(fitted))}); "
                                "these measurements constrain no parameter", str(args.measurements))


def run_calibrate(args: argparse.Namespace) -> int:
    from inferonomics.optimize.calibration import calibrate, read_measurements  # noqa: PLC0415
    from inferonomics.optimize.calibration.calfile import dumps  # noqa: PLC0415
    from inferonomics.optimize.calibration.hardware import datasheet  # noqa: PLC0415
    from inferonomics.optimize.calibration.readers import NVIDIA_ATTRIBUTION  # noqa: PLC0415

    if args.hardware:
        datasheet(args.hardware)  # unknown -> UnknownNameError, one line, exit 2
    if args.date is not None:
        try:
            datetime.date.fromisoformat(args.date)
        except ValueError:
            raise InvalidInputError("--date", "a date YYYY-MM-DD", args.date) from None
    ensure_writable(args.output, "-o")  # before the fit, not after it
    with progress(args, "calibrate") as bar:
        bar.phase(f"reading {args.measurements}")
        meas = read_measurements(args.measurements)
        _require_fitted_rows(meas, args)
        bar.phase(f"fitting {sum(len(t) for t in meas.tables):,} measured rows")
        cal = calibrate(meas, hardware=args.hardware, date=args.date, use_measured_ceilings=args.use_measured_ceilings,
                        prior=_prior(args.prior, args.hardware))
        write_atomic(args.output, dumps(cal, attribution=NVIDIA_ATTRIBUTION), "-o")
    if args.json:
        print(json.dumps(_clean({"output": str(args.output), "hardware": cal.hardware, "date": cal.date,
                                 "converged": cal.converged, "message": cal.message,
                                 "unconstrained": cal.unconstrained,
                                 "parameters": {k: {"value": p.value, "uncertainty": p.uncertainty}
                                                for k, p in cal.parameters.items()},
                                 "quality": cal.quality}), indent=2))
    else:
        print(f"calibration for {cal.hardware} written to {args.output} (converged: {cal.converged})")
        for name, p in cal.parameters.items():
            note = f"  (not constrained: {cal.unconstrained[name]})" if name in cal.unconstrained else ""
            print(f"  {name:26s} {p.value:12.5g}  ± {p.uncertainty:.2g}{note}")
        print(f"  {'file:kind':44s} {'split':5s} {'rows':>7s} {'MAPE%':>7s} {'med%':>7s} {'p90%':>7s}")
        for key, splits in cal.quality.items():
            for split, q in splits.items():
                print(f"  {key:44s} {split:5s} {q['rows']:7d} {_pct(q['mape_pct'])} "
                      f"{_pct(q['median_abs_pct_error'])} {_pct(q['p90_abs_pct_error'])}")
    if cal.unconstrained:
        print(f"inferonomics calibrate: warning: the data do not constrain {len(cal.unconstrained)} parameter(s), "
              f"kept at their starting values: {', '.join(cal.unconstrained)} (listed under [unconstrained] in "
              f"{args.output})", file=sys.stderr)
    if not cal.converged:
        print(f"inferonomics calibrate: warning: the fit did not converge ({cal.message}); "
              f"the partial fit was written with converged = false", file=sys.stderr)
        return EXIT_NOT_CONVERGED
    return 0


def _prior(choice: str | None, hardware: str | None):
    """The calibration a fit starts from: a file, the shipped H100 fit, or none (generic starting values)."""
    from inferonomics.optimize.calibration import load_calibration  # noqa: PLC0415
    from inferonomics.optimize.calibration.shipped import FALLBACK  # noqa: PLC0415
    from inferonomics.symbolic import catalog  # noqa: PLC0415

    if choice == "none":
        return None
    if choice == "shipped":
        return load_calibration()
    if choice is not None:
        return load_calibration(choice)
    if hardware and catalog.hardware(hardware).name != FALLBACK:
        return load_calibration()
    return None


def run_validate(args: argparse.Namespace) -> int:
    from inferonomics.optimize.calibration import load_calibration, read_measurements  # noqa: PLC0415
    from inferonomics.optimize.calibration.validate import validate, validation_png  # noqa: PLC0415

    cal = load_calibration(args.calibration) if args.calibration else None
    if args.plot:
        fmt = image_format(args.plot, "--plot")
        ensure_writable(args.plot, flag="--plot")
    if args.rows_out:
        ensure_writable(args.rows_out, flag="--rows-out")
    with progress(args, "validate") as bar:
        bar.phase(f"reading {args.measurements}")
        meas = read_measurements(args.measurements)
        bar.phase(f"predicting {sum(len(t) for t in meas.tables):,} measured rows")
        result = validate(meas, cal, use_measured_ceilings=args.use_measured_ceilings)
        if args.plot:
            bar.phase(f"plotting {args.plot}")
            write_atomic(args.plot, validation_png(result, fmt), flag="--plot")
        if args.rows_out:
            from inferonomics.optimize.calibration.validate import rows_csv  # noqa: PLC0415

            bar.phase(f"writing {args.rows_out}")
            write_atomic(args.rows_out, rows_csv(result, meas.root), flag="--rows-out")
    s = result.summary
    if args.json:
        print(json.dumps(_clean(s), indent=2))
        return 0
    print(f"validation against {meas.root} (ceilings: {'measured' if s['measured_ceilings'] else 'datasheet'})")
    for hw, c in s["calibration"].items():
        print(f"  {hw}: {c['used']}, {c['date']}")
    if "attribution" in s:
        print(f"data: {s['attribution']}")
    head = f"  {'':44s} {'rows':>7s} {'MAPE%':>7s} {'med%':>7s} {'p90%':>7s}  worst"
    print(head)

    def row(name: str, q: dict) -> None:
        w = q.get("worst")
        worst = f"{w['file']}:{w['line']} ({w['abs_pct_error']:.0f}%)" if w else ""
        print(f"  {name:44s} {q['rows']:7d} {_pct(q['mape_pct'])} {_pct(q['median_abs_pct_error'])} "
              f"{_pct(q['p90_abs_pct_error'])}  {worst}")

    row("all rows", s)
    for kind, q in s["by_kind"].items():
        row(f"kind {kind}", q)
    for key, q in s["by_file"].items():
        row(f"file {key} [{q['hardware']}]", q["all"])
    for kind, q in s["held_out"]["by_kind"].items():
        row(f"held-out {kind}", q)
    for name, q in s["subsets"].items():
        row(f"subset {name}", q["all"])
    for hw, kinds in s["interval_coverage"].items():
        for kind, c in kinds.items():
            print(f"  80% interval coverage, held-out {kind}@{hw}: {c['coverage'] * 100:.1f}% of {c['rows']} rows")
    if s.get("moe_uniform_check"):
        m = s["moe_uniform_check"]
        print(f"  MoE experts touched vs uniform expectation: max gap {m['max_rel_gap_pct']}%, "
              f"mean {m['mean_rel_gap_pct']}%")
    return 0
