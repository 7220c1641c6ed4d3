"""The JSON expression tree: a small, documented schema of nodes, and the encoder into it.

Nodes (every node is a JSON object with exactly one of these shapes):

- ``{"symbol": NAME}``: a Symbol; NAME is a plain identifier (see ``names.check_identifier``).
  Symbols are ``positive=True`` (the symbol table's convention); any other assumptions travel in an
  ``"assumptions": {"real": true, ...}`` key (``{}`` for a plain Symbol).
- ``{"int": "DECIMAL"}``: an Integer, as a decimal string (any size up to 10**6 digits).
- ``{"rational": ["P", "Q"]}``: a Rational P/Q, both decimal strings, Q > 1.
- ``{"float": "LITERAL"}``: a Float: the shortest round-trip literal of a double; a Float of more
  than 53 bits adds ``"prec": BITS`` and prints all its digits. Never NaN or infinite.
- ``{"const": "pi" | "E"}``.
- ``{"bool": true | false}``.
- ``{"op": OP, "args": [NODE, ...]}`` with OP one of ``Add Mul Pow Max Min Abs log exp ceiling`` (arithmetic),
  ``Gt Ge Lt Le Eq Ne`` (relations, two args), ``And Or Not`` (logic).
- ``{"op": "Piecewise", "args": [{"expr": NODE, "cond": NODE}, ...]}``.

Derivation steps only (never an expression, a condition or code) may also hold:

- ``{"notation": TEXT}``: a Symbol named by LaTeX notation (``t_{compute}``, ``\\bar{C}``); TEXT
  matches ``[A-Za-z0-9_{}\\^ ,.'+-]{1,100}``; assumptions as for ``symbol``.
- ``{"op": "Derivative", "args": [NODE, VARIABLE, ...]}`` (a variable repeated n times for order n).

Anything else is refused with UnsafeFormulaError, on the way out as on the way in.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import mpmath
import sympy as sp
import re

from inferonomics.symbolic.errors import UnsafeFormulaError
from inferonomics.symbolic.export.names import check_identifier

ARITHMETIC: dict[str, type[sp.Basic]] = {
    "Add": sp.Add, "Mul": sp.Mul, "Pow": sp.Pow, "Max": sp.Max, "Min": sp.Min,
    "Abs": sp.Abs, "log": sp.log, "exp": sp.exp, "ceiling": sp.ceiling,  # ceiling: whole stages or chips
}
RELATIONS: dict[str, type[sp.Basic]] = {
    "Gt": sp.StrictGreaterThan, "Ge": sp.GreaterThan, "Lt": sp.StrictLessThan, "Le": sp.LessThan,
    "Eq": sp.Equality, "Ne": sp.Unequality,
}
LOGIC: dict[str, type[sp.Basic]] = {"And": sp.And, "Or": sp.Or, "Not": sp.Not}
#: how many args each op takes: (min, max); None = no upper bound
ARITY: dict[str, tuple[int, int | None]] = {
    "Add": (2, None), "Mul": (2, None), "Pow": (2, 2), "Max": (2, None), "Min": (2, None),
    "Abs": (1, 1), "log": (1, 1), "exp": (1, 1), "ceiling": (1, 1), "And": (2, None), "Or": (2, None), "Not": (1, 1),
    **{k: (2, 2) for k in RELATIONS},
}
CONSTANTS: dict[str, sp.Basic] = {"pi": sp.pi, "E": sp.E}
ASSUMPTION_KEYS = frozenset({"positive", "nonnegative", "negative", "nonpositive", "real", "nonzero", "finite",
                             "integer"})
DEFAULT_ASSUMPTIONS = {"positive": True}


NOTATION = re.compile(r"[A-Za-z0-9_{}\\^ ,.'+\-]{1,100}\Z")


def int_to_str(n: int) -> str:
    """Decimal text of any int (Python's str() refuses beyond 4300 digits)."""
    try:
        return str(n)
    except ValueError:  # split in base 10**4000 chunks, each under the limit
        sign, n = ("-", -n) if n < 0 else ("", n)
        chunks = []
        while n:
            n, r = divmod(n, 10**4000)
            chunks.append(r)
        head, *rest = reversed(chunks)
        return sign + str(head) + "".join(f"{c:04000d}" for c in rest)


def symbol_node(sym: sp.Symbol, doc: bool = False) -> dict[str, Any]:
    if type(sym) is not sp.Symbol:
        raise UnsafeFormulaError(f"cannot export {type(sym).__name__} {sym}")
    node: dict[str, Any]
    if doc and not sym.name.isidentifier():
        if not NOTATION.match(sym.name):
            raise UnsafeFormulaError(f"notation symbol {sym.name[:60]!r} has characters outside {NOTATION.pattern}")
        node = {"notation": sym.name}
    else:
        node = {"symbol": check_identifier(sym.name)}
    given = dict(sym._assumptions_orig)
    if given != DEFAULT_ASSUMPTIONS:
        node["assumptions"] = {k: bool(v) for k, v in sorted(given.items())}
    return node


def to_tree(expr: Any, doc: bool = False) -> dict[str, Any]:
    """Encode a SymPy expression or relation as a JSON tree; refuses nodes outside the schema.

    ``doc=True`` (derivation steps only) also allows notation symbols and Derivative.
    """
    if isinstance(expr, bool):
        expr = sp.true if expr else sp.false
    if isinstance(expr, sp.Symbol):
        return symbol_node(expr, doc)
    if isinstance(expr, sp.Integer):
        return {"int": int_to_str(int(expr))}
    if isinstance(expr, sp.Rational):
        return {"rational": [int_to_str(int(expr.p)), int_to_str(int(expr.q))]}
    if isinstance(expr, sp.Float):
        return float_node(expr)
    if expr is sp.pi or expr is sp.E:
        return {"const": str(expr)}
    if expr is sp.true or expr is sp.false:
        return {"bool": expr is sp.true}
    if isinstance(expr, sp.Piecewise):
        return {"op": "Piecewise", "args": [{"expr": to_tree(e, doc), "cond": to_tree(c, doc)} for e, c in expr.args]}
    if doc and isinstance(expr, sp.Derivative):
        return {"op": "Derivative", "args": [to_tree(a, doc) for a in (expr.expr, *expr.variables)]}
    for table in (ARITHMETIC, RELATIONS, LOGIC):
        for op, cls in table.items():
            if type(expr) is cls:
                return {"op": op, "args": [to_tree(a, doc) for a in expr.args]}
    raise UnsafeFormulaError(f"cannot export node type {type(expr).__name__}")


def float_node(value: sp.Float) -> dict[str, Any]:
    if not value.is_finite:
        raise UnsafeFormulaError(f"cannot export non-finite constant {value}")
    if value._prec == 53:
        x = float(value)
        if sp.Float(repr(x), precision=53) == value:
            return {"float": repr(x)}
    dps = mpmath.libmp.prec_to_dps(value._prec) + 3
    return {"float": mpmath.libmp.to_str(value._mpf_, dps, strip_zeros=False), "prec": int(value._prec)}


def canonical(obj: Any) -> str:
    """Canonical JSON text (sorted keys, no spaces): the input of the sha256 hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def tree_hash(expr_tree: Any, arg_names: list[str], condition_trees: list[Any]) -> str:
    """sha256 of the canonical JSON of ``{"args": names, "conditions": trees, "expr": tree}``."""
    payload = {"args": arg_names, "conditions": condition_trees, "expr": expr_tree}
    return hashlib.sha256(canonical(payload).encode("ascii")).hexdigest()
