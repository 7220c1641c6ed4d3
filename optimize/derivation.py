"""The derivation documents' worked examples and figures, and the files `inferonomics derive` writes.

Examples: the essay's example substituted numerically, one modern dense model and one MoE model from the
catalog (ideal model: datasheet rates). The MoE's exact break-even batch is a root found numerically.
"""

from __future__ import annotations

from pathlib import Path

import sympy as sp

from inferonomics.symbolic import catalog
from inferonomics.symbolic.document import DOC_STEM, Example, Figure, render_markdown, render_tex
from inferonomics.symbolic.essay import essay_values as essay_values  # the documents' values (re-exported)
from inferonomics.symbolic.formulas import get_formula

TEX_NAME = f"{DOC_STEM}.tex"
MD_NAME = f"{DOC_STEM}.md"
PDF_NAME = f"{DOC_STEM}.pdf"
FIGURES = (
    ("roofline", "Roofline of the essay's H100 (3e15 FLOP/s, 3e12 B/s) with decode at several batch sizes."),
    ("utilization", "Utilization against batch for the essay's model; the break-even batch B* = 500 is marked."),
    ("cost", "Chip-hours per million tokens against batch (multiply by a price); flat beyond B*."),
    ("context", "Break-even batch against context with an illustrative KV cache; it diverges at c*."),
)


def _g(x: float, unit: str = "") -> str:
    if x == int(x) and abs(x) < 1e9:
        text = f"{int(x):,}"
    else:
        text = f"{x:,.4g}" if abs(x) < 1e6 else f"{x:.4g}"
    return f"{text} {unit}".strip()




def _essay() -> Example:
    from inferonomics.optimize.commands.seed import seed_numbers

    n = seed_numbers(deployment=False)
    r = n["refinements"]
    return Example(
        "The essay's example",
        "A 1.6e12-parameter dense model with 8-bit weights on 20 H100s at the essay's round figures "
        "(3e15 FLOP/s, 3e12 B/s), 20-way tensor parallelism, 1000 concurrent users at 10 minutes a day. "
        "The KV and communication rows use illustrative figures (327,680 KV bytes per token, 8 KV heads, "
        "160 layers, 1 microsecond per all-reduce hop) that the essay does not give. At TP 20 the 8 KV heads "
        "are replicated 2.5 times over, which brings the critical context below the 4096-token context.",
        (
            ("compute per token", "", _g(n["compute_ms"], "ms")),
            ("weight reads per token", "", _g(n["memory_ms"], "ms")),
            ("utilization at batch 1", "utilization", f"{n['utilization_at_batch_1']:.2%}"),
            ("utilization at batch 100", "utilization", f"{n['utilization_at_batch_100']:.1%}"),
            ("break-even batch", "break_even_batch", _g(n["break_even_batch"])),
            ("minimum user base (C = 1000)", "min_user_base", _g(n["min_user_base"])),
            ("user base at C = B*", "min_user_base", _g(n["min_user_base_at_break_even"])),
            ("break-even batch at 4096 context, TP 8", "break_even_batch_with_kv",
             _g(r["break_even_batch_with_kv_tp8"])),
            ("critical context, TP 8", "critical_context", _g(r["critical_context_tp8"], "tokens")),
            ("break-even batch at 4096 context, TP 20", "break_even_batch_with_kv",
             "none: beyond the critical context" if r["break_even_batch_with_kv"] is None
             else _g(r["break_even_batch_with_kv"])),
            ("critical context, TP 20", "critical_context", _g(r["critical_context"], "tokens")),
            ("batch-1 latency with TP communication", "latency_floor", _g(r["latency_floor_ms_with_comm"], "ms")),
            ("optimal TP degree", "optimal_tp_degree", _g(r["optimal_tp_degree"])),
        ),
    )


def _dense() -> Example:
    v = catalog.bind("llama3.1-70b", "h100-sxm", "bf16")
    v.update(tp=8.0, allreduces_per_layer=2.0, overhead_s=0.0, layer_overhead_s=0.0)
    c = 1024.0
    return Example(
        "A modern dense model: Llama-3.1-70B on H100 SXM, bf16",
        "Catalog figures (datasheet rates, ideal model): "
        f"N = {_g(v['total_params'])} parameters counted from the architecture, "
        f"{_g(v['kv_bytes_per_token'])} KV bytes per token (GQA, {v['n_kv_heads']:.0f} KV heads), "
        f"F = {_g(v['peak_flop_per_s'])} FLOP/s, W = {_g(v['hbm_bandwidth_bytes_per_s'])} B/s, 8-way TP. "
        f"The hop latency alpha = {v['link_latency_s'] * 1e6:g} microseconds in the latency rows is the catalog's "
        "ASSUMPTION (a placeholder, not a published figure), and so are the latency and optimal TP degree "
        "that follow from it. Past TP 8 the 8 KV heads are replicated: at TP 16 the critical context halves.",
        (
            ("break-even batch, weights only", "break_even_batch", _g(get_formula("break_even_batch").evaluate(v))),
            ("break-even batch at 1024 context", "break_even_batch_with_kv",
             _g(get_formula("break_even_batch_with_kv").evaluate(dict(v, context=c)))),
            ("critical context", "critical_context", _g(get_formula("critical_context").evaluate(v), "tokens")),
            ("critical context at TP 16 (KV heads replicated)", "critical_context",
             _g(get_formula("critical_context").evaluate(dict(v, tp=16.0)), "tokens")),
            ("break-even batch at 8192 context", "break_even_batch_with_kv", "none: beyond the critical context"),
            ("batch-1 latency at TP 8 (alpha assumed)", "latency_floor",
             _g(get_formula("latency_floor").evaluate(v) * 1e3, "ms")),
            ("optimal TP degree (alpha assumed)", "optimal_tp_degree",
             _g(get_formula("optimal_tp_degree").evaluate(v))),
        ),
    )


def moe_exact_break_even(v: dict[str, float]) -> float:
    """The MoE break-even batch as the root of its defining equation.

    mpmath's bracketing solver (SymPy already loads mpmath) rather than scipy's brentq: importing
    scipy.optimize would be a sixth of derive's run time for one root.
    """
    import mpmath

    from inferonomics.symbolic.numeric import compile_scalar

    f = get_formula("moe_break_even_batch")
    syms = sorted(f.residual.free_symbols - {f.unknown}, key=str)
    g = compile_scalar([f.unknown, *syms], f.residual, module="mpmath", cse=False)
    args = [v[s.name] if s.name != "tp" else 1.0 for s in syms]
    hi = f.evaluate(v) * 2
    with mpmath.workdps(30):
        return float(mpmath.findroot(lambda b: g(b, *args), (1e-9, hi), solver="anderson"))


def _moe() -> Example:
    v = catalog.bind("deepseek-v3", "h200-sxm", "fp8")
    dense_b = get_formula("break_even_batch").evaluate(v)
    f = get_formula("moe_break_even_batch")
    sat = f.evaluate(v)
    exact = moe_exact_break_even(v)
    if f.error_bound is None:
        raise ValueError("moe_break_even_batch lost its error bound")
    bound = float(f.error_bound.evalf(20, subs={sp.Symbol(k, positive=True): x for k, x in v.items()}))
    ratio = v["total_params"] / v["active_params"]
    return Example(
        "A mixture-of-experts model: DeepSeek-V3 on H200, fp8",
        f"{_g(v['total_params'])} parameters of which {_g(v['active_params'])} are active per token; "
        f"{v['n_experts']:.0f} routed experts, {v['experts_per_token']:.0f} per token; uniform routing. "
        "MoE raises the break-even batch roughly by total/active; the rows say by how much exactly. At a batch "
        "this large every expert is touched, so the exact root equals the saturated form and the ratio to the "
        "dense break-even batch is exactly total/active.",
        (
            ("dense break-even batch F b_w/(2W)", "break_even_batch", _g(dense_b)),
            ("total / active parameters", "", _g(ratio)),
            ("MoE break-even, all experts touched", "moe_break_even_batch", _g(sat)),
            ("MoE break-even, exact root (brentq)", "", _g(exact)),
            ("exact / dense", "", _g(exact / dense_b)),
            ("stated bound on the saturated form's error", "moe_break_even_batch", f"{bound:.2e}"),
            ("actual error of the saturated form", "",
             "below rounding" if abs(sat - exact) <= 1e-12 * sat else f"{(sat - exact) / sat:.2e}"),
        ),
    )


def examples() -> tuple[Example, ...]:
    return (_essay(), _dense(), _moe())


MANIFEST = "figures/manifest.json"
#: the static web calculator (`inferonomics web`), generated from the same closed forms as the documents
CALCULATOR = "calculator/index.html"


def _calculator_page() -> bytes:
    from inferonomics.optimize.web import build_page

    return build_page().encode()


def figure_key(kind: str, values: dict[str, float]) -> str:
    """What a figure is a pure function of: its kind, its inputs, the plotting code and matplotlib's version.

    An unchanged key means the committed PNG is what rendering would give, so derive can reuse it and
    derive --check need not render at all (rendering is most of derive's time).
    """
    import hashlib
    import importlib.metadata
    import importlib.resources
    import json

    code = importlib.resources.files("inferonomics.optimize").joinpath("plots.py").read_bytes()
    blob = json.dumps({"kind": kind, "values": values, "matplotlib": importlib.metadata.version("matplotlib")},
                      sort_keys=True).encode() + code
    return hashlib.sha256(blob).hexdigest()


def _reusable(reuse_dir: Path | None, rel: str, key: str) -> bytes | None:
    import hashlib
    import json

    if reuse_dir is None or not (reuse_dir / MANIFEST).is_file() or not (reuse_dir / rel).is_file():
        return None
    try:
        entry = json.loads((reuse_dir / MANIFEST).read_text()).get(rel, {})
    except ValueError:
        return None
    data = (reuse_dir / rel).read_bytes()
    ok = entry.get("key") == key and entry.get("sha256") == hashlib.sha256(data).hexdigest()
    return data if ok else None


def _render_figures(kinds: list[str], values: dict[str, float]) -> dict[str, bytes]:
    from inferonomics.optimize.plots import render

    return {kind: render(kind, values, "png")[0] for kind in kinds}


def render_all(fig_dir: str = "figures", reuse_dir: Path | None = None) -> dict[str, bytes]:
    """Every file of derivations/, as relative path -> bytes (deterministic).

    With ``reuse_dir``, a figure whose manifest key and bytes there are unchanged is reused, not re-rendered.
    Figures are drawn in this process: drawing them in a forked child while the text was written (fork, pipe,
    pickle) did not measurably pay (derive --no-pdf, 12 runs each on a loaded 2-core machine: median 11.9 s
    forked, 11.6 s in-process).
    """
    import hashlib
    import json

    values = essay_values()
    keys = {kind: figure_key(kind, values) for kind, _ in FIGURES}
    reused = {kind: _reusable(reuse_dir, f"{fig_dir}/{kind}.png", keys[kind]) for kind, _ in FIGURES}
    pngs = {kind: data for kind, data in reused.items() if data is not None}
    pngs.update(_render_figures([kind for kind in reused if kind not in pngs], values))
    ex = examples()
    figs = [Figure(f"{fig_dir}/{kind}.png", caption) for kind, caption in FIGURES]
    from .derivation_balance import engineered_away_section

    sec = (engineered_away_section(),)  # issue 16: the essay's closing question
    files: dict[str, bytes] = {TEX_NAME: render_tex(ex, figs, sec).encode(),
                               MD_NAME: render_markdown(ex, figs, sec).encode()}
    files[CALCULATOR] = _calculator_page()
    manifest = {}
    for kind, _ in FIGURES:
        rel = f"{fig_dir}/{kind}.png"
        files[rel] = pngs[kind]
        manifest[rel] = {"key": keys[kind], "sha256": hashlib.sha256(pngs[kind]).hexdigest()}
    files[MANIFEST] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    return files


def check(out_dir: Path, files: dict[str, bytes]) -> list[str]:
    """Paths under ``out_dir`` that differ from (or are missing against) what the code generates now."""
    stale = []
    for rel, data in files.items():
        p = out_dir / rel
        if not p.is_file() or p.read_bytes() != data:
            stale.append(rel)
    return stale


#: where the committed PDF records the pdfTeX that built it: other TeX releases typeset other bytes
PDF_STAMP = f"{PDF_NAME}.json"


#: what the document loads beyond Debian's texlive-latex-base, by file -> Debian package: Latin Modern's
#: Type 1 fonts, without which T1 text is set in bitmap (Type 3) fonts
TEX_EXTRA = {"lmodern.sty": "lmodern"}


def tex_missing() -> str | None:
    """Why the PDF cannot be built here (no pdflatex, or a package of TEX_EXTRA), or None when it can."""
    import shutil
    import subprocess

    if shutil.which("pdflatex") is None:
        return "pdflatex is not installed"
    kpse = shutil.which("kpsewhich")
    for sty, pkg in TEX_EXTRA.items():
        if kpse is None or subprocess.run([kpse, sty], capture_output=True, timeout=60).returncode != 0:
            return f"{sty} is not installed (Debian package {pkg})"
    return None


def pdflatex_version() -> str | None:
    """pdflatex's banner line (``pdfTeX 3.14... (TeX Live 2022/Debian)``), or None when the PDF cannot be
    built here (:func:`tex_missing`)."""
    import shutil
    import subprocess

    exe = shutil.which("pdflatex")
    if exe is None or tex_missing() is not None:
        return None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60).stdout
    return out.splitlines()[0].strip() if out else None


def compile_pdf(files: dict[str, bytes]) -> tuple[bytes, str] | None:
    """Compile the .tex of ``files`` (written to a scratch folder with its figures); (PDF bytes, last log).

    None when it cannot be built here (:func:`tex_missing`); a LaTeX error raises with the log's line. Byte-reproducible: the
    preamble drops dates and ids, and SOURCE_DATE_EPOCH pins whatever date pdfTeX would still write.
    """
    import os
    import shutil
    import subprocess
    import tempfile

    from inferonomics.symbolic.errors import InferonomicsError

    exe = shutil.which("pdflatex")
    if exe is None or tex_missing() is not None:
        return None
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
    with tempfile.TemporaryDirectory() as tmp:
        for rel, data in files.items():
            (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / rel).write_bytes(data)
        for _ in range(2):  # twice, for references
            proc = subprocess.run([exe, "-interaction=nonstopmode", "-halt-on-error", TEX_NAME], cwd=tmp,
                                  capture_output=True, text=True, timeout=300, env=env)
            if proc.returncode != 0:
                lines = proc.stdout.splitlines()
                bang = next((i for i, ln in enumerate(lines) if ln.startswith("!")), None)
                where = next((ln for ln in lines[bang:] if ln.startswith("l.")), "") if bang is not None else ""
                what = lines[bang] if bang is not None else (lines[-1] if lines else "unknown error")
                raise InferonomicsError(f"pdflatex failed on {TEX_NAME}: {what} {where}".rstrip())
        log = (Path(tmp) / TEX_NAME.replace(".tex", ".log")).read_text(errors="replace")
        return (Path(tmp) / PDF_NAME).read_bytes(), log


def pdf_stamp(pdf: bytes, version: str) -> bytes:
    import hashlib
    import json

    return (json.dumps({"pdflatex": version, "sha256": hashlib.sha256(pdf).hexdigest()}, indent=1) + "\n").encode()


def pdf_files(files: dict[str, bytes]) -> dict[str, bytes] | None:
    """The compiled PDF and its stamp (which pdfTeX built it), as relative path -> bytes; None without pdflatex."""
    version = pdflatex_version()
    built = compile_pdf(files) if version is not None else None
    if built is None or version is None:
        return None
    return {PDF_NAME: built[0], PDF_STAMP: pdf_stamp(built[0], version)}


def check_pdf(out_dir: Path, files: dict[str, bytes]) -> tuple[bool | None, str]:
    """Whether the committed PDF is what compiling the generated .tex gives now, byte for byte.

    (None, why) when it cannot be compared: no pdflatex here, or a pdfTeX other than the one that built the
    committed PDF (another TeX release typesets other bytes); then only the sources are checked.
    """
    import json

    version = pdflatex_version()
    if version is None:
        return None, f"{PDF_NAME} not compared: {tex_missing()} (the .tex and .md are checked)"
    stamp = out_dir / PDF_STAMP
    built_by = json.loads(stamp.read_text()).get("pdflatex") if stamp.is_file() else None
    if built_by is not None and built_by != version:
        return None, (f"{PDF_NAME} not compared: it was built by {built_by}, this pdflatex is {version} "
                      "(the .tex and .md are checked)")
    built = compile_pdf(files)
    assert built is not None
    pdf = out_dir / PDF_NAME
    same = pdf.is_file() and pdf.read_bytes() == built[0] and stamp.is_file() \
        and stamp.read_bytes() == pdf_stamp(built[0], version)
    return same, f"{PDF_NAME} {'is' if same else 'is NOT'} what pdflatex builds from the .tex"
