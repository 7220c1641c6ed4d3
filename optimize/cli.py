"""The `inferonomics` console script: parse, dispatch to a command module, print; nothing else.

Each command lives in ``inferonomics.optimize.commands.<module>`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a ``run(args) -> int``.
Errors from the package's own tree, and OSErrors (a full disk), become one line on stderr and exit code 2;
Ctrl-C is one line and exit code 130, SIGTERM one line and 143, after temporary files are removed.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import signal
import sys
import threading
import warnings

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
    "pareto_cmd",
    "users_cmd",
    "sweep_cmd",
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


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(SystemExit):
    """Raised by the SIGTERM handler, so every ``except BaseException`` cleanup (temporary files) runs."""


def _on_sigterm(signum, frame) -> None:  # noqa: ARG001
    raise Terminated(EXIT_TERMINATED)


def _prog(command: str) -> str:
    return f"inferonomics {command}" if command else "inferonomics"


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    words = argv if argv is not None else sys.argv[1:]
    command = words[0] if words and not words[0].startswith("-") else ""
    previous = None
    if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread only
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        command = args.command
        with warnings.catch_warnings():
            # numpy's overflow warnings span lines; every command checks its results are finite instead
            warnings.simplefilter("ignore", RuntimeWarning)
            return int(args.func(args) or 0)
    except InferonomicsError as exc:
        print(f"{_prog(command)}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a full disk, a vanished folder: the environment, in one line
        where = f": {exc.filename}" if exc.filename else ""
        print(f"{_prog(command)}: error: {exc.strerror or _one_line(exc)}{where}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OverflowError, RecursionError) as exc:  # a number out of any float's range, past the flags' checks
        print(f"{_prog(command)}: error: a value is out of range ({type(exc).__name__}: {_one_line(exc)[:120]})",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{_prog(command)}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print(f"{_prog(command)}: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if argv is None:
            # the process exits next (console script, python -m): CPython's finalization would traverse every
            # SymPy and matplotlib object in its last collections, 0.3-0.45 s of derive's ~3 s. Frozen objects
            # are still freed; nothing of ours waits on the cyclic collector (files are closed, temporary
            # folders removed, by then)
            gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
