"""The `inferonomics` console script: parse, dispatch to a command module, print; nothing else.

Each command lives in ``inferonomics.optimize.commands.<module>`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a ``run(args) -> int``.
Errors from the package's own tree become one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from inferonomics.symbolic.errors import InferonomicsError

#: command modules, in the order `--help` lists them
COMMAND_MODULES = (
    "seed",
    "evaluate",
    "derive",
    "export",
    "plot",
    "catalog_cmds",
    "optimize_cmd",
    "calibrate",
    "balance",
    "web",
)

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad input in one line with exit code 2 (its default), no usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="inferonomics", description="The economics of LLM inference, in closed form.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"inferonomics.optimize.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InferonomicsError as exc:
        print(f"inferonomics {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
