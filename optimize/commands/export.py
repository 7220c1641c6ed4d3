"""`inferonomics export` (closed forms as LaTeX, Python, NumPy, C, JavaScript or JSON files) and
`inferonomics import-formula` (load an exported JSON formula safely and print it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from inferonomics.symbolic.errors import InvalidInputError, UnknownNameError

from inferonomics.optimize.commands._io import print_json, write_atomic, write_set


def _formulas() -> Any:
    """The formulas module (a function, so tests can substitute records)."""
    from inferonomics.symbolic import formulas

    return formulas


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export closed forms as LaTeX, Python, NumPy, C, JavaScript or JSON",
                       description="Generated code returns NaN where a validity condition fails. "
                                   "Formats: latex, python, numpy, c, javascript, json (or 'all').")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--formula", metavar="NAME", help="one closed form, by name")
    which.add_argument("--all", action="store_true", help="every closed form")
    p.add_argument("--format", dest="fmt", metavar="FMT", required=True,
                   help="latex|python|numpy|c|javascript|json|all")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="output file (one file; for C the .h goes beside the .c) or folder (several files); "
                        "default stdout")
    p.add_argument("--steps", action="store_true", help="LaTeX: add the derivation; JSON: add the steps (full record)")
    p.add_argument("--json", action="store_true",
                   help='print {"files": [paths written]} (with -o), else {"files": [{"name", "text"}]}')
    cal = p.add_argument_group("calibrated closed forms", "substitute a card's fitted efficiencies and fixed costs "
                               "(its shipped calibration: own card, architecture sibling, else the H100's) for the "
                               "symbols of the formula's general form; the files say which calibration")
    cal.add_argument("--calibrated", action="store_true",
                     help="export the formula under calibrated efficiencies (needs --formula; formulas with a step "
                          "time only: " + ", ".join(_general_names()) + ")")
    cal.add_argument("--hardware", metavar="H", help="catalog card whose calibration applies (default h100-sxm)")
    cal.add_argument("--precision", metavar="P", help="GEMM precision of the calibrated efficiencies: bf16 or fp8 "
                                                      "(default bf16)")
    cal.add_argument("--backend", metavar="B", help="serving backend of the fixed per-step overhead: trtllm, vllm or "
                                                    "sglang (default trtllm)")
    cal.add_argument("--calibration", metavar="FILE", help="a calibration TOML instead of the shipped one")
    p.set_defaults(func=run_export)

    q = sub.add_parser("import-formula", help="load an exported JSON formula safely (no eval) and print it")
    q.add_argument("file", metavar="FILE.json", help="a formula exported with --format json")
    q.add_argument("--json", action="store_true", help='print {"name", "expression", "args", "conditions"}')
    q.set_defaults(func=run_import)


def _general_names() -> tuple[str, ...]:
    from inferonomics.symbolic.formulas import GENERAL_FORMULAS

    return GENERAL_FORMULAS


_CALIBRATION_FLAGS = ("hardware", "precision", "backend", "calibration")


def _calibrated(args: argparse.Namespace, record):
    """``record`` under the calibration the flags name (``--calibrated``), or as it is."""
    given = [f"--{f}" for f in _CALIBRATION_FLAGS if getattr(args, f, None) is not None]
    if not args.calibrated:
        if given:
            raise InvalidInputError(given[0], "only with --calibrated")
        return record
    if args.all:
        raise InvalidInputError("--calibrated", "one formula (--formula NAME), not --all")
    from inferonomics.optimize.calibrated_forms import calibrate, calibrated_values

    _formulas().get_formula(record.name, efficiencies=True)  # a formula without a step time says so first
    values = calibrated_values(args.hardware or "h100-sxm", args.precision or "bf16", args.backend or "trtllm",
                               args.calibration)
    return calibrate(record, values)


def _generate(args: argparse.Namespace) -> list[tuple[str, str]]:
    from inferonomics.symbolic.export import FORMATS, export

    formats = FORMATS if args.fmt == "all" else (args.fmt,)
    if args.fmt != "all" and args.fmt not in FORMATS:
        raise UnknownNameError("format", args.fmt, (*FORMATS, "all"))
    module = _formulas()
    records = module.all_formulas() if args.all else (_calibrated(args, module.get_formula(args.formula)),)
    if args.all:
        _calibrated(args, None)  # --calibrated and its flags need one formula
    single = len(records) == 1 and len(formats) == 1
    stem = Path(args.output).stem if (single and args.output) else None
    return [item for r in records for f in formats for item in export(r, f, steps=args.steps, basename=stem).items()]


def run_export(args: argparse.Namespace) -> int:
    files = _generate(args)  # everything is generated before anything is written
    if not args.output:
        if args.json:
            print_json({"files": [{"name": name, "text": text} for name, text in files]})
            return 0
        for name, text in files:
            if len(files) > 1:
                print(f"==> {name} <==")
            sys.stdout.write(text)
        return 0
    out = Path(args.output)
    if len(files) == 1:
        written = [write_atomic(out, files[0][1], flag="-o")]
    elif not args.all and args.fmt == "c":  # the .c and its .h, beside each other
        written = write_set(out.parent, dict(files), flag="-o")
    else:
        written = write_set(out, dict(files), flag="-o")
    if args.json:
        print_json({"files": [str(t) for t in written]})
    else:
        for target in written:
            print(target, file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    import sympy as sp

    from inferonomics.symbolic.export import load_formula

    record = load_formula(Path(args.file))
    if args.json:
        print_json({
            "name": record.name,
            "expression": sp.sstr(record.expr),
            "args": [a.name for a in record.args],
            "conditions": [sp.sstr(c) for c in record.conditions],
        })
        return 0
    print(f"{record.name}({', '.join(a.name for a in record.args)}) = {sp.sstr(record.expr)}")
    for cond, text in zip(record.conditions, record.condition_text):
        print(f"  valid when {sp.sstr(cond)}  ({text})")
    return 0
