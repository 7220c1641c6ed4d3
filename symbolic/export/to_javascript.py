"""Export a closed form as an ES module (``NAME.mjs``): ``export function NAME(args...)``.

Printed by a JavascriptCodePrinter subclass: ``Max`` -> ``Math.max``, powers -> ``Math.pow``/
``Math.sqrt``/``Math.cbrt``, ``Piecewise`` -> a ternary; the guard returns ``NaN``.
"""

from __future__ import annotations

from typing import Any

from sympy.printing.jscode import JavascriptCodePrinter

from inferonomics.symbolic.export.routine import ExactFloatMixin, Routine, guarded_return, make_routine

EXTENSION = ".mjs"


class GuardedJavascriptPrinter(ExactFloatMixin, JavascriptCodePrinter):
    """JavascriptCodePrinter with exact float literals (shortest round-trip ``repr``) and ``NaN``."""

    def _print_NaN(self, expr: object) -> str:
        return "NaN"


def render(routine: Routine) -> str:
    printer = GuardedJavascriptPrinter()
    ind = "  "
    body = guarded_return(routine, printer, ind, "NaN", lambda text: f"// {text}")
    doc = ["/**", *(f" * {line.replace('*/', '* /')}".rstrip() for line in routine.meaning.splitlines()), " */"]
    lines = [*(f"// {line}".rstrip() for line in routine.header), "", *doc,
             f"export function {routine.name}({', '.join(routine.arg_names)}) {{", *body, "}", ""]
    return "\n".join(lines)


def export_javascript(record: Any, *, basename: str | None = None, steps: bool = False) -> dict[str, str]:
    """One file ``NAME.mjs`` exporting ``NAME(args...)``; NaN where a condition fails."""
    routine = make_routine(record)
    return {f"{basename or routine.name}{EXTENSION}": render(routine)}
