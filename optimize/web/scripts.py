"""The page's generated JavaScript: each closed form exactly as `inferonomics export --format javascript` writes
it, each validity condition printed by the same printer, and the two chart helpers (decode's arithmetic
intensity and the roof) printed from the symbolic step model, so no number on the page is hand-typed."""

from __future__ import annotations

import json

import sympy as sp

from inferonomics.symbolic import model
from inferonomics.symbolic import symbols as s
from inferonomics.symbolic.export import export
from inferonomics.symbolic.export.to_javascript import GuardedJavascriptPrinter

_X = sp.Symbol("intensity", positive=True)


def _function(args: tuple[sp.Symbol, ...], expr: sp.Basic) -> str:
    """``function (a, b) { return <expr>; }`` with the exporter's printer (exact float literals)."""
    body = GuardedJavascriptPrinter().doprint(expr)
    return f"function ({', '.join(a.name for a in args)}) {{ return {body}; }}"


def formula_modules(formulas: list) -> str:
    """Every formula's exported ES module, verbatim, one after another (an inline module may export)."""
    return "\n".join(text for f in formulas for text in export(f, "javascript").values())


def conditions_table(formulas: list) -> str:
    """``const CONDITIONS = {name: [{text, test}], ...}``: each condition a function of the formula's args."""
    rows = []
    for f in formulas:
        items = [f"{{text: {json.dumps(text)}, test: {_function(f.args, c)}}}"
                 for c, text in zip(f.conditions, f.condition_text)]
        rows.append(f"  {f.name}: [{', '.join(items)}],")
    return "const CONDITIONS = {\n" + "\n".join(rows) + "\n};"


def chart_helpers() -> str:
    """Decode's arithmetic intensity (FLOP per byte read, dense, no attention FLOPs: the closed forms'
    assumptions) and the roof min(F, W x), both from the symbolic model."""
    flops = model.matmul_flops().xreplace({s.Na: s.N})
    nbytes = model.weight_bytes() + model.kv_read_bytes()
    intensity_args = (s.B, s.N, s.b_w, s.ctx, s.kv)
    roof = sp.Min(s.F, s.W * _X)
    return ("const CHART = {\n"
            f"  intensity: {_function(intensity_args, flops / nbytes)},\n"
            f"  intensityArgs: {json.dumps([a.name for a in intensity_args])},\n"
            f"  roof: {_function((s.F, s.W, _X), roof)},\n"
            "};")


def formula_table(formulas: list) -> str:
    """``const FORMULAS = {name: {fn, args}}``: the exported functions by name, with their argument order."""
    rows = [f"  {f.name}: {{fn: {f.name}, args: {json.dumps([a.name for a in f.args])}}}," for f in formulas]
    return "const FORMULAS = {\n" + "\n".join(rows) + "\n};"
