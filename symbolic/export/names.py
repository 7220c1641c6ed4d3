"""The one identifier check every exporter, the JSON importer and the numeric compiler share.

A symbol's name is printed verbatim into generated Python, NumPy, C and JavaScript, and
``lambdify`` turns it into a parameter name; a name that is code runs (sympy issues #10805 and
#24990). So every name that reaches generated code must be a plain ASCII identifier that is not a
keyword in any target language and does not shadow a name the generated code itself uses.
"""

from __future__ import annotations

import keyword
import re

import sympy as sp
from sympy.core.function import AppliedUndef

from inferonomics.symbolic.errors import UnsafeFormulaError

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
MAX_NAME_LENGTH = 100

_C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int"
    " long register restrict return short signed sizeof static struct switch typedef union unsigned void"
    " volatile while _Bool _Complex _Imaginary".split()
)
_JS_RESERVED = frozenset(
    "await break case catch class const continue debugger default delete do else enum export extends"
    " false finally for function if implements import in instanceof interface let new null package"
    " private protected public return static super switch this throw true try typeof var void while"
    " with yield arguments eval undefined NaN Infinity globalThis".split()
)
#: names the generated code refers to; an argument with one of these names would shadow it
_GENERATED_CODE_NAMES = frozenset(
    "math numpy functools Math NAN INFINITY HUGE_VAL fmax fmin fabs sqrt cbrt pow exp log isnan"
    " builtins print max min abs".split()
)
RESERVED = (frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | _C_KEYWORDS | _JS_RESERVED
            | _GENERATED_CODE_NAMES)


def check_identifier(name: object, *, what: str = "symbol name") -> str:
    """Return ``name`` if it is a plain identifier safe to print as code, else raise.

    Plain means ASCII ``[A-Za-z][A-Za-z0-9_]*`` (so never dunder, never a leading ``_``, never a
    dotted, attribute-like or call-like name), at most 100 characters, and not a keyword or reserved
    word of Python, C99 or JavaScript, nor a name the generated code uses (``math``, ``numpy``,
    ``Math``, ``NAN``, ``fmax``...).

    Raises
    ------
    UnsafeFormulaError
        With a one-line message naming the offending name (shortened).
    """
    if not isinstance(name, str):
        raise UnsafeFormulaError(f"{what} must be a string, got {type(name).__name__}")
    shown = name if len(name) <= 60 else name[:57] + "..."
    if len(name) > MAX_NAME_LENGTH or not _PLAIN.match(name):
        raise UnsafeFormulaError(f"{what} {shown!r} is not a plain identifier [A-Za-z][A-Za-z0-9_]*")
    if name in RESERVED:
        raise UnsafeFormulaError(f"{what} {name!r} is a reserved word in generated code")
    return name


def check_expr_names(*exprs: sp.Basic) -> None:
    """Check every Symbol in ``exprs`` with :func:`check_identifier`; refuse undefined functions.

    Dummy symbols and ``Function('...')`` applications are refused too: their names would be
    printed into code just the same.
    """
    for expr in exprs:
        if not isinstance(expr, sp.Basic):
            raise UnsafeFormulaError(f"expected a SymPy expression, got {type(expr).__name__}")
        for sym in expr.atoms(sp.Symbol):
            if isinstance(sym, sp.Dummy):
                raise UnsafeFormulaError(f"dummy symbol {sym.name!r} cannot be printed as code")
            check_identifier(sym.name)
        for fn in expr.atoms(AppliedUndef):
            raise UnsafeFormulaError(f"undefined function {type(fn).__name__!r} cannot be printed as code")
