"""Export a closed form as a C99 pair: ``NAME.h`` declaring and ``NAME.c`` defining ``double NAME(double...)``.

Printed by a C99CodePrinter subclass: ``Max``/``Min`` become ``fmax``/``fmin``, ``Piecewise`` a
ternary, powers ``pow``/``sqrt``/``cbrt``; the guard returns ``NAN`` (C99 ``<math.h>``).
Compiles cleanly with ``cc -std=c99 -Wall -Wextra -pedantic``; link with ``-lm``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import sympy as sp
from sympy.printing.c import C99CodePrinter

from inferonomics.symbolic.export.routine import ExactFloatMixin, Routine, guarded_return, make_routine

#: integers above this print as double literals (an int constant this large would not fit ``long``)
_MAX_INT_LITERAL = 2**31 - 1


class GuardedC99Printer(ExactFloatMixin, C99CodePrinter):
    """C99CodePrinter with exact float literals and strictly-C99 constants (no POSIX ``M_PI``/``M_SQRT2``)."""

    def __init__(self) -> None:
        super().__init__({"math_macros": {}})  # the M_* macros are POSIX, not C99: -std=c99 lacks them

    def _print_Integer(self, expr: sp.Integer) -> str:
        if abs(int(expr)) > _MAX_INT_LITERAL:
            return f"{int(expr)}.0"
        return super()._print_Integer(expr)

    def _print_Exp1(self, expr: sp.Basic) -> str:
        return repr(math.e)

    def _print_Pi(self, expr: sp.Basic) -> str:
        return repr(math.pi)


def block_comment(lines: Iterable[str]) -> list[str]:
    """Wrap text lines in one ``/* ... */`` comment; a ``*/`` inside the text cannot close it."""
    return ["/*", *(f" * {line.replace('*/', '* /')}".rstrip() for line in lines), " */"]


def signature(routine: Routine) -> str:
    params = ", ".join(f"double {n}" for n in routine.arg_names) or "void"
    return f"double {routine.name}({params})"


def render_header(routine: Routine, guard_macro: str) -> str:
    lines = [
        *block_comment(routine.header),
        f"#ifndef {guard_macro}",
        f"#define {guard_macro}",
        "",
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
        *block_comment(routine.meaning.splitlines()),
        f"{signature(routine)};",
        "",
        "#ifdef __cplusplus",
        "}",
        "#endif",
        "",
        f"#endif /* {guard_macro} */",
        "",
    ]
    return "\n".join(lines)


def render_source(routine: Routine, header_name: str) -> str:
    printer = GuardedC99Printer()
    ind = "    "
    used = routine.expr.free_symbols.union(*(c.free_symbols for c in routine.conditions))
    body = [f"{ind}(void){a.name};" for a in routine.args if a not in used]
    body += guarded_return(routine, printer, ind, "NAN", lambda text: f"/* {text.replace('*/', '* /')} */")
    lines = [*block_comment(routine.header), "#include <math.h>", "", f'#include "{header_name}"', "",
             f"{signature(routine)}", "{", *body, "}", ""]
    return "\n".join(lines)


def export_c(record: Any, *, basename: str | None = None, steps: bool = False) -> dict[str, str]:
    """Two files, ``NAME.h`` and ``NAME.c`` (the header first); NaN where a condition fails."""
    routine = make_routine(record)
    stem = basename or routine.name
    guard_macro = f"INFERONOMICS_{routine.name.upper()}_H"
    return {f"{stem}.h": render_header(routine, guard_macro), f"{stem}.c": render_source(routine, f"{stem}.h")}
