"""derivations/ is current, deterministic, complete, and (with pdflatex) compiles; plots mark the closed forms."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from inferonomics.optimize.derivation import TEX_NAME, build_pdf, check, render_all
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
    md = files["economics-of-scale.md"].decode()
    for f in all_formulas():
        assert f.latex() in tex and f.latex() in md, f.name
        for step in f.steps:
            assert step.latex() in tex, (f.name, step.why)
    for kind in ("roofline", "utilization", "cost", "context"):
        assert f"figures/{kind}.png" in tex and f"figures/{kind}.png" in md


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (CI installs it)")
def test_tex_compiles(tmp_path, files):
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    pdf = build_pdf(tmp_path)
    assert pdf is not None and pdf.stat().st_size > 10_000


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


# The forked drawing must run where derive runs it: a fresh, single-threaded process (pytest's own process
# has numpy's BLAS threads, where derive draws in-process instead). Each check is a child interpreter.
_FORK_SCRIPT = r"""
import hashlib, json, os, sys
from inferonomics.optimize import derivation as d

safe = d._fork_is_safe()
v = d.essay_values()
kinds = [k for k, _ in d.FIGURES]
parent, real = os.getpid(), d._render_figures
if sys.argv[1] == "fail":  # a child that fails: derive must draw in-process and give the same bytes
    def failing(kinds, values):
        if os.getpid() != parent:
            raise RuntimeError("child failure")
        return real(kinds, values)
    d._render_figures = failing
files = d.render_all(parallel=True)
print(json.dumps({"safe": safe, "sha": {k: hashlib.sha256(b).hexdigest() for k, b in files.items()}}))
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork") or len(__import__("os").sched_getaffinity(0)) < 2,
                    reason="needs POSIX fork and two cores (derive draws in-process otherwise)")
@pytest.mark.parametrize("mode", ["ok", "fail"])
def test_forked_drawing_gives_the_same_bytes(files, mode):
    import hashlib
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _FORK_SCRIPT, mode], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout)
    assert got["safe"], "derive's process should be single-threaded before it forks"
    assert got["sha"] == {k: hashlib.sha256(b).hexdigest() for k, b in files.items()}


def test_no_fork_in_a_threaded_process():
    import threading

    from inferonomics.optimize.derivation import _fork_is_safe

    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert not _fork_is_safe()
    finally:
        stop.set()
        t.join()


def test_render_leaves_the_callers_matplotlib_settings_alone():
    import matplotlib

    before = {k: matplotlib.rcParams[k] for k in ("axes.titley", "svg.hashsalt", "savefig.dpi")}
    render("cost", _essay_values(), "png")
    assert {k: matplotlib.rcParams[k] for k in before} == before
