"""ClosedForm: a derived formula as a record (expression, argument order, conditions, derivation steps)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import sympy as sp
from sympy import Expr, Symbol

from .errors import ConditionError, InvalidInputError
from .latex_print import latex
from .symbols import latex_names, plain_names


@lru_cache(maxsize=4096)
def to_latex(expr: sp.Basic) -> str:
    """LaTeX of an expression with the symbol table's names (one place, so every document agrees).

    Cached: derive prints every closed form, step and condition into both the .tex and the .md (530 printings
    of ~270 expressions). SymPy keys an expression by its structure, Floats by value and precision, so equal
    keys print alike.
    """
    return latex(expr, latex_names())


@dataclass(frozen=True)
class Step:
    """One step of a derivation: ``lhs = rhs``, because ``why`` (one sentence)."""

    lhs: Expr
    rhs: Expr
    why: str

    def latex(self) -> str:
        return f"{to_latex(self.lhs)} = {to_latex(self.rhs)}"


@dataclass(frozen=True)
class ClosedForm:
    """A closed-form result with everything needed to print, export and verify it.

    ``residual`` is the defining equation, written as an expression that vanishes at
    ``unknown = expr``; tests check it by substitution and against a numeric root.
    ``conditions`` are SymPy relations over ``args`` under which the result holds (``solve``
    would silently drop them); ``condition_text`` says each in words.
    """

    name: str
    notation: str
    meaning: str
    expr: Expr
    args: tuple[Symbol, ...]
    unit: str
    policy: str
    unknown: Symbol
    residual: Expr
    steps: tuple[Step, ...]
    conditions: tuple[sp.Basic, ...] = ()
    condition_text: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    #: (low, high) expressions in args bracketing the root of ``residual``, for brentq checks
    bracket: tuple[Expr, Expr] | None = None
    #: for an approximation: a bound on |expr - root| / root, where root is the exact root of
    #: ``residual``; None means ``expr`` is exact
    error_bound: Expr | None = None
    extra: Mapping[str, object] = field(default_factory=dict)
    #: arguments that may be left out, with the value they then take: a general form's efficiencies and fixed
    #: costs (symbolic.efficiency), whose defaults give the ideal form
    defaults: Mapping[Symbol, Expr] = field(default_factory=dict)

    def __post_init__(self) -> None:
        needed = self.expr.free_symbols.union(*(c.free_symbols for c in self.conditions))
        missing = needed - set(self.args)
        if missing:
            raise ValueError(f"{self.name}: args miss {sorted(map(str, missing))}")
        if len(self.conditions) != len(self.condition_text):
            raise ValueError(f"{self.name}: every condition needs its sentence")

    # -- printing ----------------------------------------------------------------------------
    def latex(self) -> str:
        return f"{self.notation} = {to_latex(self.expr)}"

    def plain(self) -> str:
        """The expression in the table's short notation, for terminals (``b_w*F/(2*W)``)."""
        return str(self.expr.xreplace(plain_names()))

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()}$"

    def conditions_latex(self) -> list[str]:
        return [to_latex(c) for c in self.conditions]

    # -- numbers -----------------------------------------------------------------------------
    def bind(self, values: Mapping[str | Symbol, float]) -> dict[Symbol, float]:
        """Map names or Symbols to numbers for exactly this record's args; extra keys are ignored, and an
        argument with a default (an efficiency of a general form) may be missing."""
        by_name = {(k.name if isinstance(k, Symbol) else k): v for k, v in values.items()}
        out = {}
        for a in self.args:
            if a.name not in by_name and a in self.defaults:
                out[a] = self.defaults[a]
            elif a.name not in by_name:
                raise InvalidInputError(a.name, f"a value (argument of {self.name})")
            else:
                out[a] = by_name[a.name]
        return out

    def failed_conditions(self, values: Mapping[str | Symbol, float]) -> list[str]:
        bound = self.bind(values)
        # xreplace, not subs: every arg is a plain Symbol, and subs' generality costs ~20 ms a call
        exact = {k: sp.Float(v, 30) if isinstance(v, float) else sp.sympify(v) for k, v in bound.items()}
        return [text for c, text in zip(self.conditions, self.condition_text) if not bool(c.xreplace(exact))]

    def evaluate(self, values: Mapping[str | Symbol, float], *, digits: int = 17) -> float:
        """Evaluate exactly (SymPy evalf); raises ConditionError when a condition fails."""
        failed = self.failed_conditions(values)
        if failed:
            raise ConditionError(f"{self.name} does not exist here: {failed[0]}")
        exact = {k: sp.Float(v, digits + 13) if isinstance(v, float) else sp.sympify(v)
                 for k, v in self.bind(values).items()}
        return float(self.expr.xreplace(exact).evalf(digits))
