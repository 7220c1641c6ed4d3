"""The derivation document as a PDF: whether pdflatex (and what the document loads) is here, a byte-reproducible
build of the generated .tex, and the stamp recording which pdfTeX built the committed PDF."""

from __future__ import annotations

from pathlib import Path

from inferonomics.symbolic.document import DOC_STEM

TEX_NAME = f"{DOC_STEM}.tex"
PDF_NAME = f"{DOC_STEM}.pdf"

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

    None when it cannot be built here (:func:`tex_missing`); a LaTeX error raises with the log's line.
    Byte-reproducible: the preamble drops dates and ids, and SOURCE_DATE_EPOCH pins whatever date pdfTeX would
    still write.
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
