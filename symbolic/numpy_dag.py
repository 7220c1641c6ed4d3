"""Compile large SymPy expressions to NumPy in linear time: one assignment per distinct subexpression.

``lambdify`` prints the whole tree (and ``cse`` searches it) at a few hundred microseconds per operation: the
serving model's step (thousands of operations, several per architecture and precision) took seconds to compile.
Here each distinct node of the expression DAG (SymPy expressions are hashable, so equal subtrees are found by a
dict: the common subexpressions of an expression built twice from the same pieces) is printed once as a
NumPy assignment over its children's names, in the tree's own order of operations; nodes of other kinds are
printed by SymPy's :class:`~sympy.printing.numpy.NumPyPrinter` over their children's names. Arguments are
positional (``a0, a1...``), so no symbol name is printed into the code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.numpy import NumPyPrinter

_REL = {sp.StrictGreaterThan: ">", sp.GreaterThan: ">=", sp.StrictLessThan: "<", sp.LessThan: "<="}


def _number(e: sp.Basic) -> str | None:
    if e.is_Integer:
        return str(int(e))
    if e.is_Rational or e.is_Float:
        return repr(float(e))
    if e is sp.nan:
        return "numpy.nan"
    if e is sp.oo:
        return "numpy.inf"
    if e is sp.S.NegativeInfinity:
        return "(-numpy.inf)"
    if e is sp.true or e is sp.false:
        return str(bool(e))
    return None


def _node(e: sp.Basic, c: list[str]) -> str:
    """NumPy code of node ``e`` whose children print as ``c``."""
    if e.is_Add:
        return "(" + " + ".join(c) + ")"
    if e.is_Mul:
        return "(" + "*".join(c) + ")"
    if e.is_Pow:
        if e.exp == sp.S.Half:
            return f"numpy.sqrt({c[0]})"
        if not e.exp.is_Number:
            # a fitted exponent (a soft maximum's p): exp(p log x) is x**p for x >= 0 (0 -> exp(-inf) = 0) and
            # costs NumPy 24 ns per element against power's 35; the model's bases are times, never negative
            return f"numpy.exp(numpy.log({c[0]})*{c[1]})"
        return f"({c[0]}**{c[1]})"
    if isinstance(e, (sp.Max, sp.Min)):
        fn = "numpy.maximum" if isinstance(e, sp.Max) else "numpy.minimum"
        out = c[-1]
        for x in reversed(c[:-1]):
            out = f"{fn}({x}, {out})"
        return out
    if isinstance(e, sp.Piecewise):
        pairs = list(zip(c[::2], c[1::2]))
        out = "numpy.nan" if pairs[-1][1] != "True" else pairs[-1][0]
        for value, cond in reversed(pairs if pairs[-1][1] != "True" else pairs[:-1]):
            out = f"numpy.where({cond}, {value}, {out})"
        return out
    if type(e) in _REL:
        return f"({c[0]} {_REL[type(e)]} {c[1]})"
    names = [sp.Symbol(x) for x in c]
    return NumPyPrinter().doprint(e.func(*names))


def free_symbols(exprs: Sequence[sp.Basic]) -> set[sp.Symbol]:
    """The symbols of ``exprs``, each distinct subexpression visited once (``Basic.free_symbols`` walks a tree
    with shared subtrees once per path)."""
    seen: set[sp.Basic] = set()
    out: set[sp.Symbol] = set()
    stack = [sp.sympify(e) for e in exprs]
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        if isinstance(e, sp.Symbol):
            out.add(e)
        else:
            stack.extend(e.args)
    return out


def _uses(exprs: Sequence[sp.Basic]) -> dict[sp.Basic, int]:
    """How many parents each distinct subexpression has (a root counts one)."""
    count: dict[sp.Basic, int] = {}
    stack = list(exprs)
    while stack:
        e = stack.pop()
        count[e] = count.get(e, 0) + 1
        if count[e] == 1:
            stack.extend(e.args)
    return count


def compile_dag(exprs: Sequence[sp.Basic], args: Sequence[sp.Symbol],
                functions: dict[str, Callable[..., tuple]] | None = None,
                arrays: Sequence[sp.Symbol] | None = None) -> Callable[..., tuple]:
    """``f(*values) -> tuple`` of the values of ``exprs`` (NumPy arrays broadcast from ``values``); every free
    symbol of ``exprs`` must be in ``args``. An application ``g(x, y...)`` of an undefined function named in
    ``functions`` calls that (compiled) function and takes the first value it returns: a subexpression used at
    several arguments is compiled once.

    Sums and products nested one in another (an unevaluated tree) are flattened and their operands ordered so
    that those free of ``arrays`` (the arguments expected to be arrays; default all) combine first, as Python
    scalars, and a quotient divides once: the array operations are those an evaluated expression would need.
    """
    functions = dict(functions or {})
    exprs = [sp.sympify(x) for x in exprs]
    uses = _uses(exprs)
    vary = set(args if arrays is None else arrays)
    memo: dict[sp.Basic, str] = {a: f"a{i}" for i, a in enumerate(args)}
    rank: dict[sp.Basic, int] = {}
    lines: list[str] = []

    def rank_of(e: sp.Basic) -> int:
        r = rank.get(e)
        if r is None:
            r = 1 if e in vary else (max((rank_of(x) for x in e.args), default=0))
            rank[e] = r
        return r

    def operands(e: sp.Basic) -> list[sp.Basic]:
        out = []
        for x in e.args:
            if type(x) is type(e) and uses.get(x, 0) <= 1 and x not in memo:
                out.extend(operands(x))
            else:
                out.append(x)
        return out

    def assoc(e: sp.Basic) -> str:
        unit = sp.S.Zero if e.is_Add else sp.S.One
        ops = sorted((x for x in operands(e) if x != unit), key=rank_of)  # stable: scalars first, then arrays
        if not ops:
            return str(int(unit))
        if e.is_Add:
            return "(" + " + ".join(emit(x) for x in ops) + ")"
        num = [x for x in ops if not (x.is_Pow and x.exp == -1)]
        den = [x.base for x in ops if x.is_Pow and x.exp == -1]
        # the scalar factors combine into one scalar, which then meets each array operand once
        s_num = [emit(x) for x in num if not rank_of(x)]
        s_den = [emit(x) for x in den if not rank_of(x)]
        a_num = [emit(x) for x in num if rank_of(x)]
        a_den = [emit(x) for x in den if rank_of(x)]
        code = "*".join(s_num) if s_num else "1.0"
        if s_den:
            code = f"({code})/({'*'.join(s_den)})"
        if a_num:
            code = f"({code})*" + "*".join(a_num) if (s_num or s_den) else "*".join(a_num)
        if a_den:
            code = f"({code})/({'*'.join(a_den)})"
        return f"({code})"

    def emit(e: sp.Basic) -> str:
        hit = memo.get(e)
        if hit is not None:
            return hit
        if isinstance(e, sp.Symbol):
            raise ValueError(f"symbol {e} is not an argument")
        code = _number(e)
        if code is None:
            if e.is_Add or e.is_Mul:
                code = assoc(e)
            else:
                if isinstance(e, sp.Piecewise):
                    children = [emit(x) for pair in e.args for x in pair]
                else:
                    children = [emit(x) for x in e.args]
                if isinstance(e, AppliedUndef):
                    fn = type(e).__name__
                    if fn not in functions or not fn.isidentifier() or fn.startswith("_"):
                        raise ValueError(f"function {fn!r} has no compiled body")
                    code = f"_call_{fn}({', '.join(children)})[0]"
                else:
                    code = _node(e, children)
            name = f"v{len(lines)}"
            lines.append(f"    {name} = {code}")
            code = name
        memo[e] = code
        return code

    outs = [emit(x) for x in exprs]
    # log(0) = -inf is exact on the way to exp(p log x) = 0 (an ideal limit's zero floor): no warning for it
    body = "\n".join("    " + line for line in lines)
    src = "def _f({}):\n    with numpy.errstate(divide='ignore'):\n{}\n        return ({},)\n".format(
        ", ".join(f"a{i}" for i in range(len(args))), body or "        pass", ", ".join(outs))
    namespace: dict[str, object] = {"numpy": numpy, **{f"_call_{k}": v for k, v in functions.items()}}
    exec(compile(src, "<serving model>", "exec"), namespace)  # noqa: S102 - code printed above from SymPy nodes
    fn = namespace["_f"]
    fn.source = src  # type: ignore[attr-defined]
    return fn  # type: ignore[return-value]
