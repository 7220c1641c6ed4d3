"""The derivation document as a reader sees it: one meaning per notation, every symbol defined, prose and
equations typeset as a person would write them (issue 16, item 5). Expected strings are written by hand."""

from __future__ import annotations

import pytest
import sympy as sp

from inferonomics.symbolic import symbols as s
from inferonomics.symbolic.closedform import to_latex
from inferonomics.symbolic.document import KERNEL_LOCALS, kernel_terms, render_markdown, render_tex
from inferonomics.symbolic.formulas import all_formulas
from inferonomics.symbolic.latex_print import unit_factors
from inferonomics.symbolic.prose import markdown_prose, tex_prose


def test_each_notation_has_one_meaning():
    """k (KV bytes) and a GEMM's inner dimension, alpha (hop latency) and outputs per tile, pi (API price)
    and padding rows, P (power) and prefill tokens, m (minutes a day) and a GEMM's rows: each its own."""
    notations = [i.latex for i in s.TABLE.values()] + [v.latex for v in KERNEL_LOCALS]
    dup = {n for n in notations if notations.count(n) > 1}
    assert not dup, dup


def test_every_kernel_symbol_is_defined():
    """h, d_h, b_in, b_out, the message size, c-bar, the tile counts, t_dec, t_mix: each in a table."""
    defined = {i.symbol for i in s.TABLE.values()} | {v.symbol for v in KERNEL_LOCALS}
    for title, _, expr, _ in kernel_terms():
        assert expr.free_symbols <= defined, (title, expr.free_symbols - defined)


def test_document_defines_the_kernel_locals_in_both_twins():
    tex, md = render_tex(), render_markdown()
    for v in KERNEL_LOCALS:
        assert f"${v.latex}$ & " in tex and f"| ${v.latex}$ | " in md, v.name


def test_a_sum_leads_with_its_positive_term():
    k, E, B = s.k_top, s.E, s.B
    assert to_latex((1 - k / E) ** B) == r"\left(1 - \frac{k_{e}}{E}\right)^{B}"
    assert to_latex(2 * s.W * s.N - s.ctx * s.kv * s.F) == r"2 W N - c k F"
    assert to_latex(-s.F - s.W) == r"- W - F"  # nothing positive to lead with


@pytest.mark.parametrize("coeff, factors", [
    (sp.Rational(2500, 9), (r"10^{6}", "3600")),          # 10^6 tokens per million / 3600 s per hour
    (sp.Integer(400000), (r"1440 \cdot 10^{6}", "3600")),  # and 1440 minutes a day
    (sp.Integer(2000000), (r"2 \cdot 10^{6}", "")),
    (sp.Integer(1440), None), (sp.Integer(720), None), (sp.Rational(1, 2), None), (sp.Integer(5000), None),
])
def test_unit_conversions_keep_their_factors(coeff, factors):
    assert unit_factors(coeff) == factors


def test_api_crossover_prints_its_units():
    a = sp.Rational(2500, 9) * s.b_w * s.price * s.N / (s.api * s.W)
    assert to_latex(a) == r"\frac{10^{6} b_{w} p N}{3600 \pi W}"
    assert to_latex(sp.Integer(2000000) * s.price * s.N) == r"2 \cdot 10^{6} p N"
    assert to_latex(-sp.Integer(2000000) * s.price) == r"- 2 \cdot 10^{6} p"


def test_auxiliary_names_print_as_notation():
    assert to_latex(sp.Symbol("time_per_token") * 2) == r"2 \tau_{1}"
    assert to_latex(s.m * sp.Symbol("user_base")) == r"m U"  # not "m user_{base}", read as "muser"
    assert to_latex(sp.Symbol("t_{memory}")) == r"t_{\mathrm{memory}}"
    assert to_latex(sp.Symbol("t_{kv}")) == r"t_{kv}"


def test_no_code_name_or_caret_left_in_the_document():
    import re

    tex = render_tex()
    for code in (r"n\_ar", r"alpha\_s", r"h\_kv", r"b\_w", r"\beta"[1:] + " ", "eta "):
        assert not re.search(r"(?<![\w\\{])" + re.escape(code), tex), code
    for code in ("textasciicircum", "time_{per", "user_{base}", "2500", "400000", "2000000"):
        assert code not in tex, code
    for f in all_formulas():
        for part in [f.latex(), *(st.latex() for st in f.steps)]:
            assert "2500" not in part and "400000" not in part and "2000000" not in part, f.name


def test_prose_notation():
    assert tex_prose("2(t-1) hops of latency alpha, n_ar per layer") == \
        r"2(t-1) hops of latency $\alpha$, $n_{ar}$ per layer"
    assert tex_prose("floor 2 N p 10^6/(3600 F), 50% & more") == r"floor 2 N p $10^{6}$/(3600 F), 50\% \& more"
    assert tex_prose("B*_kv exceeds B*; N b_w >= x") == r"$B^{*}_{kv}$ exceeds $B^{*}$; N $b_{w}$ $\geq$ x"
    assert tex_prose("(1 - k/E)^B and t*^2") == r"$(1 - k/E)^{B}$ and ${t^{*}}^{2}$"
    assert tex_prose("see optimal_tp_degree_sqrt") == \
        r"see \texttt{optimal\_\allowbreak{}tp\_\allowbreak{}degree\_\allowbreak{}sqrt}"
    assert tex_prose("alphabet, etas, pizza") == "alphabet, etas, pizza"
    assert tex_prose("pace r_k,8b, then") == r"pace $r_{k,8b}$, then"
    assert markdown_prose("rho_tr = 1 and n_heads") == r"$\rho_{\mathrm{tr}}$ = 1 and `n_heads`"


def test_soft_maximum_prints_as_smax():
    from inferonomics.symbolic.latex_print import latex_softmax

    x, y, p = sp.symbols("x y p", positive=True)
    assert latex_softmax((x**p + y**p) ** (1 / p), {}) == r"\operatorname{smax}_{p}\left(x, y\right)"
    assert latex_softmax((x**2 + y**2) ** sp.Rational(1, 2), {}) == r"\sqrt{x^{2} + y^{2}}"  # a norm stays one
    assert latex_softmax((x**p + y) ** (1 / p), {}) == r"\left(x^{p} + y\right)^{\frac{1}{p}}"
