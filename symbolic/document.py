"""Assemble the derivation document (LaTeX and its Markdown twin) from the closed-form records.

Every equation and justification comes from the records in ``formulas``; nothing is written twice.
Output is deterministic byte for byte: fixed ordering, fixed number formats, no dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import model
from . import symbols as s
from .closedform import ClosedForm, to_latex
from .formulas import all_formulas

_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex_text(text: str) -> str:
    """Escape plain prose for LaTeX."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


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
        ("comm", f"t_{{comm}} = {to_latex(model.t_comm())}",
         "n_ar ring all-reduces of the activations per layer: 2(t-1) hops of latency alpha, "
         "moving 2(t-1)/t of the message. Under continuous batching the message carries the prompt tokens "
         "too: B is replaced by B + P."),
        ("step", f"t_{{step}} = {to_latex(model.t_step('step'))}",
         "The 'step' policy: one roofline for the whole step, plus communication and fixed costs."),
        ("per-op", f"t_{{step}}^{{op}} = {to_latex(model.t_step('per-op'))}",
         "The 'per-op' policy: each operator class on its own roofline; never faster than 'step'."),
        ("mixed", f"P = {to_latex(prefill)}",
         "Under continuous batching each step also processes the prompts of the B/n_out requests that join it."),
    ]


def _kernel_equations() -> list[tuple[str, str, str]]:
    """(title, LaTeX, sentence) of the per-kernel terms the calibration fits (symbolic.kernels).

    These are the refinements real silicon demands; each is a named term with a symbol in the table,
    so the document shows exactly what the calibrated model adds to the roofline.
    """
    import sympy as sp

    from . import kernels as K

    m, n, k, b_in, b_out = sp.symbols("m n k b_in b_out", positive=True)
    h, h_kv, d_h, tokens, span, size = sp.symbols("h h_kv d_h P cbar size", positive=True)
    t_dec, t_mix = sp.symbols("t_dec t_mix", positive=True)
    rows = [
        ("GEMM", sp.Symbol("t_{gemm}"), K.gemm_time(m, n, k, b_in, s.b_w, b_out),
         "A GEMM X[m,k] W[k,n] on one chip is its own roofline plus the kernel's fixed time (prologue, "
         "epilogue, tail), which dominates small decode GEMMs."),
        ("GEMM timed alone, weights in L2", sp.Symbol("t_{gemm,L2}"),
         K.gemm_time(m, n, k, b_in, s.b_w, b_out, resident=True),
         "A benchmark that repeats one GEMM over a few weight copies re-reads them from L2 when the copies fit "
         "in the usable part f_L2 of the cache (NVIDIA's collector cycles min(5, ceil(L2/w)) copies), never "
         "slower than the HBM stream, which passes through L2 too; a serving step streams every layer's weights "
         "from HBM, so serving predictions never use this form."),
        ("block-scaled fp8 GEMM", sp.Symbol("t_{gemm,8b}"),
         K.blockscaled_gemm_time(m, n, k, b_in, s.b_w, *sp.symbols("tau v pi alpha", positive=True),
                                  b_out),
         "A block-scaled fp8 GEMM (DeepGEMM in TensorRT-LLM) picks its tile by a fixed rule: tau rows loaded per "
         "k step by each CTA, v waves of CTAs, pi rows padding the last activation tile, alpha outputs per "
         "tile. It computes whole tiles in whole waves; the CTAs walk k at their own pace r_k,8b; the padding "
         "rows stream like activations alongside the weights, so the time falls as m grows from 129 to 256 "
         "tokens."),
        ("decode attention (split-KV engine kernel)", sp.Symbol("t_{attn}"),
         K.decode_attention_time(s.B, s.ctx, h, h_kv, d_h, split=True),
         "Decode attention streams the KV cache only as fast as its independent work items can fill the SMs "
         "(an occupancy on the bandwidth), and never faster than a per-head latency floor."),
        ("prefill attention", sp.Symbol("t_{pre}"), K.prefill_attention_time(tokens, h, d_h, span),
         "Causal prefill attention is compute-bound: each of P prompt tokens attends to cbar tokens on average."),
        ("all-reduce", sp.Symbol("t_{ar}"), K.collective_time(size),
         "A ring all-reduce pays a fixed kernel time, 2(t-1) hop latencies and moves 2(t-1)/t of the message "
         "at a fraction of the link bandwidth."),
        ("unfused elementwise traffic", sp.Symbol("t_{elt}"), K.elementwise_time(tokens, size),
         "Norms, activations and residual adds that a framework does not fuse stream each token's activations "
         "n_act times."),
        ("in-flight batching", sp.Symbol(r"\bar{t}"), K.inflight_step_time(t_dec, t_mix),
         "Each step admits B/n_out new requests, so a fraction min(1, B/n_out) of the steps also prefill a "
         "prompt: the mean step interpolates between a pure decode step and a mixed one."),
    ]
    return [(title, f"{to_latex(lhs)} = {to_latex(expr)}", why) for title, lhs, expr, why in rows]


KERNEL_TEXT = (
    "A pure roofline is about twice too optimistic about real serving. The calibrated model replaces each "
    "operator's roofline by the kernel terms below, whose constants (fractions of the datasheet rates, fixed "
    "times in seconds, SM counts from whitepapers) are fitted once on H100 measurements and carried to other "
    "cards by their datasheets; see the symbol table for each constant's meaning."
)


def _fmt_assumptions(f: ClosedForm) -> list[str]:
    return list(f.assumptions) + [f"Overlap policy: {f.policy}."] if f.policy != "any" else list(f.assumptions)


# -- LaTeX ------------------------------------------------------------------------------------------

def _section_formulas(sec: Section) -> list[ClosedForm]:
    by_name = {f.name: f for f in all_formulas()}
    return [by_name[n] for n in sec.formulas]


def _sections_tex(sections: Sequence[Section]) -> list[str]:
    out: list[str] = []
    for sec in sections:
        out += [f"\\section{{{tex_text(sec.title)}}}"]
        for f in _section_formulas(sec):
            out += [r"\begin{equation*}", f.latex(), r"\end{equation*}",
                    tex_text(f"{f.meaning[0].upper() + f.meaning[1:]} (derived in closed form {f.name})."), ""]
        out += [tex_text(p) + "\n" for p in sec.paragraphs]
        if sec.table is not None:
            out += [tex_text(sec.table.setting), "", r"\begin{tabular}{llr}",
                    r"quantity & closed form & value \\ \hline"]
            out += [f"{tex_text(q)} & {tex_text(n)} & {tex_text(v)} \\\\" for q, n, v in sec.table.rows]
            out += [r"\end{tabular}", ""]
    return out


def _sections_markdown(sections: Sequence[Section]) -> list[str]:
    out: list[str] = []
    for sec in sections:
        out += [f"## {sec.title}", ""]
        for f in _section_formulas(sec):
            out += ["$$", f.latex(), "$$", "", f"{f.meaning[0].upper() + f.meaning[1:]} (derived in `{f.name}`).", ""]
        for p in sec.paragraphs:
            out += [p, ""]
        if sec.table is not None:
            out += [sec.table.setting, "", "| quantity | closed form | value |", "|---|---|---:|"]
            out += [f"| {q} | {('`' + n + '`') if n else ''} | {v} |" for q, n, v in sec.table.rows]
            out.append("")
    return out


def render_tex(examples: Sequence[Example] = (), figures: Sequence[Figure] = (),
               sections: Sequence[Section] = ()) -> str:
    out = [
        r"\documentclass[11pt]{article}",
        r"\usepackage[T1]{fontenc}",
        r"\usepackage{amsmath}",
        r"\usepackage{graphicx}",
        r"\usepackage[margin=2.2cm]{geometry}",
        r"\title{The economics of inference, derived}",
        r"\author{generated by \texttt{inferonomics derive}}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
        tex_text(INTRO),
        "",
        r"\section{Notation}",
        r"\begin{tabular}{lll}",
        r"symbol & unit & meaning \\ \hline",
    ]
    for info in s.TABLE.values():
        out.append(f"${info.latex}$ & {tex_text(info.unit)} & {tex_text(info.meaning)} \\\\")
    out += [r"\end{tabular}", "", r"\section{The step model}", tex_text(MODEL_TEXT)]
    for _, eq, why in _model_equations():
        out += [r"\begin{equation*}", eq, r"\end{equation*}", tex_text(why), ""]
    out += [r"\section{Calibrated kernel terms}", tex_text(KERNEL_TEXT), ""]
    for title, eq, why in _kernel_equations():
        out += [f"\\paragraph{{{tex_text(title)}.}}", r"\begin{equation*}", eq, r"\end{equation*}", tex_text(why), ""]
    out.append(r"\section{Closed forms}")
    for f in all_formulas():
        out += [f"\\subsection{{{tex_text(f.name)}}}", tex_text(f.meaning[0].upper() + f.meaning[1:]) + ".", ""]
        out += [r"\paragraph{Assumptions.}", r"\begin{itemize}"]
        out += [f"\\item {tex_text(a)}" for a in _fmt_assumptions(f)]
        out += [r"\end{itemize}", r"\paragraph{Derivation.}"]
        for i, st in enumerate(f.steps, 1):
            out += [r"\begin{equation}", st.latex(), r"\end{equation}", f"({i}) {tex_text(st.why)}", ""]
        out += [r"\paragraph{Result.}", r"\begin{equation}", r"\boxed{" + f.latex() + "}", r"\end{equation}"]
        for c, text in zip(f.conditions_latex(), f.condition_text):
            out += [f"valid when ${c}$: {tex_text(text)}.", ""]
    if examples or figures:
        out.append(r"\section{Worked examples}")
    for ex in examples:
        out += [f"\\subsection{{{tex_text(ex.title)}}}", tex_text(ex.setting), "",
                r"\begin{tabular}{llr}", r"quantity & closed form & value \\ \hline"]
        out += [f"{tex_text(q)} & {tex_text(n)} & {tex_text(v)} \\\\" for q, n, v in ex.rows]
        out += [r"\end{tabular}", ""]
    for fig in figures:
        out += [r"\begin{figure}[h]", r"\centering",
                f"\\includegraphics[width=0.8\\linewidth]{{{fig.path}}}",
                f"\\caption{{{tex_text(fig.caption)}}}", r"\end{figure}", ""]
    out += _sections_tex(sections)
    out += [r"\end{document}", ""]
    return "\n".join(out)


# -- Markdown -----------------------------------------------------------------------------------------

def render_markdown(examples: Sequence[Example] = (), figures: Sequence[Figure] = (),
                    sections: Sequence[Section] = ()) -> str:
    out = ["# The economics of inference, derived", "",
           "*Generated by `inferonomics derive`; do not edit by hand. The LaTeX twin is `economics-of-scale.tex`.*",
           "", INTRO, "", "## Notation", "", "| symbol | name | unit | meaning |", "|---|---|---|---|"]
    for info in s.TABLE.values():
        out.append(f"| ${info.latex}$ | `{info.name}` | {info.unit} | {info.meaning} |")
    out += ["", "## The step model", "", MODEL_TEXT, ""]
    for _, eq, why in _model_equations():
        out += ["$$", eq, "$$", "", why, ""]
    out += ["## Calibrated kernel terms", "", KERNEL_TEXT, ""]
    for title, eq, why in _kernel_equations():
        out += [f"**{title}.**", "", "$$", eq, "$$", "", why, ""]
    out += ["## Closed forms", ""]
    for f in all_formulas():
        out += [f"### {f.name}", "", f.meaning[0].upper() + f.meaning[1:] + ".", "", "**Assumptions.**", ""]
        out += [f"- {a}" for a in _fmt_assumptions(f)]
        out += ["", "**Derivation.**", ""]
        for i, st in enumerate(f.steps, 1):
            out += ["$$", st.latex(), "$$", "", f"({i}) {st.why}", ""]
        out += ["**Result.**", "", "$$", r"\boxed{" + f.latex() + "}", "$$", ""]
        for c, text in zip(f.conditions_latex(), f.condition_text):
            out += [f"Valid when ${c}$: {text}.", ""]
        out += [f"Arguments, in order: {', '.join(f'`{a.name}`' for a in f.args)}.", ""]
    if examples or figures:
        out += ["## Worked examples", ""]
    for ex in examples:
        out += [f"### {ex.title}", "", ex.setting, "", "| quantity | closed form | value |", "|---|---|---:|"]
        out += [f"| {q} | {('`' + n + '`') if n else ''} | {v} |" for q, n, v in ex.rows]
        out.append("")
    for fig in figures:
        out += [f"![{fig.caption}]({fig.path})", "", f"*{fig.caption}*", ""]
    out += _sections_markdown(sections)
    return "\n".join(out)
