"""The LaTeX printer every document uses: SymPy's, with three habits of a human writer.

* A sum starts with a positive term: ``1 - k_e/E``, not SymPy's ``- k_e/E + 1``.
* Unit conversions keep their factors: 2500/9 is 10^6 tokens per million over 3600 s per hour, so it
  prints as ``10^{6}/3600``; 400000 as ``1440 \\cdot 10^{6}/3600``; 2000000 as ``2 \\cdot 10^{6}``.
* Auxiliary symbols of the derivations (not in the symbol table) print as notation, not as code names:
  ``time_per_token`` is the batch-1 time :math:`\\tau_1`, word subscripts are upright (``t_{\\mathrm{memory}}``).
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter

#: auxiliary unknowns of the derivations (symbolic.formulas), by name -> their notation
AUX_NOTATION = {
    "time_per_token": r"\tau_{1}",  # the batch-1 time per token, the latency floor's tau_1(t)
    "user_base": r"U",              # the user base: U_min, U_pi, U_r are its closed forms
    "utilization": r"u",            # utilization, u(B); U is the user base
    "cost_ratio": r"\kappa_{1}",
}

#: factors a coefficient is tried against, in order: (multiplier in the numerator, denominator, their LaTeX)
_MILLION = sp.Integer(10) ** 6
_PER_HOUR = sp.Integer(3600)

_WORD_SUB = re.compile(r"^(.+?)_\{([^{}]+)\}$")


def _upright_words(sub: str) -> str:
    """``gemm,L2`` -> ``\\mathrm{gemm},L2``: words of three or more letters are names, not products."""
    return ",".join(rf"\mathrm{{{p}}}" if re.fullmatch(r"[A-Za-z]{3,}", p) else p for p in sub.split(","))


def unit_factors(c: sp.Rational) -> tuple[str, str] | None:
    """(numerator, denominator) LaTeX for a coefficient that is a per-million and per-hour conversion.

    Integers below 10^5 print as themselves (1440 minutes a day is already its own name)."""
    if not isinstance(c, sp.Rational) or c <= 0:
        return None
    if c.is_Integer and c < 10**5:
        return None
    a = c / _MILLION
    if a.is_Integer:
        return (r"10^{6}" if a == 1 else rf"{a} \cdot 10^{{6}}"), ""
    a = c * _PER_HOUR / _MILLION
    if a.is_Integer:
        return (r"10^{6}" if a == 1 else rf"{a} \cdot 10^{{6}}"), "3600"
    return None


class DocumentPrinter(LatexPrinter):
    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        if expr in self._settings["symbol_names"]:
            return self._settings["symbol_names"][expr]
        if expr.name in AUX_NOTATION:
            return AUX_NOTATION[expr.name]
        m = _WORD_SUB.match(expr.name)
        if m:
            return f"{m.group(1)}_{{{_upright_words(m.group(2))}}}"
        return super()._print_Symbol(expr, style=style)

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        terms = list(self._as_ordered_terms(expr, order=order))
        first_positive = next((i for i, term in enumerate(terms) if not term.could_extract_minus_sign()), 0)
        terms.insert(0, terms.pop(first_positive))
        return super()._print_Add(sp.Add(*terms, evaluate=False), order="none")

    def _print_Mul(self, expr: sp.Mul) -> str:
        coeff, rest = expr.as_coeff_Mul()
        sign = ""
        if coeff < 0:
            sign, coeff = "- ", -coeff
        factors = unit_factors(coeff)
        if factors is None:
            return super()._print_Mul(expr)
        top, bottom = factors
        num, den = sp.fraction(rest)

        def part(lead: str, e: sp.Expr) -> str:
            if e == 1:
                return lead
            body = self._print(e)
            if e.is_Add:
                body = rf"\left({body}\right)"
            return f"{lead} {body}".strip()

        numerator, denominator = part(top, num), part(bottom, den)
        return sign + (rf"\frac{{{numerator}}}{{{denominator}}}" if denominator else numerator)


def latex(expr: sp.Basic, symbol_names: dict[sp.Symbol, str]) -> str:
    return DocumentPrinter({"symbol_names": symbol_names}).doprint(expr)


class SoftMaxPrinter(DocumentPrinter):
    """Also prints a soft maximum ``(x^p + y^p + ...)^(1/p)`` as ``\\operatorname{smax}_{p}(x, y, ...)``, the
    way a reader of the kernel terms wants it: which times compete, not the algebra that joins them."""

    def _print_Pow(self, expr: sp.Pow) -> str:
        base, exp = expr.args
        p = 1 / exp
        if base.is_Add and all(t.is_Pow and t.args[1] == p for t in base.args) and not p.is_Number:
            inner = ", ".join(self._print(t.args[0]) for t in base.args)
            return rf"\operatorname{{smax}}_{{{self._print(p)}}}\left({inner}\right)"
        return super()._print_Pow(expr)


def latex_softmax(expr: sp.Basic, symbol_names: dict[sp.Symbol, str]) -> str:
    return SoftMaxPrinter({"symbol_names": symbol_names}).doprint(expr)
