"""Assemble the calculator's one self-contained HTML file: inputs, output cards (number, formula, conditions
as MathML), chart frames, and one inline module script (generated code, embedded data, app.js)."""

from __future__ import annotations

import html
import importlib.resources
import json
import re

import sympy as sp
from sympy.printing.mathml import mathml

from inferonomics.symbolic.export.provenance import inferonomics_version
from inferonomics.symbolic.symbols import info, plain_names

from . import data, scripts
from .spec import CATALOG_FLAGS, GROUPS, Input, Output


def math(expr: sp.Basic, display: str = "inline") -> str:
    """Presentation MathML of ``expr`` in the symbol table's short notation (N, b_w, eta_F)."""
    return f'<math display="{display}">{mathml(expr.xreplace(plain_names()), printer="presentation")}</math>'


def notation_mathml(notation: str) -> str:
    """MathML of a record's LaTeX notation (``B^{*}_{kv}``, ``\\tau_{1}(t)``): its name through SymPy's
    sub/superscript splitting, then any argument list."""
    plain = notation.replace("\\", "").replace("{", "").replace("}", "")
    name, _, rest = plain.partition("(")
    out = mathml(sp.Symbol(name), printer="presentation")
    if rest:
        names = rest.rstrip(")").split(",")
        args = "<mo>,</mo>".join(mathml(sp.Symbol(a.strip()), printer="presentation") for a in names)
        out += f"<mrow><mo>(</mo>{args}<mo>)</mo></mrow>"
    return out


def _asset(name: str) -> str:
    return importlib.resources.files("inferonomics.optimize.web").joinpath(name).read_text(encoding="utf-8")


def _input_html(i: Input) -> str:
    sym = math(sp.Symbol(info(i.symbol).plain))
    slider = ""
    if i.flag in ("batch", "context"):
        top = 5 if i.flag == "batch" else 6  # decades: batch 1..1e5, context 0..1e6 (log10 of c + 1)
        slider = (f'<input type="range" id="slide-{i.flag}" class="slider" min="0" max="{top}" step="0.01"'
                  f' aria-label="{html.escape(i.label)} (logarithmic slider)">')
    return (f'<div class="field" data-group="{i.group}">'
            f'<label for="in-{i.flag}">{html.escape(i.label)} {sym}</label>'
            f'<input type="text" inputmode="decimal" id="in-{i.flag}" name="{i.flag}" autocomplete="off"'
            f' spellcheck="false">'
            f'{slider}<small class="src" id="src-{i.flag}"></small></div>')


def _catalog_html(cat: dict) -> str:
    def select(flag: str, label: str, options: dict, none: str) -> str:
        opts = [f'<option value="">{html.escape(none)}</option>']
        opts += [f'<option value="{html.escape(k)}">{html.escape(v["display"])} ({html.escape(k)})</option>'
                 for k, v in options.items()]
        return (f'<div class="field"><label for="in-{flag}">{label}</label>'
                f'<select id="in-{flag}" name="{flag}">{"".join(opts)}</select></div>')

    return ('<fieldset><legend>Catalog</legend>'
            + select("model", "model", cat["models"], "none: raw numbers below")
            + select("hardware", "card", cat["hardware"], "none: raw numbers below")
            + select("precision", "weight precision", cat["precisions"], "the model's own")
            + '<p class="error" id="catalog-error" hidden></p>'
            '<p class="notice" id="catalog-note" hidden>A mixture of experts: these closed forms assume a dense '
            'model (every token reads and multiplies all N parameters), so they overstate its compute per token. '
            '<code>inferonomics evaluate</code> models its routing, and the derivation document derives its '
            'break-even batch.</p></fieldset>')


def _card_html(o: Output, f) -> str:
    if f.conditions:
        items = "".join(f'<li data-condition="{k}">{math(c)} <span>{html.escape(text)}</span></li>'
                        for k, (c, text) in enumerate(zip(f.conditions, f.condition_text)))
    else:
        items = '<li class="always">holds for every input (no validity condition)</li>'
    formula = (f'<math display="block">{notation_mathml(f.notation)}<mo>=</mo>'
               f'{mathml(f.expr.xreplace(plain_names()), printer="presentation")}</math>')
    return (f'<article class="card" id="out-{f.name}" data-output="{f.name}">'
            f'<h3>{html.escape(o.label)}</h3>'
            f'<p class="value"><output data-formula="{f.name}">&#8230;</output> <span class="human"></span></p>'
            f'<div class="formula" title="{html.escape(f.meaning)}">{formula}</div>'
            f'<ul class="conditions">{items}</ul><p class="note"></p>'
            f'<details><summary>LaTeX and meaning</summary><p>{html.escape(f.meaning)}</p>'
            f'<code>{html.escape(f.latex())}</code></details></article>')


def _json_for_script(obj: object) -> str:
    # "<" escaped so no string in the data can close the script element
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def build_page() -> str:
    """The whole calculator page as one HTML string (deterministic: same code, same bytes)."""
    present, missing = data.wired_outputs()
    formulas = [f for _, f in present]
    inputs = data.page_inputs(formulas)
    cat = data.catalog_data(inputs)
    defaults = data.defaults()
    config = {
        "inputs": [{"flag": i.flag, "symbol": i.symbol, "group": i.group, "low": i.low,
                    "lowInclusive": i.low_inclusive, "integer": i.integer, "source": i.source} for i in inputs],
        "outputs": [{"name": o.name, "unit": o.unit, "scale": o.scale} for o, _ in present],
        "defaults": {i.symbol: defaults.get(i.symbol) for i in inputs},
        "catalogFlags": list(CATALOG_FLAGS),
        "catalog": cat,
    }
    code = "\n".join([
        "// Generated by `inferonomics web`: do not edit. The closed forms below are the exported JavaScript of",
        "// inferonomics.symbolic.formulas (inferonomics export --format javascript), verbatim.",
        scripts.formula_modules(formulas), scripts.formula_table(formulas), scripts.conditions_table(formulas),
        scripts.chart_helpers(), f"const CALC = {_json_for_script(config)};", _asset("app.js")])
    if re.search(r"</script", code, re.IGNORECASE):
        raise ValueError("generated script contains '</script'")
    groups = []
    for key, title in GROUPS:
        fields = "".join(_input_html(i) for i in inputs if i.group == key)
        if fields:
            groups.append(f"<fieldset><legend>{title}</legend>{fields}</fieldset>")
    cards = "".join(_card_html(o, f) for o, f in present)
    absent = ", ".join(f"{o.label} (<code>{o.name}</code>)" for o in missing)
    used = {a.name for f in formulas for a in f.args}
    unused = ", ".join(f"<code>{i.flag}</code>" for i in inputs if i.symbol not in used)
    absent = f" Not on this page yet, for want of a closed form: {absent}." if absent else ""
    unused = f" No closed form on this page uses {unused} yet." if unused else ""
    version = html.escape(inferonomics_version())
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<meta name="generator" content="inferonomics {version}, SymPy {sp.__version__}">
<title>inferonomics: the economics of LLM inference, live</title>
<style>
{_asset("style.css")}</style>
</head>
<body>
<header>
<h1>The economics of LLM inference, live</h1>
<p>Memory bandwidth lags arithmetic by about 1000:1, so a decode step reads every weight whatever the batch, and
batching users amortizes that read. Move a number and watch the break-even batch, utilization and user base move.
Every number below is computed in your browser by the exported JavaScript of a closed form, and shows that formula
and the conditions under which it holds; a result whose condition fails is greyed out. With no parameters the page
opens on the essay's example: a 1.6e12-parameter 8-bit model on 20 hypothetical H100s (3e15 FLOP/s, 3e12 B/s).</p>
</header>
<main>
<form id="inputs" autocomplete="off">
<p class="permalink"><a id="permalink" href="?">link to this result</a>
<button type="button" id="reset">essay's example</button></p>
<p class="error" id="url-error" hidden></p>
{_catalog_html(cat)}
{"".join(groups)}
</form>
<section id="results">
<div id="outputs">{cards}</div>
<div id="charts">
<figure><svg id="chart-utilization" viewBox="0 0 520 300" role="img" aria-label="utilization against batch"></svg>
<figcaption>Utilization against batch (log scale), at this context; the dashed line is the break-even batch with
the KV cache, the dot the chosen batch.</figcaption></figure>
<figure><svg id="chart-roofline" viewBox="0 0 520 300" role="img" aria-label="roofline"></svg>
<figcaption>Roofline of the card: attainable FLOP/s against arithmetic intensity (both log), with decode at
batches 1, 8, 64, 512, 4096 and the chosen batch (ringed) at this context.</figcaption></figure>
</div>
</section>
</main>
<footer>
<p>Generated by <code>inferonomics web</code> (inferonomics {version}, SymPy {sp.__version__}) from the same closed
forms as the derivation document. Ideal model: datasheet rates, efficiencies 1; the assumptions of each closed form
are in the derivation document. Figures the essay does not give (KV bytes per token, layers, hop latency) and the
$2 chip-hour price are illustrative assumptions.{absent}{unused}</p>
</footer>
<script type="module">
{code}
</script>
</body>
</html>
"""
