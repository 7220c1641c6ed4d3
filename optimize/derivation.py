"""The files `inferonomics derive` writes: the documents with their worked examples
(:mod:`.derivation_examples`), the figures (reused when unchanged),
the web calculator, and the PDF (:mod:`.derivation_pdf`); and the check that the committed ones are current."""

from __future__ import annotations

from pathlib import Path

from inferonomics.symbolic.document import DOC_STEM, Figure, render_markdown, render_tex
from inferonomics.symbolic.essay import essay_values as essay_values  # the documents' values (re-exported)

from inferonomics.optimize.derivation_examples import examples as examples
from inferonomics.optimize.derivation_examples import moe_exact_break_even as moe_exact_break_even
from inferonomics.optimize.derivation_pdf import PDF_NAME as PDF_NAME
from inferonomics.optimize.derivation_pdf import PDF_STAMP as PDF_STAMP
from inferonomics.optimize.derivation_pdf import TEX_NAME as TEX_NAME
from inferonomics.optimize.derivation_pdf import check_pdf as check_pdf
from inferonomics.optimize.derivation_pdf import compile_pdf as compile_pdf
from inferonomics.optimize.derivation_pdf import pdf_files as pdf_files
from inferonomics.optimize.derivation_pdf import tex_missing as tex_missing

MD_NAME = f"{DOC_STEM}.md"
FIGURES = (
    ("roofline", "Roofline of the essay's H100 (3e15 FLOP/s, 3e12 B/s) with decode at several batch sizes."),
    ("utilization", "Utilization against batch for the essay's model; the break-even batch B* = 500 is marked."),
    ("cost", "Chip-hours per million tokens against batch (multiply by a price); flat beyond B*."),
    ("context", "Break-even batch against context with an illustrative KV cache; it diverges at c*."),
)


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

    from .derivation_parallel import pipeline_section, speculation_section

    # issue 16: the essay's closing question; issue 14: speculation and pipelining, two ways past its walls
    sec = (speculation_section(), pipeline_section(), engineered_away_section())
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
