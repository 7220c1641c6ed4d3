"""Assemble the derivation document (LaTeX and its Markdown twin) from the closed-form records.

Every equation and justification comes from the records in ``formulas``; nothing is written twice.
Output is deterministic byte for byte: fixed ordering, fixed number formats, no dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from . import model
from . import symbols as s
from .closedform import ClosedForm, to_latex
from .efficiency import CALIBRATED_TEXT
from .formulas import GENERAL_FORMULAS, all_formulas, get_formula
from .prose import markdown_prose, tex_code, tex_prose, tex_text

#: the document's file name without extension (the essay's term: economies of scale)
DOC_STEM = "economies-of-scale"


@dataclass(frozen=True)
class Example:
    """A worked example: a title, a sentence of setting, and rows of (quantity, formula name or '', value)."""

    title: str
    setting: str
    rows: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class Section:
    """A closing section: prose, the closed forms it rests on (by name; derived above), and a table of values."""

    title: str
    paragraphs: tuple[str, ...]
    formulas: tuple[str, ...]
    table: Example | None = None


@dataclass(frozen=True)
class Figure:
    path: str  # relative to the document
    caption: str


INTRO = (
    "GPU memory bandwidth lags arithmetic by about three orders of magnitude. A decode step at batch 1 "
    "therefore reads every weight and leaves the arithmetic units idle; batching many users amortizes those "
    "reads. This document derives, from stated assumptions, the closed forms that follow: the break-even "
    "batch, the utilization curve, the critical context, the latency floor, the optimal tensor-parallel "
    "degree, the minimum user base and the price at which self-hosting beats an API. Every equation and "
    "every justification below is generated from the records in inferonomics.symbolic.formulas, which the "
    "test suite checks by substitution and against numeric roots."
)

MODEL_TEXT = (
    "A replica is t chips in tensor parallelism; each chip does 1/t of the FLOPs and reads 1/t of the weights "
    "and 1/min(t, h_kv) of the KV cache: an attention head is never split, so beyond t = h_kv KV heads the "
    "heads are replicated and each chip reads B c k/h_kv. Rates F and W are per chip; efficiencies eta scale "
    "the datasheet rates (the ideal "
    "model sets them to 1 and the fixed costs to 0; a calibration fitted to measurements sets them otherwise). "
    "Two overlap policies are offered: 'step' puts the whole step on one roofline, as the essay and Epoch AI's "
    "simple model do; 'per-op' puts the weight matmuls and attention each on their own roofline and adds them, "
    "as the JAX scaling book does. Unless a closed form says otherwise it assumes the 'step' policy."
)


def _model_equations() -> list[tuple[str, str, str]]:
    """(label, LaTeX, sentence) for the step model itself, taken from the builders."""
    prefill = model.prefill_tokens_per_step()
    return [
        ("FLOPs", f"\\mathrm{{FLOP}} = {to_latex(model.matmul_flops() + model.attention_flops())}",
         "Two FLOPs per active parameter per token, plus attention over c cached tokens."),
        ("bytes", f"\\mathrm{{bytes}} = {to_latex(model.weight_bytes() + model.kv_read_bytes())}",
         "Weights are read once per step and shared by the batch; each sequence reads its own cache."),
        ("comm", f"t_{{\\mathrm{{comm}}}} = {to_latex(model.t_comm())}",
         "n_ar ring all-reduces of the activations per layer: 2(t-1) hops of latency alpha, "
         "moving 2(t-1)/t of the message. Under continuous batching the message carries the prompt tokens "
         "too: B is replaced by B + n_pre."),
        ("step", f"t_{{\\mathrm{{step}}}} = {to_latex(model.t_step('step'))}",
         "The 'step' policy: one roofline for the whole step, plus communication and fixed costs."),
        ("per-op", f"t_{{\\mathrm{{step}}}}^{{\\mathrm{{op}}}} = {to_latex(model.t_step('per-op'))}",
         "The 'per-op' policy: each operator class on its own roofline; never faster than 'step'."),
        ("mixed", f"n_{{\\mathrm{{pre}}}} = {to_latex(prefill)}",
         "Under continuous batching each step also processes the prompts of the B/n_out requests that join "
         "it: n_pre prompt tokens a step."),
    ]


@dataclass(frozen=True)
class Local:
    """A symbol that only the kernel terms use (a shape, a tile count): its own notation, defined in place."""

    name: str
    latex: str
    plain: str
    meaning: str

    @property
    def symbol(self):
        import sympy as sp

        return sp.Symbol(self.name, positive=True)


#: the kernel terms' own symbols; none shares a letter and subscript with the symbol table
KERNEL_LOCALS = (
    Local("m_g", r"m_{g}", "m_g", "rows of a GEMM's activations X (tokens)"),
    Local("n_g", r"n_{g}", "n_g", "columns of a GEMM's weights W (output width)"),
    Local("k_g", r"k_{g}", "k_g", "inner dimension of a GEMM (input width)"),
    Local("b_in", r"b_{\mathrm{in}}", "b_in", "bytes per input activation element of a GEMM"),
    Local("b_out", r"b_{\mathrm{out}}", "b_out", "bytes per output element of a GEMM"),
    Local("m_tile", r"m_{\mathrm{tile}}", "m_tile", "rows one CTA of a block-scaled fp8 GEMM loads per k_g step "
          "(its activation rows plus its weight rows)"),
    Local("n_wave", r"n_{\mathrm{wave}}", "n_wave", "waves of CTAs a block-scaled fp8 GEMM runs one after another"),
    Local("m_pad", r"m_{\mathrm{pad}}", "m_pad", "rows padding the last activation tile up to its height, "
          "summed over the CTAs that load it"),
    Local("A_tile", r"A_{\mathrm{tile}}", "A_tile", "outputs per tile (tile height x width)"),
    Local("h", r"h", "h", "query heads per layer"),
    Local("d_h", r"d_{h}", "d_h", "head dimension"),
    Local("n_pre", r"n_{\mathrm{pre}}", "n_pre", "prompt tokens processed in one step"),
    Local("cbar", r"\bar{c}", "cbar", "tokens each prompt token attends to, on average (half its prompt under "
          "the causal mask)"),
    Local("n_tok", r"n_{\mathrm{tok}}", "n_tok", "tokens one step processes (decode and prompt tokens)"),
    Local("s_msg", r"s_{\mathrm{msg}}", "s_msg", "bytes of one all-reduce message"),
    Local("w_tok", r"w_{\mathrm{tok}}", "w_tok", "bytes of one token's activations that an elementwise pass streams"),
    Local("t_dec", r"t_{\mathrm{dec}}", "t_dec", "time of a pure decode step"),
    Local("t_mix", r"t_{\mathrm{mix}}", "t_mix", "time of a mixed step, which also prefills the admitted prompts"),
)

#: plain name -> LaTeX of the local symbols, for the prose (table names come from the symbol table)
LOCAL_NOTATION = {**{v.plain: v.latex for v in KERNEL_LOCALS}, "smax_p": r"\operatorname{smax}_{p}"}


def kernel_terms() -> list[tuple[str, str, object, str]]:
    """(title, LaTeX of the left side, SymPy expression, sentence) of the per-kernel terms the calibration
    fits (symbolic.kernels).

    These are the refinements real silicon demands; each is a named term whose symbols are in the notation
    table or in KERNEL_LOCALS, so the document shows exactly what the calibrated model adds to the roofline.
    """
    from . import kernels as K

    v = {x.name: x.symbol for x in KERNEL_LOCALS}
    m, n, k, b_in, b_out = (v[x] for x in ("m_g", "n_g", "k_g", "b_in", "b_out"))
    h, d_h, tokens, span = v["h"], v["d_h"], v["n_pre"], v["cbar"]
    tiles = (v["m_tile"], v["n_wave"], v["m_pad"], v["A_tile"])
    rows = [
        ("GEMM", r"t_{\mathrm{gemm}}", K.gemm_time(m, n, k, b_in, s.b_w, b_out),
         "A GEMM X[m_g,k_g] W[k_g,n_g] on one chip is its own roofline plus the kernel's fixed time (prologue, "
         "epilogue, tail), which dominates small decode GEMMs."),
        ("GEMM timed alone, weights in L2", r"t_{\mathrm{gemm},L_2}",
         K.gemm_time(m, n, k, b_in, s.b_w, b_out, resident=True),
         "A benchmark that repeats one GEMM over a few weight copies re-reads them from L2 when the copies fit "
         "in the usable part f_L2 of the cache (NVIDIA's collector cycles min(5, ceil(L_2/w)) copies of w "
         "bytes), never slower than the HBM stream, which passes through L2 too; a serving step streams every "
         "layer's weights from HBM, so serving predictions never use this form."),
        ("block-scaled fp8 GEMM", r"t_{\mathrm{gemm},8b}", K.blockscaled_gemm_time(m, n, k, b_in, s.b_w, *tiles, b_out),
         "A block-scaled fp8 GEMM (DeepGEMM in TensorRT-LLM) picks its tile by a fixed rule: each CTA loads "
         "m_tile rows per k_g step, n_wave waves of CTAs run in turn, m_pad rows pad the last activation tile, "
         "and a tile holds A_tile outputs. It computes whole tiles in whole waves; the CTAs walk k_g at their "
         "own pace r_k,8b; the padding rows stream like activations alongside the weights, so the time falls "
         "as m_g grows from 129 to 256 tokens."),
        ("decode attention (split-KV engine kernel)", r"t_{\mathrm{attn}}",
         K.decode_attention_time(s.B, s.ctx, h, s.h_kv, d_h, split=True),
         "Decode attention streams the KV cache only as fast as its independent work items can fill the SMs "
         "(an occupancy on the bandwidth), and never faster than a per-head latency floor."),
        ("prefill attention", r"t_{\mathrm{pre}}", K.prefill_attention_time(tokens, h, d_h, span),
         "Causal prefill attention is compute-bound: each of n_pre prompt tokens attends to cbar tokens on "
         "average."),
        ("all-reduce", r"t_{\mathrm{ar}}", K.collective_time(v["s_msg"]),
         "A ring all-reduce pays a fixed kernel time, 2(t-1) hop latencies and moves 2(t-1)/t of the message "
         "at a fraction of the link bandwidth."),
        ("unfused elementwise traffic", r"t_{\mathrm{elt}}", K.elementwise_time(v["n_tok"], v["w_tok"]),
         "Norms, activations and residual adds that a framework does not fuse stream the activations of each "
         "of the step's n_tok tokens n_act times."),
        ("in-flight batching", r"\bar{t}", K.inflight_step_time(v["t_dec"], v["t_mix"]),
         "Each step admits B/n_out new requests, so a fraction min(1, B/n_out) of the steps also prefill a "
         "prompt: the mean step interpolates between a pure decode step and a mixed one."),
    ]
    return rows


def _kernel_equations() -> list[tuple[str, str, str]]:
    """(title, LaTeX, sentence) of :func:`kernel_terms`, soft maxima written as such (KERNEL_TEXT defines it)."""
    return list(_kernel_equations_once())


@lru_cache(maxsize=1)
def _kernel_equations_once() -> tuple[tuple[str, str, str], ...]:
    # built and printed once for both documents: the builders' Max/Min constructors compare their arguments
    # under assumptions, ~0.25 s a build
    from .latex_print import latex_softmax

    names = {**s.latex_names(), **{x.symbol: x.latex for x in KERNEL_LOCALS}}
    return tuple((title, f"{lhs} = {latex_softmax(expr, names)}", why) for title, lhs, expr, why in kernel_terms())


KERNEL_TEXT = (
    "A pure roofline is about twice too optimistic about real serving. The calibrated model replaces each "
    "operator's roofline by the kernel terms below, whose constants (fractions of the datasheet rates, fixed "
    "times in seconds, SM counts from whitepapers) are fitted once on H100 measurements and carried to other "
    "cards by their datasheets; the notation table gives each constant's meaning, and the table below the "
    "symbols that only these terms use. Where two times neither add nor hide one another, the terms join them by "
    "a soft maximum, smax_p(x, y) = (x^p + y^p)^(1/p): their sum at p = 1, the longer alone as p grows."
)


def _fmt_assumptions(f: ClosedForm) -> list[str]:
    return list(f.assumptions) + [f"Overlap policy: {f.policy}."] if f.policy != "any" else list(f.assumptions)


# -- LaTeX ------------------------------------------------------------------------------------------

#: the preamble (Latin Modern: Type 1 fonts, not T1's bitmap fallback). Byte-reproducible PDF (pdfTeX): no dates, no trailer id, no pdfTeX banner, fixed info;
#: derive also sets SOURCE_DATE_EPOCH. \fiteq shrinks an equation wider than the line (minus the room the
#: optional argument keeps for an equation number) to the line, so no equation runs into the margin.
PREAMBLE = r"""\documentclass[11pt]{article}
\ifdefined\pdftrailerid
  \pdftrailerid{}
  \pdfinfoomitdate=1
  \pdfsuppressptexinfo=-1
  \pdfinfo{/Title (The economics of inference, derived) /Author (inferonomics derive)
    /Creator (inferonomics derive) /Producer (pdfTeX)}
\fi
\usepackage[T1]{fontenc}
\usepackage{lmodern}
\usepackage{amsmath}
\usepackage{graphicx}
\usepackage{array}
\usepackage{longtable}
\usepackage[a4paper,margin=2.2cm]{geometry}
\newsavebox{\eqbox}
\newlength{\eqmax}
\newcommand{\fiteq}[2][0pt]{\setlength{\eqmax}{\linewidth}\addtolength{\eqmax}{-#1}%
  \sbox{\eqbox}{$\displaystyle #2$}%
  \ifdim\wd\eqbox>\eqmax\resizebox{\eqmax}{!}{\usebox{\eqbox}}\else\usebox{\eqbox}\fi}
\newcolumntype{L}[1]{>{\raggedright\arraybackslash}p{#1}}
\newcolumntype{R}[1]{>{\raggedleft\arraybackslash}p{#1}}
\title{The economics of inference, derived}
\author{generated by \texttt{inferonomics derive}}
\date{}"""


def _prose(text: str) -> str:
    return tex_prose(text, LOCAL_NOTATION)


def _display(tex: str, numbered: bool = False) -> list[str]:
    env = "equation" if numbered else "equation*"
    return [f"\\begin{{{env}}}", f"\\fiteq[{'3em' if numbered else '0pt'}]{{{tex}}}", f"\\end{{{env}}}"]


def _values_table(table: Example) -> list[str]:
    out = [r"\begin{longtable}{@{}L{0.46\linewidth}L{0.28\linewidth}R{0.2\linewidth}@{}}",
           r"quantity & closed form & value \\ \hline", r"\endhead"]
    out += [f"{_prose(q)} & {tex_code(n)} & {_prose(v)} \\\\" for q, n, v in table.rows]
    return out + [r"\end{longtable}", ""]


def _notation_table(rows: Sequence[tuple[str, str, str]], unit: bool = True) -> list[str]:
    cols = r"@{}l l L{0.64\linewidth}@{}" if unit else r"@{}l L{0.8\linewidth}@{}"
    head = r"symbol & unit & meaning \\ \hline" if unit else r"symbol & meaning \\ \hline"
    out = [f"\\begin{{longtable}}{{{cols}}}", head, r"\endhead"]
    for latex, u, meaning in rows:
        cells = [f"${latex}$"] + ([tex_text(u)] if unit else []) + [_prose(meaning)]
        out.append(" & ".join(cells) + r" \\")
    return out + [r"\end{longtable}", ""]


def _section_formulas(sec: Section) -> list[ClosedForm]:
    by_name = {f.name: f for f in all_formulas()}
    return [by_name[n] for n in sec.formulas]


def _sections_tex(sections: Sequence[Section]) -> list[str]:
    out: list[str] = []
    for sec in sections:
        out += [f"\\section{{{tex_text(sec.title)}}}"]
        for f in _section_formulas(sec):
            out += _display(f.latex())
            out += [_prose(f.meaning[0].upper() + f.meaning[1:]) + f" (derived in closed form {tex_code(f.name)}).", ""]
        out += [_prose(p) + "\n" for p in sec.paragraphs]
        if sec.table is not None:
            out += [_prose(sec.table.setting), ""] + _values_table(sec.table)
    return out


def _sections_markdown(sections: Sequence[Section]) -> list[str]:
    out: list[str] = []
    for sec in sections:
        out += [f"## {sec.title}", ""]
        for f in _section_formulas(sec):
            meaning = _md(f.meaning[0].upper() + f.meaning[1:])
            out += ["$$", f.latex(), "$$", "", f"{meaning} (derived in `{f.name}`).", ""]
        for p in sec.paragraphs:
            out += [_md(p), ""]
        if sec.table is not None:
            out += [_md(sec.table.setting), "", "| quantity | closed form | value |", "|---|---|---:|"]
            out += [f"| {_md(q)} | {('`' + n + '`') if n else ''} | {_md(v)} |" for q, n, v in sec.table.rows]
            out.append("")
    return out


def render_tex(examples: Sequence[Example] = (), figures: Sequence[Figure] = (),
               sections: Sequence[Section] = ()) -> str:
    out = [PREAMBLE, r"\begin{document}", r"\maketitle", _prose(INTRO), "", r"\section{Notation}"]
    out += _notation_table([(i.latex, i.unit, i.meaning) for i in s.TABLE.values()])
    out += [r"\section{The step model}", _prose(MODEL_TEXT)]
    for _, eq, why in _model_equations():
        out += _display(eq) + [_prose(why), ""]
    out += [r"\section{Calibrated kernel terms}", _prose(KERNEL_TEXT), ""]
    out += _notation_table([(v.latex, "", v.meaning) for v in KERNEL_LOCALS], unit=False)
    for title, eq, why in _kernel_equations():
        out += [f"\\paragraph{{{tex_text(title)}.}}"] + _display(eq) + [_prose(why), ""]
    out.append(r"\section{Closed forms}")
    for f in all_formulas():
        out += [f"\\subsection{{{tex_text(f.name)}}}", _prose(f.meaning[0].upper() + f.meaning[1:]) + ".", ""]
        out += [r"\paragraph{Assumptions.}", r"\begin{itemize}"]
        out += [f"\\item {_prose(a)}" for a in _fmt_assumptions(f)]
        out += [r"\end{itemize}", r"\paragraph{Derivation.}"]
        for i, st in enumerate(f.steps, 1):
            out += _display(st.latex(), numbered=True) + [f"({i}) {_prose(st.why)}", ""]
        out += [r"\paragraph{Result.}"] + _display(r"\boxed{" + f.latex() + "}", numbered=True)
        for c, text in zip(f.conditions_latex(), f.condition_text):
            out += [f"valid when ${c}$: {_prose(text)}.", ""]
    out += [r"\section{Closed forms under calibrated efficiencies}", _prose(CALIBRATED_TEXT), ""]
    for name in GENERAL_FORMULAS:
        out += _display(get_formula(name, efficiencies=True).latex())
    if examples or figures:
        out.append(r"\section{Worked examples}")
    for ex in examples:
        out += [f"\\subsection{{{tex_text(ex.title)}}}", _prose(ex.setting), ""] + _values_table(ex)
    for fig in figures:
        out += [r"\begin{figure}[htbp]", r"\centering",
                f"\\includegraphics[width=0.8\\linewidth]{{{fig.path}}}",
                f"\\caption{{{_prose(fig.caption)}}}", r"\end{figure}", ""]
    out += _sections_tex(sections)
    out += [r"\end{document}", ""]
    return "\n".join(out)


# -- Markdown -----------------------------------------------------------------------------------------

def _md(text: str) -> str:
    return markdown_prose(text, LOCAL_NOTATION)


def render_markdown(examples: Sequence[Example] = (), figures: Sequence[Figure] = (),
                    sections: Sequence[Section] = ()) -> str:
    out = ["# The economics of inference, derived", "",
           f"*Generated by `inferonomics derive`; do not edit by hand. The LaTeX twin is `{DOC_STEM}.tex`, "
           f"compiled to `{DOC_STEM}.pdf`.*",
           "", _md(INTRO), "", "## Notation", "", "| symbol | name | unit | meaning |", "|---|---|---|---|"]
    for info in s.TABLE.values():
        out.append(f"| ${info.latex}$ | `{info.name}` | {info.unit} | {_md(info.meaning)} |")
    out += ["", "## The step model", "", _md(MODEL_TEXT), ""]
    for _, eq, why in _model_equations():
        out += ["$$", eq, "$$", "", _md(why), ""]
    out += ["## Calibrated kernel terms", "", _md(KERNEL_TEXT), "", "| symbol | meaning |", "|---|---|"]
    out += [f"| ${v.latex}$ | {_md(v.meaning)} |" for v in KERNEL_LOCALS]
    out.append("")
    for title, eq, why in _kernel_equations():
        out += [f"**{title}.**", "", "$$", eq, "$$", "", _md(why), ""]
    out += ["## Closed forms", ""]
    for f in all_formulas():
        out += [f"### {f.name}", "", _md(f.meaning[0].upper() + f.meaning[1:]) + ".", "", "**Assumptions.**", ""]
        out += [f"- {_md(a)}" for a in _fmt_assumptions(f)]
        out += ["", "**Derivation.**", ""]
        for i, st in enumerate(f.steps, 1):
            out += ["$$", st.latex(), "$$", "", f"({i}) {_md(st.why)}", ""]
        out += ["**Result.**", "", "$$", r"\boxed{" + f.latex() + "}", "$$", ""]
        for c, text in zip(f.conditions_latex(), f.condition_text):
            out += [f"Valid when ${c}$: {_md(text)}.", ""]
        out += [f"Arguments, in order: {', '.join(f'`{a.name}`' for a in f.args)}.", ""]
    out += ["## Closed forms under calibrated efficiencies", "", _md(CALIBRATED_TEXT), ""]
    for name in GENERAL_FORMULAS:
        out += ["$$", get_formula(name, efficiencies=True).latex(), "$$", ""]
    if examples or figures:
        out += ["## Worked examples", ""]
    for ex in examples:
        out += [f"### {ex.title}", "", _md(ex.setting), "", "| quantity | closed form | value |", "|---|---|---:|"]
        out += [f"| {_md(q)} | {('`' + n + '`') if n else ''} | {_md(v)} |" for q, n, v in ex.rows]
        out.append("")
    for fig in figures:
        out += [f"![{fig.caption}]({fig.path})", "", f"*{_md(fig.caption)}*", ""]
    out += _sections_markdown(sections)
    return "\n".join(out)
