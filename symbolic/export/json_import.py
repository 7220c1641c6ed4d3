"""Load a formula from its JSON export safely: walk the tree against a whitelist, never eval or sympify.

SymPy's own ``srepr`` -> ``sympify`` round trip evaluates text and so can carry code (sympy issue
#10805), and a Symbol whose name is code runs when lambdified (sympy issue #24990). Here every node
is checked against the schema in ``tree.py`` and built by calling the SymPy class directly; every
name passes ``names.check_identifier``; sizes are bounded (text, nesting depth, node count, arguments
per operation, distinct symbols, integer digits, exact powers, and the bits of every integer the
file makes SymPy build). Anything else raises UnsafeFormulaError (or SpecError for a file that is
merely malformed), with a one-line message.

The bounds are sized from what the exporter writes (the largest record, with its derivation, has about
200 nodes, 8 arguments per operation and 9 symbols) times ten or more, and so that a hostile file is
refused or loaded in well under two seconds: SymPy's cost grows faster than linearly in the terms of
one sum (a flat Add of 10,000 symbols took 20 s; of 100,000, all memory) and in the digits of a number
it must factor (sqrt of a 3,000-digit integer took 10 s).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sympy as sp

from inferonomics.symbolic.closedform import ClosedForm, Step, to_latex
from inferonomics.symbolic.errors import SpecError, UnsafeFormulaError
from inferonomics.symbolic.export.names import check_identifier
from inferonomics.symbolic.export.to_json import SCHEMA
from inferonomics.symbolic.export.tree import (ARITHMETIC, ARITY, ASSUMPTION_KEYS, CONSTANTS, DEFAULT_ASSUMPTIONS,
                                              LOGIC, NOTATION, RELATIONS, tree_hash)
from inferonomics.symbolic.readfile import read_text

MAX_TEXT_CHARS = 2_000_000
MAX_DEPTH = 200
MAX_NODES = 2_000
#: arguments of one operation (Add, Mul, And, ...); nesting flattens, so MAX_NODES bounds a whole sum
MAX_OP_ARGS = 64
#: distinct symbols in one document
MAX_SYMBOLS = 64
MAX_INT_DIGITS = 1_000
#: an exact power p**e of rationals is refused when bits(p) * |numerator(e)| exceeds this
MAX_POWER_BITS = 10_000
#: a rational raised to a fractional power is factored by SymPy: its numerator and denominator stay small
MAX_ROOT_BASE_BITS = 256
#: bits of every integer literal and exact power together: products of them stay printable (Python
#: refuses to print integers over 4,300 digits, about 14,000 bits)
MAX_TOTAL_BITS = 12_000
MAX_FLOAT_CHARS = 1_000
MAX_FLOAT_PREC = 4_096
MAX_TEXT_FIELD = 100_000

_DECIMAL = re.compile(r"-?[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_SHAPES = (
    {"symbol"}, {"symbol", "assumptions"}, {"notation"}, {"notation", "assumptions"}, {"int"}, {"rational"},
    {"float"}, {"float", "prec"}, {"const"}, {"bool"}, {"op", "args"},
)


@dataclass(frozen=True)
class LoadedFormula:
    """A formula loaded from JSON without its derivation: what printing, export and evaluation need."""

    name: str
    notation: str
    meaning: str
    expr: sp.Expr
    args: tuple[sp.Symbol, ...]
    unit: str
    policy: str
    conditions: tuple[sp.Basic, ...] = ()
    condition_text: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    #: for an approximation: the bound on |expr - root|/root that the export carried; None when exact
    error_bound: sp.Expr | None = None

    def latex(self) -> str:
        return f"{self.notation} = {to_latex(self.expr)}"

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()}$"

    def conditions_latex(self) -> list[str]:
        return [to_latex(c) for c in self.conditions]


def parse_decimal(text: object, what: str = "int") -> int:
    """A decimal string (at most MAX_INT_DIGITS digits) as an int; anything else is unsafe."""
    if not isinstance(text, str):
        raise UnsafeFormulaError(f"{what}: expected a decimal string, got {type(text).__name__}")
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise UnsafeFormulaError(f"{what}: integer of {len(text)} digits exceeds {MAX_INT_DIGITS} digits")
    if not _DECIMAL.match(text):
        raise UnsafeFormulaError(f"{what}: {text[:40]!r} is not a decimal integer")
    try:
        return int(text)
    except ValueError:  # over Python's 4300-digit str->int limit: convert in chunks
        sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text)
        value = 0
        for i in range(0, len(digits), 4000):
            chunk = digits[i:i + 4000]
            value = value * 10 ** len(chunk) + int(chunk)
        return sign * value


def is_condition(obj: object) -> bool:
    """A relation, And/Or/Not or true/false; a Symbol is a SymPy Boolean too, but not a condition here."""
    return isinstance(obj, sp.logic.boolalg.Boolean) and not isinstance(obj, sp.Expr)


class _Decoder:
    """One pass over one document: counts nodes and keeps one Symbol per (name, assumptions)."""

    def __init__(self) -> None:
        self.nodes = 0
        self.bits = 0
        self.symbols: set[str] = set()

    def spend_bits(self, bits: int) -> None:
        """Count the bits of an integer the document makes SymPy hold; refuse past MAX_TOTAL_BITS."""
        self.bits += bits
        if self.bits > MAX_TOTAL_BITS:
            raise UnsafeFormulaError(f"integers total more than {MAX_TOTAL_BITS} bits")

    def integer(self, text: object, what: str = "int") -> int:
        value = parse_decimal(text, what)
        self.spend_bits(value.bit_length())
        return value

    def symbol(self, name: object, node: dict, notation: bool) -> sp.Symbol:
        if notation:
            if not isinstance(name, str) or not NOTATION.match(name):
                raise UnsafeFormulaError(f"notation {str(name)[:60]!r} has characters outside {NOTATION.pattern}")
        else:
            name = check_identifier(name)
        self.symbols.add(name)
        if len(self.symbols) > MAX_SYMBOLS:
            raise UnsafeFormulaError(f"more than {MAX_SYMBOLS} distinct symbols")
        assumptions = node.get("assumptions", DEFAULT_ASSUMPTIONS)
        if not isinstance(assumptions, dict):
            raise UnsafeFormulaError("symbol assumptions must be an object")
        for key, value in assumptions.items():
            if key not in ASSUMPTION_KEYS or not isinstance(value, bool):
                raise UnsafeFormulaError(f"symbol assumption {str(key)[:40]!r} is not one of {sorted(ASSUMPTION_KEYS)} "
                                         "with a boolean")
        try:
            return sp.Symbol(name, **assumptions)
        except Exception as exc:  # inconsistent assumptions, e.g. positive and negative
            raise UnsafeFormulaError(f"symbol {name!r}: inconsistent assumptions ({exc})") from None

    def expr(self, node: Any, doc: bool = False) -> sp.Expr:
        out = self.node(node, 0, doc)
        if not isinstance(out, sp.Expr):
            raise UnsafeFormulaError(f"expected an expression, got {type(out).__name__}")
        return out

    def boolean(self, node: Any) -> sp.Basic:
        out = self.node(node, 0, False)
        if not is_condition(out):
            raise UnsafeFormulaError(f"expected a condition, got {type(out).__name__}")
        return out

    def node(self, node: Any, depth: int, doc: bool) -> sp.Basic:
        if depth > MAX_DEPTH:
            raise UnsafeFormulaError(f"expression nested deeper than {MAX_DEPTH}")
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise UnsafeFormulaError(f"expression has more than {MAX_NODES} nodes")
        if not isinstance(node, dict):
            raise UnsafeFormulaError(f"expected a node object, got {type(node).__name__}")
        keys = set(node)
        if keys not in _SHAPES:
            raise UnsafeFormulaError(f"unknown node shape {sorted(str(k)[:30] for k in keys)[:5]}")
        if "symbol" in node:
            return self.symbol(node["symbol"], node, notation=False)
        if "notation" in node:
            if not doc:
                raise UnsafeFormulaError("a notation symbol may appear only in derivation steps")
            return self.symbol(node["notation"], node, notation=True)
        if "int" in node:
            return sp.Integer(self.integer(node["int"]))
        if "rational" in node:
            pq = node["rational"]
            if not isinstance(pq, list) or len(pq) != 2:
                raise UnsafeFormulaError("rational: expected [P, Q] decimal strings")
            p, q = self.integer(pq[0], "rational"), self.integer(pq[1], "rational")
            if q == 0:
                raise UnsafeFormulaError("rational: zero denominator")
            return sp.Rational(p, q)
        if "float" in node:
            return self.float(node)
        if "const" in node:
            if not isinstance(node["const"], str) or node["const"] not in CONSTANTS:
                raise UnsafeFormulaError(f"unknown constant {str(node['const'])[:40]!r}")
            return CONSTANTS[node["const"]]
        if "bool" in node:
            if not isinstance(node["bool"], bool):
                raise UnsafeFormulaError("bool: expected true or false")
            return sp.true if node["bool"] else sp.false
        return self.op(node["op"], node["args"], depth, doc)

    def float(self, node: dict) -> sp.Float:
        text, prec = node["float"], node.get("prec", 53)
        if not isinstance(text, str) or len(text) > MAX_FLOAT_CHARS or not _FLOAT.match(text):
            raise UnsafeFormulaError(f"float: {str(text)[:40]!r} is not a finite decimal literal")
        if type(prec) is not int or not 2 <= prec <= MAX_FLOAT_PREC:
            raise UnsafeFormulaError("float: prec must be an integer number of bits")
        value = sp.Float(text, precision=prec)
        if not value.is_finite:
            raise UnsafeFormulaError(f"float: {text[:40]!r} is not finite")
        return value

    def op(self, op: Any, raw_args: Any, depth: int, doc: bool) -> sp.Basic:
        if not isinstance(op, str):
            raise UnsafeFormulaError(f"op must be a string, got {type(op).__name__}")
        if not isinstance(raw_args, list):
            raise UnsafeFormulaError(f"{op[:40]}: args must be a list")
        if op == "Piecewise":
            return self.piecewise(raw_args, depth, doc)
        if op == "Derivative" and doc:
            if len(raw_args) < 2:
                raise UnsafeFormulaError("Derivative: expected an expression and variables")
            args = [self.node(a, depth + 1, doc) for a in raw_args]
            if not all(isinstance(v, sp.Symbol) for v in args[1:]) or not isinstance(args[0], sp.Expr):
                raise UnsafeFormulaError("Derivative: variables must be symbols")
            return sp.Derivative(*args)
        cls = ARITHMETIC.get(op) or RELATIONS.get(op) or LOGIC.get(op)
        if cls is None:
            raise UnsafeFormulaError(f"unknown op {op[:40]!r}")
        low, high = ARITY[op]
        if len(raw_args) < low or (high is not None and len(raw_args) > high):
            raise UnsafeFormulaError(f"{op}: wrong number of args ({len(raw_args)})")
        if len(raw_args) > MAX_OP_ARGS:
            raise UnsafeFormulaError(f"{op}: {len(raw_args)} argument nodes exceed {MAX_OP_ARGS}")
        args = [self.node(a, depth + 1, doc) for a in raw_args]
        for a in args:
            if not (is_condition(a) if op in LOGIC else isinstance(a, sp.Expr)):
                want = "a condition" if op in LOGIC else "an expression"
                raise UnsafeFormulaError(f"{op}: argument of type {type(a).__name__} where {want} belongs")
        if op == "Pow":
            self.spend_bits(check_power(*args))
        return cls(*args)

    def piecewise(self, raw: list, depth: int, doc: bool) -> sp.Basic:
        if not raw:
            raise UnsafeFormulaError("Piecewise: no pieces")
        if len(raw) > MAX_OP_ARGS:
            raise UnsafeFormulaError(f"Piecewise: {len(raw)} pieces exceed {MAX_OP_ARGS}")
        pieces = []
        for piece in raw:
            if not isinstance(piece, dict) or set(piece) != {"expr", "cond"}:
                raise UnsafeFormulaError('Piecewise: each piece must be {"expr": ..., "cond": ...}')
            e, c = self.node(piece["expr"], depth + 1, doc), self.node(piece["cond"], depth + 1, doc)
            if not isinstance(e, sp.Expr) or not is_condition(c):
                raise UnsafeFormulaError("Piecewise: a piece needs an expression and a condition")
            pieces.append((e, c))
        return sp.Piecewise(*pieces)


def check_power(base: sp.Expr, exp: sp.Expr) -> int:
    """Refuse exact powers whose evaluation would build an enormous number (2**(10**9)) or factor a large
    one (sqrt of a 3,000-digit integer); return the bits the power may build."""
    if not (isinstance(base, sp.Rational) and isinstance(exp, sp.Rational)):
        return 0
    bits = max(int(base.p).bit_length(), int(base.q).bit_length())
    if bits > 1 and bits * abs(int(exp.p)) > MAX_POWER_BITS:
        raise UnsafeFormulaError("Pow: exact power too large to evaluate")
    if not exp.is_integer and bits > MAX_ROOT_BASE_BITS:
        raise UnsafeFormulaError(f"Pow: a fractional power of a number over {MAX_ROOT_BASE_BITS} bits")
    return bits * abs(int(exp.p)) if bits > 1 else 0


def _read(source: str | bytes | Path) -> tuple[str, str]:
    """(label, text) of a path or of JSON text (a str starting with '{' is text)."""
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise SpecError("<json bytes>", "text", f"UTF-8 ({exc.reason} at byte {exc.start})") from None
    if isinstance(source, str) and source.lstrip().startswith("{"):
        if len(source) > MAX_TEXT_CHARS:
            raise UnsafeFormulaError(f"JSON text over {MAX_TEXT_CHARS} characters")
        return "<json text>", source
    path = Path(source)
    return str(path), read_text(path, "file", max_bytes=MAX_TEXT_CHARS)  # regular files only: not /dev/zero


def _reject_constant(name: str) -> None:
    raise UnsafeFormulaError(f"JSON constant {name} is not allowed")


def _text(doc: dict, key: str, label: str, default: Any = None) -> Any:
    value = doc.get(key, default)
    if not isinstance(value, str) or len(value) > MAX_TEXT_FIELD:
        raise SpecError(label, key, "a string")
    return value


def load_formula(source: str | bytes | Path) -> ClosedForm | LoadedFormula:
    """Load a formula exported by ``inferonomics export --format json``.

    Returns the full ClosedForm when the file holds the derivation (``--steps``), else a
    LoadedFormula with name, expression, args (documented order) and conditions.

    Raises
    ------
    UnsafeFormulaError
        A node outside the schema, a name that is not a plain identifier, NaN/Infinity, strings
        where numbers belong, nesting deeper than 200, integers over 10**6 digits.
    SpecError
        Unreadable file, invalid JSON, a missing or mistyped field, a sha256 that does not match.
    """
    label, text = _read(source)
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise UnsafeFormulaError(f"{label}: JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise SpecError(label, "json", f"valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except ValueError as exc:  # e.g. a JSON number over Python's int digit limit
        raise UnsafeFormulaError(f"{label}: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise SpecError(label, "document", "a JSON object")
    if doc.get("schema") != SCHEMA:
        raise SpecError(label, "schema", f"{SCHEMA!r}")
    name = check_identifier(doc.get("name"), what="formula name")
    dec = _Decoder()
    expr = dec.expr(doc.get("expr"))
    raw_args, raw_conds = doc.get("args"), doc.get("conditions", [])
    if not isinstance(raw_args, list) or not all(isinstance(a, dict) for a in raw_args):
        raise SpecError(label, "args", "a list of {name, ...} objects")
    args = tuple(dec.symbol(a.get("name"), a, notation=False) for a in raw_args)
    if len(set(args)) != len(args):
        raise SpecError(label, "args", "distinct names")
    if not isinstance(raw_conds, list) or not all(isinstance(c, dict) and set(c) == {"tree", "text"}
                                                  for c in raw_conds):
        raise SpecError(label, "conditions", 'a list of {"tree", "text"} objects')
    conditions = tuple(dec.boolean(c["tree"]) for c in raw_conds)
    condition_text = tuple(_text(c, "text", label) for c in raw_conds)
    missing = expr.free_symbols.union(*(c.free_symbols for c in conditions)) - set(args)
    if missing:
        raise SpecError(label, "args", f"every symbol of expr and conditions (missing {sorted(map(str, missing))})")
    if "sha256" in doc:
        want = tree_hash(doc["expr"], [a.name for a in args], [c["tree"] for c in raw_conds])
        if doc["sha256"] != want:
            raise SpecError(label, "sha256", "the hash of args, conditions and expr (the file was edited)")
    assumptions = doc.get("assumptions", [])
    if not isinstance(assumptions, list) or not all(isinstance(a, str) for a in assumptions):
        raise SpecError(label, "assumptions", "a list of strings")
    raw_bound = doc.get("error_bound")
    error_bound = None if raw_bound is None else dec.expr(raw_bound)
    if error_bound is not None and not error_bound.free_symbols <= set(args):
        raise SpecError(label, "error_bound", "an expression in the args")
    common = dict(
        name=name, notation=_text(doc, "notation", label, ""), meaning=_text(doc, "meaning", label, ""), expr=expr,
        args=args, unit=_text(doc, "unit", label, "1"), policy=_text(doc, "policy", label, ""),
        conditions=conditions, condition_text=condition_text, assumptions=tuple(assumptions),
        error_bound=error_bound,
    )
    if "steps" not in doc:
        return LoadedFormula(**common)
    return _closed_form(doc, dec, label, common)


def _closed_form(doc: dict, dec: _Decoder, label: str, common: dict) -> ClosedForm:
    raw_steps = doc["steps"]
    if not isinstance(raw_steps, list) or not all(isinstance(s, dict) and set(s) == {"lhs", "rhs", "why"}
                                                  for s in raw_steps):
        raise SpecError(label, "steps", 'a list of {"lhs", "rhs", "why"} objects')
    steps = tuple(Step(dec.expr(s["lhs"], doc=True), dec.expr(s["rhs"], doc=True), _text(s, "why", label))
                  for s in raw_steps)
    unknown = dec.expr(doc.get("unknown"), doc=True)
    if not isinstance(unknown, sp.Symbol):
        raise SpecError(label, "unknown", "a symbol")
    bracket = doc.get("bracket")
    if bracket is not None:
        if not isinstance(bracket, list) or len(bracket) != 2:
            raise SpecError(label, "bracket", "null or [low, high]")
        bracket = (dec.expr(bracket[0]), dec.expr(bracket[1]))
    try:
        return ClosedForm(**common, unknown=unknown, residual=dec.expr(doc.get("residual"), doc=True), steps=steps,
                          bracket=bracket)
    except ValueError as exc:
        raise SpecError(label, "record", str(exc)) from None
