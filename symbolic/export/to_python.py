"""Export a closed form as a pure-Python module: ``def NAME(args...)`` using only ``math``."""

from __future__ import annotations

from typing import Any

from sympy.printing.pycode import PythonCodePrinter

from inferonomics.symbolic.export.routine import ExactFloatMixin, Routine, make_routine

EXTENSION = ".py"


class ScalarPythonPrinter(ExactFloatMixin, PythonCodePrinter):
    """PythonCodePrinter with exact float literals; ``Max`` prints as ``max()`` (scalars only)."""

    def __init__(self) -> None:
        super().__init__({"fully_qualified_modules": True, "standard": "python3"})


def function_lines(routine: Routine, printer: PythonCodePrinter, *, nan: str, indent: str = "    ") -> list[str]:
    """The body lines shared by the Python module: docstring, guard, return."""
    lines = [f"def {routine.name}({', '.join(routine.arg_names)}):", f"{indent}{routine.meaning!r}"]
    if routine.conditions:
        for text in routine.condition_text:
            lines.append(f"{indent}# valid when {' '.join(text.splitlines())}")
        cond = " and ".join(f"({printer.doprint(c)})" for c in routine.conditions)
        lines += [f"{indent}if not ({cond}):", f"{indent * 2}return {nan}"]
    lines.append(f"{indent}return {printer.doprint(routine.expr)}")
    return lines


def render(routine: Routine) -> str:
    printer = ScalarPythonPrinter()
    body = function_lines(routine, printer, nan="math.nan")
    head = [f"# {line}".rstrip() for line in routine.header]
    return "\n".join([*head, "", "import math", "", f"__all__ = [{routine.name!r}]", "", "", *body, ""])


def export_python(record: Any, *, basename: str | None = None, steps: bool = False) -> dict[str, str]:
    """One file ``NAME.py`` defining ``NAME(args...)`` for scalars; NaN where a condition fails."""
    routine = make_routine(record)
    return {f"{basename or routine.name}{EXTENSION}": render(routine)}
