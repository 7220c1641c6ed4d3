"""Numeric compilation: SymPy expressions and closed-form records to vectorised NumPy callables.

``lambdify(..., "numpy", cse=True)`` with the argument order given by the caller (never
``free_symbols`` order), after refusing any symbol whose name is not a plain identifier: lambdify
prints names into code it then executes (sympy issue #24990).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy as sp

from inferonomics.symbolic.errors import InvalidInputError, UnsafeFormulaError
from inferonomics.symbolic.export.names import check_expr_names
from inferonomics.symbolic.export.routine import with_nan_default
from inferonomics.symbolic.numpy_lambdify import lambdify_numpy


def compile_numpy(expr: sp.Basic, args: Sequence[sp.Symbol]) -> Callable[..., Any]:
    """Compile ``expr`` to ``f(*values)`` over NumPy arrays (inputs cast to float, broadcast).

    Raises
    ------
    UnsafeFormulaError
        A symbol (in ``expr`` or ``args``) is not a plain identifier, or ``expr`` uses symbols
        missing from ``args``.
    """
    args = tuple(args)
    check_expr_names(expr, *args)
    missing = expr.free_symbols - set(args)
    if missing:
        raise UnsafeFormulaError(f"symbols {sorted(map(str, missing))} are not in args")
    raw = lambdify_numpy(args, with_nan_default(expr))

    def numpy_expr(*values: Any) -> Any:
        if len(values) != len(args):
            raise InvalidInputError("values", f"{len(args)} values ({', '.join(a.name for a in args)})", len(values))
        with np.errstate(all="ignore"):
            return raw(*(np.asarray(v, dtype=float) for v in values))

    return numpy_expr


def compile_scalar(args: Sequence[sp.Symbol], expr: Any, *, module: str = "math", cse: bool = True
                   ) -> Callable[..., Any]:
    """Compile ``expr`` (an expression, or a list of them for a list of values) to ``f(*values)`` over plain
    Python numbers: ``module="math"`` for hot scalar loops (the solver, the step evaluator), ``"mpmath"`` for
    mpmath's root finders. Arguments in the order given; names checked as :func:`compile_numpy` checks them.
    No NaN guard and no casting: the callers bind validated values and need the speed."""
    args = tuple(args)
    check_expr_names(*(expr if isinstance(expr, (list, tuple)) else [expr]), *args)
    return sp.lambdify(args, expr, module, cse=cse)


class CompiledFormula:
    """A record compiled to NumPy: call with positional values (``args`` order) or by name.

    Where a validity condition fails, the element is NaN (``numpy.where``), never an exception:
    the same guard as the exported code.
    """

    def __init__(self, record: Any) -> None:
        self.name = record.name
        self.args = tuple(record.args)
        self.arg_names = tuple(a.name for a in self.args)
        self._value = compile_numpy(record.expr, self.args)
        self._conditions = [compile_numpy(sp.sympify(c), self.args) for c in record.conditions if c is not sp.true]

    def __call__(self, *values: Any, **named: Any) -> Any:
        if named:
            if values:
                raise InvalidInputError("values", "either positional or named values, not both")
            unknown = set(named) - set(self.arg_names)
            if unknown:
                raise InvalidInputError(sorted(unknown)[0], f"an argument of {self.name} ({', '.join(self.arg_names)})")
            missing = [n for n in self.arg_names if n not in named]
            if missing:
                raise InvalidInputError(missing[0], f"a value (argument of {self.name})")
            values = tuple(named[n] for n in self.arg_names)
        arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in values)) if values else []
        value = np.asarray(self._value(*arrays), dtype=float)
        ok = np.ones(np.broadcast_shapes(value.shape, *(a.shape for a in arrays)), dtype=bool)
        for cond in self._conditions:
            ok &= np.asarray(cond(*arrays), dtype=bool)
        return np.where(ok, value, np.nan)[()]

    def __repr__(self) -> str:
        return f"CompiledFormula({self.name}({', '.join(self.arg_names)}))"


def compile_record(record: Any) -> CompiledFormula:
    """Compile a ClosedForm (or LoadedFormula) with its NaN guard; see :class:`CompiledFormula`."""
    return CompiledFormula(record)
