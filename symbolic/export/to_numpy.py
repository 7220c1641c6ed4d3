"""Export a closed form as a NumPy module: a vectorised ``NAME(args...)`` that broadcasts over arrays.

``Max``/``Min`` print as ``numpy.maximum``/``numpy.minimum``, ``Piecewise`` as ``numpy.select``;
the validity guard is ``numpy.where``, so only the elements where a condition fails become NaN.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from inferonomics.symbolic.export.routine import ExactFloatMixin, Routine, make_routine

EXTENSION = ".py"
SUFFIX = "_np"


class VectorNumPyPrinter(ExactFloatMixin, NumPyPrinter):
    """NumPyPrinter with exact float literals and plain binary ``numpy.maximum``/``numpy.minimum``."""

    def __init__(self) -> None:
        super().__init__({"fully_qualified_modules": True})

    def _nest(self, func: str, args: tuple[sp.Basic, ...]) -> str:
        out = self._print(args[0])
        for a in args[1:]:
            out = f"numpy.{func}({out}, {self._print(a)})"
        return out

    def _print_Max(self, expr: sp.Max) -> str:
        return self._nest("maximum", expr.args)

    def _print_Min(self, expr: sp.Min) -> str:
        return self._nest("minimum", expr.args)


def render(routine: Routine) -> str:
    printer = VectorNumPyPrinter()
    names = routine.arg_names
    temps = sp.numbered_symbols("_t")  # a leading "_" never clashes with a checked arg name
    replacements, (reduced,) = sp.cse([routine.expr], symbols=temps, optimizations=None)
    ind = "    "
    lines = [f"def {routine.name}({', '.join(names)}):", f"{ind}{routine.meaning!r}"]
    if names:
        lines.append(f"{ind}{', '.join(names)}, = "
                     f"numpy.broadcast_arrays({', '.join(f'numpy.asarray({n}, dtype=float)' for n in names)})")
    lines.append(f"{ind}with numpy.errstate(all='ignore'):")
    for sym, sub in replacements:
        lines.append(f"{ind * 2}{printer.doprint(sym)} = {printer.doprint(sub)}")
    lines.append(f"{ind * 2}_value = {printer.doprint(reduced)}")
    if routine.conditions:
        for text in routine.condition_text:
            lines.append(f"{ind * 2}# valid when {' '.join(text.splitlines())}")
        conds = ", ".join(printer.doprint(c) for c in routine.conditions)
        lines.append(f"{ind * 2}_ok = numpy.logical_and.reduce(numpy.broadcast_arrays({conds}, True))")
        lines.append(f"{ind * 2}_value = numpy.where(_ok, _value, numpy.nan)")
    shape = f"numpy.broadcast_shapes({', '.join(f'numpy.shape({n})' for n in names)})" if names else "()"
    lines.append(f"{ind}return numpy.broadcast_to(numpy.asarray(_value, dtype=float), {shape}).copy()[()]")
    head = [f"# {line}".rstrip() for line in routine.header]
    return "\n".join([*head, "", "import numpy", "", f"__all__ = [{routine.name!r}]", "", "", *lines, ""])


def export_numpy(record: Any, *, basename: str | None = None, steps: bool = False) -> dict[str, str]:
    """One file ``NAME_np.py`` defining a vectorised ``NAME(args...)``; NaN where a condition fails."""
    routine = make_routine(record)
    return {f"{basename or routine.name + SUFFIX}{EXTENSION}": render(routine)}
