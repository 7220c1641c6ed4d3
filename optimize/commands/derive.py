"""`inferonomics derive`: list the closed forms, or write (and check) the derivation documents."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._io import print_json, write_set
from ._progress import progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("derive", help="list every closed form, or write the derivation documents",
                       description="Without --out: list the closed forms. With --out DIR: write the LaTeX "
                                   "document, its Markdown twin, the figures and (when pdflatex exists) the PDF.")
    p.add_argument("-o", "--out", "--output", dest="out", metavar="DIR",
                   help="directory to write the documents to (e.g. derivations/)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 if the documents in --out (default derivations/) differ from what the code generates; "
                        "the PDF is compared too when this pdflatex is the one that built it")
    p.add_argument("--no-pdf", action="store_true",
                   help="do not run pdflatex even if it is installed (neither to write nor to check the PDF)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _listing() -> dict:
    from inferonomics.symbolic.formulas import all_formulas

    return {"formulas": [
        {"name": f.name, "expression": str(f.expr), "latex": f.latex(), "args": [a.name for a in f.args],
         "conditions": [str(c) for c in f.conditions], "meaning": f.meaning, "policy": f.policy,
         "approximation": f.error_bound is not None}
        for f in all_formulas()]}


def run(args: argparse.Namespace) -> int:
    if args.out is None and not args.check:
        listing = _listing()
        if args.json:
            print_json(listing)
        else:
            for f in listing["formulas"]:
                cond = f"   [if {'; '.join(f['conditions'])}]" if f["conditions"] else ""
                print(f"{f['name']}({', '.join(f['args'])}) = {f['expression']}{cond}")
        return 0
    from inferonomics.optimize.derivation import check, check_pdf, pdf_files, render_all, tex_missing
    from inferonomics.symbolic.errors import InvalidInputError

    flag = "--out" if args.out else "--check"
    out = Path(args.out or "derivations")
    if out.exists() and not out.is_dir():
        raise InvalidInputError(flag, "a folder", str(out))
    if args.check and not out.is_dir():
        print(f"inferonomics derive: {out} is missing: no derivation documents to check "
              f"(run `inferonomics derive --out {out}`)", file=sys.stderr)
        return 1
    with progress(args, "derive") as bar:
        bar.phase("rendering the documents and figures")
        files = render_all(reuse_dir=out if out.is_dir() else None)
        if not args.check:
            bar.phase("compiling the PDF (pdflatex)")
            pdf = None if args.no_pdf else pdf_files(files)
            write_set(out, {**files, **(pdf or {})}, flag="--out")
    if args.check:
        stale = check(out, files)
        same, why = (None, "PDF not compared (--no-pdf)") if args.no_pdf else check_pdf(out, files)
        if same is False:
            stale.append(why)
        if stale:
            print(f"inferonomics derive: {out} is stale: {', '.join(stale)} (run `inferonomics derive --out {out}`)")
            return 1
        print(f"{out} is current ({len(files)} files; {why})")
        return 0
    written = sorted(files) + sorted(pdf or {})
    if args.json:
        print_json({"out": str(out), "files": written})
    else:
        print(f"wrote {len(written)} files to {out}: {', '.join(written)}")
        if pdf is None and not args.no_pdf:
            print(f"no PDF: {tex_missing()} (the committed {out}/*.pdf is left as it was)")
    return 0
