"""Prose with its notation typeset: the plain names of the records' sentences become inline math.

The closed-form records and the symbol table say ``n_ar``, ``alpha_s``, ``10^6`` and ``B*_kv`` in their
sentences (they are read in terminals too); a document shows the reader the notation of its equations
instead, :math:`n_{ar}`, :math:`\\alpha_{s}`, :math:`10^{6}`, :math:`B^{*}_{kv}`. Only what is certainly
notation is converted: names in the symbol table (or a caller's extra notation), Greek letter names, powers,
starred letters and a single letter with a short subscript; everything else stays text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache

from . import symbols as s

_GREEK = ("alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "kappa", "lambda", "mu", "pi", "rho",
          "sigma", "tau", "phi", "chi", "psi", "omega")

_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex_text(text: str) -> str:
    """Escape plain prose for LaTeX (no notation). A ``--`` in prose is a command-line flag, never a dash (prose
    writes dashes as characters): kept as two hyphens, not TeX's en-dash ligature."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text).replace("--", "-{}-")


def table_notation() -> dict[str, str]:
    """Plain name -> LaTeX of every symbol-table entry whose plain name cannot be an English word."""
    return dict(_table_notation(len(s.TABLE)))


@lru_cache(maxsize=1)
def _table_notation(_entries: int) -> dict[str, str]:
    # keyed on the table's size, which only grows: every sentence of the documents (~1100 in derive) used to
    # rebuild this from every entry's ``plain`` property (0.7 s profiled)
    return {i.plain: i.latex for i in s.TABLE.values() if len(i.plain) > 1 and i.plain not in ("pi",)}


def tex_code(name: str) -> str:
    """An identifier in type, breakable after its underscores (closed-form names are long)."""
    return r"\texttt{" + tex_text(name).replace(r"\_", r"\_\allowbreak{}") + "}" if name else ""


_POWER_BASE = r"(?:\w+\*?|\([^()]*\))"
_POWER = rf"(?P<pb>{_POWER_BASE})\^(?P<pe>\{{[^{{}}]*\}}|\w+|\([^()]*\))"
_STAR = r"(?P<sb>[A-Za-z])\*(?:_(?P<ss>[A-Za-z0-9]{1,3}))?(?![\w*])"
_SUB = r"(?P<ib>[A-Za-z])_(?P<is>[A-Za-z0-9]{1,3})(?![\w,])"
_REL = r"(?P<rel>>=|<=)"
#: any other snake_case identifier is code (a closed form's or an argument's name): set in type
_CODE = r"(?P<code>[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+)(?![\w])"


@lru_cache(maxsize=8)
def _pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    named = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"{_POWER}|(?<![\w\\])(?:(?P<name>{named})(?![\w])|{_STAR}|{_SUB}|{_CODE})|{_REL}")


def _math_of(m: re.Match[str], names: Mapping[str, str]) -> str:
    if m.group("pb"):
        base, exp = m.group("pb"), m.group("pe").strip("{}")
        if exp.startswith("(") and exp.endswith(")"):
            exp = exp[1:-1]
        base = rf"{{{base[:-1]}^{{*}}}}" if base.endswith("*") else names.get(base, base)
        return f"{base}^{{{exp}}}"
    if m.group("name"):
        return names[m.group("name")]
    if m.group("sb"):
        return f"{m.group('sb')}^{{*}}" + (f"_{{{m.group('ss')}}}" if m.group("ss") else "")
    if m.group("ib"):
        return f"{m.group('ib')}_{{{m.group('is')}}}"
    return {">=": r"\geq", "<=": r"\leq"}[m.group("rel")]


def _convert(text: str, extra: Mapping[str, str], escape: Callable[[str], str],
             code: Callable[[str], str]) -> str:
    names = {**_table_notation(len(s.TABLE)), **{g: "\\" + g for g in _GREEK}, **extra}
    out, pos = [], 0
    for m in _pattern(tuple(names)).finditer(text):
        piece = code(m.group("code")) if m.group("code") else f"${_math_of(m, names)}$"
        out += [escape(text[pos:m.start()]), piece]
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def tex_prose(text: str, extra: Mapping[str, str] = {}) -> str:
    """LaTeX of a sentence: text escaped, notation as inline math."""
    return _convert(text, extra, tex_text, tex_code)


def markdown_prose(text: str, extra: Mapping[str, str] = {}) -> str:
    """Markdown of a sentence: notation as ``$...$`` inline math (GitHub and Pandoc render it)."""
    return _convert(text, extra, lambda t: t, lambda c: f"`{c}`")
