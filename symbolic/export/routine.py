"""The language-neutral routine every code exporter prints: name, ordered args, expression, guards.

This is the split SymPy's ``codegen`` makes (a ``Routine`` apart from per-language ``CodeGen``
emitters): the routine is built and checked once, each format only prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mpmath
import sympy as sp

from inferonomics.symbolic.errors import UnsafeFormulaError
from inferonomics.symbolic.export.names import check_expr_names, check_identifier
from inferonomics.symbolic.export.provenance import header_lines


@dataclass(frozen=True)
class Routine:
    """A checked, printable function: ``name(args...) = expr`` guarded by ``conditions``.

    ``args`` is the record's documented order, never ``free_symbols`` order.
    """

    name: str
    args: tuple[sp.Symbol, ...]
    expr: sp.Expr
    conditions: tuple[sp.Basic, ...]
    condition_text: tuple[str, ...]
    header: tuple[str, ...]
    meaning: str

    @property
    def arg_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.args)


def make_routine(record: Any) -> Routine:
    """Build the routine of a ClosedForm (or any record with the same fields), checking every name."""
    check_identifier(record.name, what="formula name")
    args = tuple(record.args)
    for a in args:
        if not isinstance(a, sp.Symbol):
            raise UnsafeFormulaError(f"{record.name}: argument {a!r} is not a Symbol")
    names = [a.name for a in args]
    if len(set(names)) != len(names):
        raise UnsafeFormulaError(f"{record.name}: repeated argument names {names}")
    check_expr_names(record.expr, *record.conditions, *args)
    missing = (record.expr.free_symbols | set().union(*(c.free_symbols for c in record.conditions))) - set(args)
    if missing:
        raise UnsafeFormulaError(f"{record.name}: symbols {sorted(map(str, missing))} are not arguments")
    return Routine(
        name=record.name,
        args=args,
        expr=with_nan_default(record.expr),
        conditions=tuple(c for c in record.conditions if c is not sp.true),
        condition_text=tuple(record.condition_text),
        header=tuple(header_lines(record)),
        meaning=str(record.meaning),
    )


def with_nan_default(expr: sp.Basic) -> sp.Basic:
    """Give every Piecewise a final ``(nan, True)`` branch, so no printer has to invent a default."""

    def fix(pw: sp.Piecewise) -> sp.Basic:
        if pw.args[-1].cond is sp.true:
            return pw
        return sp.Piecewise(*pw.args, (sp.nan, True))

    return expr.replace(lambda e: isinstance(e, sp.Piecewise), fix)


def float_literal(value: sp.Float) -> str:
    """The shortest decimal literal that reads back as the same double (Python, C and JS alike).

    A Float of more than 53 bits prints with all its digits (the target language rounds once).
    """
    if value._prec <= 53:
        x = float(value)
        if x != x or x in (float("inf"), float("-inf")):
            raise UnsafeFormulaError(f"constant {value} is not a finite double")
        return repr(x)
    return mpmath.libmp.to_str(value._mpf_, mpmath.libmp.prec_to_dps(value._prec) + 2, strip_zeros=False)


class ExactFloatMixin:
    """Printer mixin: Floats print as exact round-trip literals, not at SymPy's default 15 digits."""

    def _print_Float(self, expr: sp.Float) -> str:
        return float_literal(expr)


def guarded_return(routine: Routine, printer: Any, ind: str, nan: str, comment: Any) -> list[str]:
    """Body lines of a brace language (C, JavaScript): the conditions as comments, a guard returning
    ``nan`` where one fails, then ``return <expr>;``. ``comment`` turns one line of text into a comment."""
    body: list[str] = []
    if routine.conditions:
        body += [f"{ind}{comment('valid when ' + ' '.join(t.splitlines()))}" for t in routine.condition_text]
        cond = " && ".join(f"({printer.doprint(c)})" for c in routine.conditions)
        body += [f"{ind}if (!({cond})) {{", f"{ind * 2}return {nan};", f"{ind}}}"]
    expr_lines = printer.doprint(routine.expr).splitlines()
    expr_lines[0] = f"return {expr_lines[0]}"
    expr_lines[-1] += ";"
    return body + [f"{ind}{line}" for line in expr_lines]
