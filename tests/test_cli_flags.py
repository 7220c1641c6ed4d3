"""Every flag of every command has help text, and a flag means one thing spelled one way across commands."""

from __future__ import annotations

import argparse

import pytest

from inferonomics.optimize.cli import build_parser


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def _actions():
    for name, sub in _subparsers(build_parser()):
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            yield name, action


def test_every_flag_and_argument_has_help():
    missing = [f"{name} {'/'.join(a.option_strings) or a.dest}" for name, a in _actions()
               if not (a.help and a.help.strip()) or a.help == argparse.SUPPRESS]
    assert not missing, "without --help text: " + ", ".join(missing)


def test_the_walk_sees_every_command():
    assert {n for n, _ in _subparsers(build_parser())} >= {
        "seed", "evaluate", "derive", "export", "import-formula", "plot", "list", "show", "optimize", "pareto",
        "users", "sweep", "calibrate", "validate"}


#: canonical spelling -> old spellings still accepted
ALIASES = {"--isl": {"--prompt-len"}, "--osl": {"--output-len"}, "--overlap": {"--policy"}}


def test_one_spelling_per_flag():
    """Where a command takes a prompt length, output length or overlap policy, it takes the canonical spelling
    first and the old ones as aliases; no command offers only an old spelling."""
    seen = 0
    for name, a in _actions():
        opts = a.option_strings
        for canonical, old in ALIASES.items():
            if set(opts) & (old | {canonical}):
                seen += 1
                assert opts[0] == canonical and old <= set(opts), (name, opts)
    assert seen == 2 * 6 + 5  # isl/osl in evaluate, optimize, pareto, users, sweep, plot; overlap in all but plot


@pytest.mark.parametrize("old, new", [("--prompt-len", "--isl"), ("--output-len", "--osl"), ("--policy", "--overlap")])
def test_old_spellings_parse_to_the_same_value(old, new):
    parser = build_parser()
    base = ["optimize", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--tpot-slo-ms", "50"]
    value = "per-op" if new == "--overlap" else "512"
    a, b = parser.parse_args([*base, old, value]), parser.parse_args([*base, new, value])
    assert vars(a) == vars(b)
    dest = {"--isl": "isl", "--osl": "osl", "--overlap": "policy"}[new]
    assert getattr(a, dest) == (value if new == "--overlap" else 512.0)
