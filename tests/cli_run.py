"""Run the CLI in-process as a test sees it (shared by the CLI test files)."""

from __future__ import annotations

from inferonomics.optimize.cli import main


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    """main()'s exit code (argparse's own errors exit through SystemExit with the same code), stdout, stderr."""
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err
