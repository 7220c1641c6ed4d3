"""`inferonomics web -o DIR`: write the static calculator page, DIR/index.html (no server, no network)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._io import print_json, write_atomic


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("web", help="write a self-contained web calculator (DIR/index.html)",
                       description="Write one static HTML page that evaluates the exported closed forms in the "
                                   "browser; every input is also a URL parameter (its flag without the dashes).")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="folder to write index.html to")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inferonomics.optimize.web import PAGE_NAME, build_page

    path = write_atomic(Path(args.out) / PAGE_NAME, build_page(), flag="-o")
    if args.json:
        print_json({"out": str(path)})
    else:
        print(f"wrote {path} (open it in a browser; it needs no server)")
    return 0
