"""derivations/ is current, deterministic, complete, and (with pdflatex) compiles; plots mark the closed forms."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from inferonomics.optimize.derivation import (MD_NAME, PDF_NAME, TEX_NAME, check, check_pdf, compile_pdf, render_all,
                                              tex_missing)
from inferonomics.optimize.plots import KINDS, render
from inferonomics.symbolic.essay import essay_example
from inferonomics.symbolic.formulas import all_formulas, get_formula

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files():
    return render_all()


def test_committed_derivations_are_current(files):
    stale = check(ROOT / "derivations", files)
    assert not stale, f"run `inferonomics derive --out derivations`: stale {stale}"


def test_generation_is_deterministic(files):
    assert render_all() == files


def test_document_carries_every_record(files):
    tex = files[TEX_NAME].decode()
    md = files[MD_NAME].decode()
    for f in all_formulas():
        assert f.latex() in tex and f.latex() in md, f.name
        for step in f.steps:
            assert step.latex() in tex, (f.name, step.why)
    for kind in ("roofline", "utilization", "cost", "context"):
        assert f"figures/{kind}.png" in tex and f"figures/{kind}.png" in md


NO_PDFLATEX = pytest.mark.skipif(tex_missing() is not None,
                                 reason=f"{tex_missing()} (CI installs texlive-latex-base and lmodern via .ci/run)")


@pytest.fixture(scope="module")
def compiled(files):
    return compile_pdf(files)


def overfull_boxes(log: str, tolerance_pt: float = 1.0) -> list[str]:
    """pdfTeX's 'Overfull \\hbox (12.3pt too wide)' lines wider than the tolerance: text in the margin."""
    return [m.group(0) for m in re.finditer(r"Overfull \\[hv]box \(([\d.]+)pt too (?:wide|high)\)[^\n]*", log)
            if float(m.group(1)) > tolerance_pt]


def test_overfull_parser_on_a_known_log():
    log = ("Overfull \\hbox (12.5pt too wide) in paragraph at lines 3--4\n"
           "Overfull \\hbox (0.4pt too wide) detected at line 9\nOverfull \\vbox (3.0pt too high) has occurred\n")
    assert overfull_boxes(log) == ["Overfull \\hbox (12.5pt too wide) in paragraph at lines 3--4",
                                   "Overfull \\vbox (3.0pt too high) has occurred"]


@NO_PDFLATEX
def test_pdf_compiles_with_nothing_in_the_margin(compiled):
    pdf, log = compiled
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    assert not overfull_boxes(log), overfull_boxes(log)
    assert "undefined" not in log.lower(), [ln for ln in log.splitlines() if "undefined" in ln.lower()]
    assert "Rerun to get" not in log and "Table widths have changed" not in log
    assert int(re.search(r"Output written on \S+ \((\d+) pages", log).group(1)) > 10


def test_notation_table_breaks_across_pages(files):
    """A tabular cannot break: the old notation table lost its last 25 rows off page 2. Every symbol is a
    row of a longtable, whose meaning column wraps (p{}) instead of running into the margin."""
    from inferonomics.symbolic.symbols import TABLE

    tex = files[TEX_NAME].decode()
    start = tex.index(r"\section{Notation}")
    table = tex[start:tex.index(r"\end{longtable}", start)]
    assert r"\begin{longtable}{@{}l l L{" in table and r"\begin{tabular}" not in table
    assert sum(1 for ln in table.splitlines() if ln.startswith("$")) == len(TABLE)


@NO_PDFLATEX
def test_pdf_is_byte_reproducible(files, compiled):
    again = compile_pdf(files)  # another scratch folder, another moment
    assert again[0] == compiled[0]
    assert b"/CreationDate" not in compiled[0] and b"/ModDate" not in compiled[0]
    assert b"PTEX.FullBanner" not in compiled[0]


@NO_PDFLATEX
def test_committed_pdf_is_current(files):
    same, why = check_pdf(ROOT / "derivations", files)
    if same is None:
        pytest.skip(why)
    assert same, why


def test_pdf_check_without_pdflatex_says_so(files, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    same, why = check_pdf(ROOT / "derivations", files)
    assert same is None and "pdflatex is not installed" in why and PDF_NAME in why
    assert compile_pdf(files) is None


def test_pdf_is_committed_and_not_ignored():
    assert (ROOT / "derivations" / PDF_NAME).is_file()
    assert "derivations/*.pdf" not in (ROOT / ".gitignore").read_text().split()


def _essay_values():
    ex = essay_example()
    return dict(ex.values, **{k: v for k, v in ex.illustrative.items() if k != "context_example"})


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_each_plot_is_written_and_non_empty(kind, fmt, tmp_path):
    data, marks = render(kind, _essay_values(), fmt)
    assert len(data) > 5000
    assert data.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in data[:1000]


def test_plotted_break_even_equals_the_closed_form():
    v = _essay_values()
    _, marks = render("utilization", v)
    assert marks["break_even_batch"] == get_formula("break_even_batch").evaluate(v)
    _, marks = render("context", v)
    assert marks["critical_context"] == get_formula("critical_context").evaluate(v)


def test_plotted_curve_has_its_knee_at_the_break_even_batch():
    """Independent of the marker: read the line back from the figure and find where it saturates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from inferonomics.optimize import plots
    from inferonomics.symbolic.evaluate import bind_values

    fig, ax = plt.subplots()
    plots.utilization(ax, bind_values(_essay_values()))
    x, y = ax.lines[0].get_data()
    plt.close(fig)
    first_full = x[np.argmax(np.asarray(y) >= 100 - 1e-9)]
    last_partial = x[np.asarray(y) < 100 - 1e-9].max()
    assert last_partial < 500 <= first_full


def test_figure_reuse_only_when_key_and_bytes_match(tmp_path, files):
    from inferonomics.optimize.derivation import MANIFEST, essay_values, figure_key

    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    assert render_all(reuse_dir=tmp_path) == files  # reused figures are the rendered ones
    v = essay_values()
    assert figure_key("utilization", v) != figure_key("utilization", dict(v, hbm_bandwidth_bytes_per_s=4e12))
    (tmp_path / "figures" / "cost.png").write_bytes(b"tampered")
    assert render_all(reuse_dir=tmp_path)["figures/cost.png"] == files["figures/cost.png"]  # re-rendered
    assert check(tmp_path, files) == ["figures/cost.png"]
    assert MANIFEST in files


def test_render_leaves_the_callers_matplotlib_settings_alone():
    import matplotlib

    before = {k: matplotlib.rcParams[k] for k in ("axes.titley", "svg.hashsalt", "savefig.dpi")}
    render("cost", _essay_values(), "png")
    assert {k: matplotlib.rcParams[k] for k in before} == before


@NO_PDFLATEX
def test_derive_check_fails_on_a_stale_pdf(tmp_path, capsys):
    from inferonomics.optimize.cli import main

    shutil.copytree(ROOT / "derivations", tmp_path / "d")
    assert main(["derive", "--check", "--out", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    if "not compared" in out:
        pytest.skip(out.strip())
    pdf = tmp_path / "d" / PDF_NAME
    pdf.write_bytes(pdf.read_bytes().replace(b"inferonomics derive", b"inferonomics DERIVE", 1))
    assert main(["derive", "--check", "--out", str(tmp_path / "d")]) == 1
    assert PDF_NAME in capsys.readouterr().out
    assert main(["derive", "--check", "--no-pdf", "--out", str(tmp_path / "d")]) == 0
